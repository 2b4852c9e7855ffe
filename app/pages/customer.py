"""Customer: one customer's risk, why the model gives it, and their history."""

import altair as alt
import pandas as pd
import streamlit as st

from app import published
from ml.common.customer_ids import normalize
from ml.inference import console_data

SHOWN_INPUTS = 10


def pick_customer(predictions: pd.DataFrame, active_days: int) -> str | None:
    active = predictions[predictions["recency_days"] <= active_days]
    top = (active if len(active) else predictions).nlargest(1, "churn_probability")["customer_id"]
    default = st.query_params.get("customer", top.iloc[0] if len(top) else "")
    typed = st.text_input(
        "Customer id",
        value=default,
        help="As in your log; by default the most at-risk customer still active.",
    )
    return normalize(typed) if typed and typed.strip() else None


def contributions_chart(shares: pd.DataFrame, unit: str) -> alt.Chart:
    shares = shares.assign(
        direction=shares["contribution"].map(lambda c: "raises risk" if c > 0 else "lowers risk")
    )
    return (
        alt.Chart(shares)
        .mark_bar()
        .encode(
            x=alt.X("contribution:Q", title=f"share of the score ({unit})"),
            y=alt.Y(
                "input:N",
                sort=alt.SortField("magnitude", order="descending"),
                title=None,
                axis=alt.Axis(labelLimit=260),
            ),
            color=alt.Color(
                "direction:N",
                scale=alt.Scale(
                    domain=["raises risk", "lowers risk"], range=["#d62728", "#2ca02c"]
                ),
            ),
            tooltip=["feature:N", "value:N", alt.Tooltip("contribution:Q", format="+.4f")],
        )
    )


def why(customer_id: str, explained: dict | None) -> None:
    st.subheader("What drives the score now")
    shares = published.customer_rows(console_data.CONTRIBUTIONS, customer_id)
    if explained is None or shares is None or shares.empty:
        published.missing("Drivers", "no per-input shares were published with these predictions.")
        return
    shares = shares.assign(
        magnitude=shares["contribution"].abs(),
        # "customer_features__spend_90d" -> "spend_90d": the view is in the table below
        input=shares["feature"].str.split("__").str[-1],
    ).nlargest(SHOWN_INPUTS, "magnitude")
    st.caption(
        f"Each input's share of this customer's score by model v{explained['model_version']} "
        f"({explained['unit']}, against a base of {explained['base']:+.3f}; the shares of all "
        "inputs add up to the score). Computed in the pipeline from the model's own terms: the "
        "logistic regression's, or each tree's path."
    )
    st.altair_chart(contributions_chart(shares, explained["unit"]), width="stretch")
    st.dataframe(shares[["feature", "value", "contribution"]], hide_index=True, width="stretch")


def history(customer_id: str) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Spend and purchases per month")
        activity = published.customer_rows(console_data.ACTIVITY, customer_id)
        if activity is None or activity.empty:
            published.missing("Activity", "no purchases of this customer are published.")
        else:
            base = alt.Chart(activity).encode(x=alt.X("month:T", title="month"))
            spend = base.mark_bar(opacity=0.6).encode(y=alt.Y("spend:Q", title="spend"))
            purchases = base.mark_line(point=True, color="#d62728").encode(
                y=alt.Y("purchases:Q", title="purchases")
            )
            st.altair_chart(
                alt.layer(spend, purchases).resolve_scale(y="independent"), width="stretch"
            )
    with right:
        st.subheader("Prediction history")
        scores = published.customer_rows(console_data.HISTORY, customer_id)
        if scores is None or scores.empty:
            published.missing("Prediction history", "this customer has no scores recorded.")
        else:
            st.altair_chart(
                alt.Chart(scores)
                .mark_line(point=True)
                .encode(
                    x=alt.X("as_of_date:T", title="scoring date"),
                    y=alt.Y("churn_probability:Q", scale=alt.Scale(domain=[0, 1])),
                    color=alt.Color("model_version:N", title="model version"),
                    tooltip=["as_of_date:T", "churn_probability:Q", "risk_band:N"],
                ),
                width="stretch",
            )


def main() -> None:
    st.title("Customer")
    if published.nothing_published():
        return
    manifest = published.manifest()
    predictions = published.predictions()
    customer_id = pick_customer(
        predictions, (manifest.get("console") or {}).get("active_days", 180)
    )
    if customer_id is None:
        return
    row = predictions[predictions["customer_id"] == customer_id]
    if row.empty:
        st.warning(
            f"No customer `{customer_id}` was scored as of {manifest['predictions']['as_of']}. "
            "Ids are matched as written in your log (letters, digits, leading zeros)."
        )
        return
    row = row.iloc[0]
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("Churn probability", f"{row['churn_probability']:.1%}")
    k2.metric("Risk band", row["risk_band"])
    k3.metric("Days since last purchase", f"{row['recency_days']}")
    k4.metric("Scored by", f"v{row['model_version']}", help=f"as of {row['as_of_date']}")

    attributes = published.customer_rows(console_data.ATTRIBUTES, customer_id)
    if attributes is None or attributes.empty:
        published.missing(
            "Attributes",
            "this data has no customer attributes (country, segment) for this customer; "
            "the model scores them as unknown.",
        )
    else:
        current = attributes.iloc[0]
        st.write(
            f"**Country** {current['country']} · **segment** {current['segment']} "
            f"(since {pd.Timestamp(current['valid_from']).date()})"
        )
    why(customer_id, (manifest.get("console") or {}).get("contributions"))
    history(customer_id)


main()
