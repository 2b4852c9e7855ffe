"""Drift of every model input and of the scores, against the serving model's frozen reference.

At training time each input feature of the new version (and its scores) is profiled once:
numeric values are cut at the reference's deciles (actual values, so counts stay whole
numbers), categories keep their own bins (the most frequent ``MAX_CATEGORIES``, the rest
and anything unseen share one), and the null rate is kept beside the shares of the non-null
values. The profile is stored with the version (``monitoring.reference_profiles`` and an
MLflow artifact), so a scoring snapshot is always compared with what *its* model was trained
on, and the reference is never recomputed.

A snapshot's values are binned with the same edges, in DuckDB, where they are; then, per
feature, over the bins:

* PSI = sum (q - p) ln(q / p), shares floored at ``EPSILON`` (an empty bin would be infinite);
* Jensen-Shannon distance, base 2 (0 = same, 1 = disjoint), as ``scipy.spatial.distance.
  jensenshannon(p, q, base=2)``;
* KS = the largest gap between the two cumulative shares at the reference's edges (numeric
  features only): the Kolmogorov-Smirnov statistic on the decile grid, a lower bound of the
  exact two-sample statistic, equal to it when every value is an edge (small counts);
* null-rate change = current null rate - reference null rate.

Status: ``alert`` when PSI >= 0.25 or the null rate rose by >= 0.2, ``warn`` when PSI >= 0.1
or it rose by >= 0.05 (the usual PSI conventions), ``ok`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from ml.common.model_input import categorical_columns, input_columns, model_input
from ml.common.warehouse import table_exists

if TYPE_CHECKING:  # scikit-learn takes about a second to import; `fti monitor` needs none of it
    from sklearn.pipeline import Pipeline

REFERENCE_TABLE = "monitoring.reference_profiles"
DRIFT_TABLE = "monitoring.feature_drift"
PREDICTION = "prediction"  # the scores' pseudo-feature name
BINS = 10
MAX_CATEGORIES = 30
EPSILON = 1e-4
PSI_WARN, PSI_ALERT = 0.1, 0.25
NULL_WARN, NULL_ALERT = 0.05, 0.2
NUMERIC, CATEGORICAL = "numeric", "categorical"

STATUS_RANK = {"ok": 0, "warn": 1, "alert": 2}


@dataclass(frozen=True)
class Profile:
    """One feature's reference: bin edges (numeric) or categories, shares, null rate."""

    feature: str
    kind: str
    edges: tuple[float, ...]  # numeric: bin i holds (edges[i-1], edges[i]]; the last is open
    categories: tuple[str, ...]  # categorical: bin i is categories[i]; the extra bin is "other"
    shares: tuple[float, ...]
    null_rate: float
    rows: int

    @property
    def bins(self) -> int:
        return len(self.edges) + 1 if self.kind == NUMERIC else len(self.categories) + 1


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def bin_expression(profile: Profile, column: str) -> str:
    """SQL giving a value's bin index (NULL for a null value)."""
    value = _quote(column)
    if profile.kind == NUMERIC:
        cases = " ".join(
            f"when cast({value} as double) <= {edge!r}::double then {i}"
            for i, edge in enumerate(profile.edges)
        )
        return f"case when {value} is null then null {cases} else {len(profile.edges)} end"
    cases = " ".join(
        f"when cast({value} as varchar) = {_literal(c)} then {i}"
        for i, c in enumerate(profile.categories)
    )
    return f"case when {value} is null then null {cases} else {len(profile.categories)} end"


def _counts_sql(relation: str, profiles: dict[str, Profile], where: str) -> str:
    """One row per (feature, bin) with its count; bin NULL counts the nulls."""
    parts = [
        f"select {_literal(feature)} as feature, {bin_expression(p, feature)} as bin, "
        f"count(*) as n from {relation} where {where} group by all"
        for feature, p in profiles.items()
    ]
    return " union all ".join(parts)


