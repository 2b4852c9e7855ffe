"""Failed checks and killed runs leave the last good version in place, and readers never see
an error.

On one copy of the session's built home, in order: runs blocked by the feature quality gate
and by a dbt test; then real runs killed (SIGKILL, process group and dbt with it) at every
stall point of ``ml.common.faults``, while the API and the dashboard serve and the published files
are read; then a run that completes, and leaves the same tables as before any of it.
"""

import dataclasses
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time

import duckdb
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from app.api import create_app
from ml.common.settings import REPO_ROOT, Paths
from ml.features import online_store, quality_gate
from ml.inference import publication
from ml.ingestion import generator
from ml.monitoring import health
from ml.registry import model_registry
from orchestration.cli import main
from orchestration.runner import status
from tests.helpers import point_env_at

pytestmark = pytest.mark.slow

CUSTOMERS, SEED = 800, 11  # the data of the session's pipeline_home
DASHBOARD = str(REPO_ROOT / "app" / "dashboard.py")
QUALITY_PAGE = str(REPO_ROOT / "app" / "pages" / "data_quality.py")
SERVER = REPO_ROOT / "tests" / "reliability" / "pipeline_process.py"
# One kill per stage: dbt building, features and online store being swapped in, a version
# registered before its alias moves, the dashboard snapshot being swapped in. ("scoring",
# predictions written to the warehouse but not published, is covered by the last one.)
KILLED_AT = ("dbt", "publish_features", "online_store", "registry", "publish_snapshot")
# What each stall point is about to replace.
OWN_OUTPUT = {
    "publish_features": "features",
    "online_store": "online",
    "registry": "champion",
    "publish_snapshot": "snapshot",
}


@pytest.fixture(scope="module")
def home(pipeline_home, tmp_path_factory) -> Paths:
    copy = tmp_path_factory.mktemp("reliability") / "home"
    shutil.copytree(pipeline_home.home, copy)
    return Paths(copy.resolve())


def published_state(paths: Paths) -> dict[str, object]:
    """What readers see, each part read the way its reader reads it."""
    manifest = publication.read_manifest(paths)
    predictions = publication.read_predictions(paths)
    features = quality_gate.read_publication(paths)
    with duckdb.connect(str(quality_gate.database_path(paths)), read_only=True) as con:
        feature_rows = con.execute(
            "select count(*), sum(hash(t)) from features.customer_features t"
        ).fetchone()
    store = online_store.open_store(paths)
    try:
        watermark = online_store.read_watermark(store)
    finally:
        store.close()
    return {
        "snapshot": manifest["snapshot"],
        "predictions": int(pd.util.hash_pandas_object(predictions).sum()),
        "features": features["published_at"],
        "feature_rows": feature_rows,
        "online": {k: (v["materialized_at"], v["entities"]) for k, v in watermark.items()},
        "champion": model_registry.champion_version(model_registry.configure(paths)),
    }


def warehouse_checksums(paths: Paths) -> dict[str, tuple[int, int]]:
    """Row count and an order-free content hash of every table the pipeline rebuilds."""
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema in ('raw', 'features', 'training')"
        ).fetchall()
        sums = {}
        for schema, table in tables:
            # Load and rejection times differ between two loads of the same data.
            drop = {
                "loads": " exclude (loaded_at)",
                "rejected_transactions": " exclude (rejected_at)",
            }.get(table, "")
            sums[f"{schema}.{table}"] = con.execute(
                f"select count(*), sum(hash(t)) from (select *{drop} from {schema}.{table}) t"
            ).fetchone()
    return sums


def dashboard_errors() -> list[str]:
    page = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    return [str(e.value) for e in page.exception]


