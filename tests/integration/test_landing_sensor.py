"""A file dropped into landing/ while `fti ui` runs is processed with no click: the sensor is
on by default, the Dagster daemon launches the day's run, and the new day is scored."""

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from ml.ingestion.generator import continuation, write_days
from orchestration.runner import status
from tests.helpers import BIN

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dropped_file_is_scored_without_a_click(copied_home, tmp_path):
    paths = copied_home
    home = paths.home
    assert status(paths)["predictions"]["as_of"] == "2025-12-30"
    env = {**os.environ, "FTI_HOME": str(home)}
    log = open(tmp_path / "ui.log", "w")  # noqa: SIM115 - closed in finally
    ui = subprocess.Popen(
        [str(BIN / "fti"), "ui", "--port", str(_free_port())],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # The next day of the session's log, copied in the way a careful sender does: under
        # another name, then renamed into place.
        staged = tmp_path / "staged"
        written = write_days(continuation(800, seed=11, days=1), staged)
        (home / "landing").mkdir()
        for path in written:
            shutil.copy(path, home / "landing" / f".{path.name}.part")
            os.replace(home / "landing" / f".{path.name}.part", home / "landing" / path.name)

        def done() -> bool:
            # Scored and published, and the run's last step, the monitoring report, written.
            report = status(paths)
            monitoring = report["monitoring"] or {}
            return (
                report["predictions"]["as_of"] == "2025-12-31"
                and monitoring.get("drift_as_of") == "2025-12-31"
            )

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if done():
                break
            assert ui.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
            time.sleep(3)
        else:
            pytest.fail("not scored within 300 s:\n" + (tmp_path / "ui.log").read_text()[-3000:])
        assert status(paths)["health"].get("pipeline_run", {}).get("ok") is not False
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        try:
            ui.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
        log.close()
