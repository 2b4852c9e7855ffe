"""How dbt nodes appear in Dagster: models keyed ``[schema, table]`` like the tables analysts
query, grouped by pipeline stage; dbt's tests on sources become checks of the raw assets."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from orchestration.lib.keys import DAILY_TRANSACTIONS

GROUP_BY_SCHEMA = {"staging": "features", "features": "features", "training": "training"}


class FtiDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        # Source tests (not-null ids, amounts in range) check the raw tables ingestion wrote:
        # as checks of those assets they are selected with the build instead of being logged
        # as stray observations with a warning each.
        super().__init__(DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] != "model":
            return spec.replace_attributes(group_name="ingestion")
        if props["name"] == "stg_transactions":  # daily landed files feed raw.transactions too
            spec = spec.merge_attributes(deps=[DAILY_TRANSACTIONS])
        return spec.replace_attributes(
            key=dg.AssetKey([props["schema"], props.get("alias") or props["name"]]),
            group_name=GROUP_BY_SCHEMA.get(props["schema"], "features"),
        )
