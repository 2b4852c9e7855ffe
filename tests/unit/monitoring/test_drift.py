"""Drift statistics in DuckDB against hand-computed values and against numpy/scipy."""

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

from ml.monitoring import drift


def _con(**frames: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, frame in frames.items():
        con.register("_frame", frame)
        con.execute(f"create table {name} as select * from _frame")
        con.unregister("_frame")
    return con


def _row(result: pd.DataFrame, feature: str) -> dict:
    return result.set_index("feature").loc[feature].to_dict()


def test_hand_computed_all_mass_moves_to_the_last_decile():
    con = _con(ref=pd.DataFrame({"x": np.arange(1.0, 11.0)}), cur=pd.DataFrame({"x": [10.0] * 4}))
    reference = drift.profile(con, "ref", ["x"], [])
    assert reference["x"].edges == tuple(float(v) for v in range(1, 10))
    assert reference["x"].shares == pytest.approx([0.1] * 10)
    got = _row(drift.measure(con, "cur", reference), "x")
    # Nine bins go from 0.1 to 0 (floored at 1e-4), the last from 0.1 to 1.
    psi = 9 * (1e-4 - 0.1) * math.log(1e-4 / 0.1) + 0.9 * math.log(10)
    js = math.sqrt(0.5 * (0.9 + 0.1 * math.log2(0.1 / 0.55)) + 0.5 * math.log2(1 / 0.55))
    assert got["psi"] == pytest.approx(psi, rel=1e-12)  # 8.2832
    assert got["js"] == pytest.approx(js, rel=1e-12)  # 0.8708
    assert got["ks"] == pytest.approx(0.9)
    assert got["null_rate_change"] == 0 and got["status"] == "alert"


def test_same_distribution_is_ok_and_nulls_count_apart():
    values = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, None]})
    con = _con(ref=values, cur=pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, None, None]}))
    reference = drift.profile(con, "ref", ["x"], [])
    assert reference["x"].null_rate == pytest.approx(0.2)
    got = _row(drift.measure(con, "cur", reference), "x")
    assert got["psi"] == pytest.approx(0.0, abs=1e-15) and got["ks"] == pytest.approx(0.0)
    assert got["null_rate_change"] == pytest.approx(2 / 6 - 0.2)
    assert got["status"] == "warn"  # the null rate rose by 0.133


def test_against_numpy_and_scipy_on_random_data():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame(
        {
            "x": np.where(rng.uniform(size=5000) < 0.05, np.nan, rng.normal(size=5000)),
            "c": rng.choice(["a", "b", "c"], size=5000, p=[0.5, 0.3, 0.2]),
        }
    )
    cur = pd.DataFrame(
        {
            "x": np.where(rng.uniform(size=3000) < 0.1, np.nan, rng.normal(0.3, 1.2, size=3000)),
            "c": rng.choice(["a", "b", "d"], size=3000, p=[0.3, 0.3, 0.4]),
        }
    )
    con = _con(ref=ref, cur=cur)
    reference = drift.profile(con, "ref", ["x"], ["c"])
    got = drift.measure(con, "cur", reference).set_index("feature")

    edges = np.array(reference["x"].edges)
    ref_x, cur_x = ref["x"].dropna().to_numpy(), cur["x"].dropna().to_numpy()
    assert set(edges) <= set(ref_x)  # actual values of the reference
    p = np.bincount(np.searchsorted(edges, ref_x, side="left"), minlength=10) / len(ref_x)
    q = np.bincount(np.searchsorted(edges, cur_x, side="left"), minlength=10) / len(cur_x)
    assert reference["x"].shares == pytest.approx(p, abs=1e-15)
    pe, qe = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    assert got.loc["x", "psi"] == pytest.approx(np.sum((qe - pe) * np.log(qe / pe)), rel=1e-12)
    assert got.loc["x", "js"] == pytest.approx(jensenshannon(p, q, base=2), rel=1e-9)
    assert got.loc["x", "ks"] == pytest.approx(np.max(np.abs(np.cumsum(p) - np.cumsum(q))))
    assert got.loc["x", "null_rate_change"] == pytest.approx(
        cur["x"].isna().mean() - ref["x"].isna().mean()
    )

    # Categories: "d" was never seen, so it lands in the reference's (empty) other bin.
    assert reference["c"].categories == ("a", "b", "c")
    p = np.array([(ref["c"] == v).mean() for v in "abc"] + [0.0])
    q = np.array([(cur["c"] == v).mean() for v in "abc"] + [(cur["c"] == "d").mean()])
    pe, qe = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    assert got.loc["c", "psi"] == pytest.approx(np.sum((qe - pe) * np.log(qe / pe)), rel=1e-12)
    assert got.loc["c", "js"] == pytest.approx(jensenshannon(p, q, base=2), rel=1e-9)
    assert pd.isna(got.loc["c", "ks"])
    assert got.loc["c", "status"] == "alert"


def test_ks_equals_scipy_when_every_value_is_an_edge():
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"n": np.repeat(np.arange(10), 100).astype(float)})
    cur = pd.DataFrame({"n": rng.binomial(9, 0.6, size=700).astype(float)})
    con = _con(ref=ref, cur=cur)
    got = _row(drift.measure(con, "cur", drift.profile(con, "ref", ["n"], [])), "n")
    assert got["ks"] == pytest.approx(ks_2samp(ref["n"], cur["n"]).statistic, rel=1e-12)


def test_reference_round_trips_through_the_warehouse():
    rng = np.random.default_rng(1)
    con = _con(
        ref=pd.DataFrame({"x": rng.gamma(2.0, size=500), "c": rng.choice(["u", "v"], size=500)})
    )
    reference = drift.profile(con, "ref", ["x"], ["c"])
    drift.store_reference(con, reference, "3")
    drift.store_reference(con, reference, "3")  # replaced, not duplicated
    assert drift.load_reference(con, "3") == reference
    assert drift.load_reference(con, "4") == {}


@pytest.mark.parametrize(
    ("psi", "change", "expected"),
    [
        (0.09, 0.0, "ok"),
        (0.1, 0.0, "warn"),
        (0.25, 0.0, "alert"),
        (0.0, 0.05, "warn"),
        (0.0, 0.2, "alert"),
        (0.0, -0.5, "ok"),
    ],
)
def test_status_thresholds(psi, change, expected):
    assert drift.status(psi, change) == expected
