"""Unit tests of the pieces `baton run` and `baton review` share: the decision, the flags'
settings, and the words both trace readers use for lines they skip."""

from __future__ import annotations

import pytest

from baton.cli.common import overrides_from, parse_setting
from baton.errors import UserError
from baton.gate import EXIT, decide
from baton.models import CommandEvidence
from baton.runs.stats import MAX_LINE_WARNINGS, skipped_lines


def evidence(command: str, exit_code: int | None, *, ran: bool = True,
             timed_out: bool = False) -> CommandEvidence:
    return CommandEvidence(command=command, source="config", ran=ran, exit_code=exit_code,
                           timed_out=timed_out)


def test_go_only_when_every_command_that_ran_exited_0():
    decision, reasons = decide([evidence("pytest", 0), evidence("ruff", None, ran=False)])
    assert decision == "go" and EXIT[decision] == 0
    assert reasons == ["review approved and 1 verification command(s) exited 0"]


def test_no_go_names_each_failed_command_and_how_it_failed():
    decision, reasons = decide([evidence("pytest", 1), evidence("mypy", None, timed_out=True),
                                evidence("ruff", 0)])
    assert decision == "no-go" and EXIT[decision] == 1
    assert reasons == ["`pytest` exited 1", "`mypy` timed out"]


def test_no_go_when_nothing_ran():
    decision, reasons = decide([evidence("pytest", None, ran=False)])
    assert decision == "no-go"
    assert "no verification command ran" in reasons[0]


def test_flags_become_one_settings_layer():
    out = overrides_from(0.5, None, 1000, None, True,
                         ("role_limits.implementer.max_cost_usd=0.25", "policy=cheap"))
    assert out == {"role_limits": {"implementer": {"max_cost_usd": 0.25}}, "policy": "cheap",
                   "limits": {"max_cost_usd": 0.5, "max_tokens": 1000},
                   "allow_model_commands": True}
    assert overrides_from(None, None, None, None, False) == {}


def test_a_setting_without_a_key_is_refused_with_an_example():
    with pytest.raises(UserError, match="use KEY=VALUE"):
        parse_setting("max_fix_rounds")
    assert parse_setting("a.b= not toml ") == {"a": {"b": "not toml"}}


def test_closing_warnings_of_a_file():
    assert skipped_lines("t.jsonl", MAX_LINE_WARNINGS, 0) == []
    assert skipped_lines("t.jsonl", MAX_LINE_WARNINGS + 3, 2) == [
        "t.jsonl: 3 more damaged lines skipped",
        "t.jsonl: 2 lines are not baton trace events (no 'type'); skipped"]