def test_failed_checks_block_publication_and_say_so(home, monkeypatch):
    from orchestration.runner import run_pipeline, status

    paths = point_env_at(home.home, monkeypatch)
    before = published_state(paths)
    real = generator.generate

    # 1. The feed delivers half its customers: dbt's row tests pass, the gate does not.
    def half_the_customers(customers: int, seed: int):
        log = real(customers=customers, seed=seed)
        kept = log.customers["customer_id"].iloc[::2]
        return dataclasses.replace(
            log, transactions=log.transactions[log.transactions["customer_id"].isin(kept)]
        )

    monkeypatch.setattr(generator, "generate", half_the_customers)
    ok, detail = run_pipeline(customers=CUSTOMERS, seed=SEED)
    assert not ok
    assert "feature quality gate failed" in detail and "customer_features@1: entities" in detail
    assert published_state(paths) == before
    blocked = health.failing(paths)["feature_quality"]
    assert "more than 20% lost" in blocked["detail"]
    assert status(paths)["health"]["feature_quality"]["ok"] is False
    page = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    assert not page.exception
    assert any("blocked at **feature quality**" in e.value for e in page.error)
    # The Data quality page lists the gate's checks, the failed one among them.
    quality = AppTest.from_file(QUALITY_PAGE, default_timeout=60).run()
    assert not quality.exception
    assert any("checks failed" in e.value for e in quality.error)
    checks = quality.dataframe[-1].value
    assert not checks["passed"].all()
    assert checks[~checks["passed"]]["detail"].str.contains("more than 20% lost").any()

    # The failure is in the Dagster instance the UI shows, on the gate's step.
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        assert run.status == dg.DagsterRunStatus.FAILURE
        failures = [
            e
            for e in instance.all_logs(run.run_id)
            if e.dagster_event is not None and e.dagster_event.is_step_failure
        ]
        assert [e.step_key for e in failures] == ["published__features"]

    # 2. A source row breaks a dbt test: dbt fails, naming it, and nothing downstream runs.
    def null_in_history(customers: int, seed: int):
        log = real(customers=customers, seed=seed)
        history = log.customer_history.copy()
        history.loc[history.index[0], "customer_id"] = None
        return dataclasses.replace(log, customer_history=history)

    monkeypatch.setattr(generator, "generate", null_in_history)
    ok, detail = run_pipeline(customers=CUSTOMERS, seed=SEED)
    assert not ok
    assert "test source_not_null_raw_customer_history_customer_id" in detail
    assert published_state(paths) == before
    assert "customer_history_customer_id" in health.failing(paths)["dbt"]["detail"]
    quality = AppTest.from_file(QUALITY_PAGE, default_timeout=60).run()
    assert not quality.exception
    assert {m.label: m.value for m in quality.metric}["fail"] == "1"
    tests = quality.dataframe[1].value
    assert tests.iloc[0]["test"] == "source_not_null_raw_customer_history_customer_id"
    assert tests.iloc[0]["status"] == "fail"  # failures first


class Readers:
    """The API answering and the published files being read, from threads, for the whole
    time the runs go on; every failure is collected."""

    def __init__(self, paths: Paths, ids: list[str]):
        self.paths, self.ids = paths, ids
        self.errors: list[str] = []
        self.counts = {"api": 0, "files": 0, "dashboard": 0}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._api, daemon=True),
            threading.Thread(target=self._files, daemon=True),
        ]

    def __enter__(self):
        self.client = TestClient(create_app(self.paths, refresh_seconds=0.2)).__enter__()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.client.__exit__(None, None, None)

    def _api(self):
        i = 0
        while not self._stop.is_set():
            customer = self.ids[i % len(self.ids)]
            i += 1
            try:
                answer = self.client.post("/predict", json={"customer_id": customer})
                if answer.status_code != 200:
                    self.errors.append(f"api {answer.status_code}: {answer.text[:200]}")
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                self.errors.append(f"api raised {exc!r}")
            self.counts["api"] += 1
            time.sleep(0.02)  # steady traffic, not a CPU the runs must share

    def _files(self):
        while not self._stop.is_set():
            try:
                state = published_state(self.paths)
                assert state["champion"] is not None
                self.counts["files"] += 1
            except Exception as exc:  # noqa: BLE001
                self.errors.append(f"published files: {exc!r}")
            time.sleep(0.25)

    def dashboard(self):
        time.sleep(1.0)
        errors = dashboard_errors()
        self.errors += [f"dashboard: {e}" for e in errors]
        self.counts["dashboard"] += 1


