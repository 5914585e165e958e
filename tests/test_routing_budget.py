"""Policies, endpoint hygiene, cost sources, hard budgets and approval gates, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import (
    CANARY_KEY,
    IMPLEMENTER,
    PLANNER,
    REVIEWER,
    demo_script,
    events,
    response,
    run_json,
    snapshot,
)

TASK = "Add a median() function to stats.py, with tests."


def calls(run_dir: Path) -> list[dict]:
    return [e for e in events(run_dir) if e["type"] == "model.call"]


def test_policy_routes_each_role_to_its_model(baton, sample_repo, tmp_path):
    script = demo_script()
    renamed = {"alt/planner": PLANNER, "alt/coder": IMPLEMENTER, "other/reviewer": REVIEWER}
    script["models"] = {new: script["models"][old] for new, old in renamed.items()}
    baton.serve(script)
    cfg = tmp_path / "policy.toml"
    cfg.write_text('[policies.alt.planner]\nmodel = "alt/planner"\n'
                   '[policies.alt.implementer]\nmodel = "alt/coder"\n'
                   '[policies.alt.reviewer]\nmodel = "other/reviewer"\n')
    listed = baton("policies", "--json", "--repo", str(sample_repo), "--config", str(cfg))
    assert listed.returncode == 0, listed.stderr
    policies = json.loads(listed.stdout)["policies"]
    assert policies["alt"]["implementer"]["model"] == "alt/coder"
    assert policies["default"]["implementer"]["model"] == IMPLEMENTER
    proc = baton("run", TASK, "--repo", str(sample_repo), "--config", str(cfg),
                 "--policy", "alt", "--json")
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    routed = {(c["role"], c["gen_ai.request.model"]) for c in calls(run_dir)}
    assert routed == {("planner", "alt/planner"), ("implementer", "alt/coder"),
                      ("reviewer", "other/reviewer")}
    start = events(run_dir)[0]
    assert start["policy"] == "alt" and start["routes"]["reviewer"]["model"] == "other/reviewer"
    unknown = baton("run", TASK, "--repo", str(sample_repo), "--policy", "nope")
    assert unknown.returncode == 2 and "unknown policy 'nope'" in unknown.stderr


def test_base_url_with_query_string_is_refused_with_the_cleaned_url(baton, sample_repo):
    gateway = baton.serve(demo_script())
    user = baton.tmp / "user-config.toml"
    user.write_text(f'[endpoints.default]\nbase_url = "{gateway.base_url}?utm_source=x#frag"\n')
    proc = baton("run", TASK, "--repo", str(sample_repo))
    assert proc.returncode == 2
    assert f"use '{gateway.base_url}'" in proc.stderr
    assert gateway.requests() == []


def test_repository_file_may_not_define_endpoints(baton, sample_repo):
    gateway = baton.serve(demo_script())
    toml = sample_repo / "baton.toml"
    toml.write_text(toml.read_text() + '\n[endpoints.default]\nbase_url = "https://evil.example/v1"\n')
    proc = baton("run", TASK, "--repo", str(sample_repo))
    assert proc.returncode == 2
    assert "may not choose endpoints" in proc.stderr and "user config" in proc.stderr
    assert gateway.requests() == []


def test_cost_sources_gateway_config_genai_prices_and_unknown(baton, sample_repo, tmp_path):
    script = demo_script()
    script["models"] = {
        "openai/gpt-4o": [{"content": response(script, PLANNER, 0),
                           "usage": {"prompt_tokens": 1000, "completion_tokens": 500}}],
        "local/coder": [{"content": response(script, IMPLEMENTER, 0),
                         "usage": {"prompt_tokens": 1000, "completion_tokens": 200}},
                        {"content": response(script, IMPLEMENTER, 1),
                         "usage": {"prompt_tokens": 1000, "completion_tokens": 200},
                         "headers": {"x-litellm-response-cost": "0.0007"}}],
        "acme/unknown-reviewer": [{"content": response(script, REVIEWER, 0)},
                                  {"content": response(script, REVIEWER, 1), "cost": 0.0042}],
    }
    baton.serve(script)
    cfg = tmp_path / "cost.toml"
    cfg.write_text('[routes.planner]\nmodel = "openai/gpt-4o"\n'
                   '[routes.implementer]\nmodel = "local/coder"\n'
                   '[routes.reviewer]\nmodel = "acme/unknown-reviewer"\n'
                   '[prices."local/coder"]\ninput_per_mtok = 2.0\noutput_per_mtok = 10.0\n')
    proc = baton("run", TASK, "--repo", str(sample_repo), "--config", str(cfg), "--json")
    assert proc.returncode == 0, proc.stderr
    result = run_json(proc)
    by_call = {c["call_key"]: c for c in calls(Path(result["run_dir"]))}
    planner = by_call["planner/a1"]
    assert planner["cost_source"] == "genai-prices" and planner["cost_usd"] > 0
    coder = by_call["implementer/p1/r1/e1"]
    assert coder["cost_source"] == "config"
    assert abs(coder["cost_usd"] - (1000 * 2.0 + 200 * 10.0) / 1e6) < 1e-9
    assert by_call["reviewer/p1/r1"]["cost_source"] == "unknown"
    assert by_call["reviewer/p1/r1"]["cost_usd"] is None
    assert by_call["reviewer/p1/r2"]["cost_source"] == "gateway-body"  # usage.cost
    header = by_call["implementer/p1/r2/e1"]  # a LiteLLM-style header beats the config price
    assert header["cost_source"] == "gateway-header" and header["cost_usd"] == 0.0007
    assert by_call["reviewer/p1/r2"]["cost_usd"] == 0.0042
    assert result["totals"]["unknown_cost_calls"] == 1
    summary = baton("trace", "summary", result["run_id"], "--repo", str(sample_repo), "--json")
    assert summary.returncode == 0, summary.stderr


def _budget_setup(baton, tmp_path) -> Path:
    script = demo_script()
    for entries in script["models"].values():
        for entry in entries:
            del entry["cost"]  # priced from usage at the configured price
    baton.serve(script)
    cfg = tmp_path / "prices.toml"
    lines = []
    for model in (PLANNER, IMPLEMENTER, REVIEWER, "google/gemini-2.5-flash"):
        lines.append(f'[prices."{model}"]\ninput_per_mtok = 20.0\noutput_per_mtok = 20.0\n')
    for role, model in (("planner", PLANNER), ("implementer", IMPLEMENTER),
                        ("reviewer", REVIEWER)):
        lines.append(f'[routes.{role}]\nmodel = "{model}"\nmax_tokens = 1000\n')
    cfg.write_text("".join(lines))
    return cfg


def test_budget_stops_before_crossing_and_resume_finishes_without_repeats(
        baton, sample_repo, tmp_path):
    before = snapshot(sample_repo)
    cfg = _budget_setup(baton, tmp_path)
    proc = baton("run", TASK, "--repo", str(sample_repo), "--config", str(cfg),
                 "--max-cost", "0.05", "--json")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["state"] == "budget_exhausted"
    assert "baton resume" in result["reasons"][0] and result["run_id"] in result["reasons"][0]
    run_dir = Path(result["run_dir"])
    spent = sum(c["cost_usd"] for c in calls(run_dir))
    assert 0 < spent <= 0.05 and calls(run_dir)
    assert all(c["cost_source"] == "config" for c in calls(run_dir))
    assert any(e["type"] == "budget.exhausted" for e in events(run_dir))
    gateway = baton.gateway
    requested = [r["call"] for r in gateway.requests()]

    resumed = baton("resume", result["run_id"], "--repo", str(sample_repo), "--max-cost", "1",
                    "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert run_json(resumed)["decision"] == "go"
    after = [r["call"] for r in gateway.requests()]
    assert after[: len(requested)] == requested
    assert len(after) == len(set(after)) == 5  # no call requested twice
    assert snapshot(sample_repo) == before
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert CANARY_KEY not in path.read_text(errors="replace"), path


def test_unknown_price_with_a_cost_limit_is_refused_up_front(baton, sample_repo, tmp_path):
    gateway = baton.serve(demo_script())
    cfg = tmp_path / "c.toml"
    cfg.write_text('[routes.reviewer]\nmodel = "acme/unknown-reviewer"\n')
    proc = baton("run", TASK, "--repo", str(sample_repo), "--config", str(cfg),
                 "--max-cost", "1")
    assert proc.returncode == 2
    assert "acme/unknown-reviewer" in proc.stderr and "input_per_mtok" in proc.stderr
    assert gateway.requests() == []


def _high_risk_script() -> dict:
    script = demo_script()
    plan_text = response(script, PLANNER, 0)
    script["models"][PLANNER][0]["content"] = plan_text.replace('"risk_level": "low"',
                                                                '"risk_level": "high"')
    return script


def test_approval_gate_waits_then_approve_continues(baton, sample_repo):
    before = snapshot(sample_repo)
    baton.serve(_high_risk_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["state"] == "awaiting_approval"
    assert "risk level 'high'" in result["reasons"][0]
    run_dir = Path(result["run_dir"])
    assert not any(e["type"] == "command" for e in events(run_dir))  # not verified yet
    wf = json.loads((run_dir / "workflow.json").read_text())
    assert wf["approval"]["status"] == "pending"
    approved = baton("approve", result["run_id"], "--repo", str(sample_repo), "--json")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert run_json(approved)["decision"] == "go"
    kinds = [e["type"] for e in events(run_dir)]
    assert kinds.index("approval.decision") < kinds.index("command")
    assert snapshot(sample_repo) == before


def test_approval_gate_reject_ends_as_no_go(baton, sample_repo):
    baton.serve(_high_risk_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 3
    run_id = run_json(proc)["run_id"]
    rejected = baton("reject", run_id, "--repo", str(sample_repo), "--reason", "too risky")
    assert rejected.returncode == 1 and "too risky" in rejected.stdout
    wf = json.loads(next((sample_repo / ".baton" / "runs").iterdir()).joinpath(
        "workflow.json").read_text())
    assert wf["state"] == "done" and wf["decision"] == "no-go"
    again = baton("approve", run_id, "--repo", str(sample_repo))
    assert again.returncode == 2 and "not waiting for approval" in again.stderr


def test_approval_for_a_touched_path_glob_and_test_change(baton, sample_repo, tmp_path):
    baton.serve(demo_script())
    cfg = tmp_path / "a.toml"
    cfg.write_text('[approval]\npaths = ["stats.py"]\n')
    proc = baton("run", TASK, "--repo", str(sample_repo), "--config", str(cfg), "--json")
    assert proc.returncode == 3
    assert "stats.py" in run_json(proc)["reasons"][0]


def test_a_gateway_without_usage_is_charged_the_worst_case(baton, sample_repo, tmp_path):
    cfg = _budget_setup(baton, tmp_path)
    script = demo_script()
    for entries in script["models"].values():
        for entry in entries:
            entry.pop("cost", None)
            entry["report_usage"] = False
    baton.serve(script)
    proc = baton("run", TASK, "--repo", str(sample_repo), "--config", str(cfg),
                 "--max-cost", "0.05", "--json")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    made = calls(run_dir)
    assert made and all(c["cost_usd"] is None and c["cost_source"] == "unknown" for c in made)
    charged = sum(c["budget_charge"]["cost_usd"] for c in made)
    assert 0 < charged <= 0.05  # the worst case counted; the limit still held


def test_a_per_role_limit_from_the_command_line(baton, sample_repo):
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json",
                 "--set", "role_limits.reviewer.max_calls=1")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    result = run_json(proc)
    assert "reviewer" in result["reasons"][0] and "max_calls" in result["reasons"][0]
    roles = [c["role"] for c in calls(Path(result["run_dir"]))]
    assert roles == ["planner", "implementer", "reviewer", "implementer"]
    resumed = baton("resume", result["run_id"], "--repo", str(sample_repo), "--json",
                    "--set", "role_limits.reviewer.max_calls=2")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    bad = baton("run", TASK, "--repo", str(sample_repo), "--set", "nonsense")
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
