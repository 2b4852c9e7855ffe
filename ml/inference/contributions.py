"""Why a customer's score is what it is: each model input's share of one prediction.

Computed in the pipeline, where the model is, for every scored customer, and published for
the dashboard (which never loads a model). Each family is explained in its own terms, and
the shares of one prediction add up exactly to its score (tested):

- logistic regression: each input's terms of the log-odds, ``coef * (x - center)`` over the
  columns the input became (scaled value, missing indicator, one-hot), against the average
  training customer (a standardized column's training mean is 0; one-hot columns are
  centred on the scored population's shares, the model keeping no training shares);
- gradient boosting: Saabas path attribution in log-odds; each split a row passes moves its
  expected value from the node's (training rows' cover-weighted mean of the leaves below) to
  the child's, and that move is the split feature's;
- random forest: the same on each tree's class-1 probability, averaged over the trees.

Path attribution is exact in sum but, unlike TreeSHAP, credits an interaction to whichever
feature splits later on the path; it is the decomposition the fitted trees give directly,
with no sampling, and costs one pass down each tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

LOG_ODDS = "log-odds"
PROBABILITY = "probability"


@dataclass(frozen=True)
class Explanation:
    # One row per scored row, one column per model input; a row's sum plus ``base`` is its
    # score in ``unit``.
    shares: pd.DataFrame
    base: np.ndarray
    unit: str


def _input_of_columns(preprocess) -> tuple[list[str], np.ndarray]:
    """For each column the preprocessing outputs, the model input it came from, and whether
    it comes out standardized (its training mean is then 0)."""
    out: list[str] = []
    standardized: list[bool] = []
    for _, transformer, columns in preprocess.transformers_:
        if isinstance(transformer, str) and transformer == "drop" or len(columns) == 0:
            continue
        if isinstance(transformer, str):  # passthrough
            out.extend(columns)
            standardized.extend([False] * len(columns))
            continue
        steps = transformer.steps if isinstance(transformer, Pipeline) else [(None, transformer)]
        first, last = steps[0][1], steps[-1][1]
        before = len(out)
        if hasattr(first, "categories_"):  # one-hot: one column per category
            for column, categories in zip(columns, first.categories_, strict=True):
                out.extend([column] * len(categories))
        else:
            out.extend(columns)
            indicator = getattr(first, "indicator_", None)
            if indicator is not None:  # imputer's missing indicators, after the values
                out.extend(columns[i] for i in indicator.features_)
        standardized.extend([isinstance(last, StandardScaler)] * (len(out) - before))
    return out, np.array(standardized, dtype=bool)


def _fold(matrix: np.ndarray, owners: list[str], inputs: list[str]) -> pd.DataFrame:
    """Sum transformed columns' shares into the inputs they came from."""
    folded = np.zeros((matrix.shape[0], len(inputs)))
    position = {name: i for i, name in enumerate(inputs)}
    for j, owner in enumerate(owners):
        folded[:, position[owner]] += matrix[:, j]
    return pd.DataFrame(folded, columns=inputs)


def _expectations(left, right, is_leaf, leaf_value, cover) -> np.ndarray:
    """Each node's expected output: its leaves' values weighted by training rows reaching them.
    Children always follow their parent in sklearn's node order, so one reverse pass does."""
    expected = np.array(leaf_value, dtype=np.float64)
    for node in range(len(expected) - 1, -1, -1):
        if not is_leaf[node]:
            a, b = left[node], right[node]
            expected[node] = (cover[a] * expected[a] + cover[b] * expected[b]) / (
                cover[a] + cover[b]
            )
    return expected


def _path_shares(tree: dict, width: int) -> np.ndarray:
    """For each node, what the path from the root to it adds to each model column: every split
    on the way moves the expected value from the node's to the child's, credited to the split's
    feature. A row's attribution in this tree is the row of the leaf it lands in."""
    expected = tree["expected"]
    path = np.zeros((len(expected), width))
    for node in np.flatnonzero(~tree["is_leaf"]):  # children follow their parent
        for child in (tree["left"][node], tree["right"][node]):
            path[child] = path[node]
            path[child, tree["feature"][node]] += expected[child] - expected[node]
    return path


def _attribution(x: np.ndarray, trees: list[dict]) -> tuple[np.ndarray, float]:
    """Each row's path attribution summed over ``trees`` and the trees' summed root
    expectations. The trees' own compiled code finds each row's leaf; one sparse product of
    rows x leaves with the leaves' path shares sums them (a walk down the trees in numpy, one
    level of every tree at a time, took about 8 s per 100,000 rows of a 200-tree model)."""
    from scipy.sparse import csr_matrix

    paths = [_path_shares(tree, x.shape[1]) for tree in trees]
    offsets = np.cumsum([0] + [len(p) for p in paths[:-1]])
    landed = np.column_stack(
        [tree["leaves"](x) + offset for tree, offset in zip(trees, offsets, strict=True)]
    )
    rows, per_row = landed.shape
    leaves = csr_matrix(
        (np.ones(landed.size), landed.ravel(), np.arange(0, landed.size + 1, per_row)),
        shape=(rows, int(offsets[-1]) + len(paths[-1])),
    )
    return leaves @ np.vstack(paths), float(sum(tree["expected"][0] for tree in trees))


