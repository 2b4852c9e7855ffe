"""Push-button upgrade and rollback of the served model, refused when it cannot be served.

A model version is only servable where the feature view versions it was trained on are
defined with the same fingerprint (the dbt project) and materialized (the online store's
watermark, which is also what the online API reads). Promotion checks both; ``force`` skips
the check for an operator who knows better. Batch scoring and the API resolve the
``champion`` alias on each use, so neither needs a restart.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass

from ml.common.settings import MODEL_NAME, Paths
from ml.features.online_store import OnlineStoreError, open_store, read_watermark
from ml.features.views import FeatureViewError, feature_views, required_views, serving_selection
from ml.registry import model_registry


@dataclass(frozen=True)
class Move:
    previous: str | None
    current: str
    forced: bool = False


def blockers(paths: Paths, version: str, manifest: dict | None = None) -> list[str]:
    """Why ``version`` cannot be served now; empty when it can."""
    client = model_registry.configure(paths)
    tags = client.get_model_version(MODEL_NAME, str(version)).tags
    required = required_views(tags)
    problems = []
    try:
        serving_selection(required, feature_views(manifest))
    except FeatureViewError as exc:
        problems.append(str(exc))
    try:
        with closing(open_store(paths)) as db:
            stored = read_watermark(db)
    except (OnlineStoreError, sqlite3.Error) as exc:
        problems.append(str(exc))
        return problems
    for name, (view_version, fingerprint) in sorted(required.items()):
        mark = stored.get(f"{name}@{view_version}")
        if mark is None:
            problems.append(f"{name} v{view_version} is not materialized in the online store")
        elif mark["fingerprint"] != fingerprint:
            problems.append(
                f"{name} v{view_version} is materialized with fingerprint {mark['fingerprint']}, "
                f"the model needs {fingerprint}"
            )
    return problems


def promote(paths: Paths, version: str, force: bool = False) -> Move:
    client = model_registry.configure(paths)
    version = str(version)
    try:
        client.get_model_version(MODEL_NAME, version)
    except Exception as exc:  # MLflow raises its own RestException for a missing version
        raise model_registry.RegistryError(f"model {MODEL_NAME} has no version {version}") from exc
    previous = model_registry.champion_version(client)
    if previous == version:
        return Move(previous, version)
    problems = blockers(paths, version)
    if problems and not force:
        raise model_registry.RegistryError(
            f"v{version} cannot be served: " + "; ".join(problems) + " (--force overrides)"
        )
    reason = "promoted by operator" + (" (forced: " + "; ".join(problems) + ")" if problems else "")
    model_registry.set_champion(client, version, reason)
    return Move(previous, version, forced=bool(problems))


def rollback(paths: Paths) -> Move:
    client = model_registry.configure(paths)
    previous, current = model_registry.rollback(client)
    return Move(previous, current)
