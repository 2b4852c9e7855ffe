"""Point-in-time training set: every label row with its features, through the one retrieval.

This is a dbt Python model so that the training set stays in dbt's lineage and docs while
being built by ``ml.features.retrieval`` (the same point-in-time ASOF retrieval that serves
`fti features historical`): there is no second join path to drift from it.

When the labels would not fit DuckDB's memory limit in one statement, the retrieval runs once
per customer bucket into a staging table (ml/features/buckets.py), which dbt then copies; the
post-hook drops it.
"""

import os
from pathlib import Path


def model(dbt, session):
    dbt.config(materialized="table")
    from ml.features.buckets import bucket_count, buckets
    from ml.features.dbt_manifest import load_manifest
    from ml.features.retrieval import retrieval_sql
    from ml.features.views import feature_views, resolve

    labels = dbt.ref("churn_labels")
    # The feature views used below. dbt reads a Python model's refs literally, so these
    # declare the dependencies; the check below keeps them in step with the config.
    referenced = {"customer_features", "customer_attributes"}
    dbt.ref("customer_features", v=1)
    dbt.ref("customer_attributes")
    manifest = load_manifest(Path(os.environ.get("DBT_TARGET_PATH", "target")) / "manifest.json")
    selection = resolve(feature_views(manifest), dbt.config.get("feature_views"))
    unreferenced = sorted({view.name for view in selection} - referenced)
    if unreferenced:
        raise ValueError(
            f"training_set uses feature view(s) {unreferenced} without dbt.ref(): add the "
            "ref to training_set.py so dbt builds them first"
        )
    spine = labels.select("customer_id, cast(as_of_date as date) as event_timestamp, churned")
    spine.create_view("_training_spine", replace=True)
    # A table's rows have no order (training reads them sorted): no sort of every row here.
    rows = session.execute("select count(*) from _training_spine").fetchall()[0][0]
    share = float(dbt.config.get("bucket_memory_share"))
    count = bucket_count(session, rows, int(dbt.config.get("bytes_per_row")), share)
    if count == 1:
        return session.sql(retrieval_sql(session, "_training_spine", selection, False))
    staging = f"{dbt.this.database}.{dbt.this.schema}.training_set__buckets"
    for bucket in buckets("customer_id", count):
        query = retrieval_sql(session, "_training_spine", selection, False, bucket)
        if bucket.index == 0:
            session.execute(f"create or replace table {staging} as {query}")
        else:
            session.execute(f"insert into {staging} {query}")
    return session.table(staging)
