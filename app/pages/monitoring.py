"""Monitoring: whether the inputs and the scores drifted, whether the model still performs,
how the online service behaves, and whether retraining was asked for."""

import altair as alt
import pandas as pd
import streamlit as st

from app import published
from ml.monitoring.drift import PREDICTION, PSI_ALERT, PSI_WARN

STATUS_COLORS = alt.Scale(domain=["ok", "warn", "alert"], range=["#2ca02c", "#ff9f1c", "#d62728"])


def retraining(report: dict) -> None:
    request = report.get("retraining") or {}
    if request.get("requested"):
        st.warning(
            f"Retraining requested at {request.get('raised_at')} for scoring date "
            f"{request.get('as_of_date')}: {request.get('reason')}. The `retraining_requests` "
            "sensor (or `fti retrain`) answers it.",
            icon=":material/model_training:",
        )
    else:
        st.success("No retraining request is open.", icon=":material/check_circle:")


def drift(rows: pd.DataFrame) -> None:
    st.subheader("Input drift: PSI by feature and scoring date")
    inputs = rows[rows["feature"] != PREDICTION].copy()
    inputs["feature"] = inputs["feature"].str.split("__").str[-1]
    st.caption(
        f"Against the serving model's training reference; warn at PSI {PSI_WARN}, alert at "
        f"{PSI_ALERT}. Hover a cell for JS distance, KS and the null-rate change."
    )
    st.altair_chart(
        alt.Chart(inputs)
        .mark_rect()
        .encode(
            x=alt.X("as_of_date:O", title="scoring date"),
            y=alt.Y("feature:N", title=None),
            color=alt.Color("psi:Q", scale=alt.Scale(scheme="orangered", domainMax=PSI_ALERT * 2)),
            stroke=alt.Stroke("status:N", scale=STATUS_COLORS),
            tooltip=["as_of_date", "feature", "psi", "js", "ks", "null_rate_change", "status"],
        ),
        width="stretch",
    )
    scores = rows[rows["feature"] == PREDICTION]
    if len(scores):
        st.subheader("Prediction drift")
        st.altair_chart(
            alt.Chart(scores)
            .mark_line(point=True)
            .encode(
                x=alt.X("as_of_date:T", title="scoring date"),
                y=alt.Y("psi:Q", title="PSI of the scores"),
                color=alt.Color("model_version:N", title="model version"),
                tooltip=["as_of_date", "model_version", "psi", "js", "ks", "status"],
            )
            + alt.Chart(pd.DataFrame({"y": [PSI_WARN, PSI_ALERT]}))
            .mark_rule(strokeDash=[4, 4], color="gray")
            .encode(y="y:Q"),
            width="stretch",
        )


def performance(report: dict) -> None:
    st.subheader("Realized and estimated performance")
    realized = pd.DataFrame(report.get("realized") or [])
    estimated = pd.DataFrame(report.get("estimated") or [])
    metric = "active_precision_top_decile"
    lines = []
    if len(realized):
        lines.append(
            realized.assign(kind="realized")[["as_of_date", "model_version", "kind", metric]]
        )
    if len(estimated) and metric in estimated:
        lines.append(
            estimated.assign(kind="estimated")[["as_of_date", "model_version", "kind", metric]]
        )
    if not lines:
        published.missing("Performance", "no scoring date has been evaluated yet.")
        return
    if realized.empty:
        published.missing(
            "Realized performance",
            "no scoring date's outcomes are known yet (a customer's churn is known 90 days "
            "after the date); the estimates below assume the scores are calibrated.",
        )
    st.caption(
        "Precision among the top tenth by risk, over active customers, per model version: "
        "realized once outcomes are known, estimated from the scores before."
    )
    st.altair_chart(
        alt.Chart(pd.concat(lines))
        .mark_line(point=True)
        .encode(
            x=alt.X("as_of_date:T", title="scoring date"),
            y=alt.Y(f"{metric}:Q", title="top-decile precision", scale=alt.Scale(zero=False)),
            color=alt.Color("model_version:N", title="model version"),
            strokeDash=alt.StrokeDash("kind:N"),
            tooltip=["as_of_date", "model_version", "kind", metric],
        ),
        width="stretch",
    )
    if len(realized) and "active_roc_auc" in realized:
        st.caption(
            "Realized ROC AUC over active customers (comparable to the holdout's) per version"
        )
        st.altair_chart(
            alt.Chart(realized)
            .mark_line(point=True)
            .encode(
                x=alt.X("as_of_date:T", title="scoring date"),
                y=alt.Y("active_roc_auc:Q", title="realized ROC AUC", scale=alt.Scale(zero=False)),
                color=alt.Color("model_version:N", title="model version"),
                tooltip=["as_of_date", "model_version", "active_rows", "active_roc_auc"],
            ),
            width="stretch",
        )
        st.dataframe(
            realized[
                [
                    "as_of_date",
                    "model_version",
                    "active_rows",
                    "active_roc_auc",
                    "active_pr_auc",
                    "active_precision_top_decile",
                    "active_brier",
                ]
            ],
            hide_index=True,
            width="stretch",
        )


