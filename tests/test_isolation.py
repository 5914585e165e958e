"""What was reviewed is exactly what lands: each example of issue 9, end to end.

Every test drives the real CLI against the fake gateway and a real git repository, then
checks that the go commit's tree is byte for byte the tree the reviewer was shown (the
reviewed diff applied to the base by plain git, independently of baton), that the user's
branch, HEAD, index and working tree did not change, and that nothing of the repository
ran outside the sandbox.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    IMPLEMENTER,
    PLANNER,
    REVIEWER,
    demo_script,
    events,
    response,
    run_json,
    set_responses,
    snapshot,
)
from test_routing_budget import _high_risk_script

from baton.demo import make_sample_repo
from baton.gateway.server import FakeGateway
from baton.workspace.sandbox import sandbox_available

TASK = "Add a median() function to stats.py, with tests."
UNITTEST = f"{shlex.quote(sys.executable)} -m unittest discover -s tests"
needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="bubblewrap does not work")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=repo,
                          capture_output=True, text=True, check=True).stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


def user_state(repo: Path) -> dict:
    """Branch, HEAD, status, every file's hash, and the index's entries."""
    state = snapshot(repo)
    state["index"] = git(repo, "ls-files", "-s", "-z")
    state["refs"] = [line for line in git(repo, "for-each-ref", "--format=%(refname) "
                                          "%(objectname)").splitlines()
                     if not line.startswith("refs/heads/baton/")]
    return state


def config(tmp_path: Path, name: str, *commands: str, extra: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f"verify_commands = {json.dumps(list(commands) or [UNITTEST])}\n{extra}")
    return path


def reviewed_diff(run_dir: Path) -> str:
    """The diff in the last reviewer prompt, exactly as the reviewer was shown it."""
    prompt = sorted((run_dir / "packets").glob("*-reviewer.md"))[-1].read_text()
    after = prompt.split("# Diff\n", 1)[1]
    fence = re.match(r"(`{3,})diff\n", after)
    assert fence, after[:200]
    body = after[fence.end():]
    return body[:body.index("\n" + fence.group(1))] + "\n"


def tree_from_diff(repo: Path, base: str, diff: str, tmp_path: Path) -> str:
    """Plain git: the base commit with the reviewed diff applied, as a tree id."""
    env = {**os.environ, "GIT_INDEX_FILE": str(tmp_path / "reviewed-index")}
    for args, data in ((["read-tree", base], None), (["apply", "--cached", "-"], diff),
                       (["write-tree"], None)):
        proc = subprocess.run(["git", *args], cwd=repo, env=env, input=data,
                              capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def check_landed(repo: Path, result: dict, before: dict, tmp_path: Path) -> str:
    """The go commit holds exactly the reviewed tree; the user's repository is untouched."""
    assert result["decision"] == "go", result
    run_dir = Path(result["run_dir"])
    trace = events(run_dir)
    base = next(e for e in trace if e["type"] == "run.start")["base_commit"]
    commit = result["commit"]
    assert git(repo, "rev-parse", result["branch"]).strip() == commit
    tree = git(repo, "rev-parse", f"{commit}^{{tree}}").strip()
    assert git(repo, "rev-parse", f"{commit}^").strip() == base
    assert tree == tree_from_diff(repo, base, reviewed_diff(run_dir), tmp_path)
    (snap,) = [e for e in trace if e["type"] == "snapshot"]
    assert (snap["commit"], snap["tree"]) == (commit, tree)
    approved = [e for e in trace if e["type"] == "packet.end"][-1]
    assert approved["reviewed_tree"] == tree
    # Frozen before verification ran.
    first_command = next(i for i, e in enumerate(trace) if e["type"] == "command")
    assert trace.index(snap) < first_command
    assert user_state(repo) == before
    return tree


def ran_in_sandbox(run_dir: Path) -> None:
    ran = [e for e in events(run_dir) if e["type"] == "command" and e["ran"]]
    assert ran and all(e["sandbox"] == "bwrap" for e in ran), ran


def drifted(run_dir: Path) -> dict[str, str]:
    rows = json.loads((run_dir / "evidence" / "drift.json").read_text())
    return {row["path"]: row["status"] for row in rows}


# --- a test suite that writes bytecode and a cache file ---------------------------------


