"""The feature store on the pipeline's warehouse: views from dbt, retrieval equals training set."""

import json
import time

import dagster as dg
import duckdb
import pandas as pd
import pytest

from ml.features.online_store import (
    OnlineStoreError,
    get_online_features,
    materialize,
    open_store,
    read_watermark,
    store_path,
)
from ml.features.views import FeatureViewError, feature_views, resolve, serving_selection
from ml.registry import model_registry
from orchestration.cli import main


def test_features_list_json(built_home, capsys):
    assert main(["features", "list", "--json"]) == 0
    views = json.loads(capsys.readouterr().out)
    assert [(v["name"], v["version"]) for v in views] == [
        ("customer_attributes", 1),
        ("customer_features", 1),
        ("customer_features", 2),
    ]
    attributes, view, v2 = views
    # Changing attributes are a view of their own: versions valid from a time, no max age.
    assert attributes["timestamp_column"] == "valid_from" and attributes["max_age_days"] is None
    assert attributes["features"] == ["country", "segment"]
    assert "country" not in view["features"]
    assert set(view) >= {
        "name",
        "version",
        "entity",
        "timestamp_column",
        "max_age_days",
        "features",
        "relation",
        "fingerprint",
    }
    # v2 lives beside v1 under its own name, with v1's features and two more.
    assert v2["relation"] == "features.customer_features_v2"
    assert v2["features"] == [*view["features"], "spend_trend_30_90", "transactions_trend_90_365"]
    assert v2["fingerprint"] != view["fingerprint"]
    assert view["latest"] and not v2["latest"]
    assert view["entity"] == "customer_id" and view["timestamp_column"] == "as_of_date"
    assert view["max_age_days"] == 7 and view["relation"] == "features.customer_features"
    # last_purchase_date is served as the input of the on-demand feature.
    assert "recency_days" in view["features"] and "last_purchase_date" in view["features"]
    assert "customer_id" not in view["features"] and "as_of_date" not in view["features"]


def fingerprints(manifest) -> dict[tuple[str, int], str]:
    return {(v.name, v.version): v.fingerprint for v in feature_views(manifest)}


def test_fingerprint_follows_the_sql(dbt_manifest):
    manifest = json.loads(dbt_manifest.read_text())
    before = fingerprints(manifest)
    upstream = manifest["nodes"]["model.fti.int_customer_daily"]
    upstream["checksum"]["checksum"] = "changed"
    changed = fingerprints(manifest)
    assert changed[("customer_features", 1)] != before[("customer_features", 1)]
    # The attributes view does not read the daily totals.
    assert changed[("customer_attributes", 1)] == before[("customer_attributes", 1)]
    # v2 builds on v1, so changing v2 leaves v1 alone, and changing v1 changes v2.
    manifest["nodes"]["model.fti.customer_features.v2"]["checksum"]["checksum"] = "v2 changed"
    after = fingerprints(manifest)
    assert after[("customer_features", 1)] == changed[("customer_features", 1)]
    assert after[("customer_features", 2)] != changed[("customer_features", 2)]
    # A downstream model is not part of the view's definition.
    manifest["nodes"]["model.fti.churn_labels"]["checksum"]["checksum"] = "changed too"
    assert fingerprints(manifest) == after


def test_fingerprint_follows_the_vars_the_sql_reads(dbt_manifest, monkeypatch):
    """The snapshot interval changes every feature row without changing a file's checksum."""
    from ml.features import views as module

    manifest = json.loads(dbt_manifest.read_text())
    before = fingerprints(manifest)
    defaults = module.project_vars()
    monkeypatch.setattr(module, "project_vars", lambda: {**defaults, "churn_horizon_days": 30})
    assert fingerprints(manifest) == before  # the label horizon is not a feature's input
    interval = {**defaults, "snapshot_interval_days": 14}
    monkeypatch.setattr(module, "project_vars", lambda: interval)
    changed = fingerprints(manifest)
    assert changed[("customer_features", 1)] != before[("customer_features", 1)]
    assert changed[("customer_attributes", 1)] == before[("customer_attributes", 1)]


def test_historical_retrieval_matches_each_labels_own_snapshot(built_home, tmp_path):
    with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
        training = con.execute(
            "select * from training.training_set order by event_timestamp desc, customer_id "
            "limit 3000"
        ).df()
        # The reference: each label's own snapshot, read straight from the feature table.
        snapshot = con.execute(
            "select customer_id, as_of_date as event_timestamp, recency_days, spend_90d, "
            "acquisition_channel from features.customer_features"
        ).df()
    spine = training[["customer_id", "event_timestamp", "churned"]].copy()
    spine["event_timestamp"] = pd.to_datetime(spine["event_timestamp"]).dt.date
    spine = spine.sample(frac=1.0, random_state=0).reset_index(drop=True)  # any order
    spine.to_parquet(tmp_path / "spine.parquet")
    features = ",".join(
        f"customer_features:{f}" for f in ("recency_days", "spend_90d", "acquisition_channel")
    )
    code = main(
        [
            "features",
            "historical",
            "--spine",
            str(tmp_path / "spine.parquet"),
            "--out",
            str(tmp_path / "out.parquet"),
            "--features",
            features,
        ]
    )
    assert code == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == [
        "customer_id",
        "event_timestamp",
        "churned",
        "customer_features__recency_days",
        "customer_features__spend_90d",
        "customer_features__acquisition_channel",
    ]
    pd.testing.assert_frame_equal(
        out[["customer_id", "churned"]], spine[["customer_id", "churned"]]
    )
    snapshot["event_timestamp"] = pd.to_datetime(snapshot["event_timestamp"]).dt.date
    expected = spine.merge(snapshot, on=["customer_id", "event_timestamp"], how="left")
    assert out["customer_features__recency_days"].tolist() == expected["recency_days"].tolist()
    assert out["customer_features__spend_90d"].tolist() == expected["spend_90d"].tolist()
    assert (
        out["customer_features__acquisition_channel"].tolist()
        == expected["acquisition_channel"].tolist()
    )


