"""The whole system through Dagster on small generated data."""

import dagster as dg
import duckdb

from ml.inference import publication
from orchestration.cli import run_pipeline, status

PIPELINE_KEYS = [
    ["raw", "transactions"],
    ["staging", "stg_transactions"],
    ["staging", "stg_customers"],
    ["features", "int_customer_daily"],
    ["features", "feature_snapshot_dates"],
    ["features", "customer_features"],
    ["features", "customer_features_v2"],
    ["raw", "customer_history"],
    ["snapshots", "customers_snapshot"],
    ["features", "customer_attributes"],
    ["training", "churn_labels"],
    ["training", "training_set"],
    ["models", "churn_model"],
    ["predictions", "churn_predictions"],
    ["published", "dashboard_snapshot"],
    ["online", "feature_store"],
    ["monitoring", "online_predictions"],
]


def test_asset_graph_is_connected_from_raw_to_published(dbt_manifest):
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"/".join(k) for k in PIPELINE_KEYS} <= keys
    # Follow the lineage downstream from the raw log to the published snapshot.
    downstream = graph.get(dg.AssetKey(["raw", "transactions"]))
    reached, frontier = set(), [downstream.key]
    while frontier:
        key = frontier.pop()
        reached.add(key)
        frontier.extend(k for k in graph.get(key).child_keys if k not in reached)
    assert dg.AssetKey(["published", "dashboard_snapshot"]) in reached
    assert dg.AssetKey(["models", "churn_model"]) in reached
    # dbt tests are asset checks on the models.
    checks = {c.asset_key for c in graph.asset_check_keys}
    assert dg.AssetKey(["features", "customer_features"]) in checks


def test_every_asset_materialized_in_the_instance(built_home):
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert runs and all(r.is_success for r in runs)
        for key in PIPELINE_KEYS:
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            assert event is not None, key
        features = instance.get_latest_materialization_event(
            dg.AssetKey(["features", "customer_features"])
        ).asset_materialization.metadata
        with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
            rows = con.execute("select count(*) from features.customer_features").fetchone()[0]
        assert features["dagster/row_count"].value == rows
        model = instance.get_latest_materialization_event(dg.AssetKey(["models", "churn_model"]))
        metadata = model.asset_materialization.metadata
        assert metadata["model_version"].value == "1"
        assert 0.7 <= metadata["holdout_roc_auc"].value <= 0.97


def test_every_customer_scored_once(built_home):
    with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
        customers = con.execute(
            "select count(distinct customer_id) from raw.transactions"
        ).fetchone()[0]
        rows, distinct, bad_band = con.execute(
            """
            select count(*), count(distinct customer_id),
                   count(*) filter (where risk_band != case
                       when churn_probability >= 0.6 then 'high'
                       when churn_probability >= 0.3 then 'medium' else 'low' end)
            from predictions.churn_predictions
            """
        ).fetchone()
        # Scored on the snapshot of the as-of day itself (a DATE spine is the end of the day).
        stale = con.execute(
            """
            select count(*) from predictions.churn_predictions p
            join features.customer_features f using (customer_id, as_of_date)
            where p.recency_days is distinct from f.recency_days
            """
        ).fetchone()[0]
    assert rows == distinct == customers == 800
    assert bad_band == 0
    assert stale == 0


def test_status_reports_champion_predictions_and_tables(built_home):
    report = status(built_home)
    champion = report["champion"]
    assert champion["name"] == "churn" and champion["version"] == "1"
    assert set(champion["metrics"]) >= {"roc_auc", "pr_auc", "precision", "recall", "f1"}
    assert report["predictions"]["rows"] == 800
    assert report["predictions"]["as_of"] == "2025-12-30"
    assert report["tables"]["predictions.churn_predictions"] == 800
    assert report["tables"]["features.customer_features"] > 800
    assert report["rejected_rows"] == 0


def test_rerun_is_idempotent(built_home):
    before = status(built_home)
    ok, detail = run_pipeline(customers=800, seed=11)
    assert ok, detail
    after = status(built_home)
    assert after["tables"] == before["tables"]
    assert after["champion"]["metrics"] == before["champion"]["metrics"]
    assert after["champion"]["version"] == "2"
    predictions = publication.read_predictions(built_home)
    assert len(predictions) == 800 and predictions["model_version"].eq("2").all()
