"""Training: select a model family by rolling-origin validation, fit it, evaluate it on a time
holdout (with a baseline, slices and artifacts), register it in MLflow, and gate it."""

import tempfile
import time
from pathlib import Path

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from ml.common import model_input, threads
from ml.common.warehouse import table_exists
from ml.features import on_demand
from ml.features.dbt_manifest import load_manifest
from ml.features.views import lineage_tags, training_set_selection
from ml.monitoring import drift, report
from ml.registry import model_registry, provenance
from ml.training import candidates, evaluation, model_gate, slices, trainer, training_rows
from ml.training.model_selection import select_model
from orchestration.defs.features.dbt_models import dbt_models
from orchestration.lib.dbt_project import dbt_project
from orchestration.lib.keys import CHURN_MODEL, PUBLISHED_FEATURES, WAREHOUSE_POOL
from orchestration.lib.resources import ModelRegistry, Warehouse
from orchestration.lib.training_config import TrainingConfig

_CHECK_DESCRIPTIONS = {
    model_gate.BEATS_BASELINE: "The new version's holdout PR AUC beats ranking customers by "
    "recency.",
    model_gate.NOT_WORSE_THAN_CHAMPION: "Not worse than the current champion on the same holdout "
    "(beyond gate_tolerance).",
    model_gate.SLICE_FLOORS: "Every judged customer group (country, channel, tenure band) reaches "
    "slice_floor ROC AUC.",
    model_gate.FEATURE_VIEWS_MATERIALIZED: "The feature view versions the model needs exist as "
    "tables in the warehouse.",
}


def _missing_views(con, selection) -> list[str]:
    """Views whose table is absent (an empty one, say attributes of a log without any, is
    materialized: its features are null, in training as in serving)."""
    missing = []
    for view in selection:
        if not table_exists(con, view.relation):
            missing.append(f"{view.name} v{view.version} ({view.relation})")
    return missing


