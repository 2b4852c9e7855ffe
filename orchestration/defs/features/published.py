"""The feature quality gate: the asset every consumer of features waits for.

It compares this build's feature views with the last published build (rows, entities, null
rates; see ``ml.features.quality_gate``) and, only when every check passes, publishes them to
``published/feature_store.duckdb``. When a check fails the step fails (red in the Dagster UI, its
checks in the failure's metadata), the online store, training and scoring are skipped, and
the dashboard says the run was blocked while still showing the last good version.
"""

import dagster as dg
from pydantic import Field

from ml.features import quality_gate
from ml.features.dbt_manifest import load_manifest
from ml.features.quality_gate import QualityRules
from ml.features.views import feature_views
from ml.monitoring import health
from orchestration.lib.dbt_project import dbt_project
from orchestration.lib.keys import PUBLISHED_FEATURES, WAREHOUSE_POOL, relation_key
from orchestration.lib.resources import FtiHome, Warehouse


class QualityConfig(dg.Config):
    max_row_drop: float = Field(
        default=QualityRules.max_row_drop,
        description="Largest fraction of a view's rows or entities that may disappear since "
        "the last published build of the same source.",
    )
    max_null_rate_rise: float = Field(
        default=QualityRules.max_null_rate_rise,
        description="Largest absolute rise of a feature's null rate since that build.",
    )


def _metadata(report: quality_gate.QualityReport) -> dict[str, object]:
    return {
        "lineage": report.lineage or "none",
        "compared_with": report.baseline or "nothing (first build of this source)",
        "checks": dg.MetadataValue.md(
            "| view | check | result | detail |\n|---|---|---|---|\n"
            + "\n".join(
                f"| {c.view} | {c.name} | {'pass' if c.passed else '**FAIL**'} | {c.detail} |"
                for c in report.checks
            )
        ),
    }


@dg.asset(
    key=PUBLISHED_FEATURES,
    deps=[
        relation_key(view.relation)
        for view in feature_views(load_manifest(dbt_project().manifest_path))
    ],
    group_name="features",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def published_features(
    context: dg.AssetExecutionContext,
    config: QualityConfig,
    fti_home: FtiHome,
    warehouse: Warehouse,
) -> dg.MaterializeResult:
    """The feature views as analysts, the online store and scoring may trust them: copied to
    `published/feature_store.duckdb` only after the quality checks pass."""
    paths = fti_home.paths
    views = feature_views(load_manifest(dbt_project().manifest_path))
    rules = QualityRules(config.max_row_drop, config.max_null_rate_rise)
    previous = quality_gate.read_publication(paths)
    with warehouse.connect() as con:
        report = quality_gate.check(con, views, previous, rules)
        health.record_checks(
            paths,
            "feature_quality",
            [
                {"view": c.view, "check": c.name, "passed": c.passed, "detail": c.detail}
                for c in report.checks
            ],
        )
        if not report.passed:
            health.record(paths, "feature_quality", False, report.summary(), context.run_id)
            raise dg.Failure(
                description="feature quality gate failed; the last good features stay "
                f"published: {report.summary()}",
                metadata=_metadata(report),
            )
        record = quality_gate.publish_features(paths, con, report, context.run_id)
    health.record(paths, "feature_quality", True, report.summary(), context.run_id)
    return dg.MaterializeResult(
        metadata={
            **_metadata(report),
            "path": dg.MetadataValue.path(str(quality_gate.database_path(paths))),
            "tables": ", ".join(record["tables"]),
            "dagster/row_count": sum(int(p["rows"]) for p in report.profile.values()),
        }
    )
