"""Model selection, evaluation artifacts, slices and the gate, on data small enough to check
by hand."""

import json

import numpy as np
import pandas as pd
import pytest

from ml.common import model_input
from ml.training import candidates, evaluation, model_gate, slices, trainer
from ml.training.model_selection import rolling_origin_folds, select_model


def weekly(n_dates: int, per_date: int, seed: int = 0) -> pd.DataFrame:
    """A training-set-shaped frame: churn depends on recency, and a bit on the country."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=n_dates, freq="7D")
    n = n_dates * per_date
    recency = rng.integers(0, 200, size=n).astype(float)
    country = rng.choice(["DE", "FR", "NL"], size=n)
    logit = (recency - 90) / 30 + np.where(country == "FR", 0.7, 0.0)
    churned = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i % per_date}" for i in range(n)],
            "event_timestamp": np.repeat(dates, per_date),
            "customer_features__recency_days": recency,  # for the baseline, as in production
            "on_demand__days_since_last_purchase": recency + 1,  # the model's recency input
            "customer_features__tenure_days": rng.integers(0, 800, size=n),
            "customer_features__spend_90d": rng.gamma(2.0, 30.0, size=n),
            "customer_attributes__country": country,
            "churned": churned,
        }
    )


def test_rolling_origin_folds_purge_the_horizon():
    frame = weekly(20, 10)
    dates = pd.date_range("2024-01-01", periods=20, freq="7D")
    folds = rolling_origin_folds(frame, folds=2, fold_snapshots=2, horizon_days=14)
    assert [f.index for f in folds] == [0, 1]
    latest, earlier = folds
    # Fold 0 validates on the last two dates and trains up to two weeks before them.
    assert (latest.validation_start, latest.validation_end) == (dates[18], dates[19])
    assert latest.train_end == dates[16]
    as_of = frame["event_timestamp"]
    assert set(as_of.iloc[latest.validation_rows]) == {dates[18], dates[19]}
    assert as_of.iloc[latest.train_rows].max() == dates[16]
    assert len(latest.train_rows) == 17 * 10
    # Fold 1 is the block before, with its own purge.
    assert (earlier.validation_start, earlier.train_end) == (dates[16], dates[14])
    assert set(latest.train_rows).isdisjoint(latest.validation_rows)
    # Too few dates for a block and a training period: no fold at all.
    assert rolling_origin_folds(weekly(3, 10), folds=3, fold_snapshots=4, horizon_days=14) == []


def test_selection_is_by_mean_validation_pr_auc_and_reproducible():
    frame = weekly(30, 60, seed=1)
    params = trainer.TrainingParams(
        horizon_days=14,
        cv_folds=2,
        cv_fold_snapshots=3,
        hyperparameters=candidates.Hyperparameters(rf_n_estimators=20, hgb_max_iter=30),
    )
    first, second = select_model(frame, params), select_model(frame, params)
    pd.testing.assert_frame_equal(first.table, second.table)
    assert len(first.table) == 2 * len(candidates.FAMILIES)
    means = first.table.groupby("family")["pr_auc"].mean()
    assert first.best == means.idxmax()
    assert first.scores[first.best] == pytest.approx(means.max())
    # Fitting the chosen family twice gives the same model, to the last digit.
    one = trainer.fit(frame, params, first.best)
    two = trainer.fit(frame, params, first.best)
    np.testing.assert_array_equal(
        model_input.predict_proba(one, frame), model_input.predict_proba(two, frame)
    )
    only = select_model(frame, trainer.TrainingParams(candidates=("logistic_regression",)))
    assert only.best == "logistic_regression" and only.reason == "the only candidate"
    with pytest.raises(ValueError, match="unknown model family 'svm'"):
        select_model(frame, trainer.TrainingParams(candidates=("svm", "random_forest")))


def test_the_final_fit_samples_down_to_fit_max_rows(monkeypatch):
    seen = []
    real_fit = candidates.fit

    def spy(family, x, y, *args):
        seen.append((len(x), tuple(x.index[:3])))
        return real_fit(family, x, y, *args)

    monkeypatch.setattr(candidates, "fit", spy)
    frame = weekly(10, 30)  # 300 rows
    params = trainer.TrainingParams(fit_max_rows=120)
    trainer.fit(frame, params, candidates.LOGISTIC_REGRESSION)
    trainer.fit(frame, params, candidates.LOGISTIC_REGRESSION)
    trainer.fit(frame, trainer.TrainingParams(fit_max_rows=300), candidates.LOGISTIC_REGRESSION)
    assert [n for n, _ in seen] == [120, 120, 300]
    assert seen[0] == seen[1]  # the same seeded sample every time


def test_every_family_fits_and_serves_on_one_core():
    frame = weekly(6, 50)
    params = trainer.TrainingParams(
        hyperparameters=candidates.Hyperparameters(rf_n_estimators=5, hgb_max_iter=5)
    )
    for family in candidates.FAMILIES:
        model = candidates.for_serving(trainer.fit(frame, params, family))
        assert candidates.family_of(model) == family
        assert getattr(model.named_steps["classifier"], "n_jobs", 1) in (1, None)
        assert model_input.predict_proba(model, frame.head(1)).shape == (1,)


def test_lift_table_by_hand():
    # Ranked by score: churners at ranks 1, 2 and 10 of 10; 3 churners, base rate 0.3.
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    scores = np.linspace(1.0, 0.1, 10)
    table = evaluation.lift_table(y, scores, bins=5)
    assert table["churners"].tolist() == [2, 0, 0, 0, 1]
    assert table["cumulative_capture"].tolist() == [0.6667, 0.6667, 0.6667, 0.6667, 1.0]
    assert table["lift"].tolist()[0] == pytest.approx(1.0 / 0.3, abs=1e-4)
    assert evaluation.top_decile_capture(y, scores) == pytest.approx(1 / 3, abs=1e-4)


def test_baseline_ranks_by_recency():
    frame = pd.DataFrame(
        {"customer_features__recency_days": [5, 200, 10, 150, None], "churned": [0, 1, 0, 1, 1]}
    )
    # A missing recency counts as the longest: this rule separates the classes perfectly.
    assert evaluation.baseline(frame).metrics["roc_auc"] == 1.0
    with pytest.raises(KeyError, match="needs customer_features__recency_days"):
        evaluation.baseline(frame.drop(columns="customer_features__recency_days"))


def test_artifacts_are_written(tmp_path):
    frame = weekly(8, 100)
    params = trainer.TrainingParams(hyperparameters=candidates.Hyperparameters(hgb_max_iter=20))
    model = trainer.fit(frame, params)
    figures = evaluation.write_artifacts(model, frame, 0.5, tmp_path)
    expected = {
        "roc_pr_curves.png",
        "calibration_curve.png",
        "calibration_curve.csv",
        "confusion_matrix.png",
        "confusion_matrix.json",
        "permutation_importance.png",
        "permutation_importance.csv",
        "lift_gains.csv",
        "lift_gains.md",
        "baseline.json",
    }
    assert expected <= {p.name for p in tmp_path.iterdir()}
    confusion = json.loads((tmp_path / "confusion_matrix.json").read_text())
    assert sum(map(sum, confusion["matrix"])) == len(frame)
    # Recency drives the label, so it must lead the permutation importance.
    assert figures["top_features"][0] == "on_demand__days_since_last_purchase"


def test_tenure_bands():
    bands = slices.tenure_band(pd.Series([0, 89, 90, 364, 365, None]))
    assert bands.tolist() == [
        "0-89 days",
        "0-89 days",
        "90-364 days",
        "90-364 days",
        "365+ days",
        "unknown",
    ]


def test_slice_floor_and_gap():
    frame = pd.DataFrame(
        {
            "customer_attributes__country": ["DE"] * 4 + ["FR"] * 4 + ["NL"],
            "customer_features__tenure_days": [10] * 9,
            "churned": [0, 0, 1, 1, 0, 0, 1, 1, 1],
        }
    )
    # DE ranked perfectly, FR exactly backwards; NL is one row: reported, not judged.
    scores = np.array([0.1, 0.2, 0.8, 0.9, 0.9, 0.8, 0.2, 0.1, 0.5])
    report = slices.evaluate_slices(frame, scores, threshold=0.5, floor=0.6, min_rows=2)
    table = report.table.set_index(["slice", "group"])
    assert table.loc[("country", "DE"), "roc_auc"] == 1.0
    assert table.loc[("country", "FR"), "roc_auc"] == 0.0
    assert not table.loc[("country", "NL"), "judged"]
    assert report.gaps["country"] == 1.0 and report.largest_gap == 1.0
    # Overall this model is a coin toss (0.5), so the one-group slices fail the floor too.
    assert report.failures == [
        "country=FR: roc_auc 0.0000 < floor 0.60",
        "acquisition_channel=unknown: roc_auc 0.5000 < floor 0.60",
        "tenure_band=0-89 days: roc_auc 0.5000 < floor 0.60",
    ]
    # No channel column: one 'unknown' group, judged as a whole.
    assert table.loc[("acquisition_channel", "unknown"), "rows"] == 9


def test_gate_checks():
    first = model_gate.decide(0.8, baseline=0.7, champion=None)
    assert first.promote and first.reason.startswith("first champion")
    assert model_gate.decide(0.8, 0.7, champion=0.8).promote
    within = model_gate.decide(0.796, 0.7, champion=0.8, tolerance=0.005)
    assert within.promote
    worse = model_gate.decide(0.79, 0.7, champion=0.8, tolerance=0.005)
    assert not worse.promote and worse.reason.startswith("not_worse_than_champion: pr_auc 0.79")
    no_better_than_rule = model_gate.decide(0.69, 0.7, champion=None)
    assert not no_better_than_rule.promote and "beats_baseline" in no_better_than_rule.reason
    unfair = model_gate.decide(
        0.9, 0.7, 0.8, slice_failures=["country=FR: roc_auc 0.5 < floor 0.6"]
    )
    assert not unfair.promote and "country=FR" in unfair.reason
    unservable = model_gate.decide(0.9, 0.7, 0.8, missing_views=["customer_features v2"])
    assert not unservable.promote and "feature_views_materialized" in unservable.reason
    assert [c.name for c in unservable.checks] == list(model_gate.CHECKS)
    assert [c.passed for c in unservable.checks] == [True, True, True, False]
