"""Hard budgets: the worst case of every call is reserved before the call is made.

A limit is never crossed by "one more call": before each call, the call's worst case
(one call, the estimated input plus the route's ``max_tokens`` of output, priced at the
model's price) is added to what was spent, run-wide and for the role; if that could pass
any limit, :class:`BudgetExhausted` is raised and the run pauses, resumable with a higher
limit. A cost limit with a model of unknown price is refused before the run starts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, NoReturn

from baton.config import Limits, Price, Route
from baton.errors import BudgetExhausted, ConfigError
from baton.llm.pricing import UnitPrice, unit_price

_EPSILON = 1e-9  # float sums of dollar amounts: spent 0.04 + reserved 0.01 is not over 0.05

# The flag of `baton resume` that raises each limit run-wide.
_FLAGS = {"max_cost_usd": "--max-cost", "max_tokens": "--max-tokens",
          "max_calls": "--max-calls", "max_wall_s": "--max-wall"}


@dataclass
class Spend:
    """What a run (or one role) has used so far."""

    calls: int = 0
    """Model calls made, failed attempts included."""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    """Dollars of the calls whose cost is known."""
    unknown_cost_calls: int = 0
    """Calls that returned usage but whose cost could not be determined."""
    wall_s: float = 0.0
    """Seconds spent in model calls and commands."""

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def as_dict(self) -> dict[str, Any]:
        """The plain fields, for traces and reports."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class _Reservation:
    role: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


class Budget:
    """Run-wide and per-role hard limits, checked before every call."""

    def __init__(
        self,
        limits: Limits,
        role_limits: Mapping[str, Limits] | None = None,
        *,
        spent: Spend | None = None,
        spent_by_role: Mapping[str, Spend] | None = None,
    ) -> None:
        self.limits = limits
        self.role_limits = dict(role_limits or {})
        self._spent = replace(spent) if spent is not None else Spend()
        self._by_role = {role: replace(s) for role, s in (spent_by_role or {}).items()}

    @property
    def spent(self) -> Spend:
        """Run-wide spend so far (a copy)."""
        return replace(self._spent)

    def spent_by_role(self) -> dict[str, Spend]:
        """Spend so far of each role that made a call (copies)."""
        return {role: replace(s) for role, s in self._by_role.items()}

    def reserve(self, role: str, model: str, *, est_input_tokens: int, max_output_tokens: int,
                price: UnitPrice | None) -> None:
        """Refuse the next call if its worst case could cross any limit."""
        cost = price.cost(est_input_tokens, max_output_tokens) if price is not None else None
        wanted = _Reservation(role, model, est_input_tokens, max_output_tokens, cost)
        _check(self.limits, self._spent, wanted, scope="run-wide")
        role_limits = self.role_limits.get(role)
        if role_limits is not None:
            _check(role_limits, self._by_role.get(role, Spend()), wanted, scope=f"{role} role")

    def record(self, role: str, *, input_tokens: int | None, output_tokens: int | None,
               cost_usd: float | None, wall_s: float = 0.0) -> None:
        """Count one call (a failed attempt too) against the run and the role."""
        for spend in (self._spent, self._by_role.setdefault(role, Spend())):
            _add_call(spend, input_tokens, output_tokens, cost_usd, wall_s)

    def add_wall(self, seconds: float) -> None:
        """Count wall-clock time spent outside model calls (commands)."""
        self._spent.wall_s += max(seconds, 0.0)

    @classmethod
    def from_events(cls, limits: Limits, role_limits: Mapping[str, Limits] | None,
                    events: Iterable[Mapping[str, Any]]) -> Budget:
        """A budget whose spend is rebuilt from a run's trace events (for resume)."""
        budget = cls(limits, role_limits)
        for event in events:
            kind = event.get("type")
            if kind == "model.call":
                # A call without reported usage was charged its worst case (budget_charge).
                charge = event.get("budget_charge")
                charge = charge if isinstance(charge, Mapping) else {}

                def pick(name: str, field: str, c: Mapping[str, Any] = charge,
                         e: Mapping[str, Any] = event) -> Any:
                    return c[name] if name in c else e.get(field)

                budget.record(
                    str(event.get("role") or "unknown"),
                    input_tokens=_whole(pick("input_tokens", "gen_ai.usage.input_tokens")),
                    output_tokens=_whole(pick("output_tokens", "gen_ai.usage.output_tokens")),
                    cost_usd=_amount(pick("cost_usd", "cost_usd")),
                    wall_s=_amount(event.get("latency_s")) or 0.0,
                )
            elif kind in ("command", "base.command"):
                budget.add_wall(_amount(event.get("duration_s")) or 0.0)
        return budget


def _whole(value: Any) -> int | None:
    """A recorded token count, or None if the trace holds something else."""
    return value if type(value) is int and value >= 0 else None