def online(report: dict) -> None:
    st.subheader("Online service")
    latest = report.get("online") or {}
    history = pd.DataFrame(report.get("online_history") or [])
    if len(history):
        history["measured_at"] = pd.to_datetime(history["measured_at"])
    if not latest.get("requests"):
        published.missing(
            "Online service",
            "the API has logged no request yet (`fti serve`, then POST /predict).",
        )
        return
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("Requests", f"{latest['requests']:,}")
    k2.metric("p50 latency", f"{latest['p50_ms']:.2f} ms")
    k3.metric("p99 latency", f"{latest['p99_ms']:.2f} ms")
    k4.metric("Error rate", f"{(latest.get('error_rate') or 0):.2%}")
    left, right = st.columns(2)
    with left:
        if len(history.dropna(subset=["p50_ms"])):
            st.caption("Latency per measurement (each monitoring run)")
            lat = history.melt(
                id_vars="measured_at",
                value_vars=["p50_ms", "p95_ms", "p99_ms"],
                var_name="percentile",
                value_name="ms",
            )
            st.altair_chart(
                alt.Chart(lat.dropna())
                .mark_line(point=True)
                .encode(x=alt.X("measured_at:T", title="measured"), y="ms:Q", color="percentile:N"),
                width="stretch",
            )
            st.caption("Error rate per measurement (refused requests / all)")
            # only measurements with traffic: one without any has no rate to draw
            rates = history.dropna(subset=["error_rate"])
            st.altair_chart(
                alt.Chart(rates)
                .mark_line(point=True, color="#d62728")
                .encode(
                    x=alt.X("measured_at:T", title="measured"),
                    y=alt.Y("error_rate:Q", title="error rate", axis=alt.Axis(format="%")),
                    tooltip=["measured_at:T", "requests:Q", "error_rate:Q"],
                ),
                width="stretch",
            )
    with right:
        skew = (latest.get("skew") or {}).get("features") or {}
        if skew:
            gap = latest["skew"].get("probability_gap") or {}
            st.caption(
                "Online/offline skew: share of logged requests whose feature differs from the "
                "warehouse's point-in-time value"
                + (
                    f"; online against batch probability over {gap['pairs']} pairs: mean gap "
                    f"{gap['mean_abs']:.1e}, largest {gap['max_abs']:.1e}"
                    if gap.get("pairs")
                    else ""
                )
            )
            frame = pd.DataFrame(
                {
                    "feature": [name.split("__")[-1] for name in skew],
                    "view": [name.split("__")[0] for name in skew],
                    "share differing": list(skew.values()),
                }
            )
            # points, not bars: the healthy value is 0, and a bar of 0 would not show
            st.altair_chart(
                alt.Chart(frame)
                .mark_point(filled=True, size=80)
                .encode(
                    x=alt.X("share differing:Q", scale=alt.Scale(domain=[0, 1])),
                    y=alt.Y("feature:N", title=None, axis=alt.Axis(labelLimit=260)),
                    color=alt.Color("view:N"),
                    tooltip=["view", "feature", "share differing"],
                ),
                width="stretch",
            )
        variants = pd.DataFrame(latest.get("variants") or [])
        if len(variants):
            st.caption("Champion and challenger as served")
            st.dataframe(variants, hide_index=True, width="stretch")
        elif not skew:
            published.missing("Skew", "no logged request could be compared yet.")


def main() -> None:
    st.title("Monitoring")
    if published.nothing_published():
        return
    report = published.monitoring()
    if report is None:
        published.missing("Monitoring", "no monitoring report is published yet.")
        return
    st.caption(f"Report generated {report.get('generated_at')}.")
    retraining(report)
    rows = pd.DataFrame(report.get("drift") or [])
    if rows.empty:
        published.missing("Drift", "no scoring date was measured yet.")
    else:
        drift(rows)
    performance(report)
    online(report)


main()
