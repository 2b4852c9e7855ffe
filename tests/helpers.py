"""What several test modules share: the venv's executables, a private FTI_HOME, a dbt build
against a given warehouse (and the Spark engine's build), small training frames, content
fingerprints of tables, `fti` as a user runs it, and a user's log unlike the generated one."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from ml.common import model_input
from ml.common.settings import DBT_PROJECT_DIR, Paths
from ml.ingestion.generator import generate
from ml.registry import model_registry
from ml.training import candidates, evaluation, model_gate, trainer

BIN = Path(sys.executable).parent
# One family, one validation fold: for tests about data flow, not about the model.
LIGHT_TRAINING = {"candidates": ["logistic_regression"], "cv_folds": 1}


def light_training_file(folder: Path) -> Path:
    """``LIGHT_TRAINING`` as the YAML file `fti ... --training-config` reads."""
    path = folder / "light_training.yml"
    path.write_text(yaml.safe_dump(LIGHT_TRAINING))
    return path


def point_env_at(home: Path, mp: pytest.MonkeyPatch) -> Paths:
    """Point every location variable at ``home`` (for code that resolves FTI_HOME itself:
    the CLI, dbt, the API); ``mp`` restores them."""
    paths = Paths(home.resolve())
    mp.setenv("FTI_HOME", str(paths.home))
    mp.setenv("FTI_WAREHOUSE", str(paths.warehouse))
    mp.setenv("MLFLOW_TRACKING_URI", paths.tracking_uri)
    mp.setenv("DAGSTER_HOME", str(paths.dagster_home))
    mp.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return paths


def dbt_build(
    warehouse: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`dbt build` as an analytics engineer runs it, against a given warehouse file."""
    return _dbt(warehouse, "build", "--quiet", *extra, env=env)


def dbt_test_units(warehouse: Path) -> subprocess.CompletedProcess:
    """dbt's `unit_tests:` (they need the models' parents to exist in ``warehouse``)."""
    return _dbt(warehouse, "test", "--select", "test_type:unit")


def _dbt(
    warehouse: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    # Its own target and log folders: tests run two at a time, and a dbt run rewrites its
    # target's manifest and partial-parse state.
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "FTI_WAREHOUSE": str(warehouse),
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "DBT_TARGET_PATH": f"{scratch}/target",
            "DBT_LOG_PATH": f"{scratch}/logs",
            **(env or {}),
        }
        result = subprocess.run(
            [str(BIN / "dbt"), *args],
            cwd=DBT_PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def fingerprint(con: duckdb.DuckDBPyConnection, relation: str) -> list[int]:
    """Row count and an order-independent hash of every row's content."""
    return list(con.execute(f"select count(*), bit_xor(hash(t)) from {relation} t").fetchone())


# The feature, label and training tables a pipeline run builds.
BUILT_TABLES = (
    "features.customer_features",
    "features.customer_features_v2",
    "features.customer_attributes",
    "features.feature_snapshot_dates",
    "features.int_customer_daily",
    "training.churn_labels",
    "training.training_set",
)


def content_fingerprints(paths: Paths) -> dict[str, object]:
    """Fingerprints of what a run built: its tables, its predictions (without the time they
    were made), and the champion's family and holdout metrics."""
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        found: dict[str, object] = {t: fingerprint(con, t) for t in BUILT_TABLES}
        found["predictions"] = list(
            con.execute(
                "select count(*), bit_xor(hash(customer_id, churn_probability, risk_band, "
                "as_of_date)) from predictions.churn_predictions"
            ).fetchone()
        )
    champion = model_registry.champion_summary(model_registry.configure(paths))
    found["champion_family"] = champion["family"]
    found["champion_metrics"] = champion["metrics"]
    return found


def synthetic(n: int, seed: int) -> pd.DataFrame:
    """A tiny training-set-shaped frame whose label depends on recency."""
    rng = np.random.default_rng(seed)
    recency = rng.integers(0, 200, size=n)
    spend = rng.gamma(2.0, 30.0, size=n)
    # Recency and low spend both drive churn, so a model can beat the recency-only baseline.
    churned = rng.uniform(size=n) < np.clip(recency / 200 + 0.4 * (spend < 40) - 0.2, 0, 1)
    churned = churned.astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "event_timestamp": pd.Timestamp("2024-01-01"),
            "customer_features__recency_days": recency,  # for the baseline
            "on_demand__days_since_last_purchase": recency + 1,  # the model's input
            "spend_90d": spend,
            "country": rng.choice(["DE", "FR"], size=n),
            "churned": churned,
        }
    )


def small(iterations: int) -> trainer.TrainingParams:
    return trainer.TrainingParams(
        hyperparameters=candidates.Hyperparameters(hgb_max_iter=iterations)
    )


