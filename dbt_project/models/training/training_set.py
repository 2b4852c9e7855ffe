"""Point-in-time training set: every label row with its features, through the one retrieval.

This is a dbt Python model so that the training set stays in dbt's lineage and docs while
being built by ``ml.features.retrieval`` (the same point-in-time ASOF retrieval that serves
`fti features historical`): there is no second join path to drift from it.

The retrieval runs here into a staging table: once, or, when the labels would not fit
DuckDB's memory limit in one statement, once per customer bucket (ml/features/buckets.py).
dbt creates the model's table empty, with the staging table's columns, and the post-hook
puts the staging table in its place, inside the model's transaction: handing dbt the rows
would copy them all again (58 s of the 130M label rows at 50M transactions).
"""

import os
from pathlib import Path


def model(dbt, session):
    dbt.config(materialized="table")
    from ml.features.buckets import bucket_count, buckets
    from ml.features.dbt_manifest import load_manifest
    from ml.features.retrieval import retrieve
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
    # Run here, not handed to dbt as a relation: `retrieve` must see a hash collision's error.
    staging = f'"{dbt.this.database}"."{dbt.this.schema}".training_set__buckets'
    session.execute(f"drop table if exists {staging}")
    for index, bucket in enumerate(buckets("customer_id", count) if count > 1 else [None]):
        verb = f"create table {staging} as" if index == 0 else f"insert into {staging}"
        retrieve(
            session,
            "_training_spine",
            selection,
            lambda query, verb=verb: session.execute(f"{verb} {query}"),
            False,
            bucket,
        )
    return session.table(staging).limit(0)
