"""No secrets in the repository; every setting comes from the environment with a safe default."""

import re
import subprocess

import pytest

from ml.common.settings import REPO_ROOT, paths
from orchestration.cli import parser

# Built from pieces so that this file does not match itself.
SECRET_PATTERNS = {
    "private key": "-----BEGIN " + r"[A-Z ]*PRIVATE KEY-----",
    "AWS access key id": "AK" + r"IA[0-9A-Z]{16}",
    "GitHub token": "gh" + r"[pousr]_[A-Za-z0-9]{36}",
    "Slack token": "xox" + r"[baprs]-[A-Za-z0-9-]{10,}",
    "credentials in a URL": r"[a-z+]+://[^/\s:@'\"]+:[^/\s:@'\"]+@",
    "password assignment": (
        r"(?i)\b(password|passwd|secret|api_key|token)\s*[:=]\s*['\"][^'\"]{4,}['\"]"
    ),
    "package registry host": r"(?i)\b(pypi\.org|files\.pythonhosted\.org|registry\.npmjs\.org)\b",
}


def tracked_files():
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [REPO_ROOT / name for name in listed.stdout.splitlines()]


SAMPLES = {
    "private key": "-----BEGIN " + "RSA PRIVATE KEY-----",
    "AWS access key id": "AK" + "IAABCDEFGHIJKLMNOP",
    "GitHub token": "gh" + "p_" + "a" * 36,
    "Slack token": "xox" + "b-1234567890-abc",
    "credentials in a URL": "postgresql://" + "admin:hunter2@db:5432/x",
    "password assignment": "pass" + 'word = "hunter22"',
    "package registry host": "https://" + "pypi" + ".org/simple",
}


@pytest.mark.parametrize("what", sorted(SECRET_PATTERNS))
def test_each_pattern_catches_its_kind(what):
    assert re.search(SECRET_PATTERNS[what], SAMPLES[what])


def test_no_tracked_file_holds_a_secret_or_a_registry_host():
    found = []
    for path in tracked_files():
        if not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        for what, pattern in SECRET_PATTERNS.items():
            for match in re.finditer(pattern, text):
                found.append(f"{path.relative_to(REPO_ROOT)}: {what}: {match.group(0)[:40]}")
    assert found == []


def test_no_data_or_local_state_is_tracked():
    names = [str(p.relative_to(REPO_ROOT)) for p in tracked_files()]
    local = [
        n
        for n in names
        if n.startswith(("data/", ".venv/", "mlruns/"))
        or n.endswith((".duckdb", ".sqlite", ".db", ".skops", ".pkl", ".env", "uv.lock"))
    ]
    assert local == []


def test_settings_default_to_a_local_home_and_loopback(monkeypatch):
    for var in ("FTI_HOME", "FTI_WAREHOUSE", "MLFLOW_TRACKING_URI", "DAGSTER_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert paths().home == (REPO_ROOT / "data").resolve()
    monkeypatch.setenv("FTI_HOME", "/tmp/elsewhere")
    assert paths().tracking_uri == "sqlite:////tmp/elsewhere/mlflow/mlflow.db"
    # Every server the CLI starts listens on loopback unless told otherwise.
    for command in ("serve", "ui", "dashboard", "docs", "mlflow"):
        assert parser().parse_args([command]).host == "127.0.0.1", command
