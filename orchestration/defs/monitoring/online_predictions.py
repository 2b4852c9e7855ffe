"""Monitoring inputs: the online API's prediction logs, loaded into the warehouse."""

import dagster as dg

from ml.features.dbt_manifest import load_manifest
from ml.features.views import feature_views
from ml.monitoring.online_health import ONLINE_TABLE, ensure_table, record_skew
from ml.monitoring.prediction_log import LOG_COLUMNS, log_folder
from orchestration.lib.dbt_project import dbt_project
from orchestration.lib.keys import ONLINE_PREDICTIONS, WAREHOUSE_POOL
from orchestration.lib.resources import FtiHome, Warehouse

TABLE = ONLINE_TABLE


@dg.asset(
    key=ONLINE_PREDICTIONS,
    group_name="monitoring",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def online_predictions(
    context: dg.AssetExecutionContext, fti_home: FtiHome, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Every prediction the online API made (request id, time, customer, variant, model
    version, probability, features used), appended from the API's log files. Loading is
    idempotent: a request id already loaded is skipped, and loaded files are moved aside.
    Each new prediction's features are compared with the warehouse's here, before this run's
    dbt build replaces the snapshot the online store served (`monitoring.online_skew`)."""
    folder = log_folder(fti_home.paths)
    files = sorted(p for p in folder.glob("*.jsonl")) if folder.exists() else []
    with warehouse.connect() as con:
        ensure_table(con)
        loaded = 0
        if files:
            listing = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
            spec = ", ".join(f"'{name}': '{kind}'" for name, kind in LOG_COLUMNS.items())
            con.execute("begin transaction")
            before = con.execute(f"select count(*) from {TABLE}").fetchall()[0][0]
            con.execute(
                f"""
                insert into {TABLE} by name
                select {", ".join(LOG_COLUMNS)}
                from read_json([{listing}], format = 'newline_delimited', columns = {{{spec}}})
                where request_id not in (select request_id from {TABLE})
                """
            )
            loaded = con.execute(f"select count(*) from {TABLE}").fetchall()[0][0] - before
            con.execute("commit")
        total = con.execute(f"select count(*) from {TABLE}").fetchall()[0][0]
        compared = record_skew(con, feature_views(load_manifest(dbt_project().manifest_path)))
    done = folder / "loaded"
    for path in files:
        done.mkdir(parents=True, exist_ok=True)
        path.replace(done / path.name)
    context.log.info(f"loaded {loaded} predictions from {len(files)} file(s)")
    return dg.MaterializeResult(
        metadata={
            "files": len(files),
            "rows_loaded": loaded,
            "compared_with_warehouse": compared,
            "dagster/row_count": total,
        }
    )