@needs_sandbox
def test_bytecode_and_cache_files_written_by_the_tests_are_not_committed(baton, sample_repo,
                                                                        tmp_path):
    before = user_state(sample_repo)
    cache = (f"{shlex.quote(sys.executable)} -c \"import os; os.makedirs('.pytest_cache/v', "
             "exist_ok=True); open('.pytest_cache/v/lastfailed', 'w').write('{}'); "
             "open('.coverage', 'w').write('data')\"")
    cfg = config(tmp_path, "cache", UNITTEST, cache)
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--config", str(cfg),
                 PYTHONDONTWRITEBYTECODE="")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    tree = check_landed(sample_repo, result, before, tmp_path)
    run_dir = Path(result["run_dir"])
    ran_in_sandbox(run_dir)
    committed = git(sample_repo, "ls-tree", "-r", "--name-only", tree).split()
    assert sorted(committed) == sorted(git(sample_repo, "ls-files").split()
                                       + ["tests/test_median.py"])
    drift = drifted(run_dir)
    pyc = [p for p in drift if p.endswith(".pyc")]
    assert pyc and all(drift[p] == "A" and "__pycache__/" in p for p in pyc), drift
    assert drift[".pytest_cache/v/lastfailed"] == "A" and drift[".coverage"] == "A"
    summary = (run_dir / "summary.md").read_text()
    assert "None of this is in the commit" in summary
    assert ".coverage" in summary and "__pycache__/" in summary
    assert not list(Path("/tmp").glob(f"baton-verify-*/{sample_repo.name}/.coverage"))


# --- a verify command that adds a file, edits a test, swaps or deletes .git -------------


