"""The dbt manifest is replaced whole: `fti ui` parses the project as it starts, while other
processes (a pipeline run, the suite's second worker) are loading the Dagster definitions
from the same file."""

import json
import shutil
import threading

import pytest
from dagster_dbt import DbtProject

from ml.common.settings import DBT_PROJECT_DIR
from orchestration.lib.dbt_project import DbtProjectError, parse, prepare


def test_a_parse_replaces_the_manifest_in_one_step(fti_home, dbt_manifest):
    replaced = dbt_manifest.stat().st_ino
    held = dbt_manifest.open()  # a reader that opened it just before the parse
    reads: list[object] = []
    stop = threading.Event()

    def read_while_parsing():
        while not stop.is_set():
            try:
                reads.append(len(json.loads(dbt_manifest.read_text())["nodes"]))
            except ValueError as error:  # half a file
                reads.append(error)

    reader = threading.Thread(target=read_while_parsing)
    reader.start()
    try:
        prepare()
    finally:
        stop.set()
        reader.join()
    with held:
        old = json.loads(held.read())
    new = json.loads(dbt_manifest.read_text())
    assert dbt_manifest.stat().st_ino != replaced
    assert old["nodes"].keys() == new["nodes"].keys()
    assert reads and all(count == len(new["nodes"]) for count in reads), [
        r for r in reads if not isinstance(r, int)
    ][:3]
    assert not list(dbt_manifest.parent.glob("parse-*"))


def test_a_project_that_does_not_parse_is_named_and_the_last_manifest_kept(fti_home, tmp_path):
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    project = DbtProject(copy, profiles_dir=copy, target_path="target/fti")
    parse(project)
    good = project.manifest_path.read_bytes()
    model = copy / "models" / "intermediate" / "int_customer_daily.sql"
    model.write_text('{{ ref("no_such_model") }}\n' + model.read_text())
    with pytest.raises(DbtProjectError) as raised:
        parse(project)
    assert "int_customer_daily" in raised.value.message
    assert "depends on a node named 'no_such_model'" in raised.value.message
    assert project.manifest_path.read_bytes() == good
    assert "no_such_model" in (project.manifest_path.parent / "dbt.log").read_text()
    assert not list(project.manifest_path.parent.glob("parse-*"))
