import pandas as pd
import pytest

from ml.ingestion.generator import DAYS, START, generate


def test_same_seed_same_log():
    a, b = generate(300, seed=3), generate(300, seed=3)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    pd.testing.assert_frame_equal(a.customers, b.customers)


def test_other_seed_other_log():
    a, b = generate(300, seed=3), generate(300, seed=4)
    assert not a.transactions["amount"].equals(b.transactions["amount"])


def test_log_is_well_formed():
    log = generate(500, seed=1)
    tx = log.transactions
    assert tx["transaction_id"].is_unique
    assert (tx["amount"] > 0).all()
    assert (tx["quantity"] >= 1).all()
    assert tx["transaction_ts"].is_monotonic_increasing
    assert tx["transaction_ts"].min() >= START
    assert tx["transaction_ts"].max() < START + pd.Timedelta(days=DAYS)
    assert set(tx["customer_id"]) == set(log.customers["customer_id"])
    # Several purchases per customer on average, and customers of every channel.
    assert len(tx) > 5 * len(log.customers)
    assert log.customers["acquisition_channel"].nunique() == 5


def test_customers_churn_and_channels_differ():
    """A real churn process: many customers stop long before the end, more for some channels."""
    log = generate(4000, seed=2)
    last = log.transactions.groupby("customer_id")["transaction_ts"].max()
    end = START + pd.Timedelta(days=DAYS)
    gone = (end - last) > pd.Timedelta(days=180)
    by_channel = gone.groupby(log.customers.set_index("customer_id")["acquisition_channel"]).mean()
    assert 0.2 < gone.mean() < 0.9
    assert by_channel["social"] > by_channel["referral"] + 0.05


def test_scales_with_customers():
    assert len(generate(2000, seed=1).transactions) > 3 * len(generate(500, seed=1).transactions)


def test_rejects_no_customers():
    with pytest.raises(ValueError, match="at least 1"):
        generate(0)
