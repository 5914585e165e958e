"""``baton run`` end to end: real CLI, real git, real SDK over HTTP to the fake gateway."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import (
    CANARY_KEY,
    IMPLEMENTER,
    PLANNER,
    REVIEWER,
    demo_script,
    events,
    fence,
    response,
    run_json,
    set_responses,
    snapshot,
)

TASK = "Add a median() function to stats.py, with tests."


def run(baton, repo: Path, *extra: str):
    return baton("run", TASK, "--repo", str(repo), "--json", *extra)


def approve(summary="looks right"):
    return fence({"verdict": "approve", "summary": summary, "top_risks": [],
                  "required_fixes": [], "verification_commands": [],
                  "questions_for_owner": []})


def request_changes(fix="sort the values first"):
    return fence({"verdict": "request_changes", "summary": "wrong for unsorted input",
                  "top_risks": ["wrong answer"], "required_fixes": [fix]})


def test_go_runs_request_changes_loop_and_commits_on_branch(baton, sample_repo):
    before = snapshot(sample_repo)
    gateway = baton.serve(demo_script())
    proc = run(baton, sample_repo)
    assert proc.returncode == 0, proc.stderr
    result = run_json(proc)
    assert result["decision"] == "go" and result["state"] == "done"
    assert result["branch"].startswith("baton/")
    run_dir = Path(result["run_dir"])
    assert run_dir.parent == sample_repo / ".baton" / "runs"
    assert snapshot(sample_repo) == before  # the user's tree and branch are untouched

    # One commit on the run's branch, with the plan's message, holding the patch.
    log = subprocess.run(["git", "log", "--format=%s", f"{result['branch']}"],
                         cwd=sample_repo, capture_output=True, text=True).stdout.splitlines()
    assert log[0] == "Add median() with tests" and len(log) == 2
    show = subprocess.run(["git", "show", f"{result['branch']}:stats.py"], cwd=sample_repo,
                          capture_output=True, text=True).stdout
    assert "ordered = sorted(values)" in show
    patch = (run_dir / "patch.diff").read_text()
    assert "+def median(values):" in patch and "tests/test_median.py" in patch

    kinds = [e["type"] for e in events(run_dir)]
    assert kinds[0] == "run.start" and kinds[-1] == "run.end"
    verdicts = [e["verdict"] for e in events(run_dir) if e["type"] == "review.verdict"]
    assert verdicts == ["request_changes", "approve"]
    calls = [e for e in events(run_dir) if e["type"] == "model.call"]
    assert [c["role"] for c in calls] == ["planner", "implementer", "reviewer",
                                          "implementer", "reviewer"]
    for call in calls:
        assert call["gen_ai.usage.input_tokens"] > 0 and call["latency_s"] >= 0
        assert call["cost_source"] == "gateway-body" and call["gen_ai.response.id"]
        assert (run_dir / call["prompt_file"]).is_file()
        assert (run_dir / call["response_file"]).is_file()
    # The second implementer prompt carries the reviewer's required fixes.
    second = (run_dir / calls[3]["prompt_file"]).read_text()
    assert "sort a copy of the values" in second
    assert "requested changes in round 1" in second  # the round that asked for them
    # The round-2 reviewer sees the fixes it required in round 1, to check each one.
    review2 = (run_dir / calls[4]["prompt_file"]).read_text()
    assert "The fixes you required in round 1" in review2
    assert "sort a copy of the values" in review2
    review1 = (run_dir / calls[2]["prompt_file"]).read_text()
    assert "The fixes you required" not in review1
    commands = [e for e in events(run_dir) if e["type"] == "command"]
    assert commands[0]["source"] == "config" and commands[0]["exit_code"] == 0
    not_run = [c for c in commands if not c["ran"]]
    assert not_run and all("allowlist" in c["reason_not_run"] for c in not_run)
    assert (run_dir / "summary.md").is_file() and (run_dir / "plan.json").is_file()
    assert sorted(p.name for p in (run_dir / "reviews").iterdir()) == ["p1-r1.json",
                                                                      "p1-r2.json"]
    # Every request carried the run and call headers; nothing requested twice.
    keys = [r["call"] for r in gateway.requests()]
    assert len(keys) == len(set(keys)) == 5
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert CANARY_KEY not in path.read_text(errors="replace"), path


def test_no_go_when_a_test_command_fails(baton, sample_repo):
    before = snapshot(sample_repo)
    script = demo_script()
    naive = response(script, IMPLEMENTER, 0)  # median without sorting
    tests = response(script, IMPLEMENTER, 1).split("tests/test_median.py", 1)[1]
    set_responses(script, IMPLEMENTER, [naive + "\ntests/test_median.py" + tests])
    set_responses(script, REVIEWER, [approve()])
    baton.serve(script)
    # max_fix_rounds = 0: the failure is not handed back (tests/test_fix_rounds.py does that)
    proc = run(baton, sample_repo, "--set", "max_fix_rounds=0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["decision"] == "no-go"
    assert any("exited 1" in r for r in result["reasons"]), result["reasons"]
    commands = [e for e in events(Path(result["run_dir"])) if e["type"] == "command"]
    assert commands[0]["exit_code"] == 1 and len(commands[0]["output_sha256"]) == 64
    log_file = Path(result["run_dir"]) / commands[0]["evidence_file"]
    assert "FAILED" in log_file.read_text()
    assert snapshot(sample_repo) == before
    log = subprocess.run(["git", "log", "--format=%s", result["branch"]], cwd=sample_repo,
                         capture_output=True, text=True).stdout.splitlines()
    assert len(log) == 1  # nothing committed on no-go


def test_block_ends_in_no_go(baton, sample_repo):
    before = snapshot(sample_repo)
    script = demo_script()
    set_responses(script, REVIEWER, [fence({
        "verdict": "block", "summary": "median must live in a new module per the owner",
        "top_risks": ["wrong place"], "required_fixes": [], "questions_for_owner": ["where?"]})])
    gateway = baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 1
    result = run_json(proc)
    assert result["decision"] == "no-go"
    assert "blocked by the reviewer" in result["reasons"][0]
    assert not any(e["type"] == "command" for e in events(Path(result["run_dir"])))
    assert [r["model"] for r in gateway.requests()].count(IMPLEMENTER) == 1
    assert snapshot(sample_repo) == before


def test_review_rounds_exhausted_is_no_go(baton, sample_repo):
    before = snapshot(sample_repo)
    script = demo_script()
    set_responses(script, REVIEWER, [request_changes(), request_changes("also add tests")])
    baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 1, proc.stderr
    result = run_json(proc)
    assert "no approval after 2 review rounds" in result["reasons"][0]
    assert "also add tests" in result["reasons"][0]
    assert snapshot(sample_repo) == before


def test_invalid_plan_is_repaired_once(baton, sample_repo):
    before = snapshot(sample_repo)
    script = demo_script()
    good = response(script, PLANNER, 0)
    plan = json.loads(good.split("```json\n", 1)[1].split("\n```", 1)[0])
    bad = dict(plan, rollback="", risks=[])
    set_responses(script, PLANNER, [fence(bad), good])
    baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    gates = [e for e in events(run_dir) if e["type"] == "plan.gate"]
    assert [g["passed"] for g in gates] == [False, True]
    assert any("rollback" in e for e in gates[0]["errors"])
    repair_prompt = sorted((run_dir / "packets").glob("02-planner.md"))[0].read_text()
    assert "previous answer was rejected" in repair_prompt and "rollback" in repair_prompt
    assert snapshot(sample_repo) == before


def test_invalid_plan_twice_is_a_clear_error(baton, sample_repo):
    before = snapshot(sample_repo)
    script = demo_script()
    set_responses(script, PLANNER, ["I think we should add median.", "```json\n{\"summary\": "])
    baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 2
    assert "plan gate 2 times" in proc.stderr and "responses" in proc.stderr
    run_dir = next((sample_repo / ".baton" / "runs").iterdir())
    assert json.loads((run_dir / "workflow.json").read_text())["state"] == "failed"
    assert events(run_dir)[-1]["type"] == "run.end"
    assert snapshot(sample_repo) == before


def test_edits_that_do_not_apply_go_back_then_no_go(baton, sample_repo):
    before = snapshot(sample_repo)
    script = demo_script()
    wrong = ("stats.py\n<<<<<<< SEARCH\n    return total / count\n=======\n"
             "    return 0\n>>>>>>> REPLACE\n")
    set_responses(script, IMPLEMENTER, [wrong, wrong])
    baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 1, proc.stderr
    result = run_json(proc)
    assert "did not apply after 2 attempts" in result["reasons"][0]
    run_dir = Path(result["run_dir"])
    rejected = [e for e in events(run_dir) if e["type"] == "edits.rejected"]
    assert len(rejected) == 2 and "stats.py" in rejected[0]["reason"]
    retry_prompt = sorted((run_dir / "packets").glob("*-implementer.md"))[1].read_text()
    assert "could not be applied" in retry_prompt
    assert (run_dir / "patch.diff").read_text() == ""
    assert snapshot(sample_repo) == before


def test_reviewer_equal_to_implementer_is_refused(baton, sample_repo, tmp_path):
    before = snapshot(sample_repo)
    baton.serve(demo_script())
    cfg = tmp_path / "same.toml"
    cfg.write_text(f'[routes.reviewer]\nmodel = "{IMPLEMENTER}"\n')
    proc = run(baton, sample_repo, "--config", str(cfg))
    assert proc.returncode == 2
    assert "same model as the implementer" in proc.stderr
    assert not (sample_repo / ".baton" / "runs").exists()
    assert snapshot(sample_repo) == before


def test_demo_command_exits_zero_and_says_scripted(baton, tmp_path):
    proc = baton("demo", "--keep", str(tmp_path / "demo"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SCRIPTED" in proc.stdout and "run folder:" in proc.stdout
    assert "GO: run" in proc.stdout


def test_uncommitted_changes_are_left_alone_with_a_warning(baton, sample_repo):
    (sample_repo / "README.md").write_text("my local, uncommitted notes\n")
    before = snapshot(sample_repo)
    baton.serve(demo_script())
    proc = run(baton, sample_repo)
    assert proc.returncode == 0, proc.stderr
    assert "uncommitted changes" in proc.stderr
    assert run_json(proc)["warnings"]
    assert snapshot(sample_repo) == before
    assert (sample_repo / "README.md").read_text() == "my local, uncommitted notes\n"


def test_endpoint_from_openai_environment_variables(baton, sample_repo, tmp_path):
    gateway = baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json",
                 BATON_CONFIG=str(tmp_path / "no-user-config.toml"),
                 OPENAI_BASE_URL=gateway.base_url, OPENAI_API_KEY=CANARY_KEY)
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    assert len(gateway.requests()) == 5
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert CANARY_KEY not in path.read_text(errors="replace"), path


def test_missing_key_for_a_remote_endpoint_says_which_variable(baton, sample_repo, tmp_path):
    user = tmp_path / "remote.toml"
    user.write_text('[endpoints.default]\nbase_url = "https://models.example.com/v1"\n'
                    'api_key_env = "EXAMPLE_KEY_NOT_SET"\n')
    proc = baton("run", TASK, "--repo", str(sample_repo), BATON_CONFIG=str(user))
    assert proc.returncode == 2
    assert "EXAMPLE_KEY_NOT_SET" in proc.stderr
    assert not (sample_repo / ".baton" / "runs").exists()


def test_an_answer_cut_at_max_tokens_is_sent_back_with_a_hint(baton, sample_repo):
    script = demo_script()
    full = response(script, IMPLEMENTER, 0)
    script["models"][IMPLEMENTER] = [
        {"content": full[: len(full) // 2], "finish_reason": "length"},
        {"content": full}, {"content": response(script, IMPLEMENTER, 1)}]
    baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    rejected = [e for e in events(run_dir) if e["type"] == "edits.rejected"]
    assert len(rejected) == 1 and "cut off at max_tokens=4096" in rejected[0]["reason"]
    retry = sorted((run_dir / "packets").glob("*-implementer.md"))[1].read_text()
    assert "cut off at max_tokens" in retry


def test_invalid_repo_config_is_a_clear_error(baton, sample_repo):
    baton.serve(demo_script())
    toml = sample_repo / "baton.toml"
    toml.write_text(toml.read_text() + "\nmax_review_rounds = 0\nverify_comands = []\n")
    proc = run(baton, sample_repo)
    assert proc.returncode == 2
    assert "max_review_rounds" in proc.stderr and "verify_comands" in proc.stderr
    assert "baton.toml" in proc.stderr
    toml.write_text("this is = = not toml")
    proc = run(baton, sample_repo)
    assert proc.returncode == 2 and "not valid TOML" in proc.stderr


def test_a_provider_that_is_down_fails_cleanly_and_the_run_resumes_later(
        baton, sample_repo, tmp_path):
    import socket

    before = snapshot(sample_repo)
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    user = baton.tmp / "user-config.toml"
    user.write_text(f'[endpoints.default]\nbase_url = "http://127.0.0.1:{port}/v1"\n'
                    "[retry]\nmax_attempts = 2\nbackoff_base_s = 0.01\n")
    proc = run(baton, sample_repo)
    assert proc.returncode == 2
    assert "connection failed" in proc.stderr and "resume" in proc.stderr
    run_dir = next((sample_repo / ".baton" / "runs").iterdir())
    attempts = [e for e in events(run_dir) if e["type"] == "model.call"]
    assert [a["outcome"] for a in attempts] == ["error", "error"]
    assert json.loads((run_dir / "workflow.json").read_text())["state"] == "failed"
    assert snapshot(sample_repo) == before
    baton.serve(demo_script())  # the provider is back
    resumed = baton("resume", run_dir.name, "--repo", str(sample_repo), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert run_json(resumed)["decision"] == "go"


def test_files_changed_outside_the_plan_are_flagged_for_the_reviewer(baton, sample_repo):
    script = demo_script()
    extra = ("\nREADME.md\n<<<<<<< SEARCH\n# stats\n=======\n# stats (now with median)\n"
             ">>>>>>> REPLACE\n")
    script["models"][IMPLEMENTER][0]["content"] += extra
    baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    applied = [e for e in events(run_dir) if e["type"] == "edits.applied"][0]
    assert applied["outside_plan"] == ["README.md"]
    review = sorted((run_dir / "packets").glob("*-reviewer.md"))[0].read_text()
    assert "changed outside the plan: README.md" in review
    assert "README.md" in (run_dir / "summary.md").read_text()
