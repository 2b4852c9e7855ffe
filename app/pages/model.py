"""Model: which version serves, how it got there, and how it did on its holdout."""

import json

import altair as alt
import pandas as pd
import streamlit as st

from app import published
from ml.inference import console_data

METRICS = ("roc_auc", "pr_auc", "precision", "recall", "brier", "top_decile_lift")


def versions_table(versions: list[dict]) -> pd.DataFrame:
    rows = []
    for v in versions:
        rows.append(
            {
                "version": int(v["version"]),
                "family": v.get("family"),
                "aliases": ", ".join(v.get("aliases") or []),
                "gate": v.get("gate"),
                **{m: (v.get("metrics") or {}).get(m) for m in METRICS},
                "feature views": ", ".join(
                    f"{k} {val.split(':')[0]}" for k, val in (v.get("feature_views") or {}).items()
                ),
                "registered": v.get("created"),
                "gate reason": v.get("gate_reason"),
            }
        )
    return pd.DataFrame(rows)


def timeline(versions: list[dict], moves: list[dict]) -> alt.Chart:
    events = [
        {
            "at": v["created"],
            "version": int(v["version"]),
            "event": f"registered ({v.get('gate')})",
            "detail": v.get("gate_reason") or "",
        }
        for v in versions
    ] + [
        {
            "at": m["at"],
            "version": int(m["version"]),
            "event": "rollback" if m["reason"].startswith("rollback") else "became champion",
            "detail": m["reason"],
        }
        for m in moves
    ]
    frame = pd.DataFrame(events)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return (
        alt.Chart(frame)
        .mark_point(size=120, filled=True)
        .encode(
            x=alt.X("at:T", title="time (UTC)"),
            y=alt.Y("version:O", title="model version", sort="descending"),
            yOffset=alt.YOffset("event:N"),  # a registration and a promotion at once both show
            color=alt.Color("event:N"),
            shape=alt.Shape("event:N"),
            tooltip=["at:T", "version:O", "event:N", "detail:N"],
        )
    )


def evaluation(champion: dict) -> None:
    st.subheader(f"Champion v{champion.get('version')} on its holdout")
    roc_pr = published.file(f"{console_data.EVALUATION}/roc_pr_curves.png")
    calibration = published.frame_csv(f"{console_data.EVALUATION}/calibration_curve.csv")
    lift = published.frame_csv(f"{console_data.EVALUATION}/lift_gains.csv")
    if roc_pr is None and calibration is None:
        published.missing("Evaluation", "the champion's evaluation files were not published.")
        return
    left, right = st.columns(2)
    with left:
        if roc_pr is not None:
            st.image(str(roc_pr), caption="ROC and precision-recall curves (MLflow artifact)")
    with right:
        if calibration is not None:
            st.caption("Calibration: observed churn rate against predicted probability")
            diagonal = (
                alt.Chart(pd.DataFrame({"p": [0.0, 1.0]}))
                .mark_line(strokeDash=[4, 4], color="gray")
                .encode(x="p:Q", y="p:Q")
            )
            curve = (
                alt.Chart(calibration)
                .mark_line(point=True)
                .encode(
                    x=alt.X(
                        "mean_predicted:Q", title="mean predicted", scale=alt.Scale(domain=[0, 1])
                    ),
                    y=alt.Y(
                        "observed_rate:Q", title="observed rate", scale=alt.Scale(domain=[0, 1])
                    ),
                )
            )
            st.altair_chart(diagonal + curve, width="stretch")
    left, right = st.columns(2)
    with left:
        if lift is not None:
            st.caption("Lift by decile of predicted risk (1 = the riskiest tenth)")
            st.altair_chart(
                alt.Chart(lift)
                .mark_bar()
                .encode(
                    x=alt.X("group:O", title="decile"),
                    y=alt.Y("lift:Q"),
                    tooltip=["group", "churn_rate", "cumulative_capture", "lift"],
                ),
                width="stretch",
            )
    with right:
        slices = published.frame_csv(f"{console_data.EVALUATION}/slices.csv")
        if slices is not None and len(slices):
            st.caption("ROC AUC per slice of the holdout")
            judged = slices.dropna(subset=["roc_auc"]).assign(
                label=lambda f: f["slice"] + ": " + f["group"].astype(str)
            )
            st.altair_chart(
                alt.Chart(judged)
                .mark_bar(clip=True)
                .encode(
                    x=alt.X("roc_auc:Q", scale=alt.Scale(domain=[0.5, 1])),
                    y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=220)),
                    color=alt.Color("slice:N"),
                    tooltip=["slice", "group", "rows", "base_rate", "roc_auc", "pr_auc"],
                ),
                width="stretch",
            )
            with st.expander("Slice metrics"):
                st.dataframe(slices, hide_index=True, width="stretch")


def main() -> None:
    st.title("Model")
    if published.nothing_published():
        return
    manifest = published.manifest()
    path = published.file(console_data.REGISTRY)
    registry = json.loads(path.read_text()) if path else {"versions": [], "moves": []}
    champion = manifest.get("champion")
    if not registry["versions"] or champion is None:
        published.missing("Registry", "no model version is registered yet.")
        return
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("Champion", f"v{champion['version']}", help=champion.get("family"))
    k2.metric("Holdout ROC AUC", f"{champion['metrics'].get('roc_auc', float('nan')):.3f}")
    k3.metric("Holdout PR AUC", f"{champion['metrics'].get('pr_auc', float('nan')):.3f}")
    k4.metric("Versions registered", len(registry["versions"]))
    st.caption(f"Gate: {champion.get('gate')}: {champion.get('gate_reason')}")

    st.subheader("Promotions and rollbacks")
    st.altair_chart(timeline(registry["versions"], registry["moves"]), width="stretch")
    st.subheader("Registered versions")
    st.dataframe(versions_table(registry["versions"]), hide_index=True, width="stretch")
    checks = champion.get("gate_checks") or {}
    if checks:
        with st.expander(f"The gate's checks for v{champion['version']}"):
            st.dataframe(
                pd.DataFrame({"check": list(checks), "result": list(checks.values())}),
                hide_index=True,
                width="stretch",
            )
    evaluation(champion)


main()
