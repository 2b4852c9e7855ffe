"""The online fast path scores exactly as the scikit-learn pipeline does, to the last bit."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.common import model_input
from ml.inference.compiled_trees import compile_classifier
from ml.inference.online_serving import fast_scorer
from ml.training import candidates, trainer


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = pd.DataFrame(
        {
            "event_timestamp": pd.Timestamp("2024-01-01"),
            "customer_id": [f"c{i}" for i in range(n)],
            "a": rng.normal(size=n),
            "b": rng.integers(0, 50, size=n).astype(float),
            "c": rng.choice(["x", "y", "z"], size=n).astype(object),
        }
    )
    out.loc[rng.uniform(size=n) < 0.1, "a"] = np.nan  # missing values take the trees' side
    out["churned"] = ((out["a"].fillna(0) + out["b"] / 25 + (out["c"] == "x")) > 1.5).astype(int)
    return out


MODEL = trainer.fit(
    frame(2000, 0),
    trainer.TrainingParams(hyperparameters=candidates.Hyperparameters(hgb_max_iter=60)),
)


@settings(max_examples=60, deadline=None)
@given(
    a=st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
    b=st.one_of(st.none(), st.integers(-10, 100)),
    c=st.one_of(st.none(), st.sampled_from(["x", "y", "z", "never seen"])),
)
def test_fast_scorer_equals_the_pipeline(a, b, c):
    row = {"a": a, "b": b, "c": c}
    fast = fast_scorer(MODEL)([row])
    frame_row = pd.DataFrame([row], columns=["a", "b", "c"])
    x = model_input.model_input(frame_row, ["a", "b", "c"], model_input.categorical_columns(MODEL))
    assert fast.tolist() == MODEL.predict_proba(x)[:, 1].tolist()


def test_compiled_trees_equal_predict_proba_on_many_rows():
    data = frame(3000, 1)
    x = MODEL.named_steps["preprocess"].transform(
        model_input.model_input(data, ["a", "b", "c"], model_input.categorical_columns(MODEL))
    )
    classifier = MODEL.named_steps["classifier"]
    compiled = compile_classifier(classifier)
    np.testing.assert_array_equal(compiled(x), classifier.predict_proba(x)[:, 1])


def test_other_families_keep_the_pipeline_path():
    data = frame(300, 2)
    params = trainer.TrainingParams(hyperparameters=candidates.Hyperparameters(rf_n_estimators=5))
    # As registered: one core (with several, the trees' sum is taken in whichever order the
    # threads finish, which changes the last bit from call to call).
    forest = candidates.for_serving(trainer.fit(data, params, candidates.RANDOM_FOREST))
    assert compile_classifier(forest.named_steps["classifier"]) is None
    rows = data[["a", "b", "c"]].astype(object).where(data[["a", "b", "c"]].notna(), None)
    dicts = rows.to_dict("records")
    np.testing.assert_array_equal(
        fast_scorer(forest)(dicts), model_input.predict_proba(forest, data)
    )
    regression = trainer.fit(data, params, candidates.LOGISTIC_REGRESSION)
    assert fast_scorer(regression) is None  # its numbers are imputed and scaled
