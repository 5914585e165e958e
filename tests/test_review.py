"""``baton review`` end to end: the real CLI on real git repositories, the real SDK over HTTP
to the fake gateway, real verification commands on a disposable checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REVIEWER, events, fence, run_json

from baton.demo import make_sample_repo

PY = sys.executable
SHOW = ("import pathlib\n"
        "for p in sorted(pathlib.Path('.').rglob('*')):\n"
        "    if p.is_file() and '__pycache__' not in p.parts:\n"
        "        print('FILE', p.as_posix())\n"
        "print('MARKER', pathlib.Path('marker.txt').read_text().strip())\n")


def git(repo: Path, *args: str, input_text: str | None = None) -> str:
    proc = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost",
                           "-c", "core.hooksPath=/dev/null", *args], cwd=repo,
                          capture_output=True, text=True, input=input_text, check=True)
    return proc.stdout


def user_state(repo: Path) -> dict:
    """Everything of the user's a review must not change: files with their bytes and
    modification times, the index file, HEAD, refs, stash, hooks and git config."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", ".baton"))
        for name in filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            files[path.relative_to(repo).as_posix()] = (path.read_bytes(), st.st_mtime_ns)
    gitdir = repo / ".git"

    def raw(rel: str):
        path = gitdir / rel
        return (path.read_bytes(), path.stat().st_mtime_ns) if path.exists() else None

    hooks = {p.name: p.read_bytes() for p in sorted((gitdir / "hooks").iterdir())} \
        if (gitdir / "hooks").is_dir() else {}
    return {"files": files, "index": raw("index"), "HEAD": raw("HEAD"),
            "packed-refs": raw("packed-refs"), "config": raw("config"),
            "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
            "stash": git(repo, "stash", "list", "--format=%H %s"),
            "status": git(repo, "--no-optional-locks", "status", "--porcelain=v2", "-z",
                          "--untracked-files=all"),
            "hooks": hooks}


def approve(**extra) -> str:
    return fence({"verdict": "approve", "summary": "looks right", "top_risks": [],
                  "findings": [], "verification_commands": [], "questions_for_owner": [],
                  **extra})


def request_changes() -> str:
    return fence({
        "verdict": "request_changes", "summary": "median is wrong for unsorted input",
        "top_risks": ["wrong answer"],
        "findings": [{"file": "stats.py", "line_start": 11, "line_end": 12,
                      "severity": "high", "message": "sort a copy of the values first"},
                     {"file": None, "severity": "low", "message": "add a test for []"}]})