def profile(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    numeric: list[str],
    categorical: list[str],
) -> dict[str, Profile]:
    """The reference profile of ``relation``'s columns, computed in DuckDB."""
    edges: dict[str, tuple[float, ...]] = {}
    for column in numeric:
        quantiles = [i / BINS for i in range(1, BINS)]
        found = con.execute(
            f"select quantile_disc(cast({_quote(column)} as double), {quantiles}) from {relation}"
        ).fetchone()[0]
        edges[column] = tuple(sorted({float(v) for v in found or []}))
    categories: dict[str, tuple[str, ...]] = {}
    for column in categorical:
        rows = con.execute(
            f"select cast({_quote(column)} as varchar) as c from {relation} "
            f"where {_quote(column)} is not null group by 1 "
            f"order by count(*) desc, c limit {MAX_CATEGORIES}"
        ).fetchall()
        categories[column] = tuple(sorted(r[0] for r in rows))
    shells = {c: Profile(c, NUMERIC, edges[c], (), (), 0.0, 0) for c in numeric} | {
        c: Profile(c, CATEGORICAL, (), categories[c], (), 0.0, 0) for c in categorical
    }
    counts = _histograms(con, relation, shells, "true")
    return {
        name: Profile(
            name,
            shell.kind,
            shell.edges,
            shell.categories,
            counts[name]["shares"],
            counts[name]["null_rate"],
            counts[name]["rows"],
        )
        for name, shell in shells.items()
    }


def _histograms(
    con: duckdb.DuckDBPyConnection, relation: str, profiles: dict[str, Profile], where: str
) -> dict[str, dict[str, object]]:
    frame = con.execute(_counts_sql(relation, profiles, where)).df()
    out = {}
    for name, p in profiles.items():
        rows = frame[frame["feature"] == name]
        total = int(rows["n"].sum())
        nulls = int(rows.loc[rows["bin"].isna(), "n"].sum())
        counts = [0] * p.bins
        for b, n in rows.loc[rows["bin"].notna(), ["bin", "n"]].itertuples(index=False):
            counts[int(b)] = int(n)
        valued = total - nulls
        out[name] = {
            "shares": tuple(c / valued if valued else 0.0 for c in counts),
            "null_rate": nulls / total if total else 0.0,
            "rows": total,
        }
    return out


def profile_frame(profiles: dict[str, Profile], model_version: str) -> pd.DataFrame:
    """The profiles as rows of ``monitoring.reference_profiles`` (one per feature and bin)."""
    rows = []
    for p in profiles.values():
        for i, share in enumerate(p.shares):
            rows.append(
                {
                    "model_version": str(model_version),
                    "feature": p.feature,
                    "kind": p.kind,
                    "bin": i,
                    "upper_edge": p.edges[i] if p.kind == NUMERIC and i < len(p.edges) else None,
                    "category": (
                        p.categories[i] if p.kind == CATEGORICAL and i < len(p.categories) else None
                    ),
                    "share": share,
                    "null_rate": p.null_rate,
                    "rows": p.rows,
                }
            )
    return pd.DataFrame(rows)


def profiles_from_frame(frame: pd.DataFrame) -> dict[str, Profile]:
    out = {}
    for feature, rows in frame.sort_values(["feature", "bin"]).groupby("feature", sort=True):
        kind = rows["kind"].iloc[0]
        out[feature] = Profile(
            feature=feature,
            kind=kind,
            edges=tuple(float(v) for v in rows["upper_edge"].dropna()),
            categories=tuple(str(v) for v in rows["category"].dropna()),
            shares=tuple(float(v) for v in rows["share"]),
            null_rate=float(rows["null_rate"].iloc[0]),
            rows=int(rows["rows"].iloc[0]),
        )
    return out


def store_reference(
    con: duckdb.DuckDBPyConnection, profiles: dict[str, Profile], model_version: str
) -> int:
    """Write a version's profile (replacing any earlier one of that version)."""
    frame = profile_frame(profiles, model_version)
    con.execute("create schema if not exists monitoring")
    con.execute(
        f"""
        create table if not exists {REFERENCE_TABLE} (
            model_version varchar, feature varchar, kind varchar, bin integer,
            upper_edge double, category varchar, share double, null_rate double, rows bigint
        )
        """
    )
    con.register("_profile", frame)
    try:
        con.execute(f"delete from {REFERENCE_TABLE} where model_version = ?", [str(model_version)])
        con.execute(
            f"insert into {REFERENCE_TABLE} select model_version, feature, kind, bin, "
            "upper_edge, category, share, null_rate, rows from _profile"
        )
    finally:
        con.unregister("_profile")
    return len(frame)


