"""Hard budgets: the worst case of every call is reserved before it is made."""

from __future__ import annotations

import pytest

from baton.config import Limits, Price, Route
from baton.errors import BudgetExhausted, ConfigError
from baton.llm.budget import Budget, Spend, check_prices_known
from baton.llm.pricing import UnitPrice

# $10 per million tokens either way: 1,000 tokens cost $0.01.
TEN = UnitPrice(10.0, 10.0, None, "config")


def reserve(budget: Budget, tokens: int, *, role: str = "implementer", price=TEN) -> None:
    budget.reserve(role, "acme/coder", est_input_tokens=tokens // 2,
                   max_output_tokens=tokens - tokens // 2, price=price)


def test_reservation_refuses_the_call_that_could_cross_the_cost_limit():
    budget = Budget(Limits(max_cost_usd=0.05), spent=Spend(calls=3, cost_usd=0.04))
    with pytest.raises(BudgetExhausted) as info:
        reserve(budget, 2000)  # worth $0.02
    exc = info.value
    assert exc.exit_code == 4
    assert exc.limit == "max_cost_usd"
    assert exc.spent == pytest.approx(0.04)
    assert exc.reserved == pytest.approx(0.02)
    message = str(exc)
    assert "max_cost_usd" in message and "$0.05" in message
    assert "$0.0400" in message and "$0.0200" in message
    assert "baton resume <run> --max-cost" in message
    reserve(budget, 500)  # worth $0.005: passes


def test_reservation_up_to_exactly_the_limit_passes():
    budget = Budget(Limits(max_cost_usd=0.05), spent=Spend(cost_usd=0.04))
    reserve(budget, 1000)  # $0.01: lands on the limit, does not cross it


def test_reservation_does_not_spend():
    budget = Budget(Limits(max_cost_usd=1))
    reserve(budget, 1000)
    assert budget.spent == Spend()


def test_per_role_cost_limit():
    budget = Budget(Limits(max_cost_usd=10), {"implementer": Limits(max_cost_usd=0.015)})
    budget.record("implementer", input_tokens=500, output_tokens=500, cost_usd=0.01)
    reserve(budget, 1000, role="reviewer")  # reviewer has no role limit
    with pytest.raises(BudgetExhausted) as info:
        reserve(budget, 1000, role="implementer")
    assert info.value.limit == "max_cost_usd"
    assert "implementer role" in str(info.value)
    assert "[role_limits.implementer]" in str(info.value)


def test_role_spend_is_kept_apart_and_summed_run_wide():
    budget = Budget(Limits())
    budget.record("planner", input_tokens=100, output_tokens=10, cost_usd=0.5, wall_s=2)
    budget.record("implementer", input_tokens=200, output_tokens=20, cost_usd=None, wall_s=3)
    budget.record("implementer", input_tokens=None, output_tokens=None, cost_usd=0.0)
    by_role = budget.spent_by_role()
    assert by_role["planner"] == Spend(1, 100, 10, 0.5, 0, 2.0)
    assert by_role["implementer"] == Spend(2, 200, 20, 0.0, 1, 3.0)
    assert budget.spent == Spend(3, 300, 30, 0.5, 1, 5.0)


def test_max_calls_counts_failed_attempts():
    budget = Budget(Limits(max_calls=2))
    reserve(budget, 10)
    budget.record("implementer", input_tokens=None, output_tokens=None, cost_usd=0.0)  # a 500
    reserve(budget, 10)
    budget.record("implementer", input_tokens=None, output_tokens=None, cost_usd=0.0)
    with pytest.raises(BudgetExhausted) as info:
        reserve(budget, 10)
    assert info.value.limit == "max_calls"
    assert "--max-calls" in str(info.value)


def test_max_tokens_reserves_input_estimate_plus_max_output():
    budget = Budget(Limits(max_tokens=10_000))
    budget.record("planner", input_tokens=6000, output_tokens=1000, cost_usd=0.0)
    budget.reserve("planner", "m", est_input_tokens=1000, max_output_tokens=2000, price=None)
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve("planner", "m", est_input_tokens=1000, max_output_tokens=2001, price=None)
    assert info.value.limit == "max_tokens"
    assert info.value.reserved == 3001


def test_max_tokens_per_role():
    budget = Budget(Limits(), {"planner": Limits(max_tokens=100)})
    budget.reserve("planner", "m", est_input_tokens=50, max_output_tokens=50, price=None)
    with pytest.raises(BudgetExhausted):
        budget.reserve("planner", "m", est_input_tokens=50, max_output_tokens=51, price=None)


def test_max_wall_s_refuses_once_spent():
    budget = Budget(Limits(max_wall_s=60))
    budget.record("planner", input_tokens=1, output_tokens=1, cost_usd=0, wall_s=30)
    reserve(budget, 10)
    budget.add_wall(30)  # a verification command
    with pytest.raises(BudgetExhausted) as info:
        reserve(budget, 10)
    assert info.value.limit == "max_wall_s"
    assert "--max-wall" in str(info.value)


def test_unknown_price_under_a_cost_limit_is_refused_with_how_to_price_it():
    budget = Budget(Limits(max_cost_usd=5))
    with pytest.raises(BudgetExhausted) as info:
        reserve(budget, 10, price=None)
    assert '[prices."acme/coder"]' in str(info.value)
    assert info.value.reserved is None
    Budget(Limits(max_calls=5)).reserve("planner", "m", est_input_tokens=1,
                                        max_output_tokens=1, price=None)


def test_no_limits_never_refuse():
    budget = Budget(Limits(), spent=Spend(calls=10**6, input_tokens=10**9, cost_usd=10**4,
                                          wall_s=10**6))
    reserve(budget, 10**6, price=None)


def test_from_events_rebuilds_spend():
    events = [
        {"type": "run.start"},
        {"type": "model.call", "role": "planner", "gen_ai.usage.input_tokens": 1200,
         "gen_ai.usage.output_tokens": 300, "cost_usd": 0.02, "latency_s": 4.5},
        {"type": "model.call", "role": "implementer", "outcome": "error", "cost_usd": 0.0,
         "latency_s": 0.5},
        {"type": "model.call", "role": "implementer", "gen_ai.usage.input_tokens": 900,
         "gen_ai.usage.output_tokens": 700, "cost_usd": None, "latency_s": 6.0},
        {"type": "command", "command": "pytest -q", "duration_s": 3.0},
        {"type": "command", "command": "skipped", "duration_s": None},
    ]
    budget = Budget.from_events(Limits(max_calls=4), {}, events)
    assert budget.spent == Spend(3, 2100, 1000, 0.02, 1, 14.0)
    assert budget.spent_by_role()["implementer"] == Spend(2, 900, 700, 0.0, 1, 6.5)
    reserve(budget, 10)
    budget.record("implementer", input_tokens=1, output_tokens=1, cost_usd=0)
    with pytest.raises(BudgetExhausted):
        reserve(budget, 10)


def routes(**models: str) -> dict[str, Route]:
    return {role: Route(model=m) for role, m in models.items()}


def test_check_prices_known_raises_with_instructions():
    r = {"planner": Route(model="openai/gpt-4o"),
         "implementer": Route(model="local/coder", fallbacks=["acme/unknown-model-xyz"])}
    with pytest.raises(ConfigError) as info:
        check_prices_known(Limits(max_cost_usd=1), {}, r, {"local/coder": Price(
            input_per_mtok=0, output_per_mtok=0)})
    message = str(info.value)
    assert "acme/unknown-model-xyz" in message and "implementer" in message
    assert "openai/gpt-4o" not in message and "local/coder" not in message
    assert '[prices."acme/unknown-model-xyz"]' in message
    assert "input_per_mtok" in message and "output_per_mtok" in message
    assert "0 for local models" in message


def test_check_prices_known_only_for_roles_a_cost_limit_governs():
    r = routes(planner="openai/gpt-4o", implementer="acme/unknown-model-xyz")
    check_prices_known(Limits(), {}, r, {})  # no cost limit at all
    check_prices_known(Limits(max_calls=3), {"planner": Limits(max_cost_usd=1)}, r, {})
    with pytest.raises(ConfigError):
        check_prices_known(Limits(), {"implementer": Limits(max_cost_usd=1)}, r, {})
    check_prices_known(Limits(max_cost_usd=1), {}, r, {
        "acme/unknown-model-xyz": Price(input_per_mtok=1, output_per_mtok=2)})


def test_the_suggested_limit_is_rounded_up_so_it_lets_the_call_through():
    # $0.0418 of worst case on a $0.02 limit: doubling gives $0.04, rounding down "0.04"
    # would stop again; the hint must be at least what the call needs.
    budget = Budget(Limits(max_cost_usd=0.02), spent=Spend(cost_usd=0.0))
    with pytest.raises(BudgetExhausted) as info:
        reserve(budget, 4180)
    suggested = float(str(info.value).split("--max-cost ")[1].split("`")[0])
    assert suggested == 0.05
    roomy = Budget(Limits(max_cost_usd=suggested))
    reserve(roomy, 4180)  # the suggested limit lets that call through
