"""Faults on the wire: retries, Retry-After, attempt caps, fallbacks, cut streams, timeouts.

Everything goes over real HTTP to the fake gateway, through the real SDK, on real git
repositories. The soak test runs hundreds of workflows in one process, as the routing
comparison will.
"""

from __future__ import annotations

import collections
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import (
    IMPLEMENTER,
    PLANNER,
    REVIEWER,
    demo_script,
    events,
    fence,
    run_json,
    set_responses,
)

from baton.demo import make_sample_repo
from baton.gateway.server import FakeGateway
from baton.pipeline import start_run

TASK = "Add a median() function to stats.py, with tests."
KINDS = ["429", "500", "502", "503", "reset", "cut"]


def block_script() -> dict:
    """The demo script with a reviewer that blocks: a no-go after one round."""
    script = demo_script()
    return set_responses(script, REVIEWER, [fence({
        "verdict": "block", "summary": "median must live in a new module per the owner",
        "top_risks": ["wrong place"], "required_fixes": [], "questions_for_owner": []})])


def without_latency(script: dict) -> dict:
    for entries in script["models"].values():
        for entry in entries:
            if isinstance(entry, dict):
                entry.pop("latency_s", None)
    return script


def user_config(path: Path, base_url: str, retry: str = "") -> Path:
    path.write_text(f'[endpoints.default]\nbase_url = "{base_url}"\n'
                    f'api_key_env = "BATON_TEST_API_KEY"\n[retry]\n{retry}\n')
    return path


def library_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATON_"))}
    env.update(BATON_CONFIG=str(config), BATON_TEST_API_KEY="not-a-real-key")
    return env


def check_trace(run_dir: Path) -> list[dict]:
    """Every line is one JSON event and seq runs 0..n-1 without a gap."""
    lines = (run_dir / "trace.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "the trace does not end with a newline"
    parsed = [json.loads(line) for line in lines[:-1]]
    assert [e["seq"] for e in parsed] == list(range(len(parsed)))
    return parsed


def outcome(result) -> tuple:
    patch = (result.run_dir / "patch.diff").read_text()
    return result.state, result.decision, tuple(result.reasons), patch


# --- many workflows under random faults, in one process ---------------------------------


def test_200_workflows_with_30_percent_faults_decide_as_without(tmp_path):
    runs_per_scenario = 100
    max_attempts = 10
    retry = f"max_attempts = {max_attempts}\nbackoff_base_s = 0.01\nbackoff_max_s = 0.05\n"
    scenarios = {"go": without_latency(demo_script()), "block": without_latency(block_script())}
    gateways: dict[str, FakeGateway] = {}
    envs: dict[str, dict[str, str]] = {}
    try:
        for seed, (name, script) in enumerate(scenarios.items(), 11):
            faulty = dict(script, faults={"rate": 0.3, "seed": seed, "kinds": KINDS,
                                          "retry_after_s": 0})
            gateways[name] = FakeGateway(faulty).start()
            cfg = user_config(tmp_path / f"{name}.toml", gateways[name].base_url, retry)
            envs[name] = library_env(cfg)
        # The reference decisions, without faults.
        expected = {}
        with FakeGateway(scenarios["go"]) as clean_go, FakeGateway(scenarios["block"]) as clean_b:
            for name, gw in (("go", clean_go), ("block", clean_b)):
                cfg = user_config(tmp_path / f"clean-{name}.toml", gw.base_url, retry)
                repo = make_sample_repo(tmp_path / f"clean-{name}")
                expected[name] = outcome(start_run(TASK, repo, environ=library_env(cfg)))
        assert expected["go"][1] == "go" and expected["block"][1] == "no-go"

        jobs = [(name, i) for i in range(runs_per_scenario) for name in scenarios]

        def one(job):
            name, i = job
            repo = make_sample_repo(tmp_path / "soak" / f"{name}-{i:03d}")
            return name, start_run(TASK, repo, environ=envs[name])

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(one, jobs))
        wall = time.monotonic() - started
    finally:
        for gw in gateways.values():
            gw.stop()

    attempts_seen = collections.Counter()
    for name, result in results:
        assert outcome(result) == expected[name], result.run_dir
        trace = check_trace(result.run_dir)
        assert trace[0]["type"] == "run.start" and trace[-1]["type"] == "run.end"
        per_key = collections.Counter(e["call_key"] for e in trace if e["type"] == "model.call")
        assert max(per_key.values()) <= max_attempts, per_key
        ok = [e for e in trace if e["type"] == "model.call" and e["outcome"] == "ok"]
        assert len(ok) == len(per_key)  # exactly one accepted answer per call
        attempts_seen.update(per_key.values())

    log = [r for gw in gateways.values() for r in gw.requests()]
    faults = collections.Counter(r["fault"] for r in log if r["fault"])
    total_faults = sum(faults.values())
    assert total_faults > 0.2 * len(log), (total_faults, len(log))
    print(f"\n{len(results)} workflows, 8 threads: {wall:.1f}s wall; {len(log)} requests, "
          f"{total_faults} faults injected ({dict(faults)}); attempts per call: "
          f"{dict(sorted(attempts_seen.items()))}")