def test_unknown_feature_is_refused(built_home, tmp_path, capsys):
    (tmp_path / "spine.csv").write_text("customer_id,event_timestamp\nC0000001,2025-01-01\n")
    code = main(
        [
            "features",
            "historical",
            "--spine",
            str(tmp_path / "spine.csv"),
            "--out",
            str(tmp_path / "out.csv"),
            "--features",
            "customer_features:nope",
        ]
    )
    assert code == 2
    assert "has no feature 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
    views = feature_views()
    assert [(v.name, v.version) for v in resolve(views, None)] == [
        ("customer_attributes", 1),
        ("customer_features", 1),
    ]
    assert [v.version for v in resolve(views, ["customer_features@2:spend_trend_30_90"])] == [2]
    with pytest.raises(FeatureViewError, match="pick one version"):
        resolve(views, ["customer_features:recency_days", "customer_features@2:recency_days"])


def test_online_store_equals_the_latest_offline_snapshot(built_home, capsys):
    with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
        latest = con.execute(
            "select * from features.customer_features "
            "where as_of_date = (select max(as_of_date) from features.customer_features) "
            "order by customer_id"
        ).df()
    ids = latest["customer_id"].tolist()
    found = get_online_features(built_home, [*ids, "nobody"])
    assert found.missing == ["nobody"]
    assert list(found.rows) == ids
    view = next(v for v in feature_views() if v.name == "customer_features" and v.latest)
    mark = found.watermark["customer_features"]
    assert (mark["version"], mark["fingerprint"]) == (view.version, view.fingerprint)
    assert mark["as_of"] == str(latest["as_of_date"].max().date())
    assert mark["entities"] == len(ids)
    for feature in view.features:
        online = [found.rows[i][f"customer_features__{feature}"] for i in ids]
        column = latest[feature]
        if pd.api.types.is_datetime64_any_dtype(column):  # SQLite holds dates as ISO text
            column = column.dt.strftime("%Y-%m-%d")
        offline = column.astype(object).where(column.notna(), None).tolist()
        assert online == offline, feature

    # The attribute view: each customer's current version.
    with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
        current = dict(
            con.execute(
                "select customer_id, segment from features.customer_attributes "
                "where valid_to is null"
            ).fetchall()
        )
    assert {i: found.rows[i]["customer_attributes__segment"] for i in ids} == {
        i: current.get(i) for i in ids
    }

    # Version 2 on request, with its extra features.
    v2 = get_online_features(built_home, ids[:1], versions={"customer_features": 2})
    assert v2.watermark["customer_features"]["version"] == 2
    assert "customer_features__spend_trend_30_90" in v2.rows[ids[0]]
    with pytest.raises(OnlineStoreError, match="does not hold customer_features@7"):
        get_online_features(built_home, ids[:1], versions={"customer_features": 7})

    assert main(["features", "online", ids[0], "nobody", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["missing"] == ["nobody"] and set(report["rows"]) == {ids[0]}


def test_online_store_swap_never_disturbs_a_reader(built_home):
    reader = open_store(built_home)
    try:
        before = read_watermark(reader)["customer_features@1"]["materialized_at"]
        with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
            time.sleep(1.1)  # watermark times have one-second resolution
            materialize(built_home, con, feature_views())
        # The open reader still sees the store it opened; a new reader sees the new one.
        assert read_watermark(reader)["customer_features@1"]["materialized_at"] == before
        assert reader.execute('select count(*) from "customer_features__v1"').fetchone()[0] > 0
        after = get_online_features(built_home, ["x"]).watermark["customer_features"]
        assert after["materialized_at"] > before
    finally:
        reader.close()
    leftovers = [p.name for p in store_path(built_home).parent.iterdir()]
    assert leftovers == ["online_store.sqlite"]


def test_serving_selection_checks_versions_and_fingerprints():
    views = feature_views()
    view = views[0]
    ok = serving_selection({view.name: (view.version, view.fingerprint)}, views)
    assert list(ok) == [view]
    with pytest.raises(FeatureViewError, match="with fingerprint 0+, but the materialized"):
        serving_selection({view.name: (view.version, "0000")}, views)
    with pytest.raises(FeatureViewError, match="v9, which the dbt project no longer defines"):
        serving_selection({view.name: (9, view.fingerprint)}, views)
    with pytest.raises(FeatureViewError, match="records no feature views"):
        serving_selection({}, views)


def test_champion_with_other_feature_definitions_is_not_served(built_home):
    """Batch scoring refuses a model trained on other feature definitions; the predictions
    already published stay as they were."""
    from orchestration.defs.inference.batch_predictions import churn_predictions
    from orchestration.lib.resources import resources_for

    client = model_registry.configure(built_home)
    version = model_registry.champion_version(client)
    tag = "feature_view.customer_features"
    original = client.get_model_version("churn", version).tags[tag]
    with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
        before = con.execute("select * from predictions.churn_predictions").df()
    client.set_model_version_tag("churn", version, tag, "v1:0123456789abcdef")
    try:
        result = dg.materialize(
            [churn_predictions], resources=resources_for(built_home), raise_on_error=False
        )
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "fingerprint 0123456789abcdef" in str(failure.event_specific_data.error)
    finally:
        client.set_model_version_tag("churn", version, tag, original)
    with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
        after = con.execute("select * from predictions.churn_predictions").df()
    pd.testing.assert_frame_equal(before, after)