def _boosting_trees(model: HistGradientBoostingClassifier) -> list[dict]:
    known_categories, feature_map = model._bin_mapper.make_known_categories_bitsets()
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        is_leaf = nodes["is_leaf"].astype(bool)
        # The same tree predicting its node numbers: sklearn's compiled predictor finds the
        # leaves (missing values and categories sent as in scoring).
        numbered = nodes.copy()
        numbered["value"] = np.arange(len(nodes))
        leaf_finder = TreePredictor(
            numbered, predictor.binned_left_cat_bitsets, predictor.raw_left_cat_bitsets
        )
        trees.append(
            {
                "feature": nodes["feature_idx"].astype(np.int64),
                "left": nodes["left"].astype(np.int64),
                "right": nodes["right"].astype(np.int64),
                "is_leaf": is_leaf,
                "expected": _expectations(
                    nodes["left"], nodes["right"], is_leaf, nodes["value"], nodes["count"]
                ),
                "leaves": lambda x, f=leaf_finder: f.predict(
                    x, known_categories, feature_map, n_threads=1
                ).astype(np.int64),
            }
        )
    return trees


def _forest_trees(model: RandomForestClassifier) -> list[dict]:
    trees = []
    for estimator in model.estimators_:
        t = estimator.tree_
        is_leaf = t.children_left == -1
        counts = t.value[:, 0, :]
        leaf_probability = counts[:, 1] / counts.sum(axis=1)
        trees.append(
            {
                "feature": np.where(is_leaf, 0, t.feature).astype(np.int64),
                "left": t.children_left.astype(np.int64),
                "right": t.children_right.astype(np.int64),
                "is_leaf": is_leaf,
                "expected": _expectations(
                    t.children_left,
                    t.children_right,
                    is_leaf,
                    leaf_probability,
                    t.weighted_n_node_samples,
                ),
                # sklearn's trees compare in float32, and send a missing value where
                # training sent most of them
                "leaves": lambda x, e=estimator: e.apply(x.astype(np.float32)),
            }
        )
    return trees


def model_matrix(model: Pipeline, inputs: pd.DataFrame) -> np.ndarray:
    """``inputs`` as the classifier sees them (after the pipeline's preprocessing)."""
    columns = list(model.feature_names_in_)
    return np.asarray(model.named_steps["preprocess"].transform(inputs[columns]), np.float64)


def population_mean(model: Pipeline, batches: Iterable[pd.DataFrame]) -> np.ndarray:
    """The mean model-matrix row over every batch: the scored population that ``explain``
    centres one-hot columns on, when it arrives in batches."""
    total, rows = 0.0, 0
    for batch in batches:
        total = total + model_matrix(model, batch).sum(axis=0)
        rows += len(batch)
    return total / max(rows, 1)


def explain(
    model: Pipeline, inputs: pd.DataFrame, population: np.ndarray | None = None
) -> Explanation:
    """Each model input's share of each row's score; ``inputs`` in model-input form.
    ``population``: ``population_mean`` of the whole scored population when ``inputs`` is
    one batch of it (by default ``inputs`` is the population)."""
    preprocess = model.named_steps["preprocess"]
    classifier = model.named_steps["classifier"]
    columns = list(model.feature_names_in_)
    x = model_matrix(model, inputs)
    owners, standardized = _input_of_columns(preprocess)
    if len(owners) != x.shape[1]:
        raise ValueError(f"{len(owners)} column owners for {x.shape[1]} model columns")
    if isinstance(classifier, LogisticRegression):
        # Against the average training customer: a standardized column's training mean is 0;
        # for one-hot columns (whose training shares the model does not keep) the scored
        # population's shares stand in.
        coef = classifier.coef_[0]
        mean = x.mean(axis=0) if population is None else population
        center = np.where(standardized, 0.0, mean)
        shares = (x - center) * coef
        base = np.full(len(x), float(classifier.intercept_[0] + center @ coef))
        return Explanation(_fold(shares, owners, columns), base, LOG_ODDS)
    if isinstance(classifier, HistGradientBoostingClassifier):
        if classifier.n_trees_per_iteration_ != 1:
            raise ValueError("only binary gradient boosting is explained")
        trees, unit = _boosting_trees(classifier), LOG_ODDS
        base_value = float(classifier._baseline_prediction.ravel()[0])
        scale = 1.0
    elif isinstance(classifier, RandomForestClassifier):
        trees, unit = _forest_trees(classifier), PROBABILITY
        base_value, scale = 0.0, 1.0 / len(classifier.estimators_)
    else:
        raise ValueError(f"no explanation for {type(classifier).__name__}")
    shares, roots = _attribution(x, trees)
    base = np.full(len(x), base_value + scale * roots)
    return Explanation(_fold(shares * scale, owners, columns), base, unit)
