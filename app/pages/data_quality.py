"""Data quality: dbt's tests, the feature quality gate, rejected input rows, and how fresh
each published table is."""

from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st

from app import published
from ml.features import online_store, quality_gate
from ml.inference import console_data

STATUS_ORDER = {"fail": 0, "error": 1, "warn": 2, "skipped": 3, "pass": 4}


def _age(at: str | datetime | None) -> str:
    if at is None:
        return "never"
    stamp = pd.Timestamp(at)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp
    hours = (datetime.now(UTC) - stamp).total_seconds() / 3600
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.1f} days ago"


def dbt_tests() -> None:
    st.subheader("dbt tests of the latest build")
    results = published.checks("dbt")
    if not results or not results["checks"]:
        published.missing("dbt tests", "no dbt build has recorded its tests yet.")
        return
    tests = pd.DataFrame(results["checks"])
    counts = tests["status"].value_counts()
    columns = st.columns(4)
    for column, status in zip(columns, ("pass", "fail", "error", "warn"), strict=True):
        column.metric(status, int(counts.get(status, 0)))
    tests = tests.sort_values("status", key=lambda s: s.map(STATUS_ORDER).fillna(9))
    st.caption(f"{len(tests)} tests, run {results['at']}.")
    st.dataframe(tests, hide_index=True, width="stretch")


def quality_checks() -> None:
    st.subheader("Feature quality gate")
    results = published.checks("feature_quality")
    if not results or not results["checks"]:
        published.missing("Quality gate", "the gate has not run yet.")
        return
    checks = pd.DataFrame(results["checks"])
    failed = int((~checks["passed"]).sum())
    if failed:
        st.error(f"{failed} of {len(checks)} checks failed at {results['at']}.")
    else:
        st.success(f"All {len(checks)} checks passed at {results['at']}.")
    st.dataframe(checks, hide_index=True, width="stretch")


def rejected(manifest: dict) -> None:
    st.subheader("Rejected input rows")
    daily = published.frame(console_data.REJECTED_DAILY)
    if daily is None or daily.empty:
        st.success(
            f"No input row was rejected ({manifest.get('rejected_rows', 0)} in the warehouse).",
            icon=":material/check_circle:",
        )
        return
    st.altair_chart(
        alt.Chart(daily)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="rejected on"),
            y=alt.Y("rows:Q", stack=True),
            color=alt.Color("reject_reason:N", title="reason"),
            tooltip=["day:T", "reject_reason:N", "rows:Q"],
        ),
        width="stretch",
    )
    examples = published.frame(console_data.REJECTED_EXAMPLES)
    if examples is not None and len(examples):
        st.caption(
            f"The latest {console_data.EXAMPLES_PER_REASON} rows per reason, as they were in "
            "the file (source and row number)"
        )
        st.dataframe(examples, hide_index=True, width="stretch")


def freshness(manifest: dict, report: dict | None) -> None:
    st.subheader("Freshness of what is published")
    home = published.home()
    features = quality_gate.read_publication(home)
    online = online_store.store_path(home)
    rows = [
        {
            "published": "predictions and dashboard snapshot",
            "data as of": manifest["predictions"]["as_of"],
            "written at": manifest["published_at"],
        },
        {
            "published": "feature store (published/feature_store.duckdb)",
            "data as of": "",
            "written at": (features or {}).get("published_at"),
        },
        {
            "published": "monitoring report",
            "data as of": max(
                (r["as_of_date"] for r in (report or {}).get("drift") or []), default=None
            ),
            "written at": (report or {}).get("generated_at"),
        },
    ]
    if online.exists():
        rows.append(
            {
                "published": "online store",
                "data as of": "",
                "written at": datetime.fromtimestamp(online.stat().st_mtime, UTC).isoformat(
                    timespec="seconds"
                ),
            }
        )
    frame = pd.DataFrame(rows)
    frame["age"] = frame["written at"].map(_age)
    st.dataframe(frame, hide_index=True, width="stretch")
    tables = pd.DataFrame(
        {"table": list(manifest["tables"]), "rows": list(manifest["tables"].values())}
    )
    st.caption(
        "Rows per warehouse table at the last publication (a table that shrank or stayed "
        "empty shows here first)"
    )
    st.altair_chart(
        alt.Chart(tables)
        .mark_bar()
        .encode(
            # symlog, not log: bars start at 0, which a log scale cannot place
            x=alt.X(
                "rows:Q",
                scale=alt.Scale(type="symlog"),
                title="rows (log scale)",
                axis=alt.Axis(
                    values=[0, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000], format="~s"
                ),
            ),
            y=alt.Y("table:N", title=None, axis=alt.Axis(labelLimit=300)),
            color=alt.Color("schema:N", title="schema"),
            tooltip=["table:N", alt.Tooltip("rows:Q", format=",")],
        )
        .transform_calculate(schema="split(datum.table, '.')[0]"),
        width="stretch",
    )


def main() -> None:
    st.title("Data quality")
    if published.nothing_published():
        return
    manifest = published.manifest()
    freshness(manifest, published.monitoring())
    left, right = st.columns(2)
    with left:
        dbt_tests()
    with right:
        quality_checks()
    rejected(manifest)


main()
