"""The feature quality gate's checks on tables small enough to compute by hand."""

import duckdb
import pytest

from ml.common.settings import Paths
from ml.features import quality_gate
from ml.features.quality_gate import QualityRules
from ml.features.views import FeatureView

VIEW = FeatureView(
    name="f",
    version=1,
    entity="customer_id",
    timestamp_column="as_of_date",
    max_age_days=None,
    features=("spend", "segment"),
    descriptions=("", ""),
    relation="features.f",
    fingerprint="x",
)


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema raw; create schema features")
    c.execute(
        "create table raw.loads (loaded_at timestamp, source varchar, mode varchar, "
        "rows bigint, rejected bigint, already_loaded bigint)"
    )
    c.execute("insert into raw.loads values ('2024-01-01', 'feed.csv', 'replace', 10, 0, 0)")
    c.execute("insert into raw.loads values ('2024-01-02', 'day2.csv', 'append', 5, 0, 0)")
    # 10 rows, 5 customers; spend null in 2 rows (20%), segment null in 1 (10%).
    c.execute(
        """
        create table features.f as select * from (values
            ('a', date '2024-01-01', 1.0, 's'), ('a', date '2024-01-08', 2.0, 's'),
            ('b', date '2024-01-01', 3.0, 's'), ('b', date '2024-01-08', null, 's'),
            ('c', date '2024-01-01', 5.0, 's'), ('c', date '2024-01-08', 6.0, null),
            ('d', date '2024-01-01', 7.0, 's'), ('d', date '2024-01-08', null, 's'),
            ('e', date '2024-01-01', 9.0, 's'), ('e', date '2024-01-08', 10.0, 's')
        ) t(customer_id, as_of_date, spend, segment)
        """
    )
    yield c
    c.close()


def previous_of(con) -> dict:
    first = quality_gate.check(con, [VIEW], None)
    return {"published_at": "t0", "lineage": first.lineage, "profile": first.profile}


def test_profile_and_lineage_by_hand(con):
    report = quality_gate.check(con, [VIEW], None)
    assert report.lineage == "feed.csv"  # the last full load; appends keep it
    assert report.profile == {
        "f@1": {"rows": 10, "entities": 5, "null_rates": {"spend": 0.2, "segment": 0.1}}
    }
    assert report.passed and report.baseline is None
    assert [c.name for c in report.checks] == ["no_empty_feature"]  # nothing to compare yet


def test_the_same_build_again_passes_every_check(con):
    report = quality_gate.check(con, [VIEW], previous_of(con))
    assert report.passed and report.baseline == "t0"
    assert {c.name for c in report.checks} == {
        "no_empty_feature",
        "rows_not_dropped",
        "entities_not_dropped",
        "null_rates_stable",
    }


def test_losing_more_than_the_allowed_share_of_entities_fails(con):
    previous = previous_of(con)
    con.execute("delete from features.f where customer_id = 'e'")  # 5 -> 4 entities: -20%
    assert quality_gate.check(con, [VIEW], previous).passed  # exactly the limit
    con.execute("delete from features.f where customer_id = 'd'")  # 5 -> 3: -40%
    report = quality_gate.check(con, [VIEW], previous)
    assert [(c.name, c.detail) for c in report.failures] == [
        ("rows_not_dropped", "rows 10 -> 6 (more than 20% lost)"),
        ("entities_not_dropped", "entities 5 -> 3 (more than 20% lost)"),
    ]
    looser = quality_gate.check(con, [VIEW], previous, QualityRules(max_row_drop=0.5))
    assert looser.passed


def test_a_null_rate_jump_fails_and_an_all_null_feature_fails(con):
    previous = previous_of(con)
    con.execute("update features.f set spend = null where customer_id = 'a'")  # 20% -> 40%
    report = quality_gate.check(con, [VIEW], previous)
    assert [(c.name, c.detail) for c in report.failures] == [
        ("null_rates_stable", "spend null rate 20.0% -> 40.0%")
    ]
    con.execute("update features.f set segment = null")
    failures = {c.name: c.detail for c in quality_gate.check(con, [VIEW], previous).failures}
    assert failures["no_empty_feature"] == "every value of segment is null"


def test_another_source_starts_a_new_baseline(con):
    previous = previous_of(con)
    con.execute("insert into raw.loads values ('2024-02-01', 'other.csv', 'replace', 3, 0, 0)")
    con.execute("delete from features.f where customer_id <> 'a'")
    report = quality_gate.check(con, [VIEW], previous)
    assert report.lineage == "other.csv" and report.baseline is None and report.passed


def test_publish_swaps_a_whole_database_and_records_the_checks(con, tmp_path):
    paths = Paths(tmp_path)
    report = quality_gate.check(con, [VIEW], None)
    con.execute("create table features.int_scratch as select 1 as x")  # not published
    quality_gate.publish_features(paths, con, report, run_id="r1")
    record = quality_gate.read_publication(paths)
    assert record["dagster_run_id"] == "r1" and record["tables"] == ["f"]
    assert record["profile"] == report.profile
    with duckdb.connect(str(quality_gate.database_path(paths)), read_only=True) as reader:
        assert reader.execute("select count(*) from features.f").fetchone() == (10,)
        con.execute("delete from features.f where customer_id = 'a'")
        quality_gate.publish_features(paths, con, quality_gate.check(con, [VIEW], None))
        # A reader holding the old file keeps reading it whole.
        assert reader.execute("select count(*) from features.f").fetchone() == (10,)
    with duckdb.connect(str(quality_gate.database_path(paths)), read_only=True) as reader:
        assert reader.execute("select count(*) from features.f").fetchone() == (8,)
    assert [p.name for p in paths.published.iterdir()] == ["feature_store.duckdb"]


def test_accept_changes_relaxes_the_gate_through_valid_job_config(monkeypatch, dbt_manifest):
    """`fti demo/update --accept-changes`: the config reaches the gate's step, and Dagster
    accepts it for the job."""
    import dagster as dg

    from orchestration import runner
    from orchestration.lib.keys import PIPELINE_JOB

    seen = {}

    def execute(job, ops, progress=None, leave_out=frozenset()):
        seen.update(job=job, ops=ops)
        return True, ""

    monkeypatch.setattr(runner, "execute", execute)
    runner.run_pipeline(customers=10, accept_changes=True)
    assert seen["ops"]["published__features"] == {
        "config": {"max_row_drop": 1.0, "max_null_rate_rise": 1.0}
    }
    job = runner.load_definitions().resolve_job_def(seen["job"])
    assert seen["job"] == PIPELINE_JOB
    dg.validate_run_config(job, {"ops": seen["ops"]})
