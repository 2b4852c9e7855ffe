"""`fti model ...` and `fti mlflow`: the registry from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ml.common.settings import paths as resolve_paths


def _paths():
    from ml.common.settings import export_environment

    return export_environment(resolve_paths())


def cmd_model_list(args: argparse.Namespace) -> int:
    from ml.registry import model_registry

    paths = _paths()
    client = model_registry.configure(paths) if paths.mlflow_dir.exists() else None
    versions = model_registry.list_versions(client) if client is not None else []
    if args.json:
        print(json.dumps(versions, indent=2))
        return 0
    if not versions:
        print("no model versions yet: run `fti demo`")
        return 0
    print(f"{'version':>7}  {'aliases':<20} {'family':<24} {'pr_auc':>7} {'roc_auc':>7}  gate")
    for v in versions:
        pr_auc, roc_auc = (v["metrics"].get(k, float("nan")) for k in ("pr_auc", "roc_auc"))
        print(
            f"{v['version']:>7}  {','.join(v['aliases']) or '-':<20} {v['family'] or '-':<24} "
            f"{pr_auc:>7.4f} {roc_auc:>7.4f}  {v['gate'] or '-'}"
        )
        views = ", ".join(f"{name} {ref}" for name, ref in sorted(v["feature_views"].items()))
        print(f"{'':>9}features: {views or 'none recorded'}")
    return 0


def cmd_model_promote(args: argparse.Namespace) -> int:
    from ml.registry import promotion
    from ml.registry.model_registry import RegistryError
    from orchestration.project import ensure_manifest

    paths = _paths()
    ensure_manifest()
    try:
        move = promotion.promote(paths, args.version, force=args.force)
    except RegistryError as exc:
        print(f"fti: {exc}", file=sys.stderr)
        return 2
    if move.previous == move.current:
        print(f"churn v{move.current} is already the champion")
    else:
        forced = " (forced)" if move.forced else ""
        print(f"champion: v{move.previous or '-'} -> v{move.current}{forced}")
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from ml.registry import promotion
    from ml.registry.model_registry import RegistryError

    paths = _paths()
    try:
        move = promotion.rollback(paths)
    except RegistryError as exc:
        print(f"fti: {exc}", file=sys.stderr)
        return 2
    print(f"champion: v{move.previous} -> v{move.current} (rolled back)")
    return 0


def cmd_mlflow(args: argparse.Namespace) -> int:
    paths = _paths()
    paths.mlflow_dir.mkdir(parents=True, exist_ok=True)
    mlflow = str(Path(sys.executable).parent / "mlflow")
    argv = [
        mlflow,
        "ui",
        "--backend-store-uri",
        paths.tracking_uri,
        "--default-artifact-root",
        paths.artifact_root.as_uri(),
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--workers",
        "1",  # two cores; one worker starts in seconds and is plenty for a UI
    ]
    os.execvp(argv[0], argv)


def add_commands(sub) -> None:
    model = sub.add_parser("model", help="registered model versions: list, promote, roll back")
    commands = model.add_subparsers(dest="model_command", required=True)
    listing = commands.add_parser("list", help="versions, metrics, aliases, feature versions")
    listing.add_argument("--json", action="store_true", help="a JSON list")
    listing.set_defaults(func=cmd_model_list)
    promote = commands.add_parser("promote", help="make VERSION the champion")
    promote.add_argument("version")
    promote.add_argument(
        "--force", action="store_true", help="even if its feature versions are not materialized"
    )
    promote.set_defaults(func=cmd_model_promote)
    rollback = commands.add_parser("rollback", help="the previous champion returns")
    rollback.set_defaults(func=cmd_model_rollback)

    mlflow = sub.add_parser("mlflow", help="the MLflow UI on the project's tracking store")
    mlflow.add_argument("--port", type=int, default=5000)
    mlflow.add_argument("--host", default="127.0.0.1")
    mlflow.set_defaults(func=cmd_mlflow)
