"""dbt build arguments for full and incremental runs (the runs themselves are tested in
test_daily_partitions.py)."""


def test_dbt_build_args():
    from orchestration.defs.dbt import DbtBuildConfig, build_args

    assert build_args(DbtBuildConfig()) == ["build", "--full-refresh"]
    assert build_args(DbtBuildConfig(incremental_from="2025-11-20")) == [
        "build",
        "--vars",
        '{"incremental_from": "2025-11-20"}',
    ]