def register(client, model, holdout, params):
    scored = trainer.evaluate(model, holdout, params.threshold)
    champion = model_registry.champion_version(client)
    champion_score = None
    if champion is not None:
        previous = model_registry.load_version(client, champion)
        champion_score = trainer.evaluate(previous, holdout, params.threshold).metrics["pr_auc"]
    decision = model_gate.decide(
        scored.metrics["pr_auc"],
        evaluation.baseline(holdout).metrics["pr_auc"],
        champion_score,
    )
    return model_registry.log_and_register(
        client,
        model,
        sample=model_input.model_input(holdout.head(20), model_input.input_columns(model)),
        params={"kind": "test"},
        metrics=scored.metrics,
        tags={"test": "yes"},
        decision=decision,
    )


def spark_build(paths: Paths) -> None:
    """The feature pipeline on the Spark engine, step by step as the dbt_models asset runs it
    (with dbt as an analytics engineer runs it): the snapshot in DuckDB, the sources exported,
    `dbt build` on Spark, the training set as a Spark job, Spark's tables mirrored into the
    warehouse, and the training set's dbt tests."""
    from ml.engines import spark_exchange, spark_jobs, spark_session
    from ml.features.dbt_manifest import load_manifest
    from orchestration.lib.dbt_project import spark_build_args

    manifest = load_manifest()
    _dbt(paths.warehouse, "build", "--selector", "snapshots", "--quiet")
    with duckdb.connect(str(paths.warehouse)) as con:
        spark_exchange.export_sources(con, manifest, spark_session.sources_dir(paths))
    _dbt(paths.warehouse, *spark_build_args(), env=spark_session.environment(paths))
    spark_jobs.run("training-set", paths)
    with duckdb.connect(str(paths.warehouse)) as con:
        spark_exchange.mirror(
            con, spark_exchange.built_relations(manifest), spark_session.warehouse_dir(paths)
        )
    _dbt(paths.warehouse, "test", "--selector", "training_set_tests")


def engine_differences(
    con: duckdb.DuckDBPyConnection, expected: str, got: str, rel_tol: float = 1e-9
) -> dict[str, object]:
    """How two relations differ: column names and types, row counts, and per column the rows
    whose values differ, rows paired by every non-floating column (the keys, counts and dates:
    compared exactly) and floating columns compared within ``rel_tol``."""
    types = {
        side: con.execute(f"select column_name, column_type from (describe {rel})").fetchall()
        for side, rel in (("expected", expected), ("got", got))
    }
    out: dict[str, object] = {}
    if types["expected"] != types["got"]:
        out["types"] = types
        return out
    columns = types["expected"]
    floating = [c for c, t in columns if t in ("DOUBLE", "FLOAT")]
    exact = [c for c, _ in columns if c not in floating]
    counts = [con.execute(f"select count(*) from {rel}").fetchone()[0] for rel in (expected, got)]
    if counts[0] != counts[1]:
        out["rows"] = counts
    order = ", ".join([*(f'"{c}"' for c in exact), *(f'"{c}"' for c in floating)])
    numbered = "select *, row_number() over (order by {}) as __n from {}"
    pairs = (
        f"with a as ({numbered.format(order, expected)}), b as ({numbered.format(order, got)}) "
        "select {} from a full join b using (__n)"
    )
    checks = [f'count(*) filter (a."{c}" is distinct from b."{c}")' for c in exact] + [
        f'count(*) filter (not (a."{c}" is null and b."{c}" is null) and ('
        f'a."{c}" is null or b."{c}" is null or '
        f'abs(a."{c}" - b."{c}") > {rel_tol} * greatest(abs(a."{c}"), abs(b."{c}"))))'
        for c in floating
    ]
    if checks:
        found = con.execute(pairs.format(", ".join(checks))).fetchone()
        names = exact + floating
        out.update({names[i]: n for i, n in enumerate(found) if n})
    return out


def fti(*args, home):
    env = {**os.environ, "FTI_HOME": str(home)}
    for var in ("FTI_WAREHOUSE", "MLFLOW_TRACKING_URI", "DAGSTER_HOME"):
        env.pop(var, None)
    return subprocess.run([str(BIN / "fti"), *args], env=env, capture_output=True, text=True)


def said(run: subprocess.CompletedProcess) -> str:
    """What a command printed on stderr, for an assertion's message: its start and its end.
    A chained traceback prints the first error first and the last one at the end."""
    text = run.stderr
    return text if len(text) <= 6000 else f"{text[:3000]}\n[...]\n{text[-3000:]}"


def user_log(path):
    """A log unlike the generated one: integer ids, dates without times, another decade, no
    transaction ids or customer table, several purchases a day, and a few broken rows."""
    tx = generate(400, seed=3).transactions
    frame = pd.DataFrame(
        {
            "amount": tx["amount"],
            "customer_id": tx["customer_id"].str[1:].astype(int),
            "transaction_ts": (tx["transaction_ts"] - pd.DateOffset(years=10)).dt.strftime(
                "%Y-%m-%d"
            ),
            "channel_note": "web",
        }
    )
    broken = pd.DataFrame(
        {
            "amount": ["12.0", "oops", "5"],
            "customer_id": ["", "17", "18"],
            "transaction_ts": ["2014-05-01", "2014-05-01", "05/01/2014 noon"],
            "channel_note": "web",
        }
    )
    pd.concat([frame.astype(str), broken]).to_csv(path, index=False)
    return frame["customer_id"].nunique(), len(broken)