@needs_sandbox
def test_a_verify_command_adding_a_workflow_and_editing_tests_changes_no_commit(
        baton, sample_repo, tmp_path):
    before = user_state(sample_repo)
    tamper = ("mkdir -p .github/workflows && echo 'on: push' > .github/workflows/evil.yml"
              " && echo '# tampered' >> stats.py && : > tests/test_stats.py"
              " && rm -f README.md && " + UNITTEST)
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--config",
                 str(config(tmp_path, "tamper", tamper)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    tree = check_landed(sample_repo, result, before, tmp_path)
    run_dir = Path(result["run_dir"])
    ran_in_sandbox(run_dir)
    assert drifted(run_dir) == {".github/workflows/evil.yml": "A", "stats.py": "M",
                                "tests/test_stats.py": "M", "README.md": "D"}
    assert "# tampered" not in git(sample_repo, "show", f"{tree}:stats.py")
    assert git(sample_repo, "show", f"{tree}:tests/test_stats.py") == \
        git(sample_repo, "show", "HEAD:tests/test_stats.py")
    # No approval was needed: the workflow file is in no commit.
    assert not any(e["type"] == "approval.required" for e in events(run_dir))
    summary = (run_dir / "summary.md").read_text()
    left = summary.split("## Left for a human", 1)[1]
    assert "Verification changed files of the reviewed tree" in left
    assert "`stats.py` (changed)" in left and "`README.md` (deleted)" in left


def fake_git_dir(tmp_path: Path, markers: Path) -> Path:
    """A git directory whose filter, hooks and fsmonitor leave markers when run."""
    fake = tmp_path / "fake.git"
    subprocess.run(["git", "init", "-q", "--bare", str(fake)], check=True)
    markers.mkdir()
    for key, name in [("filter.x.y.clean", "clean"), ("filter.x.y.smudge", "smudge"),
                      ("filter.x.y.process", "process"), ("core.fsmonitor", "fsmonitor")]:
        subprocess.run(["git", "config", "--file", str(fake / "config"), key,
                        f"touch {markers / name}; cat"], check=True)
    subprocess.run(["git", "config", "--file", str(fake / "config"), "filter.x.y.required",
                    "true"], check=True)
    subprocess.run(["git", "config", "--file", str(fake / "config"), "core.bare", "false"],
                   check=True)
    for hook in ("pre-commit", "post-commit", "reference-transaction", "post-checkout"):
        (fake / "hooks" / hook).write_text(f"#!/bin/sh\ntouch {markers / hook}\n")
        (fake / "hooks" / hook).chmod(0o755)
    return fake


@pytest.mark.parametrize("how", ["swap", "delete"])
def test_a_verify_command_that_swaps_or_deletes_dot_git_misleads_no_git_of_batons(
        baton, sample_repo, tmp_path, how):
    # The repository routes every file through filter "x.y"; the user's git config does not
    # define it, a fake git dir does. Without the sandbox the command can reach the run's
    # worktree, so it rewrites every .git file it can find there (and its own).
    (sample_repo / ".gitattributes").write_text("* filter=x.y\n")
    commit_all(sample_repo, "attributes")
    (sample_repo / "stats.py").write_text((sample_repo / "stats.py").read_text() + "# wip\n")
    (sample_repo / "untracked-notes.txt").write_text("mine\n")
    before = user_state(sample_repo)
    markers = tmp_path / "markers"
    fake = fake_git_dir(tmp_path, markers)
    fake_before = sorted(p.relative_to(fake).as_posix() for p in fake.rglob("*"))
    targets = f"{shlex.quote(str(sample_repo))}/.baton/worktrees/*/.git .git"
    if how == "swap":
        attack = f"for g in {targets}; do printf 'gitdir: {fake}\\n' > \"$g\"; done"
    else:
        attack = f"for g in {targets}; do rm -rf \"$g\"; done"
    cfg = config(tmp_path, "attack", f"{attack}; {UNITTEST}", extra='sandbox = "none"\n')
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--config", str(cfg))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    assert "uncommitted changes" in proc.stderr
    tree = check_landed(sample_repo, result, before, tmp_path)
    committed = git(sample_repo, "ls-tree", "-r", "--name-only", tree).split()
    assert "untracked-notes.txt" not in committed
    assert "# wip" not in git(sample_repo, "show", f"{tree}:stats.py")
    assert sorted(p.name for p in markers.iterdir()) == []
    assert sorted(p.relative_to(fake).as_posix() for p in fake.rglob("*")) == fake_before
    assert not (sample_repo / ".baton" / "worktrees" / result["run_id"]).exists()


@needs_sandbox
def test_in_the_sandbox_git_metadata_and_run_folders_are_hidden_and_read_only(
        baton, sample_repo, tmp_path):
    before = user_state(sample_repo)
    git_config = (sample_repo / ".git" / "config").read_bytes()
    repo = shlex.quote(str(sample_repo))
    probe = (f"echo git-entries=$(ls -A {repo}/.git | wc -l); "
             f"echo baton-entries=$(ls -A {repo}/.baton | wc -l); "
             f"echo '[core]' >> {repo}/.git/config; touch {repo}/.baton/x {repo}/y; "
             f"git rev-parse --git-dir; echo discovered=$?; {UNITTEST}")
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--config",
                 str(config(tmp_path, "probe", probe)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    check_landed(sample_repo, result, before, tmp_path)
    run_dir = Path(result["run_dir"])
    ran_in_sandbox(run_dir)
    (event,) = [e for e in events(run_dir) if e["type"] == "command" and "git-entries" in
                e["command"]]
    log = (run_dir / event["evidence_file"]).read_text()
    assert "git-entries=0" in log and "baton-entries=0" in log, log
    assert "Read-only file system" in log and "discovered=128" in log, log
    assert (sample_repo / ".git" / "config").read_bytes() == git_config
    assert not (sample_repo / "y").exists() and not (sample_repo / ".baton" / "x").exists()


# --- a non-ASCII path under an approval glob ------------------------------------------


def workflow_block(path: str) -> str:
    return f"\n{path}\n<<<<<<< SEARCH\n=======\non: push\njobs: {{}}\n>>>>>>> REPLACE\n"


def approve_verdict() -> str:
    return ("```json\n" + json.dumps({"verdict": "approve", "summary": "fine",
                                      "top_risks": [], "required_fixes": []}) + "\n```\n")


def test_a_non_ascii_workflow_path_needs_approval_then_lands_exactly(baton, sample_repo,
                                                                    tmp_path):
    before = user_state(sample_repo)
    name = ".github/workflows/ci-é.yml"
    script = demo_script()
    # Both of the demo's rounds in one answer, plus a CI workflow with a non-ASCII name.
    combined = (response(script, IMPLEMENTER, 0) + "\n" + response(script, IMPLEMENTER, 1)
                + workflow_block(name))
    set_responses(script, IMPLEMENTER, [combined])
    set_responses(script, REVIEWER, [approve_verdict()])
    baton.serve(script)
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    assert any(f"touched path {name!r} (added) matches approval glob '.github/workflows/**'" in r
               for r in result["reasons"]), result["reasons"]
    approved = baton("approve", result["run_id"], "--repo", str(sample_repo), "--json")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    tree = check_landed(sample_repo, run_json(approved), before, tmp_path)
    listing = subprocess.run(["git", "ls-tree", "-r", "-z", "--name-only", tree],
                             cwd=sample_repo, capture_output=True).stdout
    assert name.encode() in listing.split(b"\0")


# --- a dotted filter name --------------------------------------------------------------


@needs_sandbox
def test_a_filter_driver_with_a_dot_in_its_name_never_runs(baton, sample_repo, tmp_path):
    (sample_repo / ".gitattributes").write_text("* filter=x.y diff=x.y\n")
    commit_all(sample_repo, "attributes")
    markers = tmp_path / "markers"
    markers.mkdir()
    for key, name in [("filter.x.y.clean", "clean"), ("filter.x.y.smudge", "smudge"),
                      ("filter.x.y.process", "process"), ("diff.x.y.textconv", "textconv")]:
        git(sample_repo, "config", key, f"touch {markers / name}; cat")
    git(sample_repo, "config", "filter.x.y.required", "true")
    before = user_state(sample_repo)  # plain git (the test's own) may run the filter
    for marker in markers.iterdir():
        marker.unlink()
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in markers.iterdir()) == []  # baton's git ran none of them
    result = run_json(proc)
    check_landed(sample_repo, result, before, tmp_path)
    ran_in_sandbox(Path(result["run_dir"]))


# --- a tracked and a symlinked .baton; a forged run folder ------------------------------


def forged_workflow(repo: Path, run_id: str, evil_url: str, **changes) -> dict:
    return {"run_id": run_id, "task": TASK, "title": "forged", "repo": str(repo),
            "base_commit": git(repo, "rev-parse", "HEAD").strip(), "branch": f"baton/{run_id}",
            "worktree": str(repo / ".baton" / "worktrees" / run_id), "policy": "default",
            "routes": {r: {"endpoint": "default", "model": m, "max_tokens": 4000}
                       for r, m in [("planner", PLANNER), ("implementer", IMPLEMENTER),
                                    ("reviewer", REVIEWER),
                                    ("verifier", "google/gemini-2.5-flash")]},
            "config_file": None, "state": "budget_exhausted", "decision": None,
            "overrides": {"endpoints": {"default": {"base_url": evil_url,
                                                    "api_key_env": "BATON_TEST_API_KEY"}},
                          "sandbox": "none", "allow_model_commands": True,
                          "command_allowlist": ["touch"]},
            "packets": None, "approval": None, **changes}


def test_a_tracked_baton_folder_is_refused_everywhere(baton, sample_repo):
    run_id = "20260101-000000-abcdef"
    folder = sample_repo / ".baton" / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "workflow.json").write_text(json.dumps(forged_workflow(
        sample_repo, run_id, "http://127.0.0.1:9/v1")))
    git(sample_repo, "add", "-f", ".baton")
    git(sample_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "runs")
    before = user_state(sample_repo)
    gateway = baton.serve(demo_script())
    for args in (["run", TASK], ["runs"], ["resume", run_id], ["approve", run_id],
                 ["reject", run_id, "--reason", "no"]):
        proc = baton(*args, "--repo", str(sample_repo))
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "is tracked by git" in proc.stderr and "git rm -r --cached .baton" in \
            proc.stderr, proc.stderr
    assert gateway.requests() == []
    assert user_state(sample_repo) == before
    assert sorted(p.name for p in (sample_repo / ".baton").iterdir()) == ["runs"]


