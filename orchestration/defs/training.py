"""Training: fit on the point-in-time training set, evaluate on a time holdout, register, gate."""

import dataclasses

import dagster as dg
from pydantic import Field

from ml import registry, training
from ml.feature_views import lineage_tags, load_manifest, training_set_selection
from ml.settings import export_environment
from ml.warehouse import connect
from orchestration.defs.dbt import WAREHOUSE_POOL
from orchestration.project import dbt_project

TRAINING_SET = dg.AssetKey(["training", "training_set"])
_DEFAULTS = training.TrainingParams()


class TrainingConfig(dg.Config):
    holdout_snapshots: int = Field(
        default=_DEFAULTS.holdout_snapshots,
        description="Latest labeled snapshot dates held out for evaluation.",
    )
    horizon_days: int = Field(
        default=_DEFAULTS.horizon_days,
        description="Churn horizon; training rows this close to the holdout are purged.",
    )
    max_iter: int = Field(default=_DEFAULTS.max_iter, description="Boosting iterations.")
    learning_rate: float = Field(default=_DEFAULTS.learning_rate, description="Shrinkage.")
    max_leaf_nodes: int = Field(default=_DEFAULTS.max_leaf_nodes, description="Leaves per tree.")
    l2_regularization: float = Field(
        default=_DEFAULTS.l2_regularization, description="L2 penalty on leaf values."
    )
    threshold: float = Field(
        default=_DEFAULTS.threshold,
        description="Probability at which a customer counts as churning.",
    )
    random_state: int = Field(default=_DEFAULTS.random_state, description="Seed of the learner.")

    def params(self) -> training.TrainingParams:
        names = {f.name for f in dataclasses.fields(training.TrainingParams)}
        return training.TrainingParams(**{k: v for k, v in self.model_dump().items() if k in names})


@dg.asset(
    key=["models", "churn_model"],
    deps=[TRAINING_SET],
    group_name="training",
    kinds={"scikitlearn", "mlflow"},
    pool=WAREHOUSE_POOL,
)
def churn_model(context: dg.AssetExecutionContext, config: TrainingConfig) -> dg.MaterializeResult:
    """A registered version of the MLflow model `churn`; it becomes `champion` only if it is at
    least as good (PR AUC) as the current champion on the same time holdout."""
    paths = export_environment()
    params = config.params()
    with connect(paths.warehouse) as con:
        frame = con.execute(
            "select * from training.training_set order by event_timestamp, customer_id"
        ).df()
    selection = training_set_selection(load_manifest(dbt_project().manifest_path))
    split = training.time_split(frame, params.holdout_snapshots, params.horizon_days)
    model = training.fit(split.train, params)
    evaluation = training.evaluate(model, split.holdout, params.threshold)

    client = registry.configure(paths)
    champion = registry.champion_version(client)
    champion_score = None
    if champion is not None:
        try:
            previous = registry.load_version(client, champion)
            champion_score = training.evaluate(previous, split.holdout, params.threshold).metrics[
                registry.GATE_METRIC
            ]
        except (KeyError, ValueError) as exc:
            context.log.warning(f"champion v{champion} cannot score this holdout: {exc}")
    registered = registry.log_and_register(
        client,
        model,
        sample=training.model_input(split.holdout.head(200), training.input_columns(model)),
        params=dataclasses.asdict(params),
        metrics=evaluation.metrics,
        report=evaluation.report,
        tags={
            "dagster.run_id": context.run_id,
            "training.rows": str(len(split.train)),
            "training.window_end": str(split.train_end.date()),
            "holdout.rows": str(evaluation.rows),
            "holdout.window": f"{split.holdout_start.date()}..{split.holdout_end.date()}",
            **lineage_tags(selection),
        },
        champion_score=champion_score,
    )
    context.log.info(f"churn v{registered.version}: {registered.decision.reason}")
    return dg.MaterializeResult(
        metadata={
            "model_version": registered.version,
            "promoted_to_champion": registered.decision.promote,
            "gate": registered.decision.reason,
            "mlflow_run_id": registered.run_id,
            "training_rows": len(split.train),
            "holdout_rows": evaluation.rows,
            "holdout_window": f"{split.holdout_start.date()}..{split.holdout_end.date()}",
            "feature_views": dg.MetadataValue.json(lineage_tags(selection)),
            "classification_report": dg.MetadataValue.md(f"```\n{evaluation.report}\n```"),
            **{f"holdout_{k}": dg.MetadataValue.float(v) for k, v in evaluation.metrics.items()},
        }
    )
