"""The dbt manifest is replaced whole: `fti ui` parses the project as it starts, while other
processes (a pipeline run, the suite's second worker) are loading the Dagster definitions
from the same file."""

import json
import threading

from orchestration.lib.dbt_project import prepare


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
