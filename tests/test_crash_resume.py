"""Crashes and resumes: SIGKILL at many points, concurrent resumes, a torn trace.

A run killed anywhere after it started is finished by ``baton resume`` with the decision
and the tree an uninterrupted run has, without asking the gateway again for any answer
already recorded in the trace.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from conftest import demo_script, events, run_json

from baton.demo import make_sample_repo
from baton.workspace.sandbox import sandbox_available

TASK = "Add a median() function to stats.py, with tests."
FILES = ["stats.py", "tests/test_median.py"]
SLOW_CHECK = "python3 -c 'import time; time.sleep(0.6)'"


def slow_script(latency_s: float = 0.3) -> dict:
    """The demo script with a visible latency on every answer."""
    script = demo_script()
    for entries in script["models"].values():
        for entry in entries:
            entry["latency_s"] = latency_s
    return script


def slow_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "slow.toml"
    cfg.write_text(
        f'verify_commands = ["{SLOW_CHECK}", "{sys.executable} -m unittest discover -s tests"]\n'
    )
    return cfg


def trace_lines(run_dir: Path) -> list[str]:
    try:
        return (run_dir / "trace.jsonl").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def run_dir_of(repo: Path) -> Path | None:
    base = repo / ".baton" / "runs"
    found = list(base.iterdir()) if base.is_dir() else []
    return found[0] if found else None


def branch_files(repo: Path, branch: str) -> dict[str, str]:
    out = {}
    for name in FILES:
        out[name] = subprocess.run(["git", "show", f"{branch}:{name}"], cwd=repo,
                                   capture_output=True, text=True).stdout
    return out


def start_baton(baton, repo: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "baton", *args], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=baton.env(), stdin=subprocess.DEVNULL, start_new_session=True)


def kill_once_verifying(baton, repo: Path, cfg: Path, flag: Path, task: str) -> None:
    """Start a run whose verify command touches ``flag`` and then sleeps; SIGKILL it there."""
    proc = start_baton(baton, repo, "run", task, "--json", "--config", str(cfg))
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists(), "verification never started"
    kill(proc)


def kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def crash_and_resume(baton, tmp_path: Path, cfg: Path, point: tuple[int, float]) -> dict:
    """Start a run, SIGKILL it ``delay`` s after its trace has ``lines`` lines, resume it."""
    lines, delay = point
    repo = make_sample_repo(tmp_path / "crash" / f"{lines}-{delay:g}-{time.monotonic_ns()}")
    proc = start_baton(baton, repo, "run", TASK, "--json", "--config", str(cfg))
    deadline = time.monotonic() + 60
    run_dir = None
    while time.monotonic() < deadline and proc.poll() is None and run_dir is None:
        run_dir = run_dir_of(repo)
        time.sleep(0.002)
    while time.monotonic() < deadline and proc.poll() is None \
            and len(trace_lines(run_dir)) < lines:
        time.sleep(0.002)
    time.sleep(delay)
    killed_at = time.time()
    kill(proc)
    assert run_dir is not None, f"no run folder at {point}"
    before = [json.loads(line) for line in trace_lines(run_dir) if line.endswith("}")]
    resumed = subprocess.run([sys.executable, "-m", "baton", "resume", run_dir.name, "--json"],
                             cwd=repo, capture_output=True, text=True, env=baton.env(),
                             stdin=subprocess.DEVNULL, timeout=120)
    return {"point": point, "repo": repo, "run_dir": run_dir, "before": before,
            "killed_at": killed_at, "resumed": resumed}


def kill_points(reference: list[dict], count: int = 50) -> list[tuple[int, float]]:
    """(trace lines, then seconds): every step boundary after run.start, then the rest
    spread evenly over the reference run's time, each placed inside the step it falls in
    (so a machine slower than the reference still kills mid-step, not after the end)."""
    stamps = [datetime.fromisoformat(e["ts"]) for e in reference]
    gaps = [(k, (stamps[k] - stamps[k - 1]).total_seconds()) for k in range(1, len(stamps))]
    points = [(k, 0.0) for k, _ in gaps]
    timed = count - len(points)
    total = sum(gap for _, gap in gaps)
    for i in range(timed):
        at = (i + 0.5) * total / timed
        for k, gap in gaps:
            if at < gap:
                # At least a few ms into the step, so no timed point repeats a boundary.
                points.append((k, max(round(at, 3), 0.005)))
                break
            at -= gap
    return points


def check_resumed(out: dict, expected_files: dict[str, str], requests: dict) -> int:
    """Assert the resumed run matches the reference; returns how many calls were repeated."""
    resumed = out["resumed"]
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = run_json(resumed)
    assert result["decision"] == "go" and result["state"] == "done", result
    assert branch_files(out["repo"], result["branch"]) == expected_files
    final = [json.loads(line) for line in trace_lines(out["run_dir"])]
    assert [e["seq"] for e in final] == list(range(len(final)))
    assert final[-1]["type"] == "run.end", [e["type"] for e in final]

    recorded = {e["call_key"] for e in out["before"]
                if e["type"] == "model.call" and e["outcome"] == "ok"}
    log = requests[out["run_dir"].name]
    after_kill = {r["call"] for r in log if r["ts"] > out["killed_at"]}
    assert not recorded & after_kill, f"recorded calls asked again: {recorded & after_kill}"
    twice = [k for k, n in collections.Counter(r["call"] for r in log).items() if n > 1]
    assert len(twice) <= 1, f"asked twice: {twice}"
    return len(twice)


KILL_CHUNKS = 5  # the 50 points in 5 interleaved shares, so pytest-xdist spreads them


@pytest.mark.parametrize("chunk", range(KILL_CHUNKS))
def test_sigkill_at_50_points_then_resume_finishes_like_an_uninterrupted_run(baton, tmp_path,
                                                                            chunk):
    gateway = baton.serve(slow_script())
    cfg = slow_config(tmp_path)
    reference_repo = make_sample_repo(tmp_path / "reference")
    started = time.monotonic()
    proc = baton("run", TASK, "--repo", str(reference_repo), "--json", "--config", str(cfg))
    reference_wall = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    reference = run_json(proc)
    expected_files = branch_files(reference_repo, reference["branch"])
    assert "def median" in expected_files["stats.py"]
    reference_trace = events(Path(reference["run_dir"]))
    trace_length = len(reference_trace)
    points = kill_points(reference_trace)
    assert len(points) == 50 and len(set(points)) == 50, points
    points = points[chunk::KILL_CHUNKS]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda p: crash_and_resume(baton, tmp_path, cfg, p), points))
    wall = time.monotonic() - started

    requests = collections.defaultdict(list)
    for request in gateway.requests():
        requests[request["run"]].append(request)
    repeated_calls = 0
    crashed_mid_run = 0
    problems = []
    for out in outcomes:
        try:
            repeated_calls += check_resumed(out, expected_files, requests)
        except AssertionError as exc:
            problems.append(f"{out['point']}: {exc}")
        crashed_mid_run += not any(e["type"] == "run.end" for e in out["before"])
    assert not problems, "\n".join(problems)
    assert crashed_mid_run >= len(points) * 0.8  # kills land mid-run (a loaded machine: 8/10)
    print(f"\nreference run {reference_wall:.1f}s, trace {trace_length} events; "
          f"{len(points)} kill points ({trace_length - 1} at step boundaries, "
          f"{50 - trace_length + 1} timed; share {chunk + 1}/{KILL_CHUNKS} ran "
          f"{len(points)}), {crashed_mid_run} killed mid-run; "
          f"{repeated_calls} in-flight calls asked again; all resumed in {wall:.1f}s")


def test_two_resumes_at_once_one_is_refused(baton, sample_repo):
    baton.serve(slow_script(latency_s=1.0))
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--max-calls", "1")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    run_id = run_json(proc)["run_id"]
    first = start_baton(baton, sample_repo, "resume", run_id, "--json",
                        "--max-calls", "100")
    run_dir = sample_repo / ".baton" / "runs" / run_id
    # Once run.resume is in the trace, the first holds the lock for 1 s model calls.
    while first.poll() is None and not any('"run.resume"' in line
                                           for line in trace_lines(run_dir)):
        time.sleep(0.01)
    second = baton("resume", run_id, "--json", "--max-calls", "100", cwd=sample_repo)
    out, err = first.communicate(timeout=60)
    assert second.returncode == 2, second.stdout + second.stderr
    assert "being worked on" in second.stderr, second.stderr
    assert first.returncode == 0, err
    assert json.loads(out)["decision"] == "go"
    resumes = [e for e in events(run_dir) if e["type"] == "run.resume"]
    assert len(resumes) == 1


def test_a_torn_last_line_is_repaired_on_resume_with_a_warning(baton, sample_repo):
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--max-calls", "2")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    run_id = run_json(proc)["run_id"]
    trace = sample_repo / ".baton" / "runs" / run_id / "trace.jsonl"
    with trace.open("a", encoding="utf-8") as fh:
        fh.write(f'{{"schema_version": 1, "run_id": "{run_id}", "seq": 99, "type": "model.ca')
    proc = baton("resume", run_id, "--max-calls", "100", cwd=sample_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" in proc.stderr and "torn" in proc.stderr, proc.stderr
    lines = trace.read_text(encoding="utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]  # every line is valid JSON
    assert [e["seq"] for e in parsed] == list(range(len(parsed)))
    resume = next(e for e in parsed if e["type"] == "run.resume")
    assert resume["repaired_trace"] is True and resume["previous_state"] == "budget_exhausted"
    assert parsed[-1]["type"] == "run.end" and parsed[-1]["decision"] == "go"


def test_a_crash_after_the_decision_keeps_the_recorded_commit(baton, sample_repo):
    """Killed between the decision and the end of the bookkeeping (a window of
    milliseconds, hit by chance above): resume keeps the commit the trace names."""
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stderr
    result = run_json(proc)
    run_dir = Path(result["run_dir"])
    lines = trace_lines(run_dir)
    decision = next(i for i, line in enumerate(lines) if '"type": "decision"' in line)
    (run_dir / "trace.jsonl").write_text("\n".join(lines[:decision + 1]) + "\n")
    workflow = json.loads((run_dir / "workflow.json").read_text())
    (run_dir / "workflow.json").write_text(json.dumps(dict(workflow, state="running")))

    proc = baton("resume", result["run_id"], "--json", cwd=sample_repo)
    assert proc.returncode == 0, proc.stderr
    again = run_json(proc)
    assert again["decision"] == "go" and again["commit"] == result["commit"]
    head = subprocess.run(["git", "rev-parse", result["branch"]], cwd=sample_repo,
                          capture_output=True, text=True).stdout.strip()
    assert head == result["commit"]
    final = events(run_dir)
    assert [e["type"] for e in final[-3:]] == ["decision", "run.resume", "run.end"]
    assert [e["seq"] for e in final] == list(range(len(final)))
    assert json.loads((run_dir / "workflow.json").read_text())["state"] == "done"


def test_git_lock_files_left_by_a_killed_git_do_not_block_resume(baton, sample_repo):
    """A SIGKILL reaches baton's git children too; their lock files stay behind."""
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--max-calls", "2")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    result = run_json(proc)
    git_dir = sample_repo / ".git"
    (git_dir / "worktrees" / result["run_id"] / "index.lock").write_text("")
    (git_dir / "refs" / "heads" / f"{result['branch']}.lock").write_text("")
    proc = baton("resume", result["run_id"], "--json", "--max-calls", "100", cwd=sample_repo)
    assert proc.returncode == 0, proc.stderr
    assert run_json(proc)["decision"] == "go"


