"""`fti`: the whole system from the command line, one module per noun.

Every command resolves ``FTI_HOME`` once (``ml.common.settings``) and runs Dagster against the
instance under it (``orchestration.runner``), so runs started here are the runs ``fti ui``
shows. Errors a user can fix are ``FtiError``s: ``main`` prints their message and exits with
their code, in this one place. Commands import what only they need (MLflow's registry,
dagster-dbt) inside themselves, so `fti --help` and `fti status` do not load all of it.
"""

from __future__ import annotations

import argparse
import os
import sys

from ml.common.errors import FtiError
from orchestration.cli import features, model, monitor, pipeline, servers


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="fti", description=__doc__.splitlines()[0])
    sub = root.add_subparsers(dest="command", required=True)
    for noun in (pipeline, features, model, monitor, servers):
        noun.add_commands(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "engine", None):
        os.environ["FTI_ENGINE"] = args.engine  # read by the dbt asset and dbt's profile
    try:
        return args.func(args) or 0
    except FtiError as exc:
        print(f"fti: {exc.message}", file=sys.stderr)
        return exc.exit_code
