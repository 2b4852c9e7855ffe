"""Selection, gate and lineage through Dagster, and push-button promote/rollback from the CLI."""

import json

import dagster as dg

from ml.common.settings import MODEL_NAME
from ml.registry import model_registry
from ml.training import candidates, model_gate
from orchestration.cli import main

# The Dagster definitions load the dbt manifest when imported: import them inside the tests,
# after the dbt_manifest fixture has parsed the project (a fresh clone has no manifest).
CHURN_MODEL = dg.AssetKey(["models", "churn_model"])

EVALUATION_ARTIFACTS = {
    "roc_pr_curves.png",
    "calibration_curve.png",
    "confusion_matrix.png",
    "confusion_matrix.json",
    "permutation_importance.png",
    "permutation_importance.csv",
    "classification_report.txt",
    "lift_gains.csv",
    "baseline.json",
    "slices.csv",
    "model_selection.csv",
}


def latest_checks(instance) -> dict[str, bool]:
    keys = [dg.AssetCheckKey(CHURN_MODEL, name) for name in model_gate.CHECKS]
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    return {key.name: record.event.asset_check_evaluation.passed for key, record in records.items()}


def test_training_records_selection_gate_artifacts_and_lineage(copied_home):
    with dg.DagsterInstance.get() as instance:
        assert latest_checks(instance) == dict.fromkeys(model_gate.CHECKS, True)
        run_id = instance.get_latest_materialization_event(CHURN_MODEL).run_id
    client = model_registry.configure(copied_home)
    version = client.get_model_version(MODEL_NAME, "1")
    tags = version.tags
    assert tags["model.family"] in candidates.FAMILIES
    assert tags["selection.reason"].startswith("best mean validation pr_auc over 3")
    assert tags["dagster.run_id"] == run_id
    assert len(tags["dbt.manifest_checksum"]) == 16
    assert tags["code.commit"] != ""
    assert tags["training.window"].startswith("2023-01-02..")
    assert int(tags["training.rows"]) > 0 and int(tags["holdout.rows"]) > 0
    assert set(k for k in tags if k.startswith("feature_view.")) == {
        "feature_view.customer_features",
        "feature_view.customer_attributes",
    }
    metrics = {k.removeprefix("metrics."): float(v) for k, v in tags.items() if "metrics." in k}
    assert metrics["pr_auc"] > metrics["baseline_pr_auc"]
    assert {f"cv_{family}_pr_auc" for family in candidates.FAMILIES} <= set(metrics)
    assert 0 < metrics["top_decile_capture"] <= 1
    artifacts = {a.path.split("/")[-1] for a in client.list_artifacts(version.run_id, "evaluation")}
    assert artifacts >= EVALUATION_ARTIFACTS


def test_worse_model_is_not_promoted_and_promote_rollback_work(copied_home, capsys):
    from orchestration.defs.inference.batch_predictions import churn_predictions
    from orchestration.defs.training.churn_model import churn_model
    from orchestration.lib.resources import resources_for

    # A deliberately worse model: one boosting stump, through the real training asset.
    stump = {"candidates": ["hist_gradient_boosting"], "hgb_max_iter": 1, "hgb_max_leaf_nodes": 2}
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [churn_model],
            instance=instance,
            resources=resources_for(copied_home),
            run_config={"ops": {"models__churn_model": {"config": stump}}},
        )
        assert result.success
        checks = latest_checks(instance)
    assert not checks[model_gate.NOT_WORSE_THAN_CHAMPION]
    assert checks[model_gate.FEATURE_VIEWS_MATERIALIZED]
    client = model_registry.configure(copied_home)
    assert model_registry.champion_version(client) == "1"

    assert main(["model", "list", "--json"]) == 0
    listed = {v["version"]: v for v in json.loads(capsys.readouterr().out)}
    assert listed["1"]["aliases"] == ["champion"] and listed["2"]["aliases"] == ["challenger"]
    assert listed["2"]["gate"] == "rejected" and listed["2"]["family"] == "hist_gradient_boosting"
    assert listed["2"]["feature_views"] == listed["1"]["feature_views"]

    # Push-button upgrade: the next batch scoring uses the new champion, no restart.
    assert main(["model", "promote", "2"]) == 0
    assert "champion: v1 -> v2" in capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:
        assert dg.materialize(
            [churn_predictions], instance=instance, resources=resources_for(copied_home)
        ).success
    from ml.common.warehouse import connect

    with connect(copied_home.warehouse, read_only=True) as con:
        served = con.execute("select distinct model_version from predictions.churn_predictions")
        assert served.fetchall() == [("2",)]

    # Rollback: the previous champion returns.
    assert main(["model", "rollback"]) == 0
    assert "champion: v2 -> v1 (rolled back)" in capsys.readouterr().out
    assert model_registry.champion_version(client) == "1"
    assert main(["model", "rollback"]) == 2
    assert "no previous champion" in capsys.readouterr().err

    # A version whose feature definitions are not materialized is refused, unless forced.
    client.set_model_version_tag(MODEL_NAME, "2", "feature_view.customer_features", "v1:deadbeef")
    assert main(["model", "promote", "2"]) == 2
    err = capsys.readouterr().err
    assert "v2 cannot be served" in err and "deadbeef" in err and "--force" in err
    assert model_registry.champion_version(client) == "1"
    assert main(["model", "promote", "2", "--force"]) == 0
    assert "(forced)" in capsys.readouterr().out
    assert model_registry.champion_version(client) == "2"
    assert main(["model", "promote", "9"]) == 2
    assert "has no version 9" in capsys.readouterr().err
