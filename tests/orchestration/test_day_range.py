"""`fti daily FIRST [LAST]`: days checked against the daily partitions before a run starts."""

import datetime as dt

import pytest

from ml.ingestion.raw_log import InputError
from orchestration.defs.ingestion.daily import DAILY, day_range


def test_a_day_or_a_range():
    assert day_range("2025-12-31", None) == ("2025-12-31", "2025-12-31")
    assert day_range("2025-12-01", "2025-12-31") == ("2025-12-01", "2025-12-31")


@pytest.mark.parametrize(
    ("first", "last", "said"),
    [
        ("2026-02-30", None, "2026-02-30 is not a day (YYYY-MM-DD)"),
        ("2025-12-01", "soon", "soon is not a day (YYYY-MM-DD)"),
        ("2025-12-31", "2025-12-30", "the last day 2025-12-30 is before the first, 2025-12-31"),
    ],
)
def test_what_is_not_a_range_of_days(first, last, said):
    with pytest.raises(InputError) as raised:
        day_range(first, last)
    assert raised.value.message == said


def test_days_outside_the_partitions():
    first = DAILY.start.date()
    last = dt.date.fromisoformat(DAILY.get_last_partition_key())
    assert day_range(first.isoformat(), last.isoformat()) == (first.isoformat(), last.isoformat())
    before = (first - dt.timedelta(days=1)).isoformat()
    with pytest.raises(InputError, match=f"{before} is before the first daily partition"):
        day_range(before, None)
    after = (last + dt.timedelta(days=1)).isoformat()
    with pytest.raises(InputError, match=f"{after} is after the last daily partition"):
        day_range(last.isoformat(), after)
