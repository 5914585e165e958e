"""One approval rule for ``baton run`` and ``baton review``: an approval is for a tree and
the rules that fired on it. The same scenario through both: a CI file changed stops for a
person; the approval is given with a stricter setting, so a new rule fires on the same
tree and stops again naming only that rule; a second approval goes. Same event shape,
same message."""

from __future__ import annotations

from pathlib import Path

from buggy_project import RIGHT_FIX, approve, run_task, script
from conftest import REVIEWER, events, run_json

CI = ".github/workflows/ci.yml"
STRICTER = ("--set", "approval.max_diff_lines=1")


def _through_approvals(baton, repo: Path, first) -> list[dict]:
    """The scenario after the first stop; returns the approval.required events."""
    assert first.returncode == 3, first.stdout + first.stderr
    result = run_json(first)
    run_id = result["run_id"]
    message = result["reasons"][0]
    assert message.startswith(f"run {run_id} needs a person's approval ")
    assert f"touched path '{CI}' (added) matches approval glob" in message
    assert "max_diff_lines" not in message
    assert f"then `baton approve {run_id}` or `baton reject {run_id} --reason ...`" in message

    again = baton("approve", run_id, "--repo", str(repo), "--json", *STRICTER)
    assert again.returncode == 3, again.stdout + again.stderr
    message = "\n".join(run_json(again)["reasons"])
    assert message.startswith(f"run {run_id} needs a person's approval ")
    assert "exceeds max_diff_lines 1" in message
    assert CI not in message  # approved already on this tree: not asked twice

    done = baton("approve", run_id, "--repo", str(repo), "--json", *STRICTER)
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_json(done)["decision"] == "go"
    return [e for e in events(Path(result["run_dir"])) if e["type"] == "approval.required"]


def _shape(event: dict) -> set[str]:
    return set(event) - {"seq", "ts", "run_id", "step"}


def test_one_rule_one_event_one_message_in_run_and_review(baton, buggy_repo, sample_repo):
    ci = "on: push\njobs: {}\n"  # two lines: over max_diff_lines = 1
    baton.serve(script([RIGHT_FIX + f"\n{CI}\n<<<<<<< FILE\n{ci}>>>>>>> FILE\n"],
                       [approve()]))
    run = _through_approvals(baton, buggy_repo, run_task(baton, buggy_repo))

    (sample_repo / CI).parent.mkdir(parents=True)
    (sample_repo / CI).write_text(ci)
    baton.serve({"models": {REVIEWER: [{"content": approve()}]}})
    review = _through_approvals(baton, sample_repo, baton(
        "review", "--repo", str(sample_repo), "--json", "--uncommitted"))

    for events_ in (run, review):
        assert len(events_) == 2
        assert any(CI in r for r in events_[0]["rules"])
        assert events_[0]["approved_before"] == []
        assert events_[1]["rules"] and all("max_diff_lines" in r for r in events_[1]["rules"])
        assert any(CI in r for r in events_[1]["approved_before"])
    assert [_shape(e) for e in run] == [_shape(e) for e in review]
