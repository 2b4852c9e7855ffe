"""Feature views, read from the dbt manifest: dbt is where they are declared, and only there.

A feature view is a dbt model whose ``config.meta.feature_view`` names its entity key, its
event-time column and an optional ``max_age_days``. Its features are the model's documented
columns other than the key and the event time, except columns whose meta says
``feature: false``; their descriptions come from the same YAML. The fingerprint hashes the
checksums of the model's SQL and of everything upstream of it, the values of the project
vars that SQL reads (a var such as the snapshot interval changes features without changing
any file's checksum) and the view's own declaration, so any change to how a feature is
computed or retrieved changes the fingerprint, and nothing else does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from ml.common.errors import FtiError
from ml.features.dbt_manifest import VAR_REFERENCE, load_manifest, project_vars


@dataclass(frozen=True)
class FeatureView:
    name: str
    version: int
    entity: str
    timestamp_column: str
    max_age_days: int | None
    features: tuple[str, ...]
    descriptions: tuple[str, ...]
    relation: str
    fingerprint: str
    latest: bool = True  # dbt's latest_version: what a bare view name refers to

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        out["features"] = list(self.features)
        del out["descriptions"]
        return out


class FeatureViewError(FtiError, ValueError):
    """A feature view is declared inconsistently in dbt, or a requested one does not exist."""


def _fingerprint(manifest: dict, unique_id: str, spec: dict) -> str:
    nodes = {**manifest["nodes"], **manifest.get("sources", {})}
    seen: dict[str, str] = {}
    used: set[str] = set()
    stack = [unique_id]
    while stack:
        uid = stack.pop()
        if uid in seen:
            continue
        node = nodes[uid]
        seen[uid] = node.get("checksum", {}).get("checksum", uid)
        used.update(VAR_REFERENCE.findall(node.get("raw_code", "")))
        stack.extend(node.get("depends_on", {}).get("nodes", []))
    values = project_vars()
    parts = {
        "nodes": sorted(seen.items()),
        "vars": {name: str(values.get(name)) for name in sorted(used)},
        "spec": {k: str(v) for k, v in sorted(spec.items())},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def feature_views(manifest: dict | None = None) -> list[FeatureView]:
    """Every feature view version declared in the dbt project, sorted by name and version."""
    manifest = manifest if manifest is not None else load_manifest()
    views = []
    for uid, node in manifest["nodes"].items():
        if node.get("resource_type") != "model":
            continue
        spec = (node.get("config", {}).get("meta") or node.get("meta") or {}).get("feature_view")
        if not spec:
            continue
        entity, timestamp = spec.get("entity"), spec.get("timestamp_column")
        columns = node.get("columns", {})
        for key, value in (("entity", entity), ("timestamp_column", timestamp)):
            if value not in columns:
                raise FeatureViewError(
                    f"feature view {node['name']}: {key} {value!r} is not a documented column"
                )
        features = [
            (name, column.get("description", ""))
            for name, column in columns.items()
            if name not in (entity, timestamp)
            and (column.get("config", {}).get("meta") or column.get("meta") or {}).get(
                "feature", True
            )
        ]
        max_age = spec.get("max_age_days")
        version = int(node.get("version") or 1)
        latest_version = node.get("latest_version")
        views.append(
            FeatureView(
                name=node["name"],
                version=version,
                entity=entity,
                timestamp_column=timestamp,
                max_age_days=None if max_age is None else int(max_age),
                features=tuple(f for f, _ in features),
                descriptions=tuple(d for _, d in features),
                relation=f"{node['schema']}.{node.get('alias') or node['name']}",
                fingerprint=_fingerprint(manifest, uid, spec),
                latest=latest_version is None or int(latest_version) == version,
            )
        )
    return sorted(views, key=lambda v: (v.name, v.version))


def resolve(views: list[FeatureView], references: list[str] | None) -> dict[FeatureView, list[str]]:
    """Map ``view:feature`` references (``view`` alone means all its features) to views.

    A view name without a version picks dbt's ``latest_version``; ``view@2:feature`` picks v2.
    With no references, every feature of the latest version of every view.
    """
    latest = {view.name: view for view in views if view.latest}
    by_version = {(v.name, v.version): v for v in views}
    if not references:
        return {view: list(view.features) for view in latest.values()}
    chosen: dict[FeatureView, list[str]] = {}
    for ref in references:
        view_ref, _, feature = ref.partition(":")
        name, _, version = view_ref.partition("@")
        view = by_version.get((name, int(version))) if version else latest.get(name)
        if view is None:
            known = ", ".join(sorted({f"{v.name}@{v.version}" for v in views})) or "none"
            raise FeatureViewError(f"unknown feature view {view_ref!r}; known: {known}")
        if feature and feature not in view.features:
            raise FeatureViewError(
                f"feature view {view.name} has no feature {feature!r}; "
                f"it has: {', '.join(view.features)}"
            )
        other = next((v for v in chosen if v.name == view.name and v != view), None)
        if other is not None:
            raise FeatureViewError(
                f"{view.name} v{other.version} and v{view.version} in one request would give "
                f"the same column names; pick one version"
            )
        selected = chosen.setdefault(view, [])
        for f in [feature] if feature else view.features:
            if f not in selected:
                selected.append(f)
    return chosen


TRAINING_SET_NODE = "model.fti.training_set"
LINEAGE_TAG = "feature_view."


def training_set_selection(manifest: dict) -> dict[FeatureView, list[str]]:
    """The views and features the dbt training set retrieves (its ``feature_views`` config)."""
    node = manifest["nodes"].get(TRAINING_SET_NODE)
    if node is None:
        raise FeatureViewError("the dbt project has no training_set model")
    return resolve(feature_views(manifest), node["config"].get("feature_views"))


def lineage_tags(selection: dict[FeatureView, list[str]]) -> dict[str, str]:
    """Registry tags naming each view version and fingerprint a model was trained on."""
    return {f"{LINEAGE_TAG}{v.name}": f"v{v.version}:{v.fingerprint}" for v in selection}


def required_views(tags: dict[str, str]) -> dict[str, tuple[int, str]]:
    required = {}
    for key, value in tags.items():
        if key.startswith(LINEAGE_TAG):
            version, _, fingerprint = value.partition(":")
            required[key.removeprefix(LINEAGE_TAG)] = (int(version.lstrip("v")), fingerprint)
    return required


def serving_selection(
    required: dict[str, tuple[int, str]], views: list[FeatureView]
) -> dict[FeatureView, list[str]]:
    """The views a model needs, refusing it when the project's views no longer match.

    A model is only as valid as the feature definitions it was trained on: scoring it on
    features computed differently would silently skew every prediction.
    """
    if not required:
        raise FeatureViewError("the model records no feature views; retrain it")
    by_version = {(v.name, v.version): v for v in views}
    selection = {}
    for name, (version, fingerprint) in sorted(required.items()):
        view = by_version.get((name, version))
        if view is None:
            raise FeatureViewError(
                f"the model needs feature view {name} v{version}, which the dbt project no "
                "longer defines; retrain, or promote a model built on the current views"
            )
        if view.fingerprint != fingerprint:
            raise FeatureViewError(
                f"the model was trained on {name} v{version} with fingerprint {fingerprint}, "
                f"but the materialized definition has fingerprint {view.fingerprint}; "
                "retrain, or restore the definition the model was trained on"
            )
        selection[view] = list(view.features)
    return selection
