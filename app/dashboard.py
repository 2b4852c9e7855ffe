"""Churn dashboard for business users and operators.

It reads only the published snapshot (Parquet + JSON under FTI_HOME/published), never the
DuckDB warehouse, so it keeps working while a pipeline run holds the warehouse.
"""

import numpy as np
import pandas as pd
import streamlit as st

from ml.common.settings import paths
from ml.inference import publication
from ml.monitoring import health

st.set_page_config(page_title="Customer churn", layout="wide")


@st.cache_data(show_spinner=False)
def load(snapshot: str) -> tuple[dict, pd.DataFrame]:
    """Cached per snapshot name: a new publication is picked up on the next rerun."""
    p = paths()
    return publication.read_manifest(p), publication.read_predictions(p)


def blocked_runs() -> None:
    """Say when the latest run was stopped by a check: the page shows the last good version."""
    for stage, outcome in health.failing(paths()).items():
        where = (
            "stopped"
            if stage == "pipeline_run"
            else f"was blocked at **{stage.replace('_', ' ')}**"
        )
        st.error(
            f"The latest run ({outcome['at']}) {where}: "
            f"{outcome['detail']}. Nothing below changed: it is the last good version.",
            icon=":material/block:",
        )


def main() -> None:
    st.title("Customer churn")
    blocked_runs()
    folder = publication.current_snapshot(paths())
    if folder is None:
        st.info("Nothing is published yet. Run `make demo` (or `fti demo`) to build the pipeline.")
        return
    manifest, predictions = load(folder.name)
    as_of = manifest["predictions"]["as_of"]
    champion = manifest.get("champion") or {}
    st.caption(
        f"Predictions as of {as_of}, scored by model {champion.get('name')} "
        f"v{champion.get('version')}; published {manifest['published_at']}."
    )

    active_only = st.toggle(
        "Only customers who bought in the last 180 days",
        value=True,
        help="Customers gone for longer are scored too, but there is little left to save.",
    )
    if active_only:
        predictions = predictions[predictions["recency_days"] <= 180]
    probability = predictions["churn_probability"]
    high = int((predictions["risk_band"] == "high").sum())
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("Customers scored", f"{len(predictions):,}")
    k2.metric(
        "High risk",
        f"{high:,}",
        help=f"{high / max(len(predictions), 1):.1%} of these customers; probability >= 0.6",
    )
    k3.metric("Expected churners", f"{probability.sum():,.0f}")
    k4.metric("Mean churn probability", f"{probability.mean():.1%}")

    left, right = st.columns(2)
    with left:
        st.subheader("Distribution of churn risk")
        edges = np.linspace(0.0, 1.0, 21)
        counts, _ = np.histogram(probability, bins=edges)
        histogram = pd.DataFrame(
            {"customers": counts},
            index=[f"{a:.2f}-{b:.2f}" for a, b in zip(edges[:-1], edges[1:], strict=True)],
        )
        st.bar_chart(histogram, sort=False, x_label="churn probability", y_label="customers")
    with right:
        st.subheader("Risk bands")
        bands = (
            predictions["risk_band"].value_counts().reindex(["high", "medium", "low"], fill_value=0)
        )
        st.bar_chart(bands.rename("customers"), sort=False, x_label="risk band")

    st.subheader("Customers most at risk")
    band_filter = st.multiselect("Risk band", ["high", "medium", "low"], default=["high"])
    top_n = st.slider("Show", min_value=10, max_value=500, value=50, step=10)
    at_risk = predictions[predictions["risk_band"].isin(band_filter)].nlargest(
        top_n, "churn_probability"
    )
    st.dataframe(
        at_risk[
            [
                "customer_id",
                "churn_probability",
                "risk_band",
                "recency_days",
                "as_of_date",
                "model_version",
            ]
        ],
        hide_index=True,
        width="stretch",
    )

    st.subheader("Champion model")
    metrics = champion.get("metrics", {})
    if metrics:
        st.dataframe(
            pd.DataFrame({"metric": list(metrics), "holdout value": list(metrics.values())}),
            hide_index=True,
        )
    st.write(f"Promotion gate: {champion.get('gate') or 'n/a'}")

    with st.expander("Operations: tables and last run"):
        st.write(f"Rejected input rows: {manifest.get('rejected_rows', 0)}")
        st.write(f"Dagster run: {manifest.get('dagster_run_id')}")
        st.dataframe(
            pd.DataFrame(
                {"table": list(manifest["tables"]), "rows": list(manifest["tables"].values())}
            ),
            hide_index=True,
        )


main()