# --- single scenarios through the CLI ---------------------------------------------------


def run(baton, repo: Path, *extra: str, timeout: float = 120):
    return baton("run", TASK, "--repo", str(repo), "--json", *extra, timeout=timeout)


def calls(run_dir: Path) -> list[dict]:
    return [e for e in events(run_dir) if e["type"] == "model.call"]


def only_run_dir(repo: Path) -> Path:
    (run_dir,) = (repo / ".baton" / "runs").iterdir()
    return run_dir


def test_retry_after_of_an_hour_fails_the_call_within_seconds(baton, sample_repo):
    script = demo_script()
    script["models"][PLANNER][0]["faults"] = ["429:3600"]
    gateway = baton.serve(script)
    started = time.monotonic()
    proc = run(baton, sample_repo)
    elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "3600" in proc.stderr and "max_retry_after_s" in proc.stderr, proc.stderr
    assert len(gateway.requests()) == 1
    run_dir = only_run_dir(sample_repo)
    (call,) = calls(run_dir)
    assert call["outcome"] == "error" and call["status_code"] == 429
    assert json.loads((run_dir / "workflow.json").read_text())["state"] == "failed"


def test_six_503s_end_after_the_cap_then_the_fallback_answers(baton, sample_repo, tmp_path):
    script = demo_script()
    script["models"][PLANNER][0]["faults"] = ["503"] * 6
    fallback = "openai/gpt-5-mini"
    script["models"][fallback] = [script["models"][PLANNER][0]["content"]]
    gateway = baton.serve(script)
    cfg = tmp_path / "route.toml"
    cfg.write_text(f'[routes.planner]\nmodel = "{PLANNER}"\nfallbacks = ["{fallback}"]\n')
    proc = run(baton, sample_repo, "--config", str(cfg))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    models = [r["model"] for r in gateway.requests()]
    assert models[:5] == [PLANNER] * 4 + [fallback]
    assert models.count(PLANNER) == 4  # exactly the default cap, never a fifth
    planner = [c for c in calls(Path(run_json(proc)["run_dir"])) if c["role"] == "planner"]
    assert [c["attempt"] for c in planner] == [1, 2, 3, 4, 5]
    assert [c["outcome"] for c in planner] == ["error"] * 4 + ["ok"]
    assert all(c["status_code"] == 503 for c in planner[:4])
    assert [c["gen_ai.request.model"] for c in planner] == [PLANNER] * 4 + [fallback]


@pytest.mark.parametrize("fault", ["cut", "garbled"])
@pytest.mark.parametrize("stream", [True, False])
def test_a_cut_or_garbled_answer_is_never_accepted(baton, sample_repo, tmp_path, fault,
                                                   stream):
    script = demo_script()
    script["models"][IMPLEMENTER][0]["faults"] = [fault]
    gateway = baton.serve(script)
    cfg = tmp_path / "stream.toml"
    cfg.write_text(f"stream = {str(stream).lower()}\n")
    proc = run(baton, sample_repo, "--config", str(cfg))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    first = [c for c in calls(run_dir) if c["call_key"] == "implementer/p1/r1/e1"]
    assert [c["outcome"] for c in first] == ["error", "ok"], first
    faulted = [r for r in gateway.requests() if r["fault"] == fault]
    assert len(faulted) == 1
    # The accepted answer is the whole scripted answer, not the cut prefix.
    full = script["models"][IMPLEMENTER][0]["content"]
    assert (run_dir / first[1]["response_file"]).read_text() == full
    assert not any(e["type"] == "edits.rejected" for e in events(run_dir))


@pytest.mark.parametrize("status", ["400", "401", "404", "422"])
def test_non_retryable_statuses_are_not_retried(baton, sample_repo, status):
    script = demo_script()
    script["models"][PLANNER][0]["faults"] = [status]
    gateway = baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(gateway.requests()) == 1
    assert f"HTTP {status}" in proc.stderr, proc.stderr
    (call,) = calls(only_run_dir(sample_repo))
    assert call["outcome"] == "error" and call["status_code"] == int(status)


@pytest.mark.parametrize("stream", [True, False])
def test_a_slow_trickle_is_cut_at_the_attempt_deadline(baton, sample_repo, tmp_path, stream):
    script = demo_script()
    # Trickled in full, the plan would take most of a minute (a piece every 0.1 s).
    script["models"][PLANNER][0]["faults"] = [{"kind": "trickle", "trickle_interval_s": 0.1}]
    gateway = baton.serve(script)
    cfg = tmp_path / "deadline.toml"
    cfg.write_text(f"stream = {str(stream).lower()}\n[retry]\nattempt_timeout_s = 1.5\n")
    started = time.monotonic()
    proc = run(baton, sample_repo, "--config", str(cfg))
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    planner = [c for c in calls(Path(run_json(proc)["run_dir"])) if c["role"] == "planner"]
    assert [c["outcome"] for c in planner] == ["error", "ok"]
    assert 1.3 <= planner[0]["latency_s"] <= 3.0, planner[0]
    assert "within 1.5s" in planner[0]["error"], planner[0]
    assert elapsed < 20
    assert [r["fault"] for r in gateway.requests()][0] == "trickle"
