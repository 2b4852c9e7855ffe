"""Real pipeline runs in processes of their own, for the crash tests to kill.

A fork server: this process pays the imports once, then forks one child per
line read from stdin, each child a whole run of `fti demo`'s job in its own process group
(with its dbt subprocess), optionally told to stall at a point (``ml.common.faults``). It answers
``<pid>`` when a child starts and ``exit <code>`` when it ends; the test kills children with
SIGKILL. One model family and one validation fold keep runs short: what is under test is
where a run can die, not the model.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `tests`
from tests.helpers import LIGHT_TRAINING  # noqa: E402


def serve(customers: int, seed: int) -> None:
    from orchestration.runner import load_definitions, prepare_environment, run_pipeline

    prepare_environment()
    load_definitions()  # the expensive part (imports, the dbt manifest), shared by children

    for line in sys.stdin:
        stall = line.strip()
        pid = os.fork()
        if pid == 0:
            os.setsid()
            os.dup2(2, 1)  # the run's own output (dbt's) must not mix with the answers
            if stall != "-":
                os.environ["FTI_STALL_AT"] = stall
            code = 1
            try:
                ok, detail = run_pipeline(customers=customers, seed=seed, training=LIGHT_TRAINING)
                print(detail, file=sys.stderr)
                code = 0 if ok else 1
            finally:
                sys.stderr.flush()
                os._exit(code)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
