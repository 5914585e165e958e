"""``baton compare --demo``: the bundled suite, three scripted policies, figures that follow
from the seeded draws, a report, and a plain word that the models are scripted."""

from __future__ import annotations

import json
import sys

from baton.compare.demo import POLICIES, TASKS, demo_script
from baton.gateway.script import Script


def _expected(trials: int) -> dict[str, dict[str, int]]:
    """What each policy must score, from the script's own seeded draws: the strong coder's
    second variant is a wrong patch (false go); the cheap coder's third is a wrong patch
    that the approving reviewer lets through (false go) and the strict reviewer sends back
    until mended (success); the strict reviewer's second blocks a good patch (false no-go)."""
    script = Script.model_validate(demo_script(f"{sys.executable} -m unittest"))
    large, small = script.models["acme/coder-large"], script.models["acme/coder-small"]
    want = {p: {"successes": 0, "false_go": 0, "false_no_go": 0} for p in POLICIES}
    for task in TASKS:
        for n in range(1, trials + 1):
            if large.pick(f"{task}--strong--{n}")[0] == 0:
                want["strong"]["successes"] += 1
            else:
                want["strong"]["false_go"] += 1
            if small.pick(f"{task}--cheap--{n}")[0] in (0, 1):
                want["cheap"]["successes"] += 1
            else:
                want["cheap"]["false_go"] += 1
            if small.pick(f"{task}--cheap-reviewed--{n}")[0] == 1:
                want["cheap-reviewed"]["false_no_go"] += 1
            else:
                want["cheap-reviewed"]["successes"] += 1
    return want


def test_compare_demo_runs_the_bundled_suite_and_scores_what_the_draws_say(baton, tmp_path):
    out = tmp_path / "demo"
    proc = baton("compare", "--demo", "--trials", "2", "--out", str(out), "--json",
                 timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert "scripted" in summary["note"]
    assert summary["planned"] == summary["finished"] == len(TASKS) * len(POLICIES) * 2 == 24
    for policy, want in _expected(2).items():
        got = summary["policies"][policy]
        assert {k: got[k] for k in want} == want, policy
        assert got["errors"] == 0 and got["trials"] == 8
    strong, cheap = summary["policies"]["strong"], summary["policies"]["cheap"]
    assert cheap["cost_per_task_usd"] < summary["policies"]["cheap-reviewed"][
        "cost_per_task_usd"] < strong["cost_per_task_usd"]
    # every trial's scoring ran the hidden checks, which never reached a model
    results = [json.loads(line) for line in (out / "comparison" / "results.jsonl").open()]
    assert all(r["checks"] and "test_hidden.py" in r["checks"][0]["command"] for r in results)
    assert (out / "comparison" / "report.html").read_text().count('class="trial"') == 24
    assert not any((out / "suite" / "toolkit" / "tests").glob("test_hidden*"))


def test_compare_demo_says_the_models_are_scripted_and_prints_the_table(baton, tmp_path):
    proc = baton("compare", "--demo", "--trials", "1", "--out", str(tmp_path / "d"),
                 timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "scripted" in proc.stderr and "scripted" in proc.stdout
    assert "cheap-reviewed" in proc.stdout and "McNemar exact p" in proc.stdout
    assert "fewer than 30 trials" in proc.stdout


def test_compare_demo_refuses_a_suite_or_a_used_folder(baton, tmp_path):
    proc = baton("compare", "--demo", "suite.toml")
    assert proc.returncode == 2 and "--demo brings its own suite" in proc.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    proc = baton("compare", "--demo", "--out", str(tmp_path / "full"))
    assert proc.returncode == 2 and "not empty" in proc.stderr
    assert (tmp_path / "full" / "x").read_text() == "mine"
    proc = baton("compare", "--trials", "2")
    assert proc.returncode == 2 and "baton compare --demo" in proc.stderr
