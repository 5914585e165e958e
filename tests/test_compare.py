"""``baton compare`` end to end: real runs against the fake gateway, scored by hidden checks."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import fence

from baton.compare.stats import mcnemar_exact, pareto_front, percentile, wilson

PY = shlex.quote(sys.executable)
VERIFY = f"{PY} -m unittest discover -s tests"  # unittest: a tenth of pytest's start-up
ADD = 'def add(a, b):\n    return a - b\n'

def _unittest(name: str, check: str) -> str:
    return ("import unittest\n\nfrom add import add\n\n\nclass T(unittest.TestCase):\n"
            f"    def test_{name}(self):\n        self.assertTrue({check})\n")


VISIBLE = _unittest("same", "add(2, 2) == 4")
HIDDEN_POS = _unittest("pos", "add(2, 3) == 5")
HIDDEN_ZERO = _unittest("zero", "add(0, 0) == 0")

PLAN = fence({
    "summary": "add() subtracts; make it add.",
    "affected_files": [{"path": "add.py", "change": "return a + b"}],
    "risks": ["a wrong sign"], "acceptance_criteria": ["add(2, 2) == 4"], "test_commands": [VERIFY],
    "rollback": "Revert.", "risk_level": "low", "commit_message": "Fix add()",
    "packets": []})


def _edit(replace: str) -> str:
    return f"add.py\n<<<<<<< SEARCH\n    return a - b\n=======\n{replace}\n>>>>>>> REPLACE\n"


def _verdict(verdict: str) -> str:
    return fence({"verdict": verdict, "summary": f"{verdict}: reviewed",
                  "top_risks": [] if verdict == "approve" else ["I do not trust it"],
                  "required_fixes": [] if verdict == "approve" else ["start again"],
                  "verification_commands": [], "questions_for_owner": []})


SCRIPT = {"repeat_last": True, "models": {
    "acme/planner": [{"content": PLAN, "usage": {"prompt_tokens": 1000,
                                                  "completion_tokens": 200}}],
    "acme/good": [{"content": _edit("    return a + b"),
                   "usage": {"prompt_tokens": 2000, "completion_tokens": 100}}],
    "acme/cheap": [{"content": _edit("    return a * b"),
                    "usage": {"prompt_tokens": 2000, "completion_tokens": 100}}],
    "other/reviewer": [{"content": _verdict("approve"),
                        "usage": {"prompt_tokens": 1500, "completion_tokens": 100}}],
    "other/blocker": [{"content": _verdict("block"),
                       "usage": {"prompt_tokens": 1500, "completion_tokens": 100}}],
}}

CONFIG = """
[limits]
max_cost_usd = 0.05

[policies.strong]
planner = { model = "acme/planner" }
implementer = { model = "acme/good" }
reviewer = { model = "other/reviewer" }

[policies.cheap]
planner = { model = "acme/planner" }
implementer = { model = "acme/cheap" }
reviewer = { model = "other/reviewer" }

