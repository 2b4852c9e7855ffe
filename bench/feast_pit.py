"""Feast's side of bench/pit.py: `get_historical_features` with Feast's DuckDB offline store.

Runs under the Feast virtualenv (`make bench-feast`; Feast pins its own duckdb and pandas, so
it cannot share the project's environment) and imports nothing from the project. Given the
folder bench/pit.py built, it exports the feature timeline to Parquet (Feast's file source),
registers one entity and one feature view with no TTL (the project's view has no max age
either), then times retrieval for the spine into Arrow and Parquet: Feast's fastest path.

    .venv-feast/bin/python bench/feast_pit.py FOLDER FEATURE [FEATURE ...]
"""

import json
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path


def main() -> None:
    folder, features = Path(sys.argv[1]), sys.argv[2:]
    import duckdb
    import feast
    import pyarrow.parquet as pq
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64

    repo = folder / "feast_repo"
    timeline = folder / "timeline.parquet"
    if not timeline.exists():
        con = duckdb.connect(str(folder / "features.duckdb"), read_only=True)
        con.execute(f"copy feats.timeline to '{timeline}' (format parquet)")
        con.close()
    repo.mkdir(exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        "project: fti_bench\n"
        f"registry: {repo / 'registry.db'}\n"
        "provider: local\n"
        "offline_store:\n  type: duckdb\n"
        f"online_store:\n  type: sqlite\n  path: {repo / 'online.db'}\n"
        "entity_key_serialization_version: 3\n"
    )
    store = FeatureStore(repo_path=str(repo))
    entity = Entity(name="entity", join_keys=["entity_id"], value_type=ValueType.STRING)
    view = FeatureView(
        name="timeline",
        entities=[entity],
        ttl=timedelta(0),  # no limit, as the project's view (max_age_days: none)
        schema=[Field(name=f, dtype=Float64) for f in features],
        source=FileSource(path=str(timeline), timestamp_field="event_ts"),
    )
    store.apply([entity, view])
    spine = pq.read_table(folder / "spine.parquet").to_pandas()
    started = time.perf_counter()
    job = store.get_historical_features(
        entity_df=spine,
        features=[f"timeline:{f}" for f in features],
        full_feature_names=True,
    )
    pq.write_table(job.to_arrow(), folder / "feast.parquet")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "version": feast.__version__}))


if __name__ == "__main__":
    main()
