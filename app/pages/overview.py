"""Overview: where churn risk stands, how it moved since the previous scoring date, and who
is most at risk."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app import published
from ml.inference import console_data
from ml.inference.batch_scoring import RISK_BANDS

BANDS = [name for _, name in RISK_BANDS]
BAND_COLORS = alt.Scale(domain=BANDS, range=["#d62728", "#ff9f1c", "#2ca02c"])


def latest_per_date(trend: pd.DataFrame, population: str) -> pd.DataFrame:
    """One row per scoring date: the newest model version's, as the predictions table holds."""
    rows = trend[trend["population"] == population].copy()
    rows["version_number"] = pd.to_numeric(rows["model_version"], errors="coerce")
    rows = rows.sort_values(["as_of_date", "version_number"])
    return rows.groupby("as_of_date", as_index=False).last()


def kpis(predictions: pd.DataFrame, previous: pd.Series | None) -> None:
    probability = predictions["churn_probability"]
    high = int((predictions["risk_band"] == "high").sum())
    values = {
        "Customers scored": (len(predictions), "customers", "{:,.0f}"),
        "High risk": (high, "high", "{:,.0f}"),
        "Expected churners": (probability.sum(), "expected_churners", "{:,.0f}"),
        "Mean churn probability": (probability.mean(), "mean_probability", "{:.1%}"),
    }
    for column, (label, (value, key, shown)) in zip(st.columns(4), values.items(), strict=True):
        delta = None
        if previous is not None:
            change = value - previous[key]
            delta = (
                f"{change:+.1%}" if key == "mean_probability" else f"{change:+,.0f}"
            ) + " since the previous date"
        column.metric(
            label,
            shown.format(value),
            delta=delta,
            delta_color="inverse" if key != "customers" else "off",
        )


def main() -> None:
    st.title("Customer churn")
    if published.nothing_published():
        return
    manifest = published.manifest()
    predictions = published.predictions()
    champion = manifest.get("champion") or {}
    active_days = (manifest.get("console") or {}).get("active_days", 180)
    st.caption(
        f"Predictions as of {manifest['predictions']['as_of']}, scored by model "
        f"{champion.get('name')} v{champion.get('version')}; published {manifest['published_at']}."
    )
    active_only = st.toggle(
        f"Only customers who bought in the last {active_days} days",
        value=True,
        help="Customers gone for longer are scored too, but there is little left to save.",
    )
    population = "active" if active_only else "all"
    if active_only:
        predictions = predictions[predictions["recency_days"] <= active_days]

    trend = published.frame(console_data.TREND)
    dates = None if trend is None else latest_per_date(trend, population)
    previous = None
    if dates is not None and len(dates) > 1:
        previous = dates[dates["as_of_date"] < dates["as_of_date"].max()].iloc[-1]
    kpis(predictions, previous)

    left, right = st.columns(2)
    with left:
        st.subheader("Distribution of churn risk")
        edges = np.linspace(0.0, 1.0, 21)
        counts, _ = np.histogram(predictions["churn_probability"], bins=edges)
        histogram = pd.DataFrame(
            {"customers": counts},
            index=[f"{a:.2f}-{b:.2f}" for a, b in zip(edges[:-1], edges[1:], strict=True)],
        )
        st.bar_chart(histogram, sort=False, x_label="churn probability", y_label="customers")
    with right:
        st.subheader("Risk bands")
        bands = predictions["risk_band"].value_counts().reindex(BANDS, fill_value=0)
        st.bar_chart(bands.rename("customers"), sort=False, x_label="risk band")

    st.subheader("Over the prediction history")
    if dates is None or len(dates) < 2:
        published.missing(
            "Trend", "one scoring date so far; each daily run (`fti update`) adds one."
        )
    if dates is not None and len(dates):
        left, right = st.columns(2)
        with left:
            st.caption("Predicted churn: mean probability per scoring date")
            st.line_chart(
                dates.set_index("as_of_date")[["mean_probability"]], y_label="mean probability"
            )
        with right:
            st.caption("Customers per risk band")
            stacked = dates[["as_of_date", *BANDS]].melt(
                id_vars="as_of_date", value_vars=BANDS, var_name="band", value_name="customers"
            )
            st.altair_chart(
                alt.Chart(stacked)
                .mark_area()
                .encode(
                    x=alt.X("as_of_date:T", title="scoring date"),
                    y=alt.Y("customers:Q", stack=True),
                    color=alt.Color("band:N", scale=BAND_COLORS, sort=BANDS),
                    tooltip=["as_of_date:T", "band:N", "customers:Q"],
                ),
                width="stretch",
            )

    st.subheader("Customers most at risk")
    band_filter = st.multiselect("Risk band", BANDS, default=["high"])
    top_n = st.slider("Show", min_value=10, max_value=500, value=50, step=10)
    at_risk = predictions[predictions["risk_band"].isin(band_filter)].nlargest(
        top_n, "churn_probability"
    )[
        [
            "customer_id",
            "churn_probability",
            "risk_band",
            "recency_days",
            "as_of_date",
            "model_version",
        ]
    ]
    st.dataframe(at_risk, hide_index=True, width="stretch")
    st.caption("Why one of them is at risk: the Customer page, or `customer?customer=<id>`.")
    st.download_button(
        "Download as CSV",
        at_risk.to_csv(index=False).encode(),
        file_name=f"churn_at_risk_{manifest['predictions']['as_of']}.csv",
        mime="text/csv",
        icon=":material/download:",
    )


main()