[policies.blocking]
planner = { model = "acme/planner" }
implementer = { model = "acme/good" }
reviewer = { model = "other/blocker" }
""" + "".join(f'\n[prices."{m}"]\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\n'
              for m in SCRIPT["models"])


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost",
                    "-c", "init.defaultBranch=main", *args], cwd=repo, check=True,
                   capture_output=True)


def make_suite(tmp: Path) -> Path:
    repo = tmp / "calc"
    (repo / "tests").mkdir(parents=True)
    (repo / "add.py").write_text(ADD)
    (repo / "tests" / "test_add.py").write_text(VISIBLE)
    (repo / ".gitignore").write_text("__pycache__/\n")
    (repo / "baton.toml").write_text(f"verify_commands = [{json.dumps(VERIFY)}]\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "add subtracts")
    hidden = tmp / "hidden"
    hidden.mkdir()
    (hidden / "test_pos.py").write_text(HIDDEN_POS)
    (hidden / "test_zero.py").write_text(HIDDEN_ZERO)
    (tmp / "compare.toml").write_text(CONFIG)
    check = f"{PY} -m unittest tests/test_hidden.py"
    suite = tmp / "suite.toml"
    suite.write_text('config = "compare.toml"\n' + "".join(
        f'\n[[task]]\nid = "{name}"\nrepo = "calc"\nbase = "main"\n'
        f'task = "Fix add(): it must return the sum."\nchecks = [{json.dumps(check)}]\n'
        f'check_files = {{ "tests/test_hidden.py" = "hidden/test_{name}.py" }}\n'
        for name in ("pos", "zero")))
    return suite


def test_statistics_are_the_textbook_values():
    assert wilson(6, 6) == pytest.approx((0.6096657, 1.0), abs=1e-6)
    assert wilson(3, 6) == pytest.approx((0.1876163, 0.8123837), abs=1e-6)
    assert wilson(0, 6) == pytest.approx((0.0, 0.3903343), abs=1e-6)
    assert wilson(0, 0) == (0.0, 1.0)
    assert mcnemar_exact(3, 0) == pytest.approx(0.25)
    assert mcnemar_exact(6, 0) == pytest.approx(2 / 64)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    assert percentile([3, 1, 2, 4], 50) == 2 and percentile([3, 1, 2, 4], 95) == 4
    assert percentile([], 50) is None
    assert pareto_front({"a": (1.0, 0.5), "b": (2.0, 0.9), "c": (2.0, 0.5)}) == ["a", "b"]


def test_compare_three_policies_with_honest_figures(baton, tmp_path):
    suite = make_suite(tmp_path)
    gw = baton.serve(SCRIPT)
    out = tmp_path / "cmp"
    proc = baton("compare", str(suite), "--policies", "strong,cheap,blocking",
                 "--trials", "3", "--concurrency", "3", "--out", str(out), "--json",
                 timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["planned"] == 18 and summary["finished"] == 18 and summary["not_run"] == 0
    strong, cheap, blocking = (summary["policies"][p] for p in ("strong", "cheap", "blocking"))
    assert (strong["successes"], strong["go"], strong["false_go"]) == (6, 6, 0)
    assert strong["success_interval_95"] == pytest.approx([0.6096657, 1.0], abs=1e-6)
    assert (cheap["go"], cheap["checks_passed"], cheap["successes"], cheap["false_go"]) \
        == (6, 3, 3, 3)
    assert cheap["false_go_rate"] == 0.5
    assert cheap["success_interval_95"] == pytest.approx([0.1876163, 0.8123837], abs=1e-6)
    assert (blocking["go"], blocking["successes"], blocking["false_no_go"]) == (0, 0, 6)
    assert blocking["false_no_go_rate"] == 1.0
    assert blocking["success_interval_95"] == pytest.approx([0.0, 0.3903343], abs=1e-6)
    assert all(f["errors"] == 0 and f["too_few_to_trust"] for f in summary["policies"].values())
    assert strong["cost_usd"] > 0 and set(strong["by_role"]) >= {"planner", "implementer",
                                                                  "reviewer"}
    pairs = {(p["first"], p["second"]): p["p_value"] for p in summary["pairs"]}
    assert pairs[("strong", "cheap")] == pytest.approx(0.25)
    assert pairs[("strong", "blocking")] == pytest.approx(2 / 64)
    assert pairs[("cheap", "blocking")] == pytest.approx(0.25)
    assert "strong" in summary["pareto"] and "blocking" not in summary["pareto"]
    assert summary["grid"]["pos"]["cheap"] == {"trials": 3, "successes": 0}
    assert summary["grid"]["zero"]["cheap"] == {"trials": 3, "successes": 3}
    # every trial its own run, each run's requests tagged with its trial
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len({r["id"] for r in results}) == 18 and len({r["run_id"] for r in results}) == 18
    served = gw.requests()
    assert {r["trial"] for r in served} == {r["id"] for r in results}
    assert gw.in_flight.snapshot()["peak"] <= 3
    # the models never saw the hidden checks
    assert not any("test_pos" in json.dumps(r) for r in served if r.get("messages"))
    assert (out / "summary.json").exists()
    page = (out / "report.html").read_text()
    assert page.count('class="trial"') == 18 and 'id="pareto"' in page
    # a finished comparison resumed runs nothing again
    before = len(gw.requests())
    again = baton("compare", "resume", str(out), "--json", timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["finished"] == 18 and len(gw.requests()) == before


@pytest.mark.parametrize("edit, problem", [
    (lambda s: s.replace('repo = "calc"', 'repo = "nowhere"', 1), "task 'pos': repo:"),
    (lambda s: s.replace('base = "main"', 'base = "nosuch"', 1), "task 'pos': base:"),
    (lambda s: s.replace("hidden/test_pos.py", "hidden/missing.py"), "task 'pos': check_files:"),
    (lambda s: s.replace("hidden/test_pos.py", "calc/add.py"), "inside the repository"),
    (lambda s: s.replace('checks = [', 'checks = [] #', 1), "task 'pos': checks:"),
    (lambda s: s.replace('id = "zero"', 'id = "pos"'), "task 'pos': id: used by two"),
    (lambda s: s + "\n[[task]]\nid = \"x\"\nrepo = \"calc\"\ntask = \"t\"\nchecks = [\"true\"]\n"
     "colour = 1\n", "task 'x': colour: unknown field"),
    (lambda s: s.replace("[[task]]", "[[task]", 1), "not valid TOML"),
])
def test_bad_suites_are_refused_before_any_model_call(baton, tmp_path, edit, problem):
    suite = make_suite(tmp_path)
    suite.write_text(edit(suite.read_text()))
    gw = baton.serve(SCRIPT)
    proc = baton("compare", str(suite), "--policies", "strong", "--trials", "1",
                 "--out", str(tmp_path / "cmp"))
    assert proc.returncode == 2, proc.stderr
    assert problem in proc.stderr
    assert gw.requests() == []


def test_unknown_policy_and_cost_limit_without_run_limit_are_refused(baton, tmp_path):
    suite = make_suite(tmp_path)
    gw = baton.serve(SCRIPT)
    proc = baton("compare", str(suite), "--policies", "strong,nosuch", "--out",
                 str(tmp_path / "a"))
    assert proc.returncode == 2 and "unknown policy 'nosuch'" in proc.stderr
    (tmp_path / "compare.toml").write_text(CONFIG.replace("max_cost_usd = 0.05", ""))
    proc = baton("compare", str(suite), "--policies", "strong", "--max-cost", "1",
                 "--out", str(tmp_path / "b"))
    assert proc.returncode == 2 and "needs a per-run cost limit" in proc.stderr
    assert gw.requests() == []


def test_max_cost_stops_scheduling_and_says_how_many_did_not_run(baton, tmp_path):
    suite = make_suite(tmp_path)
    baton.serve(SCRIPT)
    proc = baton("compare", str(suite), "--policies", "strong", "--trials", "3",
                 "--concurrency", "1", "--max-cost", "0.06", "--out", str(tmp_path / "c"),
                 "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    # a trial costs $0.0061 and reserves its policy's per-run limit ($0.05) until it ends:
    # the third would start at 0.0122 spent + 0.05 reserved > 0.06
    assert (summary["finished"], summary["not_run"]) == (2, 4)
    assert summary["policies"]["strong"]["cost_usd"] == pytest.approx(0.0122)
    assert len(summary["not_run_trials"]) == 4


def test_init_writes_an_example_that_names_every_field(baton, tmp_path):
    proc = baton("compare", "init", str(tmp_path / "s.toml"))
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "s.toml").read_text()
    for key in ("[[task]]", "repo", "base", "task", "checks", "check_files"):
        assert key in text
    assert baton("compare", "init", str(tmp_path / "s.toml")).returncode == 2


def _workers_of(folder: Path) -> list[int]:
    """The pids of trial processes still working for the comparison in ``folder``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"baton.compare.worker" in cmdline and str(folder).encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def _traces(folder: Path) -> dict[str, list[dict]]:
    found = {}
    for trace in sorted(folder.glob("trials/*/repo/.baton/runs/*/trace.jsonl")):
        lines = trace.read_text().splitlines()
        found[trace.parent.name] = [json.loads(line) for line in lines if line.endswith("}")]
    return found