def script(*answers: str, model: str = REVIEWER) -> dict:
    return {"models": {model: [{"content": a} for a in answers]}}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The demo sample with a marker file and a verify command that shows the checkout."""
    repo = make_sample_repo(tmp_path / "repo")
    (repo / "show.py").write_text(SHOW)
    (repo / "marker.txt").write_text("committed\n")
    toml = repo / "baton.toml"
    toml.write_text(toml.read_text().replace(
        "verify_commands = [", f'verify_commands = ["{PY} show.py", '))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "marker and show.py")
    return repo


def review(baton, repo: Path, *args: str, **kw):
    return baton("review", "--repo", str(repo), "--json", *args, **kw)


def packet(run_dir: Path, number: int = 1) -> str:
    return (run_dir / "packets" / f"{number:02d}-reviewer.md").read_text(encoding="utf-8")


def evidence_log(run_dir: Path) -> str:
    return (run_dir / "evidence" / "01.log").read_text(encoding="utf-8")


def diff_in(text: str) -> str:
    """The diff inside the fenced block of a reviewer packet."""
    body = text.split("# Diff\n", 1)[1]
    fence_line, rest = body.split("\n", 1)
    return rest.rsplit("\n" + fence_line.removesuffix("diff"), 1)[0] + "\n"


def messy_change(repo: Path) -> None:
    """Staged and a different unstaged edit of one file, untracked, deleted and renamed
    files, a name with spaces and non-ASCII letters, an ignored file and a stash."""
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "old name.txt").write_text("to be renamed\n" * 5)
    (repo / "gone.txt").write_text("to be deleted\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "files to move")
    (repo / "marker.txt").write_text("stashed\n")
    git(repo, "stash", "-q")
    (repo / "marker.txt").write_text("staged\n")
    git(repo, "add", "marker.txt")
    (repo / "marker.txt").write_text("staged\nunstaged too\n")
    git(repo, "mv", "old name.txt", "new näme é.txt")
    (repo / "gone.txt").unlink()
    (repo / "ünïcode dir").mkdir()
    (repo / "ünïcode dir" / "fïle with spaces.py").write_text("x = 1\n")
    (repo / "debug.log").write_text("ignored\n")
    hook = repo / ".git" / "hooks" / "post-index-change"
    hook.write_text(f"#!/bin/sh\ntouch {repo / 'HOOK-RAN'}\n")
    hook.chmod(0o755)


# -- --uncommitted: exact diff, nothing of the user's touched -------------------------------


def test_uncommitted_reviews_exactly_that_diff_and_touches_nothing(baton, repo, tmp_path):
    messy_change(repo)
    before = user_state(repo)
    expected_copy = tmp_path / "copy"
    shutil.copytree(repo, expected_copy, symlinks=True)
    git(expected_copy, "add", "-A")
    expected = git(expected_copy, "-c", "core.quotePath=false", "diff", "--cached", "-M",
                   "--no-color", "HEAD")
    expected_tree = git(expected_copy, "write-tree").strip()
    gateway = baton.serve(script(approve()))

    proc = review(baton, repo, "--uncommitted", "--task", "marker and renames",
                  "--author-model", "qwen/qwen3-coder")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["decision"] == "go" and result["kind"] == "review"
    assert result["branch"] is None and result["tree"] == expected_tree
    run_dir = Path(result["run_dir"])
    sent = diff_in(packet(run_dir))
    assert sent == expected
    assert "new näme é.txt" in sent and "fïle with spaces.py" in sent
    assert "+unstaged too" in sent and "debug.log" not in sent
    assert [r["model"] for r in gateway.requests()] == [REVIEWER]

    # verified on the snapshot: the unstaged edit and the untracked file, not the ignored one
    log = evidence_log(run_dir)
    assert "MARKER staged\nunstaged too" in log
    assert "FILE ünïcode dir/fïle with spaces.py" in log and "FILE new näme é.txt" in log
    assert "debug.log" not in log and "FILE gone.txt" not in log and "FILE .git/" not in log

    assert user_state(repo) == before
    assert not (repo / "HOOK-RAN").exists()
    assert not list(git(repo, "branch", "--list", "baton/*").splitlines())
    kinds = [e["type"] for e in events(run_dir)]
    assert kinds[0] == "run.start" and kinds[-1] == "run.end"
    assert {"review.snapshot", "review.verdict", "command", "decision"} <= set(kinds)
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "Decision: GO" in summary and expected_tree in summary


# -- each selection verified on its own tree ------------------------------------------------


def test_staged_is_verified_on_the_staged_tree(baton, repo):
    (repo / "marker.txt").write_text("staged\n")
    git(repo, "add", "marker.txt")
    (repo / "marker.txt").write_text("unstaged\n")
    (repo / "untracked.txt").write_text("not staged\n")
    staged_tree = git(repo, "write-tree").strip()  # before the capture: it updates the index
    before = user_state(repo)
    baton.serve(script(approve()))
    proc = review(baton, repo, "--staged")
    assert proc.returncode == 0, proc.stderr
    result = run_json(proc)
    run_dir = Path(result["run_dir"])
    assert result["tree"] == staged_tree
    log = evidence_log(run_dir)
    assert "MARKER staged" in log and "untracked.txt" not in log
    assert "-committed\n+staged" in diff_in(packet(run_dir))
    assert "unstaged" not in diff_in(packet(run_dir))
    assert user_state(repo) == before


def test_base_reviews_merge_base_to_head_without_uncommitted_edits(baton, repo):
    git(repo, "branch", "-q", "main-copy")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "marker.txt").write_text("feature commit\n")
    git(repo, "commit", "-qam", "feature work")
    git(repo, "checkout", "-q", "main-copy")
    (repo / "README.md").write_text("moved on\n")
    git(repo, "commit", "-qam", "main moves on")
    git(repo, "checkout", "-q", "feature")
    (repo / "marker.txt").write_text("uncommitted edit\n")
    before = user_state(repo)
    baton.serve(script(approve()))
    proc = review(baton, repo, "--base", "main-copy")
    assert proc.returncode == 0, proc.stderr
    result = run_json(proc)
    run_dir = Path(result["run_dir"])
    assert result["tree"] == git(repo, "rev-parse", "HEAD^{tree}").strip()
    sent = diff_in(packet(run_dir))
    assert "+feature commit" in sent and "README.md" not in sent and "uncommitted" not in sent
    assert "MARKER feature commit" in evidence_log(run_dir)
    assert user_state(repo) == before


def test_commit_is_verified_on_that_commits_tree(baton, repo):
    (repo / "marker.txt").write_text("first\n")
    git(repo, "commit", "-qam", "first")
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "marker.txt").write_text("second\n")
    git(repo, "commit", "-qam", "second")
    before = user_state(repo)
    baton.serve(script(approve()))
    proc = review(baton, repo, "--commit", first[:10])
    assert proc.returncode == 0, proc.stderr
    result = run_json(proc)
    run_dir = Path(result["run_dir"])
    assert result["tree"] == git(repo, "rev-parse", f"{first}^{{tree}}").strip()
    assert "-committed\n+first" in diff_in(packet(run_dir))
    assert "MARKER first" in evidence_log(run_dir)
    assert user_state(repo) == before


def test_diff_from_stdin_is_applied_to_head(baton, repo, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(repo, other)
    (other / "marker.txt").write_text("from a diff\n")
    patch = git(other, "diff")
    before = user_state(repo)
    baton.serve(script(approve()))
    proc = baton("review", "--repo", str(repo), "--json", "--diff", "-", input_text=patch)
    assert proc.returncode == 0, proc.stderr
    assert "MARKER from a diff" in evidence_log(Path(run_json(proc)["run_dir"]))
    assert user_state(repo) == before


# -- decisions ------------------------------------------------------------------------------


def test_failing_check_is_no_go(baton, repo):
    (repo / "tests" / "test_broken.py").write_text(
        "import unittest\n\nclass T(unittest.TestCase):\n"
        "    def test_fails(self):\n        self.fail('broken')\n")
    before = user_state(repo)
    baton.serve(script(approve()))
    proc = review(baton, repo, "--uncommitted")
    assert proc.returncode == 1, proc.stderr
    result = run_json(proc)
    assert result["decision"] == "no-go"
    assert any("exited 1" in r for r in result["reasons"]), result["reasons"]
    assert user_state(repo) == before


def test_ci_file_change_awaits_approval_then_approve_records_go(baton, repo):
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    before = user_state(repo)
    gateway = baton.serve(script(approve()))
    proc = review(baton, repo, "--uncommitted")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["state"] == "awaiting_approval"
    assert "ci.yml" in result["reasons"][0]
    assert user_state(repo) == before

    proc = baton("approve", result["run_id"], "--repo", str(repo), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    approved = run_json(proc)
    assert approved["decision"] == "go" and approved["tree"] == result["tree"]
    assert len(gateway.requests()) == 1  # the verdict was replayed, not asked again
    run_dir = Path(result["run_dir"])
    commands = [e for e in events(run_dir) if e["type"] == "command"]
    assert len(commands) == len({c["step"] for c in commands})  # checks not run twice
    assert user_state(repo) == before
    assert not git(repo, "branch", "--list", "baton/*").strip()


def test_request_changes_findings_then_follow_round_goes(baton, repo, tmp_path):
    (repo / "stats.py").write_text((repo / "stats.py").read_text()
                                   + "\n\ndef median(v):\n    return v[len(v) // 2]\n")
    baton.serve(script(request_changes()))
    sarif = tmp_path / "out" / "review.sarif"
    proc = review(baton, repo, "--uncommitted", "--task", "add median", "--sarif", str(sarif))
    assert proc.returncode == 1, proc.stderr
    first = run_json(proc)
    assert first["decision"] == "no-go" and first["verdict"] == "request_changes"
    assert first["findings"][0] == {"file": "stats.py", "line_start": 11, "line_end": 12,
                                    "severity": "high",
                                    "message": "sort a copy of the values first"}
    assert first["findings"][1]["file"] is None
    assert f"--follow {first['run_id']}" in " ".join(first["reasons"])
    summary = (Path(first["run_dir"]) / "summary.md").read_text()
    assert "sort a copy of the values first" in summary and "| 11-12 |" in summary
    log = json.loads(sarif.read_text())
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] == \
        {"startLine": 11, "endLine": 12}

    (repo / "stats.py").write_text((repo / "stats.py").read_text().replace(
        "return v[len(v) // 2]", "return sorted(v)[len(v) // 2]"))
    gateway = baton.serve(script(approve()))  # the fake gateway's answers are per run
    proc = review(baton, repo, "--follow", first["run_id"][:15])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    second = run_json(proc)
    assert second["decision"] == "go" and second["round"] == 2
    assert second["follows"] == first["run_id"] and second["selection"] == "--uncommitted"
    run_dir = Path(second["run_dir"])
    prompt = packet(run_dir)
    assert "findings of round 1" in prompt and "sort a copy of the values first" in prompt
    assert "Task\nadd median" in prompt and "+    return sorted(v)" in prompt
    start = events(run_dir)[0]
    assert start["follows"] == first["run_id"] and start["round"] == 2
    assert len(gateway.requests()) == 1


def test_follow_beyond_max_review_rounds_is_refused(baton, repo):
    (repo / "marker.txt").write_text("x\n")
    gateway = baton.serve(script(request_changes()))
    proc = review(baton, repo, "--uncommitted", "--set", "max_review_rounds=1")
    assert proc.returncode == 1, proc.stderr
    first = run_json(proc)
    assert "no approval after 1 review round" in " ".join(first["reasons"])
    proc = review(baton, repo, "--follow", first["run_id"], "--set", "max_review_rounds=1")
    assert proc.returncode == 2 and "rounds exhausted" in proc.stderr
    assert len(gateway.requests()) == 1


# -- another vendor, checked ----------------------------------------------------------------


def test_same_vendor_author_is_warned_everywhere(baton, repo):
    (repo / "marker.txt").write_text("x\n")
    git(repo, "commit", "-qam", "agent work\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
    baton.serve(script(approve()))
    proc = review(baton, repo, "--commit", "HEAD")
    assert proc.returncode == 0, proc.stderr
    assert "same vendor as the author" in proc.stderr and "anthropic" in proc.stderr
    result = run_json(proc)
    assert any("same vendor" in w for w in result["warnings"])
    run_dir = Path(result["run_dir"])
    checks = [e for e in events(run_dir) if e["type"] == "reviewer.vendor"]
    assert checks and checks[0]["relation"] == "same_vendor"
    assert checks[0]["author_source"] == "Co-Authored-By trailer"
    assert "same vendor as the author" in (run_dir / "summary.md").read_text()


def test_same_vendor_is_refused_under_require_other_vendor(baton, repo):
    (repo / "marker.txt").write_text("x\n")
    before = user_state(repo)
    gateway = baton.serve(script(approve()))
    proc = review(baton, repo, "--uncommitted", "--author-model", "anthropic/claude-opus-4",
                  "--set", "require_other_vendor=true")
    assert proc.returncode == 2
    assert "require_other_vendor" in proc.stderr and "same vendor" in proc.stderr
    assert gateway.requests() == [] and not (repo / ".baton").exists()
    assert user_state(repo) == before


def test_baton_run_applies_the_same_vendor_rule(baton, sample_repo, tmp_path):
    gateway = baton.serve(script(approve()))
    cfg = tmp_path / "same-vendor.toml"
    cfg.write_text('require_other_vendor = true\n[routes.implementer]\n'
                   'model = "anthropic/claude-haiku-4.5"\n')
    proc = baton("run", "Add median()", "--repo", str(sample_repo), "--config", str(cfg))
    assert proc.returncode == 2 and "same vendor" in proc.stderr
    assert gateway.requests() == [] and not (sample_repo / ".baton" / "runs").exists()


# -- plan review ----------------------------------------------------------------------------


def test_markdown_plan_is_reviewed_before_any_code(baton, repo, tmp_path):
    plan = tmp_path / "plan.md"
    plan.write_text("# Plan: add median\n\n1. Add `median()` to `stats.py`.\n"
                    "2. Tests in `tests/test_median.py`.\n\nRollback: revert.\n")
    before = user_state(repo)
    gateway = baton.serve(script(request_changes()))
    proc = review(baton, repo, "--plan", str(plan), "--task", "add median")
    assert proc.returncode == 1, proc.stderr
    result = run_json(proc)
    assert result["verdict"] == "request_changes" and result["tree"] is None
    prompt = packet(Path(result["run_dir"]))
    assert "ADVERSARIAL REVIEWER of a plan" in prompt
    assert "Tests in `tests/test_median.py`" in prompt
    assert not [e for e in events(Path(result["run_dir"])) if e["type"] == "command"]
    assert len(gateway.requests()) == 1
    assert user_state(repo) == before


def test_plan_json_with_a_change_checks_the_contract(baton, repo, tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({
        "summary": "Change the marker", "affected_files": [
            {"path": "marker.txt", "change": "new text"},
            {"path": "tests/test_marker.py", "change": "a test"}],
        "risks": ["none"], "acceptance_criteria": ["marker changed"],
        "test_commands": [f"{PY} -c pass"], "rollback": "revert", "risk_level": "low"}))
    (repo / "marker.txt").write_text("planned\n")
    (repo / "README.md").write_text("not in the plan\n")
    baton.serve(script(approve()))
    proc = review(baton, repo, "--uncommitted", "--plan", str(plan))
    assert proc.returncode == 0, proc.stderr
    prompt = packet(Path(run_json(proc)["run_dir"]))
    assert "- changed outside the plan: README.md" in prompt
    assert "- named in the plan but not changed: tests/test_marker.py" in prompt


# -- SARIF ----------------------------------------------------------------------------------


def test_sarif_output_is_valid_sarif_2_1_0(baton, repo, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
    (repo / "dïr with space").mkdir()
    (repo / "dïr with space" / "a.py").write_text("x = 1\n")
    baton.serve(script(fence({
        "verdict": "request_changes", "summary": "s",
        "findings": [{"file": "dïr with space/a.py", "line_start": 1, "severity": "critical",
                      "message": "rename x"},
                     {"file": "b.py", "line_start": "n/a", "severity": "warning",
                      "message": "no line"},
                     {"severity": "note", "message": "no file"}]})))
    out = tmp_path / "review.sarif"
    proc = review(baton, repo, "--uncommitted", "--sarif", str(out))
    assert proc.returncode == 1, proc.stderr
    log = json.loads(out.read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "warning", "note"]
    first = results[0]["locations"][0]["physicalLocation"]
    assert first["artifactLocation"]["uri"] == "d%C3%AFr%20with%20space/a.py"
    assert "region" not in results[1]["locations"][0]["physicalLocation"]
    # GitHub code scanning refuses a whole upload if any result has no location: a
    # finding about the change as a whole is anchored at the change's first file, line 1
    assert all(r.get("locations") for r in results)
    third = results[2]["locations"][0]["physicalLocation"]
    assert third["artifactLocation"]["uri"] == "d%C3%AFr%20with%20space/a.py"
    assert third["region"] == {"startLine": 1, "endLine": 1}
    assert results[2]["properties"]["anchored"] is True
    assert "anchored" not in results[0]["properties"]
    from baton.models import Finding
    from baton.review.sarif import to_sarif

    plan_only = to_sarif([Finding(severity="low", message="m")], run_id="r", verdict=None,
                         decision=None, tree=None, reviewer_model="m")
    assert "locations" not in plan_only["runs"][0]["results"][0]  # nothing to anchor at
    broken = dict(log, version="2.0.0")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(broken)


# -- bad input: clear message, exit 2, no model call, nothing touched -----------------------


def _refused(baton, repo: Path, *args: str, expect: str, input_text: str | None = None):
    gateway = baton.serve(script(approve()))
    before = user_state(repo) if (repo / ".git").exists() else None
    proc = baton("review", "--repo", str(repo), *args, input_text=input_text)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expect in proc.stderr, proc.stderr
    assert gateway.requests() == []
    assert not (repo / ".baton").exists()
    if before is not None:
        assert user_state(repo) == before


def test_not_a_git_repository(baton, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    _refused(baton, plain, "--uncommitted", expect="not inside a git repository")


def test_clean_tree_has_nothing_to_review(baton, repo):
    _refused(baton, repo, "--uncommitted", expect="the working tree is clean")


def test_staged_with_nothing_staged(baton, repo):
    (repo / "marker.txt").write_text("unstaged only\n")
    _refused(baton, repo, "--staged", expect="nothing is staged")


def test_base_that_does_not_exist(baton, repo):
    _refused(baton, repo, "--base", "origin/nope", expect="--base origin/nope: no such commit")


def test_diff_that_does_not_apply(baton, repo, tmp_path):
    bad = tmp_path / "bad.diff"
    bad.write_text("diff --git a/marker.txt b/marker.txt\n--- a/marker.txt\n+++ b/marker.txt\n"
                   "@@ -1 +1 @@\n-something else\n+new\n")
    _refused(baton, repo, "--diff", str(bad), expect="the diff does not apply to HEAD")


def test_binary_only_change(baton, repo):
    (repo / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary\x00" * 10)
    _refused(baton, repo, "--uncommitted", expect="binary only")


def test_change_over_the_prompt_size_cap(baton, repo):
    (repo / "big.txt").write_text("line\n" * 4000)
    _refused(baton, repo, "--uncommitted", "--set", "max_prompt_bytes=10000",
             expect="too large to review in one prompt")


def test_nothing_selected_and_two_selections(baton, repo):
    _refused(baton, repo, expect="choose what to review")
    (repo / "marker.txt").write_text("x\n")
    _refused(baton, repo, "--staged", "--uncommitted", expect="choose one change")


def test_secret_and_protected_files_are_withheld_and_need_a_person(baton, repo):
    (repo / ".env").write_text("API_TOKEN=hunter2-secret-value\n")
    (repo / "vault").mkdir()
    (repo / "vault" / "keys.txt").write_text("private material\n")
    (repo / "marker.txt").write_text("visible\n")
    baton.serve(script(approve()))
    proc = review(baton, repo, "--uncommitted", "--set", 'protected_paths=["vault/**"]')
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    run_dir = Path(result["run_dir"])
    prompt = packet(run_dir)
    assert "hunter2" not in prompt and "private material" not in prompt
    assert "- `.env`" in prompt and "- `vault/keys.txt`" in prompt and "+visible" in prompt
    assert "withheld from the reviewer" in result["reasons"][0]
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert "hunter2" not in path.read_text(errors="replace"), path


def test_budget_exhausted_pauses_and_resume_finishes(baton, repo):
    (repo / "marker.txt").write_text("x\n")
    before = user_state(repo)
    gateway = baton.serve(script(approve()))
    proc = review(baton, repo, "--uncommitted", "--max-calls", "0")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    paused = run_json(proc)
    assert paused["state"] == "budget_exhausted" and gateway.requests() == []
    proc = baton("resume", paused["run_id"], "--repo", str(repo), "--json", "--max-calls", "5")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    done = run_json(proc)
    assert done["decision"] == "go" and done["tree"] == paused["tree"]
    assert user_state(repo) == before


def test_ctrl_c_during_a_review_leaves_it_interrupted_and_resumable(baton, repo):
    import signal
    import time

    (repo / "marker.txt").write_text("x\n")
    before = user_state(repo)
    slow = script(approve())
    slow["models"][REVIEWER][0]["latency_s"] = 60
    gateway = baton.serve(slow)
    proc = subprocess.Popen([sys.executable, "-m", "baton", "review", "--repo", str(repo),
                             "--json", "--uncommitted"], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=baton.env(),
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not gateway.requests() and time.monotonic() < deadline:  # the call is on the wire
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    result = json.loads(out)
    run_id = result["run_id"]
    assert result["state"] == "interrupted"
    assert f"run {run_id} stopped by Ctrl-C" in err and f"baton resume {run_id}" in err
    run_dir = Path(result["run_dir"]) if "run_dir" in result else \
        repo / ".baton" / "runs" / run_id
    assert json.loads((run_dir / "workflow.json").read_text())["state"] == "interrupted"
    assert user_state(repo) == before
    baton.serve(script(approve()))
    resumed = baton("resume", run_id, "--repo", str(repo), "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert run_json(resumed)["decision"] == "go"
    assert user_state(repo) == before


def test_summarize_evidence_applies_to_a_review_too(baton, repo, tmp_path):
    (repo / "marker.txt").write_text("x\n")
    answers = script(approve())
    answers["models"]["google/gemini-2.5-flash"] = [
        {"content": "Both commands ran and exited 0."}]
    gateway = baton.serve(answers)
    cfg = tmp_path / "s.toml"
    cfg.write_text("summarize_evidence = true\n")
    proc = review(baton, repo, "--uncommitted", "--config", str(cfg))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    summary = (run_dir / "evidence" / "summary.md").read_text()
    assert summary.startswith("_Summary by google/gemini-2.5-flash")
    assert "decides nothing" in summary and "exited 0" in summary
    assert [r["model"] for r in gateway.requests()] == [REVIEWER, "google/gemini-2.5-flash"]
    decision = next(e for e in events(run_dir) if e["type"] == "decision")
    assert decision["decision"] == "go"  # the summary never decides


def test_what_verification_writes_is_recorded_and_reaches_nothing(baton, repo):
    (repo / "tamper.py").write_text(
        "import pathlib\npathlib.Path('marker.txt').write_text('tampered\\n')\n"
        "pathlib.Path('cache.bin').write_bytes(b'x')\n")
    before = user_state(repo)
    baton.serve(script(approve()))
    proc = review(baton, repo, "--uncommitted", "--set", f'verify_commands=["{PY} tamper.py"]')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    run_dir = Path(result["run_dir"])
    drift = [e for e in events(run_dir) if e["type"] == "verify.drift"]
    assert drift and drift[0]["files"] == [{"status": "A", "path": "cache.bin"},
                                           {"status": "M", "path": "marker.txt"}]
    summary = (run_dir / "summary.md").read_text()
    assert "| added | `cache.bin` |" in summary or "`cache.bin`" in summary
    assert "`marker.txt`" in summary
    assert user_state(repo) == before
    assert (repo / "marker.txt").read_text() == "committed\n"


def test_plan_files_are_read_from_markdown_and_json(tmp_path):
    from baton.approvals import FileChange
    from baton.errors import UserError
    from baton.review.planfile import load_plan_file, plan_contract

    md = tmp_path / "plan.md"
    md.write_text("Edit `src/app/main.py` and `README.md`; call `run()` with `--flag`.\n")
    plan = load_plan_file(md)
    assert plan.plan is None and plan.files == ["src/app/main.py", "README.md"]
    flags = plan_contract(plan, [FileChange("src/app/main.py", "M", 1, 0),
                                 FileChange("setup.cfg", "A", 3, 0)])
    assert flags == ["changed outside the plan: setup.cfg",
                     "named in the plan but not changed: README.md"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"summary": "x"}')
    with pytest.raises(UserError, match="not a baton plan"):
        load_plan_file(bad)
    with pytest.raises(UserError, match="no such file"):
        load_plan_file(tmp_path / "missing.md")


def test_findings_are_read_the_way_models_write_them(baton, repo):
    """``fix``/``description``/``suggestion`` for the message and ``line`` for line_start
    are accepted with no repair call; a finding with no text at all is still refused."""
    (repo / "stats.py").write_text((repo / "stats.py").read_text()
                                   + "\n\ndef median(v):\n    return v[len(v) // 2]\n")
    aliased = fence({
        "verdict": "request_changes", "summary": "median is wrong for unsorted input",
        "findings": [{"path": "stats.py", "line": 11, "severity": "high",
                      "fix": "sort a copy of the values first"},
                     {"file": "stats.py", "line": "12", "description": "wrong for even sizes",
                      "suggestion": "average the middle two"},
                     {"description": "no test for []"}]})
    gateway = baton.serve(script(aliased))
    proc = review(baton, repo, "--uncommitted")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = run_json(proc)
    assert len(gateway.requests()) == 1  # read as written: no repair request
    assert result["findings"] == [
        {"file": "stats.py", "line_start": 11, "line_end": 11, "severity": "high",
         "message": "sort a copy of the values first"},
        {"file": "stats.py", "line_start": 12, "line_end": 12, "severity": "medium",
         "message": "wrong for even sizes (fix: average the middle two)"},
        {"file": None, "line_start": None, "line_end": None, "severity": "medium",
         "message": "no test for []"}]

    textless = fence({"verdict": "request_changes", "summary": "s",
                      "findings": [{"file": "stats.py", "line": 3, "severity": "low"}]})
    gateway = baton.serve(script(textless, request_changes()))
    proc = review(baton, repo, "--uncommitted")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(gateway.requests()) == 2  # no text at all: refused, the reviewer asked again
    assert "findings.0.message: Field required" in packet(Path(run_json(proc)["run_dir"]), 2)
