"""The whole asset graph against a reviewed snapshot: a lost dependency, a renamed key, a check
that stopped being a check, or a job that selects differently fails here.

After an intended change, regenerate the snapshot and review its diff:
``FTI_UPDATE_SNAPSHOTS=1 pytest tests/orchestration/test_asset_graph.py``.
"""

import json
import os
import subprocess
from pathlib import Path

import dagster as dg

from orchestration.runner import load_definitions
from tests.helpers import BIN

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def asset_graph(defs: dg.Definitions) -> dict:
    """Keys, dependencies, groups, kinds, pools, checks, jobs and partitions, as plain data."""
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "pools": sorted(node.pools or []),
            "partitions": type(node.partitions_def).__name__ if node.partitions_def else None,
            "checks": sorted(c.name for c in node.check_keys),
            "blocking_checks": sorted(
                c.name for c in node.check_keys if graph.get_check_spec(c).blocking
            ),
        }
    jobs = {}
    for job in repo.get_all_jobs():
        if job.name.startswith("__"):
            continue
        layer = job.asset_layer
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in layer.selected_asset_keys),
            "checks": sorted(c.to_user_string() for c in layer.asset_graph.asset_check_keys),
            "partitions": type(job.partitions_def).__name__ if job.partitions_def else None,
            "executor": job.executor_def.name,
        }
    return {"assets": assets, "jobs": jobs}


def test_asset_graph_matches_the_snapshot(dbt_manifest):
    current = asset_graph(load_definitions())
    if os.environ.get("FTI_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_lineage_runs_from_the_raw_log_to_every_published_output(dbt_manifest):
    graph = json.loads(SNAPSHOT.read_text())["assets"]
    children: dict[str, set[str]] = {}
    for key, node in graph.items():
        for parent in node["deps"]:
            children.setdefault(parent, set()).add(key)
    reached, frontier = set(), ["raw/transactions"]
    while frontier:
        key = frontier.pop()
        reached.add(key)
        frontier.extend(children.get(key, set()) - reached)
    for published in (
        "published/features",
        "online/feature_store",
        "models/churn_model",
        "predictions/churn_predictions",
        "published/dashboard_snapshot",
    ):
        assert published in reached, published


def test_dg_check_defs_passes(dbt_manifest):
    """What `dg check defs` validates: the [tool.dg] project loads without an error."""
    env = {**os.environ, "VIRTUAL_ENV": str(BIN.parent)}
    result = subprocess.run(
        [str(BIN / "dg"), "check", "defs"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr
