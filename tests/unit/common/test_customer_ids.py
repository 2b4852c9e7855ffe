"""The id contract is one: ingestion's SQL and the API's Python accept the same ids and
normalize them to the same text."""

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.common import customer_ids

_con = duckdb.connect()
ALPHABET = st.sampled_from(
    list("aZ09_-.:@ ")
    + ["\t", "\n", "\u00a0", "\u2003", "\x00", "\x07", "\x85", "\u0308"]
    + ["\u00eb", "顧", "🙂", "'", '"', ";"]
)


@settings(max_examples=300, deadline=None)
@given(raw=st.text(alphabet=ALPHABET, max_size=140) | st.text(max_size=20))
def test_sql_and_python_agree_on_every_id(raw):
    sql_id, sql_problem = _con.execute(
        f"select x, {customer_ids.problem_sql('x')} "
        f"from (select {customer_ids.normalize_sql('?')} as x)",
        [raw],
    ).fetchone()
    python_id = customer_ids.normalize(raw)
    python_problem = customer_ids.problem(python_id)
    if "\x00" in raw.strip():
        # A NUL byte ends a string bound to DuckDB early; the API refuses it outright.
        assert python_problem == customer_ids.HAS_CONTROL
        return
    # The same ids are accepted, as the same text, and refused for the same reason.
    assert sql_problem == python_problem
    if python_problem is None:
        assert sql_id == python_id


def test_examples():
    assert customer_ids.normalize(" Zoe\u0308-42\t") == "Zo\u00eb-42"
    assert customer_ids.problem("x" * 128) is None
    assert customer_ids.problem("x" * 129) == customer_ids.TOO_LONG
    assert customer_ids.problem("a\x00") == customer_ids.HAS_CONTROL
    assert customer_ids.problem("") == customer_ids.MISSING
