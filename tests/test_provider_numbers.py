"""A misbehaving provider's numbers are checked: negative, non-finite or absurd usage and
cost count as the worst case, nothing overflows, an endless answer is cut off at a bound
derived from max_tokens, and every prompt has a size cap."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest
from conftest import IMPLEMENTER, PLANNER, demo_script, events, fence, response, run_json

from baton.llm.provider import response_bound_chars

TASK = "Add a median() function to stats.py, with tests."
MODELS = (PLANNER, IMPLEMENTER, "anthropic/claude-sonnet-4.5", "google/gemini-2.5-flash")


def priced(baton, per_mtok: float) -> None:
    """User-level prices for every demo model (gateway costs are removed from the script)."""
    user = baton.tmp / "user-config.toml"
    text = user.read_text()
    for model in MODELS:
        text += f'[prices."{model}"]\ninput_per_mtok = {per_mtok}\noutput_per_mtok = {per_mtok}\n'
    user.write_text(text)


def without_costs(script: dict) -> dict:
    for entries in script["models"].values():
        for entry in entries:
            if isinstance(entry, dict):
                entry.pop("cost", None)
    return script


def calls(run_dir: Path) -> list[dict]:
    return [e for e in events(run_dir) if e["type"] == "model.call"]


def test_negative_usage_is_charged_the_worst_case_and_the_cost_limit_holds(baton,
                                                                           sample_repo):
    script = without_costs(demo_script())
    script["models"][PLANNER][0]["raw_usage"] = {"prompt_tokens": -5e6, "completion_tokens": -5e6,
                                                 "total_tokens": -1e7}
    baton.serve(script)
    priced(baton, 10.0)
    # the planner's worst case (~700 + 4096 tokens at $10/Mtok) fits in $0.09; after it,
    # the implementer's cannot. A negative spend would have let every call through.
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--max-cost", "0.09")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    (planner,) = calls(run_dir)
    assert planner["gen_ai.usage.input_tokens"] is None  # unknown stays unknown
    first, second = planner["usage_rejected"]
    assert first.startswith("prompt_tokens=-5000000")
    assert second.startswith("completion_tokens=-5000000")
    charge = planner["budget_charge"]
    assert charge["input_tokens"] > 0 and charge["output_tokens"] == 4096  # the route's max
    assert charge["cost_usd"] > 0.04 and "worst case" in charge["reason"]
    assert "unusable usage" in charge["reason"]
    totals = run_json(proc)["totals"]
    assert totals["cost_usd"] == pytest.approx(charge["cost_usd"]) and totals["cost_usd"] > 0
    assert totals["input_tokens"] > 0
    exhausted = [e for e in events(run_dir) if e["type"] == "budget.exhausted"]
    assert exhausted and exhausted[0]["limit"] == "max_cost_usd"


def test_implausibly_low_usage_is_not_believed_by_the_budget(baton, sample_repo):
    script = without_costs(demo_script())
    for entries in script["models"].values():  # every call claims to have cost nothing
        for entry in entries:
            if isinstance(entry, dict):
                entry["raw_usage"] = {"prompt_tokens": 0, "completion_tokens": 0,
                                      "total_tokens": 0}
    baton.serve(script)
    priced(baton, 10.0)
    # every call's reservation (its prompt's estimate + 4096) fits in 6,000 tokens, so
    # believed, the zero counts would let all five calls through; charged honestly, the
    # planner's ~1,200 tokens leave no room for the implementer's reservation.
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--max-tokens", "6000")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    (first,) = calls(run_dir)
    assert first["gen_ai.usage.input_tokens"] == 0  # the trace keeps what was reported
    assert first["usage_implausible"][0].startswith("prompt_tokens=0 for a prompt estimated")
    assert first["usage_implausible"][1].startswith("completion_tokens=0 for an answer of")
    charge = first["budget_charge"]
    (start,) = [e for e in events(run_dir) if e["type"] == "model.start"]
    assert charge["input_tokens"] == start["est_input_tokens"] > 200
    assert 0 < charge["output_tokens"] < 4096  # the answer's size, not the route's max
    assert charge["cost_usd"] > 0 and "implausibly low" in charge["reason"]


def test_a_small_honest_count_is_believed(baton, sample_repo):
    baton.serve(demo_script())  # the gateway counts the real prompt and answer
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for call in calls(Path(run_json(proc)["run_dir"])):
        assert "usage_implausible" not in call and "budget_charge" not in call, call


def test_astronomical_usage_does_not_overflow_and_the_run_ends_properly(baton, sample_repo):
    script = demo_script()
    for entry in script["models"][IMPLEMENTER]:
        entry["raw_usage"] = {"prompt_tokens": 10**400, "completion_tokens": 10**400,
                              "cost": math.inf}
    baton.serve(script)
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "OverflowError" not in proc.stderr and "Traceback" not in proc.stderr
    result = run_json(proc)
    assert result["state"] == "done" and result["decision"] == "go"
    implementer = [c for c in calls(Path(result["run_dir"])) if c["role"] == "implementer"]
    assert len(implementer) == 2
    for call in implementer:
        assert call["gen_ai.usage.output_tokens"] is None
        assert call["usage_rejected"][0].startswith("prompt_tokens=1000000")
        assert "cost=inf" in call["usage_rejected"]
        assert call["budget_charge"]["output_tokens"] == 4096
    workflow = json.loads((Path(result["run_dir"]) / "workflow.json").read_text())
    assert workflow["state"] == "done"
    # the trace stays strict JSON, readable by any tool
    for line in (Path(result["run_dir"]) / "trace.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in the trace"))


@pytest.mark.parametrize("stream", ["true", "false"])
def test_an_endless_answer_is_cut_off_at_its_bound_and_fails(baton, sample_repo, stream):
    script = demo_script()
    script["models"][PLANNER][0]["faults"] = ["endless"]
    gateway = baton.serve(script)
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--set", f"stream={stream}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    bound = response_bound_chars(4096)  # the sample repository's planner route
    assert f"passed {bound if stream == 'true' else bound * 4} characters" in proc.stderr
    assert "max_tokens=4096" in proc.stderr
    assert len(gateway.requests()) == 1  # cut off once, not retried
    run_dir = next((sample_repo / ".baton" / "runs").iterdir())
    workflow = json.loads((run_dir / "workflow.json").read_text())
    assert workflow["state"] == "failed"
    (call,) = calls(run_dir)
    assert call["outcome"] == "error" and call["budget_charge"]["output_tokens"] == 4096


def test_a_plan_naming_many_large_files_gets_a_capped_prompt_with_a_note(baton, sample_repo):
    data = sample_repo / "data"
    data.mkdir()
    for n in range(30):
        (data / f"table{n:02d}.csv").write_text("1,2,3,4,5,6,7,8,9\n" * 6000)  # 108 KB
    subprocess.run(["git", "add", "-A"], cwd=sample_repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "data"],
                   cwd=sample_repo, check=True)
    script = demo_script()
    text = response(script, PLANNER, 0)
    plan = json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])
    plan["affected_files"] += [{"path": f"data/table{n:02d}.csv", "change": "read it"}
                               for n in range(30)]
    script["models"][PLANNER][0]["content"] = fence(plan)
    gateway = baton.serve(script, keep_bodies=True)
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json",
                 "--set", "max_prompt_bytes=1000000")
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    prompt = sorted((run_dir / "packets").glob("*-implementer.md"))[0].read_text()
    assert "[baton: cut here: the file is 108000 bytes" in prompt
    assert "max_prompt_bytes" in prompt and "def mean" in prompt  # stats.py came first
    for request in gateway.requests():
        size = sum(len(m["content"].encode()) for m in request["messages"])
        assert size <= 1_000_000


def test_a_prompt_over_the_cap_is_refused_with_a_clear_error(baton, sample_repo):
    gateway = baton.serve(demo_script())
    task = "Add a median() function. " + "Context: " + "x" * 20_000
    proc = baton("run", task, "--repo", str(sample_repo), "--set", "max_prompt_bytes=10000")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "over max_prompt_bytes=10000" in proc.stderr and "nothing was sent" in proc.stderr
    assert gateway.requests() == []
    run_dir = next((sample_repo / ".baton" / "runs").iterdir())
    assert json.loads((run_dir / "workflow.json").read_text())["state"] == "failed"