def _amount(value: Any) -> float | None:
    """A recorded finite, non-negative number, or None (a damaged or hand-edited trace)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _add_call(spend: Spend, input_tokens: int | None, output_tokens: int | None,
              cost_usd: float | None, wall_s: float) -> None:
    spend.calls += 1
    spend.input_tokens += input_tokens or 0
    spend.output_tokens += output_tokens or 0
    spend.wall_s += max(wall_s, 0.0)
    if cost_usd is None:
        spend.unknown_cost_calls += 1
    else:
        spend.cost_usd += cost_usd


def _check(limits: Limits, spent: Spend, wanted: _Reservation, *, scope: str) -> None:
    """Raise if ``wanted`` on top of ``spent`` could cross one of ``limits``."""
    tokens = wanted.input_tokens + wanted.output_tokens
    call = (f"the next {wanted.role} call to {wanted.model} "
            f"(~{wanted.input_tokens} input + up to {wanted.output_tokens} output tokens)")
    if limits.max_calls is not None and spent.calls + 1 > limits.max_calls:
        _exhausted(scope, "max_calls", limits.max_calls, spent.calls, 1,
                   f"{spent.calls} calls made; {call} would be one more")
    if limits.max_tokens is not None and spent.tokens + tokens > limits.max_tokens:
        _exhausted(scope, "max_tokens", limits.max_tokens, spent.tokens, tokens,
                   f"{spent.tokens} tokens used; {call} could use {tokens} more")
    if limits.max_wall_s is not None and spent.wall_s >= limits.max_wall_s:
        _exhausted(scope, "max_wall_s", limits.max_wall_s, spent.wall_s, 0.0,
                   f"{spent.wall_s:.1f}s of calls and commands already spent")
    if limits.max_cost_usd is None:
        return
    if wanted.cost_usd is None:
        _exhausted(scope, "max_cost_usd", limits.max_cost_usd, spent.cost_usd, None,
                   f"${spent.cost_usd:.4f} spent; the price of {wanted.model} is unknown, so "
                   f"{call} cannot be bounded",
                   how=f"To continue, set its price in baton.toml or your user config "
                   f"([prices.\"{wanted.model}\"] input_per_mtok = ... output_per_mtok = ..., "
                   "0 for local models), then `baton resume <run>`")
    if spent.cost_usd + wanted.cost_usd > limits.max_cost_usd + _EPSILON:
        _exhausted(scope, "max_cost_usd", limits.max_cost_usd, spent.cost_usd, wanted.cost_usd,
                   f"${spent.cost_usd:.4f} spent; {call} could cost up to "
                   f"${wanted.cost_usd:.4f}")


def _exhausted(scope: str, limit: str, value: float, spent: float, reserved: float | None,
               detail: str, how: str | None = None) -> NoReturn:
    shown = f"${value:g}" if limit == "max_cost_usd" else f"{value:g}"
    how = how or _how_to_continue(scope, limit, value, spent + (reserved or 0))
    exc = BudgetExhausted(f"budget exhausted: {scope} {limit} is {shown}; {detail}. {how}")
    exc.limit = limit  # type: ignore[attr-defined]
    exc.spent = spent  # type: ignore[attr-defined]
    exc.reserved = reserved  # type: ignore[attr-defined]
    raise exc


def _how_to_continue(scope: str, limit: str, value: float, wanted: float) -> str:
    if scope == "run-wide":
        return (f"To continue, raise the limit: `baton resume <run> {_FLAGS[limit]} "
                f"{_suggest(limit, value, wanted)}`")
    role = scope.removesuffix(" role")
    return (f"To continue, raise {limit} under [role_limits.{role}] in your config, then "
            "`baton resume <run>`")


def _suggest(limit: str, value: float, wanted: float) -> str:
    """A higher limit to offer: double the old one, or enough for the call, whichever is more."""
    new = max(value * 2, wanted)
    if limit == "max_cost_usd":  # rounded up: a hint rounded down would stop again
        return f"{max(math.ceil(round(new * 100, 6)) / 100, 0.01):.2f}"
    if limit == "max_wall_s":
        return f"{math.ceil(max(new, value + 60))}"
    return str(math.ceil(max(new, value + 1)))


def check_prices_known(limits: Limits, role_limits: Mapping[str, Limits] | None,
                       routes: Mapping[str, Route], prices: Mapping[str, Price]) -> None:
    """Refuse a cost limit up front when a model it would govern has no known price."""
    run_wide = limits.max_cost_usd is not None
    role_limits = role_limits or {}
    unknown: dict[str, list[str]] = {}
    for role, route in routes.items():
        governed = run_wide or (role in role_limits and
                                role_limits[role].max_cost_usd is not None)
        if not governed:
            continue
        for model in [route.model, *route.fallbacks]:
            if unit_price(model, prices) is None:
                unknown.setdefault(model, []).append(role)
    if not unknown:
        return
    listed = ", ".join(f"{m} ({'/'.join(roles)})" for m, roles in unknown.items())
    example = next(iter(unknown))
    raise ConfigError(
        f"a cost limit is set but the price of {listed} is unknown, so the limit could not be "
        f"enforced. Set a price for each in baton.toml or your user config, e.g.\n"
        f"  [prices.\"{example}\"]\n  input_per_mtok = ...\n  output_per_mtok = ...\n"
        "(dollars per million tokens; 0 for local models), or remove the cost limit."
    )
