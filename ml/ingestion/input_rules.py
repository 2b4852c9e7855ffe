"""How a file's text becomes typed values: the rules for timestamps and amounts, as SQL.

Timestamps. The warehouse keeps one time zone, UTC. An ISO 8601 date or time with an offset
(``Z``, ``+05:30``, ``-0500``, ``+01``) or a zone name (``America/New_York``, ``EST``, ``UTC``)
is converted to UTC; one without is in the file's zone (UTC unless the user names another).
A date alone keeps its day. A 12-hour clock (``10:00 PM``) is read; a zone name nobody knows,
a 12-hour time that cannot be read, or an epoch number is a rejected row with its reason,
never a guess. Typed columns (Parquet) follow the same rules: a naive timestamp is in the
file's zone, a zoned one is converted, integers are epoch numbers and rejected.

Amounts. Text is a plain decimal number: digits with an optional fraction after a point and an
optional sign (``12``, ``12.50``, ``.5``); thousands separators (``1,234.50``), underscores
(``1_000``), exponents (``1e3``) and currency signs are rejected, not reinterpreted. Numeric
columns are taken as they are. Either way an amount must be finite and positive.
"""

from __future__ import annotations

DATE_ONLY = r"^\d{4}-\d{2}-\d{2}$"
EPOCH = r"^[+-]?\d{9,}(\.\d+)?$"
TWELVE_HOUR = r"(?i)[ap]\.?\s*m\.?$"
# An offset of hours alone (+01) after a time; DuckDB reads +01:00.
HOURS_OFFSET = r"(\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)\s*([+-]\d{2})$"
TWELVE_HOUR_FORMATS = (
    "%Y-%m-%d %I:%M:%S %p",
    "%Y-%m-%d %I:%M %p",
    "%Y-%m-%dT%I:%M:%S %p",
    "%Y-%m-%dT%I:%M %p",
    "%Y-%m-%d %I:%M:%S%p",
    "%Y-%m-%d %I:%M%p",
)
AMOUNT = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
NON_FINITE = r"(?i)^[+-]?(inf|infinity|nan)$"

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE")
EPOCH_REASON = "epoch number in transaction_ts: give an ISO 8601 date or time"
UNKNOWN_ZONE_REASON = "unknown time zone in transaction_ts"
TWELVE_HOUR_REASON = "unreadable 12-hour time in transaction_ts"
UNPARSEABLE_TS_REASON = "unparseable transaction_ts"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_numeric(sql_type: str) -> bool:
    base = sql_type.upper()
    return base in NUMERIC_TYPES or base.startswith("DECIMAL") or base.startswith("U")


def _naive_to_utc(expression: str, zone: str) -> str:
    """A naive timestamp read in ``zone``, as a naive UTC timestamp."""
    if zone == "UTC":
        return expression
    return f"timezone('UTC', timezone({_quote(zone)}, {expression}))"


def timestamp_sql(column: str, sql_type: str, zone: str, parsed: str, raw: str) -> tuple[str, str]:
    """(the UTC timestamp of ``column``, or null; the reason it is null, or null).

    The reason is written over ``parsed`` (a column holding that timestamp) and ``raw`` (the
    column's text), so each row's text is parsed once. Text is read with the session's
    TimeZone set to ``zone`` (see ``raw_log``).
    """
    kind = sql_type.upper()
    unparsed = f"case when {parsed} is null then '{UNPARSEABLE_TS_REASON}' end"
    if kind == "TIMESTAMP WITH TIME ZONE":
        return f"timezone('UTC', {column})", unparsed
    if kind.startswith("TIMESTAMP"):
        return _naive_to_utc(f"cast({column} as timestamp)", zone), unparsed
    if kind == "DATE":
        return f"cast({column} as timestamp)", unparsed
    if _is_numeric(kind):
        return "null::timestamp", f"'{EPOCH_REASON}'"
    text = f"trim(cast({column} as varchar))"
    twelve = (
        f"try_strptime(upper(regexp_replace({text}, '[.]', '', 'g')), "
        f"[{', '.join(_quote(f) for f in TWELVE_HOUR_FORMATS)}])"
    )
    zoned = f"regexp_replace({text}, '{HOURS_OFFSET}', '\\1\\4:00')"
    value = f"""case
        when regexp_matches({text}, '{DATE_ONLY}')
            then try_cast(try_cast({text} as date) as timestamp)
        when regexp_matches({text}, '{EPOCH}') then null
        when regexp_matches({text}, '{TWELVE_HOUR}') then {_naive_to_utc(twelve, zone)}
        else timezone('UTC', try_cast({zoned} as timestamptz))
    end"""
    raw_text = f"trim({raw})"
    reason = f"""case
        when {parsed} is not null then null
        when {raw} is null or {raw_text} = '' then '{UNPARSEABLE_TS_REASON}'
        when regexp_matches({raw_text}, '{EPOCH}') then '{EPOCH_REASON}'
        when regexp_matches({raw_text}, '{TWELVE_HOUR}') then '{TWELVE_HOUR_REASON}'
        when try_cast({raw_text} as timestamp) is not null
            and regexp_matches({raw_text}, '[A-Za-z][A-Za-z_/+-]*$')
            then '{UNKNOWN_ZONE_REASON}'
        else '{UNPARSEABLE_TS_REASON}'
    end"""
    return value, reason


def amount_sql(column: str, sql_type: str, parsed: str, raw: str) -> tuple[str, str]:
    """(the amount of ``column`` as a double, or null; the reason the row is rejected for it,
    or null), the reason written over ``parsed`` and ``raw`` as for timestamps."""
    judged = f"""when {parsed} is null then 'unparseable amount'
        when not isfinite({parsed}) then 'non-finite amount'
        when {parsed} <= 0 then 'amount not positive'"""
    if _is_numeric(sql_type):
        return f"cast({column} as double)", f"case {judged} end"
    text = f"trim(cast({column} as varchar))"
    value = f"case when regexp_matches({text}, '{AMOUNT}') then cast({text} as double) end"
    reason = f"""case
        when regexp_matches(coalesce(trim({raw}), ''), '{NON_FINITE}') then 'non-finite amount'
        {judged}
    end"""
    return value, reason
