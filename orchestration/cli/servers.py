"""`fti ui`, `fti dashboard`, `fti serve`, `fti docs`, `fti mlflow`: the long-running servers,
each on the stores under ``FTI_HOME``."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ml.common.errors import NotReady
from ml.common.settings import DBT_PROJECT_DIR, REPO_ROOT
from orchestration.cli.arguments import at_least_one
from orchestration.runner import prepare_environment

BIN = Path(sys.executable).parent


def cmd_ui(args: argparse.Namespace) -> int:
    """The Dagster UI (`dg dev`) on the instance the CLI records runs in."""
    from orchestration.lib.dbt_project import prepare

    prepare_environment()
    prepare()
    os.environ["VIRTUAL_ENV"] = str(BIN.parent)  # dg checks it runs in the project's venv
    os.chdir(REPO_ROOT)
    argv = [str(BIN / "dg"), "dev", "--host", args.host, "--port", str(args.port)]
    os.execvp(argv[0], argv)


def cmd_dashboard(args: argparse.Namespace) -> int:
    prepare_environment()
    streamlit = shutil.which("streamlit") or str(BIN / "streamlit")
    argv = [
        streamlit,
        "run",
        str(REPO_ROOT / "app" / "dashboard.py"),
        "--server.port",
        str(args.port),
        "--server.address",
        args.host,
        "--client.toolbarMode",
        "viewer",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    os.execvp(argv[0], argv)


def cmd_serve(args: argparse.Namespace) -> int:
    """The online prediction API (FastAPI on uvicorn), reading the online store and registry."""
    import uvicorn

    prepare_environment()
    os.chdir(REPO_ROOT)
    uvicorn.run(
        "app.api:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """dbt docs: the lineage and column descriptions of every feature, for analysts."""
    paths = prepare_environment()
    if not paths.warehouse.exists():
        raise NotReady("no warehouse yet: run `fti demo` first")
    dbt = str(BIN / "dbt")
    os.environ["DBT_TARGET_PATH"] = str(paths.dbt_docs)  # for generate and serve alike
    generated = subprocess.run([dbt, "docs", "generate", "--quiet"], cwd=DBT_PROJECT_DIR)
    if generated.returncode != 0:
        print(
            "fti: `dbt docs generate` failed (is a pipeline run writing the warehouse?)",
            file=sys.stderr,
        )
        return generated.returncode
    os.chdir(DBT_PROJECT_DIR)
    argv = [dbt, "docs", "serve", "--port", str(args.port), "--host", args.host, "--no-browser"]
    os.execvp(argv[0], argv)


def cmd_mlflow(args: argparse.Namespace) -> int:
    """The MLflow UI on the project's tracking store."""
    paths = prepare_environment()
    paths.mlflow_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(BIN / "mlflow"),
        "ui",
        "--backend-store-uri",
        paths.tracking_uri,
        "--default-artifact-root",
        paths.artifact_root.as_uri(),
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--workers",
        "1",  # two cores; one worker starts in seconds and is plenty for a UI
    ]
    os.execvp(argv[0], argv)


def _server(sub, name: str, help: str, port: int, func) -> argparse.ArgumentParser:
    command = sub.add_parser(name, help=help)
    command.add_argument("--port", type=int, default=port)
    command.add_argument("--host", default="127.0.0.1")
    command.set_defaults(func=func)
    return command


def add_commands(sub) -> None:
    _server(sub, "ui", "the Dagster UI on the instance the CLI records runs in", 3000, cmd_ui)
    _server(sub, "dashboard", "the Streamlit dashboard", 8501, cmd_dashboard)
    serve = _server(
        sub, "serve", "the online prediction API (POST /predict, /docs)", 8000, cmd_serve
    )
    serve.add_argument("--workers", type=at_least_one, default=1, help="uvicorn worker processes")
    _server(sub, "docs", "dbt docs: feature lineage and descriptions", 8080, cmd_docs)
    _server(sub, "mlflow", "the MLflow UI on the project's tracking store", 5000, cmd_mlflow)
