"""What a comparison found: figures per policy, paired tests between policies, the front.

Success is a go whose result passes the scoring checks. A **false go** is a go whose result
fails them (what the gate let through); a **false no-go** is a decided non-go whose
reviewed tree passes them (work the gate threw away). Errors are counted apart and are in
no rate's denominator but ``success_rate`` (a trial that crashed did not succeed).
"""

from __future__ import annotations

from typing import Any

from baton.compare.stats import TRUST_FROM, mcnemar_exact, pareto_front, percentile, wilson
from baton.compare.trial import TrialResult

SCHEMA = 1


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def policy_figures(results: list[TrialResult]) -> dict[str, Any]:
    """The figures of one policy's trials."""
    n = len(results)
    successes = sum(r.success for r in results)
    go = [r for r in results if r.decision == "go"]
    decided_other = [r for r in results if r.state == "done" and r.decision != "go"]
    errors = sum(r.state == "error" for r in results)
    paused = sum(r.state == "paused" for r in results)
    false_go = sum(not r.solved for r in go)
    false_no_go = sum(bool(r.solved) for r in decided_other)
    cost = sum(r.cost_usd for r in results)
    low, high = wilson(successes, n)
    by_role: dict[str, dict[str, float]] = {}
    for r in results:
        for role, slot in r.by_role.items():
            mine = by_role.setdefault(role, {"calls": 0, "cost_usd": 0.0})
            mine["calls"] += slot.get("calls", 0)
            mine["cost_usd"] = round(mine["cost_usd"] + slot.get("cost_usd", 0.0), 6)
    walls = [r.wall_s for r in results if r.state != "error"]
    return {
        "trials": n, "successes": successes, "success_rate": _rate(successes, n),
        "success_interval_95": [round(low, 7), round(high, 7)],
        "checks_passed": sum(bool(r.solved) for r in results),
        "go": len(go), "go_rate": _rate(len(go), n),
        "false_go": false_go, "false_go_rate": _rate(false_go, len(go)),
        "false_no_go": false_no_go, "false_no_go_rate": _rate(false_no_go, len(decided_other)),
        "errors": errors, "paused": paused,
        "cost_usd": round(cost, 6), "cost_per_task_usd": round(cost / n, 6) if n else None,
        "cost_per_success_usd": round(cost / successes, 6) if successes else None,
        "latency_p50_s": percentile(walls, 50), "latency_p95_s": percentile(walls, 95),
        "by_role": by_role, "too_few_to_trust": n < TRUST_FROM,
    }


def pair_figures(a: list[TrialResult], b: list[TrialResult]) -> dict[str, Any]:
    """McNemar's exact test on the trials both policies ran (same task, same trial)."""
    left = {(r.task, r.trial): r.success for r in a}
    right = {(r.task, r.trial): r.success for r in b}
    pairs = sorted(set(left) & set(right))
    only_a = sum(left[k] and not right[k] for k in pairs)
    only_b = sum(right[k] and not left[k] for k in pairs)
    return {"pairs": len(pairs), "only_first": only_a, "only_second": only_b,
            "p_value": round(mcnemar_exact(only_a, only_b), 7)}


def summarize(results: list[TrialResult], policies: list[str], tasks: list[str],
              planned: int, not_run: list[str]) -> dict[str, Any]:
    """The comparison's summary.json: per policy, per pair, the Pareto front, the grid."""
    by_policy = {p: [r for r in results if r.policy == p] for p in policies}
    figures = {p: policy_figures(rs) for p, rs in by_policy.items()}
    pairs = []
    for i, first in enumerate(policies):
        for second in policies[i + 1:]:
            pairs.append({"first": first, "second": second,
                          **pair_figures(by_policy[first], by_policy[second])})
    points = {p: (f["cost_per_task_usd"], f["success_rate"]) for p, f in figures.items()
              if f["trials"] and f["cost_per_task_usd"] is not None}
    grid = {t: {p: {"trials": 0, "successes": 0} for p in policies} for t in tasks}
    for r in results:
        cell = grid.setdefault(r.task, {}).setdefault(r.policy, {"trials": 0, "successes": 0})
        cell["trials"] += 1
        cell["successes"] += int(r.success)
    return {"schema": SCHEMA, "planned": planned, "finished": len(results),
            "not_run": len(not_run), "not_run_trials": not_run,
            "policies": figures, "pairs": pairs,
            "pareto": pareto_front({p: (c, s) for p, (c, s) in points.items()}),
            "grid": grid}
