"""One base class for every error a user can cause or fix, with what it means to each front end.

The CLI exits with ``exit_code`` and prints the message; the API answers ``http_status`` with
the message as its detail. Both map errors in one place (``orchestration/cli`` and
``app/api.py``) by reading these attributes, so a new error needs no new handler.
"""

from __future__ import annotations


class FtiError(Exception):
    """An error whose message tells the user what is wrong and what to do about it."""

    exit_code = 2  # the CLI's "bad input or state" code; 1 is a failed pipeline run
    http_status = 400

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class NotFound(FtiError):
    """Something asked for by name or id does not exist."""

    http_status = 404


class NotReady(FtiError):
    """Nothing can be served yet (no champion, no online store); the message says what to run."""

    http_status = 503


class WarehouseBusy(FtiError):
    """A pipeline run holds the DuckDB warehouse open for writing."""

    exit_code = 3
    http_status = 503
