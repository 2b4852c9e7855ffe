"""Counts on the command line are refused by argparse before any run starts."""

import pytest

from orchestration.cli import parser


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["demo", "--customers", "0"], "argument --customers: 0 is below 1"),
        (["demo", "--customers", "-5"], "argument --customers: -5 is below 1"),
        (["demo", "--customers", "many"], "argument --customers: 'many' is not a whole number"),
        (["simulate", "--days", "0"], "argument --days: 0 is below 1"),
        (["simulate", "--step", "0"], "argument --step: 0 is below 1"),
        (["serve", "--workers", "0"], "argument --workers: 0 is below 1"),
    ],
)
def test_a_count_below_one_is_refused(argv, said, capsys):
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_counts_as_given():
    assert parser().parse_args(["demo", "--customers", "1"]).customers == 1
    assert parser().parse_args(["simulate", "--days", "30", "--step", "1"]).step == 1