def _midway(traces: dict[str, list[dict]]) -> bool:
    """Some run has a recorded model call and has not ended."""
    return any(events[-1]["type"] != "run.end"
               and any(e["type"] == "model.call" for e in events)
               for events in traces.values() if events)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_sigkill_mid_comparison_then_resume_repeats_no_trial_and_pays_no_call_twice(
        baton, tmp_path):
    import time

    slow = json.loads(json.dumps(SCRIPT))
    for entries in slow["models"].values():
        for entry in entries:
            entry["latency_s"] = 0.4
    suite = make_suite(tmp_path)
    gw = baton.serve(slow)
    out = tmp_path / "cmp"
    proc = subprocess.Popen(
        [sys.executable, "-m", "baton", "compare", str(suite), "--policies", "strong,cheap",
         "--trials", "3", "--concurrency", "3", "--out", str(out), "--json"],
        cwd=tmp_path, env=baton.env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and (
            not results.exists() or len(results.read_text().splitlines()) < 2
            or not _midway(_traces(out))):
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    proc.kill()  # the coordinator only: its trials are stopped by the kernel's SIGTERM
    killed_at = time.time()
    proc.communicate()
    while time.monotonic() < deadline and _workers_of(out):
        time.sleep(0.05)
    assert not _workers_of(out), "trial processes outlived their coordinator"
    finished_before = [json.loads(line)["id"] for line in results.read_text().splitlines()]
    assert 2 <= len(finished_before) < 12
    traces_before = _traces(out)
    unfinished = {run: events for run, events in traces_before.items()
                  if not events or events[-1]["type"] != "run.end"}
    assert unfinished, "the kill came after every started run had finished"
    recorded = {(run, e["call_key"]) for run, events in traces_before.items() for e in events
                if e["type"] == "model.call" and e["outcome"] == "ok"}
    finished_runs = {run: events for run, events in traces_before.items()
                     if run not in unfinished}

    again = baton("compare", "resume", str(out), "--json", timeout=300)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["finished"] == 12 and summary["not_run"] == 0
    ids = [json.loads(line)["id"] for line in results.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 12, "a trial was recorded twice"
    assert ids[:len(finished_before)] == finished_before
    after = _traces(out)
    for run, events in finished_runs.items():
        assert after[run] == events, f"finished run {run} was touched by the resume"
    for run, events in unfinished.items():  # resumed by baton's resume, not started afresh
        if not any(e["type"] == "run.start" for e in events):
            continue  # killed before its run began: started again, nothing was paid
        assert run in after and after[run][-1]["type"] == "run.end"
        assert any(e["type"] == "run.resume" for e in after[run]), run
    asked_again = {(r["run"], r["call"]) for r in gw.requests() if r["ts"] > killed_at}
    assert not recorded & asked_again, f"recorded calls paid twice: {recorded & asked_again}"
    assert len(after) == 12 and (out / "summary.json").exists()
