"""The one contract for customer ids, from ingestion to the online API.

An id is text: whatever the file holds, trimmed of whitespace at both ends (Unicode spaces and
tabs included) and in Unicode NFC form, so that ``Zoë`` typed with a precomposed ``ë`` and
with ``e`` + a combining accent is one customer, and ``42\\t`` is ``42``. It holds 1 to
``MAX_LENGTH`` characters and no control characters. Ingestion rejects any other id with its
reason; the API accepts exactly these, normalized the same way, and binds them as parameters,
so every id the batch scores the API can serve.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 128
# Control characters (C0, DEL, C1): never part of a real id, and unsafe in logs and terminals.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What a normalized id may be, as a regular expression the API's schema publishes.
PATTERN = rf"^[^\x00-\x1f\x7f-\x9f]{{1,{MAX_LENGTH}}}$"

TOO_LONG = f"customer_id longer than {MAX_LENGTH} characters"
HAS_CONTROL = "customer_id with control characters"
MISSING = "missing customer_id"


def normalize(raw: str) -> str:
    """NFC, then trimmed of whitespace at both ends."""
    return unicodedata.normalize("NFC", raw).strip()


def problem(customer_id: str) -> str | None:
    """Why a normalized id breaks the contract, or None."""
    if not customer_id:
        return MISSING
    if len(customer_id) > MAX_LENGTH:
        return TOO_LONG
    if CONTROL.search(customer_id):
        return HAS_CONTROL
    return None


# Exactly what Python's ``str.strip()`` removes (``str.isspace``), as an RE2 class.
_SPACE = (
    r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    r"\x{202f}\x{205f}\x{3000}]"
)


def normalize_sql(column: str) -> str:
    """``normalize`` in DuckDB SQL: NFC, then leading and trailing whitespace removed."""
    return (
        f"nullif(regexp_replace(nfc_normalize(cast({column} as varchar)), "
        f"'^{_SPACE}+|{_SPACE}+$', '', 'g'), '')"
    )


def problem_sql(normalized: str) -> str:
    """``problem`` in DuckDB SQL, on an already normalized id."""
    return (
        f"case when {normalized} is null then '{MISSING}' "
        f"when length({normalized}) > {MAX_LENGTH} then '{TOO_LONG}' "
        rf"when regexp_matches({normalized}, '[\x00-\x1f\x7f-\x{{9f}}]') then '{HAS_CONTROL}' end"
    )
