"""The plan as a contract: unplanned files, untouched planned files, plan commands not run."""

from __future__ import annotations

from baton.approvals import contract_rules, tampering_rules
from baton.config import Approval
from baton.evidence.contract import check_contract
from baton.models import CommandEvidence, Plan

PLAN = Plan(summary="s", affected_files=[{"path": "stats.py", "change": "c"},
                                         {"path": "./tests/test_median.py", "change": "c"}],
            risks=["r"], acceptance_criteria=["a"],
            test_commands=["python -m unittest discover -s tests", "make lint"],
            rollback="revert", risk_level="low")


def ran(command: str, yes: bool = True) -> CommandEvidence:
    return CommandEvidence(command=command, source="plan", ran=yes, exit_code=0 if yes else None,
                           reason_not_run=None if yes else "not on command_allowlist")


def test_findings_name_each_file_and_command():
    check = check_contract(PLAN, ["stats.py", "README.md"],
                           [ran("python -m unittest discover -s tests"), ran("make lint", False)])
    assert check.unplanned_files == ["README.md"]
    assert check.untouched_files == ["tests/test_median.py"]
    assert check.commands_not_run == ["make lint"]
    assert check.messages() == ["changed but not in the plan: README.md",
                                "in the plan but not changed: tests/test_median.py",
                                "plan test command did not run: make lint"]


def test_a_patch_that_keeps_the_contract_has_no_findings():
    check = check_contract(PLAN, ["tests/test_median.py", "stats.py"],
                           [ran("python -m unittest discover -s tests"), ran("make lint")])
    assert check.messages() == []
    assert check_contract(PLAN, ["stats.py", "tests/test_median.py"]).commands_not_run == []


def test_contract_rules_are_off_by_default_and_each_can_be_switched_on():
    check = check_contract(PLAN, ["stats.py", "setup.cfg"], [])
    assert contract_rules(Approval(), check) == []
    strict = Approval(unplanned_files=True, untouched_planned_files=True,
                      plan_commands_not_run=True)
    assert contract_rules(strict, check) == [
        "file 'setup.cfg' changed but the plan did not name it",
        "file 'tests/test_median.py' named by the plan was left unchanged",
        "plan test command 'python -m unittest discover -s tests' did not run",
        "plan test command 'make lint' did not run",
    ]


def test_tampering_rule_is_on_by_default():
    flags = ["test file deleted: tests/test_a.py: the whole file is gone"]
    assert tampering_rules(Approval(), flags) == ["test tampering: " + flags[0]]
    assert tampering_rules(Approval(tampering=False), flags) == []
