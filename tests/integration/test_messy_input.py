"""A messy file as real exports produce it, through `fti update`: every row stored with its
exact UTC time and amount or set aside with its reason; sent again, nothing changes (not the
tables, not the rejected rows, not the registry); every id the batch scored, the API serves."""

import datetime as dt

import duckdb
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from ml.common.settings import REPO_ROOT
from ml.ingestion.generator import generate
from ml.registry import model_registry
from orchestration.cli import main
from orchestration.runner import run_pipeline, status
from tests.helpers import LIGHT_TRAINING

pytestmark = pytest.mark.slow

T = dt.datetime
# (customer_id, transaction_ts, amount) as sent -> (stored id, UTC time, amount) or reason.
MESSY = [
    ("C0000001", "2025-12-30T23:30:00-05:00", "10", ("C0000001", T(2025, 12, 31, 4, 30), 10.0)),
    ("Zoe\u0308-42", "2025-12-30 10:00 PM", "12.50", ("Zo\u00eb-42", T(2025, 12, 30, 22), 12.5)),
    (" 顧客-7\t", "2025-12-30 08:00 Europe/Berlin", "5", ("顧客-7", T(2025, 12, 30, 7), 5.0)),
    ("y" * 128, "2025-12-30", "3", ("y" * 128, T(2025, 12, 30), 3.0)),
    ("C0000002", "2025-12-30 25:00", "3", "unparseable transaction_ts"),
    ("C0000003", "2025-12-30", "1,234.50", "unparseable amount"),
    (
        "C0000004",
        "1767052800",
        "3",
        "epoch number in transaction_ts: give an ISO 8601 date or time",
    ),
    ("C0000005", "2025-12-30 09:00 Foo/Bar", "3", "unknown time zone in transaction_ts"),
    ("C0000006", "2025-12-30 13:30 PM", "3", "unreadable 12-hour time in transaction_ts"),
    ("x" * 129, "2025-12-30", "3", "customer_id longer than 128 characters"),
]


def _tables(paths) -> dict[str, object]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return {
            table: con.execute(f"select count(*), sum(hash(t)) from {table} t").fetchone()
            for table in (
                "raw.transactions",
                "raw.rejected_transactions",
                "features.customer_features",
                "predictions.churn_predictions",
            )
        }


def test_messy_update_is_read_exactly_resent_changes_nothing_and_every_id_is_served(
    fti_home, tmp_path, dbt_manifest, capsys
):
    history = generate(300, seed=5).transactions
    history = history[history["transaction_ts"] < "2025-12-30"]
    history[["customer_id", "transaction_ts", "amount"]].to_csv(tmp_path / "log.csv", index=False)
    ok, detail = run_pipeline(str(tmp_path / "log.csv"), training=LIGHT_TRAINING)
    assert ok, detail

    messy = pd.DataFrame(
        [row[:3] for row in MESSY], columns=["customer_id", "transaction_ts", "amount"]
    )
    messy.to_csv(tmp_path / "messy.csv", index=False)
    assert main(["update", "--transactions", str(tmp_path / "messy.csv"), "--retrain"]) == 0
    with duckdb.connect(str(fti_home.warehouse), read_only=True) as con:
        stored = con.execute(
            "select customer_id, transaction_ts, amount from raw.transactions "
            "where transaction_ts >= '2025-12-30' order by all"
        ).fetchall()
        rejected = con.execute(
            "select source_row, reject_reason from raw.rejected_transactions "
            "where source = 'messy.csv' order by 1"
        ).fetchall()
    assert stored == sorted(want for *_, want in MESSY if isinstance(want, tuple))
    assert rejected == [
        (row, want) for row, (*_, want) in enumerate(MESSY, start=1) if isinstance(want, str)
    ]
    # The Data quality page charts them by reason and shows them as they were in the file;
    # the Customer page finds a Unicode id as the log wrote it.
    from streamlit.testing.v1 import AppTest

    pages = REPO_ROOT / "app" / "pages"
    quality = AppTest.from_file(str(pages / "data_quality.py"), default_timeout=60).run()
    assert not quality.exception
    assert len(quality.get("vega_lite_chart")) == 2  # rows per table, rejected rows per day
    examples = quality.dataframe[-1].value
    assert set(examples[examples["source"] == "messy.csv"]["reject_reason"]) == {
        want for *_, want in MESSY if isinstance(want, str)
    }
    customer = AppTest.from_file(str(pages / "customer.py"), default_timeout=60)
    customer.query_params["customer"] = "Zo\u00eb-42"
    customer.run()
    assert not customer.exception and not customer.warning
    assert {m.label for m in customer.metric} >= {"Churn probability", "Risk band"}

    # Sent again: nothing is loaded, rebuilt, retrained or registered, and it says so.
    before = _tables(fti_home)
    versions = model_registry.list_versions(model_registry.configure(fti_home))
    capsys.readouterr()
    assert main(["update", "--transactions", str(tmp_path / "messy.csv")]) == 0
    assert "Nothing new in" in capsys.readouterr().out
    assert _tables(fti_home) == before
    assert model_registry.list_versions(model_registry.configure(fti_home)) == versions
    assert status(fti_home)["health"]["pipeline_run"]["ok"]

    # Every id the batch scored, the API serves, in whatever Unicode form or padding.
    with duckdb.connect(str(fti_home.warehouse), read_only=True) as con:
        scored = [
            r[0]
            for r in con.execute("select customer_id from predictions.churn_predictions").fetchall()
        ]
    assert {"Zo\u00eb-42", "顧客-7", "y" * 128} <= set(scored)
    with TestClient(create_app(fti_home)) as client:
        for customer in scored:
            answer = client.post("/predict", json={"customer_id": customer})
            assert answer.status_code == 200, (customer, answer.text)
        for sent, served in (("Zoe\u0308-42", "Zo\u00eb-42"), ("\u00a0顧客-7 ", "顧客-7")):
            answer = client.post("/predict", json={"customer_id": sent})
            assert answer.status_code == 200 and answer.json()["customer_id"] == served

    # The champion moves without the predictions (a promotion here; a run that died while
    # scoring leaves the same state): status says so, and even a re-send with nothing new
    # runs the pipeline to score with the champion.
    client = model_registry.configure(fti_home)
    champion = model_registry.champion_version(client)
    other = next(
        v["version"] for v in model_registry.list_versions(client) if v["version"] != champion
    )
    assert main(["model", "promote", other, "--force"]) == 0
    assert f"the champion is v{other}" in status(fti_home)["stale_predictions"]
    capsys.readouterr()
    assert main(["update", "--transactions", str(tmp_path / "messy.csv")]) == 0
    assert "Nothing new in" not in capsys.readouterr().out
    report = status(fti_home)
    assert report["stale_predictions"] is None
    assert report["predictions_model_version"] == report["champion"]["version"]
