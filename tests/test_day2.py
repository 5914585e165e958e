"""Day-2 commands: show, clean, resume --last, a task from stdin or a file, completion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import (
    IMPLEMENTER,
    REVIEWER,
    demo_script,
    fence,
    response,
    run_json,
    set_responses,
    snapshot,
)

TASK = "Add a median() function to stats.py, with tests."


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def baton_branches(repo: Path) -> list[str]:
    return sorted(git(repo, "branch", "--list", "baton/*", "--format=%(refname:short)").split())


def worktrees(repo: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in git(repo, "worktree", "list", "--porcelain")
            .splitlines() if line.startswith("worktree ") and ".baton" in line]


def approve():
    return fence({"verdict": "approve", "summary": "ok", "top_risks": [], "required_fixes": [],
                  "verification_commands": [], "questions_for_owner": []})


# these runs end no-go on the failing check itself, not after fix rounds (the script holds
# one implementer answer)
NO_FIX = ("--set", "max_fix_rounds=0")


def failing_script() -> dict:
    """The implementer's median does not sort, the reviewer approves: the tests fail."""
    script = demo_script()
    naive = response(script, IMPLEMENTER, 0)
    tests = response(script, IMPLEMENTER, 1).split("tests/test_median.py", 1)[1]
    set_responses(script, IMPLEMENTER, [naive + "\ntests/test_median.py" + tests])
    set_responses(script, REVIEWER, [approve()])
    return script


def high_risk_script() -> dict:
    script = demo_script()
    plan = response(script, "openai/gpt-5", 0).replace('"risk_level": "low"',
                                                       '"risk_level": "high"')
    script["models"]["openai/gpt-5"][0]["content"] = plan
    return script


def test_a_no_go_screen_shows_the_failing_output_and_the_worktree(baton, sample_repo):
    baton.serve(failing_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), *NO_FIX)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "NO-GO: run " in out and "last lines of its output:" in out
    assert "  | " in out and ("FAILED" in out or "Error" in out)  # the test's own output
    (worktree,) = worktrees(sample_repo)
    assert f"worktree:   {worktree}" in out
    assert "baton show " in out


def test_show_prints_state_reasons_failed_commands_and_the_diff(baton, sample_repo):
    baton.serve(failing_script())
    result = run_json(baton("run", TASK, "--repo", str(sample_repo), *NO_FIX, "--json"))
    proc = baton("show", result["run_id"][:10], cwd=sample_repo)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"run {result['run_id']}: done, no-go" in out
    assert "reason:" in out and "exited 1" in out
    assert "failed: $ " in out and "  | " in out
    assert "+def median(values):" in out  # the diff
    assert "baton clean" in out  # the next step
    as_json = json.loads(baton("show", "--json", cwd=sample_repo).stdout)  # newest run
    assert as_json["run_id"] == result["run_id"] and as_json["decision"] == "no-go"
    assert as_json["failed_commands"][0]["exit_code"] == 1
    assert as_json["failed_commands"][0]["output_tail"]
    assert "+def median(values):" in as_json["diff"]


