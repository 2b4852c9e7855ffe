"""`fti model ...`: the registry's versions, promotion and rollback from the command line."""

from __future__ import annotations

import argparse
import json

from orchestration.runner import prepare_environment


def cmd_model_list(args: argparse.Namespace) -> int:
    from ml.registry import model_registry

    paths = prepare_environment()
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
    from orchestration.lib.dbt_project import ensure_manifest

    paths = prepare_environment()
    ensure_manifest()
    move = promotion.promote(paths, args.version, force=args.force)
    if move.previous == move.current:
        print(f"churn v{move.current} is already the champion")
    else:
        forced = " (forced)" if move.forced else ""
        print(f"champion: v{move.previous or '-'} -> v{move.current}{forced}")
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from ml.registry import promotion

    move = promotion.rollback(prepare_environment())
    print(f"champion: v{move.previous} -> v{move.current} (rolled back)")
    return 0


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