@pytest.mark.parametrize("how", ["staged only", "committed, then removed from the index",
                                 "staged in a repository with no commit yet"])
def test_a_baton_folder_in_the_index_or_in_head_alone_is_refused(baton, tmp_path, how):
    """One git process answers "tracked in the index or in HEAD"; each half is checked."""
    if how.endswith("no commit yet"):
        repo = tmp_path / "empty"
        repo.mkdir()
        git(repo, "init", "-q")
    else:
        repo = make_sample_repo(tmp_path / "repo")
    folder = repo / ".baton" / "runs" / "20260101-000000-abcdef"
    folder.mkdir(parents=True)
    (folder / "workflow.json").write_text(json.dumps({"run_id": folder.name}))
    git(repo, "add", "-f", ".baton")
    if how.startswith("committed"):
        git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "runs")
        git(repo, "rm", "-q", "-r", "--cached", ".baton")
        assert git(repo, "ls-files", ".baton") == ""
    proc = baton("runs", "--repo", str(repo))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "is tracked by git (.baton/runs/20260101-000000-abcdef/workflow.json)" in \
        proc.stderr, proc.stderr


def test_runs_lists_nothing_without_a_baton_folder_and_creates_none(baton, sample_repo):
    proc = baton("runs", "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["runs"] == []
    assert not (sample_repo / ".baton").exists()


@pytest.mark.parametrize("link", [".baton", ".baton/runs", ".baton/worktrees"])
def test_a_symlinked_baton_folder_is_refused(baton, sample_repo, tmp_path, link):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (sample_repo / link).parent.mkdir(parents=True, exist_ok=True)
    (sample_repo / link).symlink_to(elsewhere, target_is_directory=True)
    before = user_state(sample_repo)
    gateway = baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "is a symbolic link" in proc.stderr and "will not follow it" in proc.stderr
    assert list(elsewhere.iterdir()) == []
    assert gateway.requests() == []
    assert user_state(sample_repo) == before


def test_a_forged_run_folder_cannot_choose_endpoint_sandbox_or_commands(baton, sample_repo,
                                                                       tmp_path):
    before = user_state(sample_repo)
    marker = tmp_path / "model-command-ran"
    script = demo_script()
    verdicts = script["models"][REVIEWER]
    last = json.loads(verdicts[-1]["content"].split("```json\n", 1)[1].split("\n```")[0])
    last["verification_commands"] = [f"touch {marker}"]
    verdicts[-1]["content"] = "```json\n" + json.dumps(last) + "\n```\n"
    baton.serve(script)
    evil = FakeGateway(demo_script()).start()
    try:
        proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--max-calls", "1")
        assert proc.returncode == 4, proc.stdout + proc.stderr
        run_dir = Path(run_json(proc)["run_dir"])
        # Someone edits the run folder: their endpoint, no sandbox, model commands allowed,
        # and a remembered --config file that says the same.
        evil_config = tmp_path / "evil.toml"
        evil_config.write_text(f'sandbox = "none"\nallow_model_commands = true\n'
                               f'[endpoints.default]\nbase_url = "{evil.base_url}"\n'
                               'api_key_env = "BATON_TEST_API_KEY"\n')
        workflow = json.loads((run_dir / "workflow.json").read_text())
        forged = forged_workflow(sample_repo, workflow["run_id"], evil.base_url,
                                 base_commit=workflow["base_commit"],
                                 config_file=str(evil_config))
        (run_dir / "workflow.json").write_text(json.dumps(forged))
        resumed = baton("resume", workflow["run_id"], "--repo", str(sample_repo), "--json")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        result = run_json(resumed)
        assert evil.requests() == []
        check_landed(sample_repo, result, before, tmp_path)
        commands = [e for e in events(run_dir) if e["type"] == "command"]
        model = [e for e in commands if e["source"] == "reviewer"]
        assert model and not any(e["ran"] for e in model)
        assert not marker.exists()
        if sandbox_available():
            ran_in_sandbox(run_dir)
        remembered = json.loads((run_dir / "workflow.json").read_text())["overrides"]
        assert not {"endpoints", "sandbox", "allow_model_commands",
                    "command_allowlist"} & set(remembered)
    finally:
        evil.stop()


# --- approve with no endpoint ------------------------------------------------------------


def test_approve_with_no_endpoint_records_nothing_and_a_run_is_answered_once(
        baton, sample_repo, tmp_path):
    before = user_state(sample_repo)
    baton.serve(_high_risk_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    run_id = run_json(proc)["run_id"]
    run_dir = sample_repo / ".baton" / "runs" / run_id
    trace_before = (run_dir / "trace.jsonl").read_bytes()
    empty = tmp_path / "no-endpoints.toml"
    empty.write_text("# no endpoints here\n")

    failed = baton("approve", run_id, "--repo", str(sample_repo), BATON_CONFIG=str(empty))
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "no endpoint named 'default'" in failed.stderr
    wf = json.loads((run_dir / "workflow.json").read_text())
    assert wf["state"] == "awaiting_approval" and wf["approval"]["status"] == "pending"
    assert (run_dir / "trace.jsonl").read_bytes() == trace_before  # nothing recorded

    approved = baton("approve", run_id, "--repo", str(sample_repo), "--json")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    check_landed(sample_repo, run_json(approved), before, tmp_path)
    for again in (["approve", run_id], ["reject", run_id, "--reason", "late"]):
        proc = baton(*again, "--repo", str(sample_repo))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "already approved" in proc.stderr, proc.stderr
    decisions = [e for e in events(run_dir) if e["type"] == "approval.decision"]
    assert len(decisions) == 1 and decisions[0]["approved"] is True


# --- resume after a crash; an approval is for one tree ----------------------------------


def test_a_checkout_left_by_a_crash_mid_verification_is_removed_on_resume(baton, sample_repo,
                                                                         tmp_path):
    from test_crash_resume import kill_once_verifying

    before = user_state(sample_repo)
    flag = tmp_path / "verification-started"
    cfg = config(tmp_path, "slow", f"test -f {flag} || (touch {flag}; sleep 120)", UNITTEST,
                 extra='sandbox = "none"\n')  # the flag is outside the checkout
    baton.serve(demo_script())
    kill_once_verifying(baton, sample_repo, cfg, flag, TASK)
    (run_dir,) = (sample_repo / ".baton" / "runs").iterdir()
    left = Path((run_dir / "checkout.path").read_text().strip())
    assert left.name.startswith("baton-verify-") and left.is_dir()
    resumed = baton("resume", run_dir.name, "--repo", str(sample_repo), "--json",
                    "--config", str(cfg))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert not left.exists()
    assert not (run_dir / "checkout.path").exists()
    check_landed(sample_repo, run_json(resumed), before, tmp_path)


def test_an_approval_is_for_the_tree_it_was_asked_for(baton, sample_repo):
    baton.serve(_high_risk_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    workflow = json.loads((run_dir / "workflow.json").read_text())
    (asked,) = [e for e in events(run_dir) if e["type"] == "approval.required"]
    assert workflow["approval"]["tree"] == asked["tree"]
    (snap,) = [e for e in events(run_dir) if e["type"] == "snapshot"]
    assert asked["tree"] == snap["tree"]
    # The pending approval names another tree: approving it does not approve this one.
    workflow["approval"]["tree"] = "0" * 40
    (run_dir / "workflow.json").write_text(json.dumps(workflow))
    again = baton("approve", workflow["run_id"], "--repo", str(sample_repo), "--json")
    assert again.returncode == 3, again.stdout + again.stderr
    assert not any(e["type"] == "command" for e in events(run_dir))


def test_resume_needs_the_endpoint_config_again_and_says_so(baton, sample_repo, tmp_path):
    gateway = baton.serve(demo_script())
    endpoints = tmp_path / "endpoints.toml"
    endpoints.write_text(f'[endpoints.default]\nbase_url = "{gateway.base_url}"\n'
                         'api_key_env = "BATON_TEST_API_KEY"\n')
    empty = tmp_path / "empty-user.toml"
    empty.write_text("")
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--config", str(endpoints),
                 "--max-calls", "1", BATON_CONFIG=str(empty))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    run_id = run_json(proc)["run_id"]
    bare = baton("resume", run_id, "--repo", str(sample_repo), BATON_CONFIG=str(empty))
    assert bare.returncode == 2, bare.stdout + bare.stderr
    assert f"pass it again: --config {endpoints}" in bare.stderr, bare.stderr
    again = baton("resume", run_id, "--repo", str(sample_repo), "--json", "--config",
                  str(endpoints), BATON_CONFIG=str(empty))
    assert again.returncode == 0, again.stdout + again.stderr
    assert run_json(again)["decision"] == "go"
