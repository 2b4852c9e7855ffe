"""The churn dashboard: the operator's console, five pages over what the pipeline publishes.

Every page reads only published files (``app/published.py``), never the DuckDB warehouse, so
it keeps working while a pipeline run holds the warehouse. The blocked-run banner is drawn
here, above whichever page is open.
"""

import streamlit as st

from app.published import home
from ml.monitoring import health

st.set_page_config(page_title="Customer churn", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/customer.py", title="Customer", icon=":material/person_search:"),
    st.Page("pages/model.py", title="Model", icon=":material/model_training:"),
    st.Page("pages/monitoring.py", title="Monitoring", icon=":material/monitor_heart:"),
    st.Page("pages/data_quality.py", title="Data quality", icon=":material/fact_check:"),
]


def blocked_runs() -> None:
    """Say when the latest run was stopped by a check: the pages show the last good version."""
    for stage, outcome in health.failing(home()).items():
        where = (
            "stopped" if stage == health.RUN else f"was blocked at **{stage.replace('_', ' ')}**"
        )
        st.error(
            f"The latest run ({outcome['at']}) {where}: "
            f"{outcome['detail']}. Nothing here changed: it is the last good version.",
            icon=":material/block:",
        )


page = st.navigation(PAGES)
blocked_runs()
page.run()