def test_killed_runs_leave_the_last_good_state_and_the_next_run_completes(
    home, pipeline_home, monkeypatch, tmp_path, capsys
):
    # The tables of a good build of this data (this home's warehouse was broken on purpose
    # by the test above).
    tables = warehouse_checksums(pipeline_home)
    paths = point_env_at(home.home, monkeypatch)
    marker = tmp_path / "stalled"
    monkeypatch.setenv("FTI_STALL_MARKER", str(marker))
    log = open(tmp_path / "runs.log", "w")  # noqa: SIM115 - the server's lifetime
    server = subprocess.Popen(
        [sys.executable, str(SERVER), str(CUSTOMERS), str(SEED)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=REPO_ROOT,
    )

    def start(stall: str) -> int:
        server.stdin.write(stall + "\n")
        server.stdin.flush()
        return int(server.stdout.readline())

    def wait_for(what, readers: Readers, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert time.monotonic() < deadline, (tmp_path / "runs.log").read_text()[-3000:]
            readers.dashboard()

    def exit_code(readers: Readers) -> int:
        while not select.select([server.stdout], [], [], 0.5)[0]:
            readers.dashboard()
        line = server.stdout.readline()
        assert line.startswith("exit "), line
        return int(line.split()[1])

    try:
        ids = publication.read_predictions(paths)["customer_id"].head(50).tolist()
        good = last = published_state(paths)
        with Readers(paths, ids) as readers:
            for point in KILLED_AT:
                marker.unlink(missing_ok=True)
                versions = len(model_registry.list_versions(model_registry.configure(paths)))
                pid = start(point)
                wait_for(marker.exists, readers)
                assert marker.read_text().split()[0] == point
                os.killpg(pid, signal.SIGKILL)
                assert exit_code(readers) == -signal.SIGKILL
                # Each published thing is the last complete version: the one the killed
                # stage was replacing is untouched; one an earlier stage of the same run
                # finished may be new, with the same content (same data).
                state = published_state(paths)
                for same in ("snapshot", "predictions", "champion", "feature_rows"):
                    assert state[same] == good[same], (point, same)
                assert {k: v[1] for k, v in state["online"].items()} == {
                    k: v[1] for k, v in good["online"].items()
                }
                own = OWN_OUTPUT.get(point)
                if own is not None:
                    assert state[own] == last[own], (point, own)
                last = state
                # The warehouse opens: DuckDB rolled back what the killed run had not committed.
                with duckdb.connect(str(paths.warehouse), read_only=True) as con:
                    con.execute("select count(*) from raw.transactions").fetchone()
                if point == "registry":  # registered, never promoted: no alias points at it
                    client = model_registry.configure(paths)
                    assert len(model_registry.list_versions(client)) == versions + 1
                    assert model_registry.champion_version(client) == good["champion"]
            # Killed while scoring: the new version may already be champion while the
            # published predictions are the previous one's. `fti status` says both.
            marker.unlink(missing_ok=True)
            pid = start("scoring")
            wait_for(marker.exists, readers)
            os.killpg(pid, signal.SIGKILL)
            assert exit_code(readers) == -signal.SIGKILL
            assert main(["status", "--json"]) == 0
            report = json.loads(capsys.readouterr().out)
            died = report["health"]["pipeline_run"]
            assert not died["ok"] and "died during predictions/churn_predictions" in died["detail"]
            champion = model_registry.champion_version(model_registry.configure(paths))
            if champion != good["champion"]:
                assert f"the champion is v{champion}" in report["stale_predictions"]
            assert published_state(paths)["predictions"] == good["predictions"]
            # The next run completes and scores with the champion.
            start("-")
            assert exit_code(readers) == 0, (tmp_path / "runs.log").read_text()[-3000:]
        assert readers.errors == [], readers.errors[:5]
        assert readers.counts["api"] > 100 and readers.counts["dashboard"] > 5
    finally:
        server.stdin.close()
        server.wait(timeout=60)
        server.stdout.close()
        log.close()

    after = published_state(paths)
    assert after["snapshot"] != good["snapshot"] and after["features"] != good["features"]
    assert all(after["online"][k][0] != good["online"][k][0] for k in good["online"])
    assert health.failing(paths) == {}
    report = status(paths)
    assert report["stale_predictions"] is None
    assert report["predictions_model_version"] == report["champion"]["version"]
    # Each killed run shows in the Dagster UI as failed, its process named as dead.
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=len(KILLED_AT) + 1)
        assert runs[0].status == dg.DagsterRunStatus.SUCCESS
        assert all(r.status == dg.DagsterRunStatus.FAILURE for r in runs[1:])
    assert len(publication.read_predictions(paths)) == CUSTOMERS
    # The next writer of each file swept the temporary files the killed ones left.
    for folder in (paths.published, paths.home / "online"):
        assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []
    # Same data, same tables: the killed runs left no duplicated or missing rows behind.
    assert warehouse_checksums(paths) == tables