def test_show_of_a_run_waiting_for_approval_shows_its_patch(baton, sample_repo):
    baton.serve(high_risk_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 3, proc.stderr
    result = run_json(proc)
    assert "baton show " in result["reasons"][0] and "diff --cached" in result["reasons"][0]
    out = baton("show", result["run_id"], cwd=sample_repo).stdout
    assert "awaiting_approval" in out and "+def median(values):" in out
    assert f"baton approve {result['run_id']}" in out


def test_clean_removes_finished_runs_and_keeps_resumable_ones(baton, sample_repo):
    before = snapshot(sample_repo)
    baton.serve(failing_script())
    nogo = run_json(baton("run", TASK, "--repo", str(sample_repo), *NO_FIX, "--json"))
    baton.serve(high_risk_script())
    waiting = run_json(baton("run", TASK, "--repo", str(sample_repo), "--json"))
    baton.serve(demo_script())
    go = run_json(baton("run", TASK, "--repo", str(sample_repo), "--json"))
    assert len(baton_branches(sample_repo)) == 3 and len(worktrees(sample_repo)) == 2

    dry = baton("clean", "--dry-run", cwd=sample_repo)
    assert dry.returncode == 0, dry.stderr
    assert f"would remove branch {nogo['branch']}" in dry.stdout
    assert f"kept run {waiting['run_id']}: awaiting_approval" in dry.stdout
    assert f"kept run {go['run_id']}: go, and {go['branch']} is not merged" in dry.stdout
    assert len(baton_branches(sample_repo)) == 3 and len(worktrees(sample_repo)) == 2
    assert (sample_repo / ".baton" / "runs" / nogo["run_id"]).is_dir()

    proc = baton("clean", "--json", cwd=sample_repo)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert not report["dry_run"]
    assert baton_branches(sample_repo) == sorted([waiting["branch"], go["branch"]])
    assert not (sample_repo / ".baton" / "runs" / nogo["run_id"]).exists()
    assert (sample_repo / ".baton" / "runs" / waiting["run_id"]).is_dir()
    assert len(worktrees(sample_repo)) == 1  # the waiting run's
    assert snapshot(sample_repo) == before  # the user's tree and branch untouched

    # once the go branch is merged, its branch goes too; the waiting run needs --all
    git(sample_repo, "-c", "user.name=t", "-c", "user.email=t@t", "merge", "-q", "--no-edit",
        go["branch"])
    baton("clean", cwd=sample_repo)
    assert baton_branches(sample_repo) == [waiting["branch"]]
    everything = baton("clean", "--all", cwd=sample_repo)
    assert everything.returncode == 0, everything.stderr
    assert baton_branches(sample_repo) == [] and worktrees(sample_repo) == []
    assert list((sample_repo / ".baton" / "runs").iterdir()) == []
    assert "nothing to remove" in baton("clean", cwd=sample_repo).stdout


def test_clean_keep_runs_keeps_the_traces(baton, sample_repo):
    baton.serve(failing_script())
    nogo = run_json(baton("run", TASK, "--repo", str(sample_repo), *NO_FIX, "--json"))
    baton("clean", "--keep-runs", cwd=sample_repo)
    assert baton_branches(sample_repo) == [] and worktrees(sample_repo) == []
    assert (sample_repo / ".baton" / "runs" / nogo["run_id"] / "trace.jsonl").is_file()


def test_the_task_comes_from_stdin_or_a_file(baton, sample_repo, tmp_path):
    baton.serve(demo_script())
    task = "Add a median() function to stats.py.\n\nWith tests, please.\n"
    proc = subprocess.run([sys.executable, "-m", "baton", "run", "-", "--repo",
                           str(sample_repo), "--json"], input=task, capture_output=True,
                          text=True, env=baton.env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    wf = json.loads((Path(run_json(proc)["run_dir"]) / "workflow.json").read_text())
    assert wf["task"] == task and wf["title"] == "Add a median() function to stats.py."
    baton.serve(demo_script())
    task_file = tmp_path / "task.md"
    task_file.write_text("Add median() from a file.\n")
    proc = baton("run", "--task-file", str(task_file), "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stderr
    wf = json.loads((Path(run_json(proc)["run_dir"]) / "workflow.json").read_text())
    assert wf["task"] == "Add median() from a file.\n"
    both = baton("run", "x", "--task-file", str(task_file), "--repo", str(sample_repo))
    assert both.returncode == 2 and "not both" in both.stderr
    empty = subprocess.run([sys.executable, "-m", "baton", "run", "-", "--repo",
                            str(sample_repo)], input="", capture_output=True, text=True,
                           env=baton.env(), timeout=60)
    assert empty.returncode == 2 and "the task is empty" in empty.stderr


def test_resume_last_without_an_unfinished_run_says_so(baton, sample_repo):
    proc = baton("resume", "--last", cwd=sample_repo)
    assert proc.returncode == 2 and "no unfinished run" in proc.stderr
    proc = baton("resume", cwd=sample_repo)
    assert proc.returncode == 2 and "--last" in proc.stderr


def test_completion_scripts_and_run_id_completion(baton, sample_repo):
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")):
        proc = baton("completion", shell)
        assert proc.returncode == 0 and marker in proc.stdout and "_BATON_COMPLETE" in proc.stdout
    words = baton(cwd=sample_repo, _BATON_COMPLETE="bash_complete", COMP_WORDS="baton sh",
                  COMP_CWORD="1")
    assert "plain,show" in words.stdout.split()
    baton.serve(demo_script())
    run_id = run_json(baton("run", TASK, "--repo", str(sample_repo), "--json"))["run_id"]
    ids = baton(cwd=sample_repo, _BATON_COMPLETE="bash_complete",
                COMP_WORDS=f"baton show {run_id[:8]}", COMP_CWORD="2")
    assert f"plain,{run_id}" in ids.stdout.split()
    flags = baton(cwd=sample_repo, _BATON_COMPLETE="bash_complete",
                  COMP_WORDS="baton clean --dry", COMP_CWORD="2")
    assert "plain,--dry-run" in flags.stdout.split()


def test_tables_keep_run_ids_models_and_costs_whole_on_a_pipe_and_a_narrow_terminal(
        baton, sample_repo):
    import shutil

    baton.serve(demo_script())
    run_id = run_json(baton("run", TASK, "--repo", str(sample_repo), "--json"))["run_id"]
    wanted = [run_id, "$0.0348", REVIEWER]
    piped = baton("runs", cwd=sample_repo, COLUMNS="40").stdout + \
        baton("trace", "summary", cwd=sample_repo, COLUMNS="40").stdout
    for text in wanted:
        assert text in piped, (text, piped)
    assert "openai/gpt…" not in piped and "$0.0…" not in piped
    if shutil.which("script") is None:
        return
    for args in ("runs", "trace summary", "policies"):
        command = f"stty cols 50; {sys.executable} -m baton {args}"
        proc = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True,
                              text=True, env=baton.env(), cwd=sample_repo, timeout=60,
                              stdin=subprocess.DEVNULL)
        out = proc.stdout.replace("\r\n", "\n")
        assert proc.returncode == 0, out
        joined = "".join(out.split("\n"))  # the terminal wraps long lines; nothing is cut
        expected = [REVIEWER] if args == "policies" else \
            [run_id] if args == "runs" else [REVIEWER, "$0.0348"]
        for text in expected:
            assert text in out or text in joined, (args, text, out)
        assert "openai/gpt…" not in out and "$0.0…" not in out


def test_the_demo_says_where_its_folder_is_and_its_apply_hint_works_from_here(baton, tmp_path):
    import re
    import shlex
    import shutil

    elsewhere = tmp_path / "my-own-folder"
    elsewhere.mkdir()
    proc = baton("demo", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    folder = Path(re.search(r"demo folder: (\S+) \(temporary", proc.stdout).group(1))
    try:
        assert folder.is_dir() and f"rm -rf {folder}" in proc.stdout
        hint = re.search(r"apply it:\s+(git -C .+? merge \S+)", proc.stdout).group(1)
        merged = subprocess.run(shlex.split(hint), cwd=elsewhere, capture_output=True,
                                text=True, env={**baton.env(), "GIT_AUTHOR_NAME": "t",
                                                "GIT_AUTHOR_EMAIL": "t@t",
                                                "GIT_COMMITTER_NAME": "t",
                                                "GIT_COMMITTER_EMAIL": "t@t"})
        assert merged.returncode == 0, merged.stderr
        assert "def median" in (folder / "sample" / "stats.py").read_text()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
