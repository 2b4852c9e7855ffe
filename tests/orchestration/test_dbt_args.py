"""dbt build arguments for full and incremental runs (the runs themselves are tested in
tests/integration/test_daily_partitions.py)."""

import pytest

from orchestration.defs.ingestion.daily import incremental_start
from orchestration.lib.dbt_project import build_args


def test_dbt_build_args():
    no_unit_tests = ["--exclude-resource-type", "unit_test"]
    assert build_args(None) == (["build", *no_unit_tests, "--full-refresh"], {})
    assert build_args("2025-11-20") == (
        ["build", *no_unit_tests],
        {"FTI_INCREMENTAL_FROM": "2025-11-20"},
    )


def test_dbt_build_args_refuse_a_day_that_is_not_a_date():
    with pytest.raises(ValueError):
        build_args("2025-13-01")


def test_incremental_start_of_a_partitioned_run():
    assert incremental_start({}) is None
    assert incremental_start({"dagster/partition": "2025-12-03"}) == "2025-12-03"
    range_tags = {
        "dagster/asset_partition_range_start": "2025-12-01",
        "dagster/asset_partition_range_end": "2025-12-05",
    }
    assert incremental_start(range_tags) == "2025-12-01"