def load_reference(con: duckdb.DuckDBPyConnection, model_version: str) -> dict[str, Profile]:
    if not table_exists(con, REFERENCE_TABLE):
        return {}
    frame = con.execute(
        f"select * from {REFERENCE_TABLE} where model_version = ?", [str(model_version)]
    ).df()
    return profiles_from_frame(frame)


def status(psi: float, null_rate_change: float) -> str:
    if psi >= PSI_ALERT or null_rate_change >= NULL_ALERT:
        return "alert"
    if psi >= PSI_WARN or null_rate_change >= NULL_WARN:
        return "warn"
    return "ok"


_STATISTICS_SQL = f"""
with cur as (
    select feature, bin, n / sum(n) over (partition by feature) as q
    from _current where bin is not null
),
joined as (
    select feature, r.bin, r.share as p, coalesce(c.q, 0) as q, r.kind
    from _reference as r left join cur as c using (feature, bin)
),
terms as (
    select *,
        greatest(p, {EPSILON}) as pe, greatest(q, {EPSILON}) as qe, (p + q) / 2 as m,
        sum(p) over w as cum_p, sum(q) over w as cum_q
    from joined
    window w as (partition by feature order by bin rows unbounded preceding)
)
select
    feature,
    sum((qe - pe) * ln(qe / pe)) as psi,
    sqrt(greatest(
        0.5 * sum(case when p > 0 then p * log2(p / m) else 0 end)
        + 0.5 * sum(case when q > 0 then q * log2(q / m) else 0 end), 0)) as js,
    case when any_value(kind) = '{NUMERIC}' then max(abs(cum_p - cum_q)) end as ks
from terms
group by feature
"""


def measure(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    reference: dict[str, Profile],
    where: str = "true",
) -> pd.DataFrame:
    """PSI, JS distance, KS and null-rate change of ``relation``'s columns (rows matching
    ``where``) against ``reference``: one row per feature, with its status."""
    present = {
        r[0]
        for r in con.execute(
            f"select column_name from (describe select * from {relation})"
        ).fetchall()
    }
    profiles = {name: p for name, p in reference.items() if name in present}
    if not profiles:
        return pd.DataFrame(
            columns=["feature", "psi", "js", "ks", "null_rate", "null_rate_change", "status"]
        )
    counts = _counts_sql(relation, profiles, where)
    con.execute(f"create or replace temp table _current as {counts}")
    ref = profile_frame(profiles, "")
    con.register("_reference", ref)
    try:
        stats = con.execute(_STATISTICS_SQL).df()
        nulls = con.execute(
            "select feature, coalesce(sum(n) filter (where bin is null), 0) / sum(n) as null_rate "
            "from _current group by feature"
        ).df()
    finally:
        con.unregister("_reference")
        con.execute("drop table if exists _current")
    out = stats.merge(nulls, on="feature", how="left")
    out["null_rate"] = out["null_rate"].fillna(0.0)
    ref_null = {name: p.null_rate for name, p in profiles.items()}
    out["null_rate_change"] = out["null_rate"] - out["feature"].map(ref_null)
    out["status"] = [
        status(psi, change) for psi, change in zip(out["psi"], out["null_rate_change"], strict=True)
    ]
    return out.sort_values("feature").reset_index(drop=True)


REFERENCE_MAX_ROWS = 200_000
REFERENCE_ARTIFACT = "reference_profile.csv"


def model_reference(
    con: duckdb.DuckDBPyConnection, model: Pipeline, frame: pd.DataFrame, random_state: int
) -> dict[str, Profile]:
    """The reference profile of a model: its inputs, as it reads them, over the rows it was
    fitted on (a seeded sample above ``REFERENCE_MAX_ROWS``), and its scores on them."""
    if len(frame) > REFERENCE_MAX_ROWS:
        frame = frame.sample(REFERENCE_MAX_ROWS, random_state=random_state)
    categorical = categorical_columns(model)
    columns = input_columns(model)
    rows = model_input(frame, columns, categorical)
    rows[PREDICTION] = model.predict_proba(rows)[:, 1]
    con.register("_reference_rows", rows)
    try:
        numeric = [c for c in columns if c not in categorical] + [PREDICTION]
        return profile(con, "_reference_rows", numeric, [c for c in columns if c in categorical])
    finally:
        con.unregister("_reference_rows")