def test_a_command_orphaned_by_a_crash_is_stopped_on_resume(baton, sample_repo, tmp_path):
    # Without bubblewrap nothing ties a verification command to baton's life: resume must
    # end what the crashed process left running before it touches the worktree again.
    marker = f"baton-orphan-{os.getpid()}-{time.time_ns()}"
    flag = tmp_path / "first-run-started"
    cfg = tmp_path / "orphan.toml"
    cfg.write_text('sandbox = "none"\n'
                   f'verify_commands = ["test -f {flag} || (touch {flag}; '
                   # one child leaves the session: only its environment marker gives it away
                   f'setsid -f bash -c \'exec -a {marker}-escaped sleep 120\'; '
                   f'exec -a {marker} sleep 120)"]\n')
    baton.serve(demo_script())
    proc = start_baton(baton, sample_repo, "run", TASK, "--json", "--config", str(cfg))
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists(), "the verify command never started"
    time.sleep(0.3)
    kill(proc)

    def alive() -> list[str]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(marker.encode()):  # the exec -a names only
                found.append(pid)
        return found

    assert len(alive()) == 2, "both orphans should outlive the killed baton"
    run_dir = run_dir_of(sample_repo)
    resumed = baton("resume", run_dir.name, "--repo", str(sample_repo), "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "left running by the crashed process was stopped" in resumed.stderr
    assert not alive()


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap not usable here")
@pytest.mark.parametrize("then", ["resume", "clean"])
def test_what_a_killed_run_left_outside_the_repository_is_removed(baton, sample_repo,
                                                                  tmp_path, then):
    # Killed while a sandboxed command runs: its disposable checkout (in /dev/shm or the
    # temporary folder) and its scratch folder outlive baton. A resume removes them before
    # it starts again; `baton clean` removes them and keeps the resumable run.
    cfg = tmp_path / "slow.toml"
    cfg.write_text('sandbox = "bwrap"\nverify_commands = ["sleep 1.5"]\n')
    baton.serve(demo_script())
    proc = start_baton(baton, sample_repo, "run", TASK, "--json", "--config", str(cfg))
    deadline = time.monotonic() + 60

    def slow_command_running(run_dir: Path | None) -> bool:
        if run_dir is None or not (run_dir / "command.session").exists():
            return False
        for line in trace_lines(run_dir):
            try:
                event = json.loads(line)
            except ValueError:  # the line being written
                continue
            if event["type"] == "command.start" and event["command"] == "sleep 1.5":
                return True
        return False

    while not slow_command_running(run_dir := run_dir_of(sample_repo)):
        assert time.monotonic() < deadline, "the slow command never started"
        time.sleep(0.02)
    time.sleep(0.3)
    kill(proc)
    checkout = Path((run_dir / "checkout.path").read_text().strip())
    session = (run_dir / "command.session").read_text()
    scratch = Path(session.split("\nscratch ", 1)[1].strip())
    assert checkout.is_dir() and checkout.name.startswith("baton-verify-")
    assert scratch.is_dir() and scratch.name.startswith("baton-scratch-")
    if then == "clean":
        dry = baton("clean", "--dry-run", cwd=sample_repo)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert f"would remove checkout {os.path.realpath(checkout)}" in dry.stdout
        assert checkout.is_dir() and scratch.is_dir()  # a dry run removes nothing
        cleaned = baton("clean", cwd=sample_repo)
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        assert f"removed checkout {os.path.realpath(checkout)}" in cleaned.stdout
        assert f"removed scratch {os.path.realpath(scratch)}" in cleaned.stdout
        assert f"kept run {run_dir.name}: interrupted" in cleaned.stdout, cleaned.stdout
        assert not checkout.exists() and not scratch.exists()
        assert not (run_dir / "command.session").exists()
    resumed = baton("resume", run_dir.name, "--repo", str(sample_repo), "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads(resumed.stdout)["decision"] == "go"
    assert not checkout.exists() and not scratch.exists()
