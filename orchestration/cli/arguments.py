"""Argument types shared by the commands: a bad value is refused by argparse, with the
command's usage, before any run starts (a run started on it would fail and be recorded as the
latest run's failure)."""

from __future__ import annotations

import argparse


def at_least_one(text: str) -> int:
    """A count: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value
