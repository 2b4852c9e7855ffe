"""One setting bounds every DuckDB the project opens, dbt's included: a large log then spills to
``FTI_HOME/duckdb_spill`` instead of taking the machine's memory."""

import json
import os
import sys
from pathlib import Path

import duckdb
import pytest

from ml.common import settings, warehouse
from orchestration.lib.dbt_project import FtiDbtCliResource, dbt_project
from tests.helpers import fti

SETTINGS_SQL = "select current_setting('memory_limit') as m, current_setting('temp_directory') as t"


def _as_duckdb_reports(limit: str) -> str:
    with duckdb.connect() as con:
        con.execute(f"set memory_limit = '{limit}'")
        return con.execute("select current_setting('memory_limit')").fetchall()[0][0]


def test_the_setting_bounds_every_connection(fti_home, monkeypatch):
    monkeypatch.setenv("FTI_DUCKDB_MEMORY_LIMIT", "300MB")
    fti_home.home.mkdir()
    expected = (_as_duckdb_reports("300MB"), str(fti_home.home / "duckdb_spill"))
    with warehouse.connect(fti_home.warehouse) as con:
        assert con.execute(SETTINGS_SQL).fetchall()[0] == expected
    with warehouse.connect() as con:  # in memory: validation rehearsals, Parquet readers
        assert con.execute(SETTINGS_SQL).fetchall()[0] == expected


def test_a_size_duckdb_cannot_read_is_refused_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("FTI_DUCKDB_MEMORY_LIMIT", "2.5 GB")
    assert settings.duckdb_memory_limit() == "2.5 GB"
    monkeypatch.setenv("FTI_DUCKDB_MEMORY_LIMIT", "banana")
    with pytest.raises(settings.SettingError, match="FTI_DUCKDB_MEMORY_LIMIT=banana"):
        settings.duckdb_memory_limit()
    # Before anything runs: `fti` exits 2 with the message, and no home is created.
    run = fti("demo", "--customers", "200", home=tmp_path / "home")
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("fti: FTI_DUCKDB_MEMORY_LIMIT=banana is not a size"), run.stderr
    assert not (tmp_path / "home").exists()


def test_the_default_is_a_quarter_of_the_memory_in_whole_gigabytes(monkeypatch):
    monkeypatch.delenv("FTI_DUCKDB_MEMORY_LIMIT", raising=False)
    limit = settings.duckdb_memory_limit()
    assert limit.endswith("GB")
    gigabytes = int(limit.removesuffix("GB"))
    quarter = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 4 / 2**30
    assert gigabytes == max(1, int(quarter))
    # DuckDB's own default (80% of the memory) is well above it.
    with duckdb.connect() as con:
        default = con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    assert _as_duckdb_reports(limit) != default


def test_dbt_runs_under_the_same_bound(fti_home, dbt_manifest, monkeypatch):
    """Through the Dagster resource, as the pipeline runs dbt: its DuckDB gets the limit and
    spills beside the warehouse it builds."""
    monkeypatch.setenv("FTI_DUCKDB_MEMORY_LIMIT", "300MB")
    fti_home.home.mkdir()
    dbt = FtiDbtCliResource(
        project_dir=dbt_project(),
        dbt_executable=str(Path(sys.executable).parent / "dbt"),
        warehouse=str(fti_home.warehouse),
    )
    invocation = dbt.cli(["show", "--inline", SETTINGS_SQL, "--output", "json"])
    shown = [
        event.raw_event["data"]["preview"]
        for event in invocation.stream_raw_events()
        if event.raw_event["info"]["name"] == "ShowNode"
    ]
    assert invocation.is_successful()
    assert json.loads(shown[0]) == [
        {"m": _as_duckdb_reports("300MB"), "t": str(fti_home.home / "duckdb_spill")}
    ]


def test_a_second_connection_after_spilling_keeps_the_folder(fti_home, monkeypatch):
    """Connections to one file share a database, whose spill folder is fixed once used."""
    monkeypatch.setenv("FTI_DUCKDB_MEMORY_LIMIT", "64MB")
    fti_home.home.mkdir()
    with warehouse.connect(fti_home.warehouse) as first:
        first.execute("set preserve_insertion_order = false")
        first.execute("create table t as select range as i, random() as r from range(3000000)")
        first.execute("create table s as select * from t order by r")  # sorts past 64MB
        assert any((fti_home.home / "duckdb_spill").iterdir())
        with warehouse.connect(fti_home.warehouse) as second:
            assert second.execute("select count(*) from s").fetchall()[0][0] == 3_000_000
