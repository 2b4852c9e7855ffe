"""Environment settings are read one way each and refused, naming the variable, when they hold
a value the project cannot use: before a command runs anything, not in the step that reads
them."""

import pytest

from ml.common import settings
from ml.common.settings import SettingError
from tests.helpers import fti


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("FTI_THREADS", "two", "FTI_THREADS=two is not a whole number of at least 1"),
        ("FTI_THREADS", "0", "FTI_THREADS=0 is not a whole number of at least 1"),
        ("FTI_THREADS", "-3", "FTI_THREADS=-3 is not a whole number of at least 1"),
        ("FTI_PARTITION_START", "2023-13-01", "FTI_PARTITION_START=2023-13-01 is not a day"),
        ("FTI_CHALLENGER_SHARE", "10%", "FTI_CHALLENGER_SHARE=10% is not a share between 0"),
        ("FTI_CHALLENGER_SHARE", "1.5", "FTI_CHALLENGER_SHARE=1.5 is not a share between 0"),
        ("FTI_CHALLENGER_SHARE", "nan", "FTI_CHALLENGER_SHARE=nan is not a share between 0"),
        ("FTI_DUCKDB_MEMORY_LIMIT", "lots", "FTI_DUCKDB_MEMORY_LIMIT=lots is not a size"),
    ],
)
def test_a_bad_value_is_refused_naming_it(monkeypatch, name, value, said):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError) as raised:
        settings.check_settings()
    assert raised.value.message.startswith(said)


def test_values_as_read(monkeypatch):
    for name in ("FTI_THREADS", "FTI_PARTITION_START", "FTI_CHALLENGER_SHARE"):
        monkeypatch.delenv(name, raising=False)
    assert settings.fitting_threads_setting() is None
    assert settings.partition_start() == "2023-01-01"
    assert settings.challenger_share() == 0.0
    monkeypatch.setenv("FTI_THREADS", " 3 ")
    monkeypatch.setenv("FTI_PARTITION_START", "2024-02-29")
    monkeypatch.setenv("FTI_CHALLENGER_SHARE", "0.25")
    settings.check_settings()
    assert settings.fitting_threads_setting() == 3
    assert settings.partition_start() == "2024-02-29"
    assert settings.challenger_share() == 0.25


def test_fti_stops_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FTI_PARTITION_START", "yesterday")
    run = fti("demo", "--customers", "200", home=tmp_path / "home")
    assert run.returncode == 2, run.stderr
    assert run.stderr == "fti: FTI_PARTITION_START=yesterday is not a day (YYYY-MM-DD)\n"
    assert not (tmp_path / "home").exists()


def test_a_home_that_cannot_be_made_is_named(tmp_path):
    (tmp_path / "a_file").write_text("")
    run = fti("status", home=tmp_path / "a_file")
    assert run.returncode == 2, run.stderr
    assert run.stderr == f"fti: FTI_HOME={tmp_path / 'a_file'} cannot hold the home: File exists\n"
