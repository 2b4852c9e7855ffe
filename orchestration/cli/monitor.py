"""`fti monitor`: drift, realized and estimated performance, the online service, retraining."""

from __future__ import annotations

import argparse
import json

from ml.common.errors import NotReady
from ml.monitoring import report
from orchestration.runner import prepare_environment


def _number(value: object, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(monitoring: dict[str, object]) -> None:
    drift_rows = monitoring["drift"]
    latest = max((r["as_of_date"] for r in drift_rows), default=None)
    print(f"Monitoring report of {monitoring['generated_at']} (UTC)")
    if latest is None:
        print("\nDrift: nothing measured yet (no scoring with a model that has a reference)")
    else:
        rows = sorted(
            (r for r in drift_rows if r["as_of_date"] == latest),
            key=lambda r: (-report.drift.STATUS_RANK[r["status"]], -(r["psi"] or 0)),
        )
        print(f"\nDrift at {latest} against v{rows[0]['model_version']}'s training reference")
        print(f"  {'feature':<48} {'PSI':>7} {'JS':>6} {'KS':>6} {'null+':>6}  status")
        for r in rows:
            print(
                f"  {r['feature']:<48} {_number(r['psi']):>7} {_number(r['js']):>6} "
                f"{_number(r['ks']):>6} {_number(r['null_rate_change']):>6}  {r['status']}"
            )
    print("\nRealized performance (scoring dates whose churn horizon has passed)")
    if not monitoring["realized"]:
        print("  none yet: the first scoring date's horizon has not passed in the data")
    for r in monitoring["realized"]:
        print(
            f"  {r['as_of_date']} v{r['model_version']}: all {r['rows']} scored: ROC AUC "
            f"{_number(r['roc_auc'])}, PR AUC {_number(r['pr_auc'])}, Brier "
            f"{_number(r['brier'])} | {r['active_rows']} active: ROC AUC "
            f"{_number(r['active_roc_auc'])}, PR AUC {_number(r['active_pr_auc'])}, top-decile "
            f"precision {_number(r['active_precision_top_decile'])} (estimated "
            f"{_number(r['estimated_active_precision_top_decile'])}), recall "
            f"{_number(r['active_recall_top_decile'])} (estimated "
            f"{_number(r['estimated_active_recall_top_decile'])})"
        )
    print("\nEstimated performance of active customers (labels not known yet)")
    for r in monitoring["estimated"]:
        print(
            f"  {r['as_of_date']} v{r['model_version']}: {r['active_rows']} active, expected "
            f"top-decile precision {_number(r['active_precision_top_decile'])}, recall "
            f"{_number(r['active_recall_top_decile'])}"
        )
    online = monitoring.get("online") or {}
    skew = online.get("skew") or {}
    p50, p99 = _number(online.get("p50_ms"), 1), _number(online.get("p99_ms"), 1)
    print(
        f"\nOnline API: {online.get('requests', 0)} requests, p50 {p50} ms, p99 {p99} ms, "
        f"errors {online.get('errors') or {}}"
    )
    if skew.get("compared"):
        worst = max(skew["features"].values(), default=0.0)
        gap = skew.get("probability_gap") or {}
        print(
            f"  skew: {skew['compared']} logged predictions compared with offline features; "
            f"largest share of differing values {worst:.4f}; online-batch probability gap "
            f"mean {_number(gap.get('mean_abs'), 6)}"
        )
    retraining = monitoring["retraining"]
    if retraining["requested"]:
        print(f"\nRETRAINING REQUESTED ({retraining.get('raised_at')}): {retraining['reason']}")
        print("  `fti update --retrain`, `fti retrain`, or the retraining sensor in `fti ui`")
    else:
        print("\nNo retraining request is open.")


def cmd_monitor(args: argparse.Namespace) -> int:
    paths = prepare_environment()
    monitoring = report.read(paths)
    if monitoring is None:
        raise NotReady("no monitoring report yet: run `fti demo` (or `fti update`) first")
    if args.json:
        print(json.dumps(monitoring, indent=2, default=str))
    else:
        print_report(monitoring)
    return 0


def add_commands(sub) -> None:
    monitor = sub.add_parser(
        "monitor", help="drift, realized performance, online health, retraining requests"
    )
    monitor.add_argument("--json", action="store_true", help="the report as one JSON object")
    monitor.set_defaults(func=cmd_monitor)
