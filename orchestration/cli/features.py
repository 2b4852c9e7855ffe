"""`fti features ...`: the feature store from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ml.common.errors import WarehouseBusy
from orchestration.runner import prepare_environment


def cmd_features_list(args: argparse.Namespace) -> int:
    from ml.features.views import feature_views
    from orchestration.lib.dbt_project import ensure_manifest

    prepare_environment()
    ensure_manifest()
    views = feature_views()
    if args.json:
        print(json.dumps([v.as_json() for v in views], indent=2))
        return 0
    for v in views:
        age = "unlimited" if v.max_age_days is None else f"{v.max_age_days} days"
        print(
            f"{v.name} v{v.version}  {v.relation}  entity={v.entity}  "
            f"time={v.timestamp_column}  max_age={age}  fingerprint={v.fingerprint}"
        )
        for feature, description in zip(v.features, v.descriptions, strict=True):
            print(f"    {feature:<24} {description}")
    return 0


def cmd_features_historical(args: argparse.Namespace) -> int:
    import duckdb

    from ml import engines
    from ml.common.warehouse import connect
    from ml.features.retrieval import SpineError, output_format, write_historical_features
    from ml.features.views import feature_views, resolve
    from orchestration.lib.dbt_project import ensure_manifest

    paths = prepare_environment()
    ensure_manifest()
    references = [r.strip() for r in args.features.split(",")] if args.features else None
    selection = resolve(feature_views(), references)
    output_format(args.spine, args.out)  # before Spark starts, or the warehouse opens
    if not paths.warehouse.exists():
        raise SpineError(f"no warehouse at {paths.warehouse}: run `fti demo` first")
    if engines.current(paths) == "spark":
        from ml.engines import spark_jobs

        argv = ["--spine", str(Path(args.spine).resolve()), "--out", str(Path(args.out).resolve())]
        if args.features:
            argv += ["--features", args.features]
        done = spark_jobs.run("historical", paths, *argv)
        print(f"wrote {done['rows']} rows with {done['features']} features to {args.out} (Spark)")
        return 0
    try:
        with connect(paths.warehouse, read_only=True) as con:
            rows = write_historical_features(con, args.spine, args.out, selection)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise WarehouseBusy(f"the warehouse is busy (a pipeline run is writing it): {exc}") from exc
    columns = sum(len(features) for features in selection.values())
    print(f"wrote {rows} rows with {columns} features to {args.out}")
    return 0


def cmd_features_online(args: argparse.Namespace) -> int:
    from ml.features.online_store import get_online_features

    found = get_online_features(prepare_environment(), args.ids)
    if args.json:
        report = {"rows": found.rows, "missing": found.missing, "watermark": found.watermark}
        print(json.dumps(report, indent=2, default=str))
        return 0
    for view, mark in found.watermark.items():
        print(f"{view} v{mark['version']} as of {mark['as_of']} ({mark['fingerprint']})")
    for entity, values in found.rows.items():
        print(entity)
        for name, value in values.items():
            print(f"    {name:<48} {value}")
    for entity in found.missing:
        print(f"{entity}: not in the online store")
    return 0


def add_commands(sub) -> None:
    features = sub.add_parser("features", help="the feature store: views, point-in-time retrieval")
    fsub = features.add_subparsers(dest="features_command", required=True)
    flist = fsub.add_parser("list", help="feature views declared in dbt")
    flist.add_argument("--json", action="store_true", help="a JSON list")
    flist.set_defaults(func=cmd_features_list)
    hist = fsub.add_parser("historical", help="point-in-time features for a spine file")
    hist.add_argument("--spine", required=True, help="CSV/Parquet: entity column, event_timestamp")
    hist.add_argument("--out", required=True, help="output file (.parquet, else CSV)")
    hist.add_argument(
        "--features", help="view:feature,... (a bare view name means all its features)"
    )
    hist.set_defaults(func=cmd_features_historical)
    online = fsub.add_parser("online", help="latest features of entities from the online store")
    online.add_argument("ids", nargs="+", metavar="ID")
    online.add_argument("--json", action="store_true", help="one JSON object")
    online.set_defaults(func=cmd_features_online)