@dg.asset(
    key=CHURN_MODEL,
    deps=[get_asset_key_for_model([dbt_models], "training_set"), PUBLISHED_FEATURES],
    group_name="training",
    kinds={"scikitlearn", "mlflow"},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(name, asset=CHURN_MODEL, description=text)
        for name, text in _CHECK_DESCRIPTIONS.items()
    ],
)
def churn_model(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    warehouse: Warehouse,
    registry: ModelRegistry,
) -> dg.MaterializeResult:
    """A registered version of the MLflow model `churn`: the best family by rolling-origin
    validation, fitted on the training period, judged on the time holdout. It becomes
    `champion` only if it passes every gate check (reported as this asset's checks)."""
    params = config.params()
    threads.limit_for_fitting()
    manifest = load_manifest(dbt_project().manifest_path)
    selection = training_set_selection(manifest)
    with warehouse.connect() as con:
        frame, sampling = training_rows.read(
            con,
            "training.training_set",
            params.holdout_snapshots,
            params.horizon_days,
            params.fit_max_rows,
            params.holdout_max_rows,
        )
        missing_views = _missing_views(con, selection)
    context.log.info(f"training set read: {sampling.params()}")
    frame = on_demand.add(frame, on_demand.end_of_day(frame[model_input.TIME]))
    split = trainer.time_split(frame, params.holdout_snapshots, params.horizon_days)
    del frame

    chosen = select_model(split.train, params)
    context.log.info(f"model selection: {chosen.best} ({chosen.reason})")
    model = candidates.for_serving(trainer.fit(split.train, params, chosen.best))
    scored = trainer.evaluate(model, split.holdout, params.threshold)
    scores = model_input.predict_proba(model, split.holdout)
    slice_report = slices.evaluate_slices(
        split.holdout, scores, params.threshold, params.slice_floor, params.slice_min_rows
    )

    client = registry.client()
    champion = model_registry.champion_version(client)
    champion_score = None
    if champion is not None:
        try:
            previous = model_registry.load_version(client, champion)
            champion_score = trainer.evaluate(previous, split.holdout, params.threshold).metrics[
                model_gate.GATE_METRIC
            ]
        except (KeyError, ValueError) as exc:
            context.log.warning(f"champion v{champion} cannot score this holdout: {exc}")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        figures = evaluation.write_artifacts(
            model, split.holdout, params.threshold, folder, params.hyperparameters.random_state
        )
        baseline = figures["baseline"]
        decision = model_gate.decide(
            scored.metrics[model_gate.GATE_METRIC],
            baseline.metrics[model_gate.GATE_METRIC],
            champion_score,
            slice_report.failures,
            missing_views,
            params.gate_tolerance,
        )
        with warehouse.connect() as con:
            reference = drift.model_reference(
                con, model, split.train, params.hyperparameters.random_state
            )
        drift.profile_frame(reference, "").drop(columns="model_version").to_csv(
            folder / drift.REFERENCE_ARTIFACT, index=False
        )
        (folder / "classification_report.txt").write_text(scored.report)
        slice_report.table.to_csv(folder / "slices.csv", index=False)
        if not chosen.table.empty:
            chosen.table.to_csv(folder / "model_selection.csv", index=False)
        metrics = {
            **scored.metrics,
            "top_decile_capture": figures["top_decile_capture"],
            "top_decile_lift": figures["top_decile_lift"],
            "baseline_pr_auc": baseline.metrics["pr_auc"],
            "baseline_roc_auc": baseline.metrics["roc_auc"],
            "slice_largest_gap_roc_auc": slice_report.largest_gap,
            **{f"cv_{family}_pr_auc": score for family, score in chosen.scores.items()},
        }
        views = lineage_tags(selection)
        started = time.perf_counter()
        registered = model_registry.log_and_register(
            client,
            model,
            sample=model_input.model_input(
                split.holdout.head(200), model_input.input_columns(model)
            ),
            params={
                **params.flat(),
                **sampling.params(),
                "candidates": ",".join(params.candidates),
            },
            metrics=metrics,
            tags={
                "model.family": chosen.best,
                "selection.reason": chosen.reason,
                "dagster.run_id": context.run_id,
                "code.commit": provenance.code_commit(),
                "dbt.manifest_checksum": provenance.manifest_checksum(manifest),
                "training.rows": str(len(split.train)),
                "training.window": f"{split.train_start.date()}..{split.train_end.date()}",
                "holdout.rows": str(scored.rows),
                "holdout.window": f"{split.holdout_start.date()}..{split.holdout_end.date()}",
                **views,
            },
            decision=decision,
            artifacts=folder,
        )
        registry_seconds = time.perf_counter() - started
    # The frozen reference drift is measured against, kept with the version; and any open
    # retraining request is answered by this version (the gate decided whether it serves).
    with warehouse.connect() as con:
        drift.store_reference(con, reference, registered.version)
        answered = report.answer_requests(con, registered.version)
    if answered:
        context.log.info(f"churn v{registered.version} answers {answered} retraining request(s)")
    context.log.info(f"churn v{registered.version}: {decision.reason}")
    return dg.MaterializeResult(
        metadata={
            "model_version": registered.version,
            "model_family": chosen.best,
            "selection": chosen.reason,
            "promoted_to_champion": decision.promote,
            "gate": decision.reason,
            "mlflow_run_id": registered.run_id,
            "mlflow_log_and_register_seconds": round(registry_seconds, 3),
            "training_rows": len(split.train),
            "training_sample": dg.MetadataValue.json(sampling.params()),
            "training_window": f"{split.train_start.date()}..{split.train_end.date()}",
            "holdout_rows": scored.rows,
            "holdout_window": f"{split.holdout_start.date()}..{split.holdout_end.date()}",
            "feature_views": dg.MetadataValue.json(views),
            "top_features": dg.MetadataValue.json(figures["top_features"]),
            "classification_report": dg.MetadataValue.md(f"```\n{scored.report}\n```"),
            "slices": dg.MetadataValue.md(slice_report.table.to_markdown(index=False)),
            **{f"holdout_{k}": dg.MetadataValue.float(float(v)) for k, v in metrics.items()},
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=check.name,
                passed=check.passed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"detail": check.detail, "model_version": registered.version},
            )
            for check in decision.checks
        ],
    )
