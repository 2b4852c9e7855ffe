"""The promotion gate: every reason a new model version may not become champion, checked.

A version becomes ``champion`` only when all checks pass: it beats the no-model baseline, it
is not worse than the current champion on the same holdout (beyond a tolerance), every
customer group meets the floor, and the feature views it needs are materialized. Each check
keeps its own outcome and detail, so the registry tags and the Dagster asset checks say
exactly which one failed.
"""

from __future__ import annotations

from dataclasses import dataclass

GATE_METRIC = "pr_auc"
BEATS_BASELINE = "beats_baseline"
NOT_WORSE_THAN_CHAMPION = "not_worse_than_champion"
SLICE_FLOORS = "slice_floors"
FEATURE_VIEWS_MATERIALIZED = "feature_views_materialized"
CHECKS = (BEATS_BASELINE, NOT_WORSE_THAN_CHAMPION, SLICE_FLOORS, FEATURE_VIEWS_MATERIALIZED)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    checks: tuple[Check, ...]
    candidate_score: float
    champion_score: float | None


def decide(
    candidate: float,
    baseline: float,
    champion: float | None,
    slice_failures: list[str] | tuple[str, ...] = (),
    missing_views: list[str] | tuple[str, ...] = (),
    tolerance: float = 0.0,
) -> GateDecision:
    """Scores are the gate metric (PR AUC) on one holdout; ``tolerance`` is how much worse
    than the champion a candidate may be (noise between retrains on new data)."""
    checks = [
        Check(
            BEATS_BASELINE,
            candidate > baseline,
            f"{GATE_METRIC} {candidate:.4f} {'>' if candidate > baseline else '<='} "
            f"baseline's {baseline:.4f}",
        ),
    ]
    if champion is None:
        checks.append(Check(NOT_WORSE_THAN_CHAMPION, True, "no champion yet"))
    else:
        ok = candidate >= champion - tolerance
        checks.append(
            Check(
                NOT_WORSE_THAN_CHAMPION,
                ok,
                f"{GATE_METRIC} {candidate:.4f} {'>=' if ok else '<'} champion's "
                f"{champion:.4f} - tolerance {tolerance:g} on the same holdout",
            )
        )
    checks.append(
        Check(
            SLICE_FLOORS,
            not slice_failures,
            "; ".join(slice_failures) if slice_failures else "every judged group meets the floor",
        )
    )
    checks.append(
        Check(
            FEATURE_VIEWS_MATERIALIZED,
            not missing_views,
            "not materialized: " + ", ".join(missing_views)
            if missing_views
            else "every feature view version it needs is materialized",
        )
    )
    failed = [c for c in checks if not c.passed]
    if failed:
        reason = "; ".join(f"{c.name}: {c.detail}" for c in failed)
    elif champion is None:
        reason = f"first champion: {checks[0].detail}"
    else:
        reason = checks[1].detail
    return GateDecision(not failed, reason, tuple(checks), candidate, champion)
