"""Who owns which setting: the repository describes the project, the user owns the guards.

A repository's ``baton.toml`` (or ``[tool.baton]``) may set what describes the project
(verify commands, routes and policies over the user's endpoints, extra approval rules,
extra protected paths). It may also *tighten* a guard: a lower cost limit, a stricter
approval level, a higher price, the bubblewrap sandbox. It may never loosen one: such a
value is refused with the file and the key named. Guards compare against the user's own
layers (user file, environment, ``--config``); flags on the command line are the user's
explicit choice for this run and win over everything.

Lists that add protection (``approval.paths``, ``protected_paths``) are the union of the
repository's and the user's. ``verify_commands`` from every layer all run, the
repository's first: a user-level value never silently replaces the project's own tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from baton.config.layers import dotted
from baton.errors import ConfigError

# What each guard means, for messages and docs.
SANDBOX_ORDER = {"none": 0, "auto": 1, "bwrap": 2}
RISK_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3, "never": 4}
LIMIT_KEYS = ("max_cost_usd", "max_tokens", "max_calls", "max_wall_s")
# Top-level numbers where lower is stricter.
LOWER_IS_STRICTER = ("command_timeout_s", "max_prompt_bytes")


def _cap(value: float | None) -> float:
    return math.inf if value is None else float(value)


class _Resolver:
    """Compares the repository's values with the user's and keeps the stricter one."""

    def __init__(self, repo: dict[str, Any], source: Path, repo_cfg: Any, user_cfg: Any,
                 origin_of: Callable[[tuple[str, ...]], str], user_file: Path) -> None:
        self.repo = repo
        self.source = source
        self.repo_cfg = repo_cfg
        self.user_cfg = user_cfg
        self.origin_of = origin_of
        self.user_file = user_file
        self.apply: dict[str, Any] = {}
        self.tightened: list[tuple[str, str]] = []

    def refuse(self, path: tuple[str, ...] | str, value: Any, user_value: Any,
               what: str) -> NoReturn:
        path = tuple(path.split(".")) if isinstance(path, str) else path
        key = dotted(path)
        origin = self.origin_of(path)
        theirs = "unset" if user_value is None else repr(user_value)
        raise ConfigError(
            f"{self.source} sets '{key}' = {value!r}, which would loosen a guard you own "
            f"({what}; yours is {theirs}, from {origin}). A repository may only tighten a "
            f"guard. Remove '{key}' from {self.source}, or change your own setting in "
            f"{self.user_file}, the environment or a flag."
        )

    def put(self, path: tuple[str, ...], value: Any, how: str = "tightens yours") -> None:
        node = self.apply
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        self.tightened.append((dotted(path), how))

    def run(self) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        repo, r, u = self.repo, self.repo_cfg, self.user_cfg
        if "prices" in repo:
            self._prices()
        if "limits" in repo:
            self._limits(("limits",), repo["limits"], r.limits, u.limits)
        for role, table in (repo.get("role_limits") or {}).items():
            mine = u.role_limits.get(role)
            self._limits(("role_limits", role), table, r.role_limits[role], mine)
        if "summarize_evidence" in repo:
            if r.summarize_evidence and not u.summarize_evidence:
                self.refuse("summarize_evidence", True, False,
                            "whether evidence (command output) is sent to a model")
            self.put(("summarize_evidence",), r.summarize_evidence)
        if "require_other_vendor" in repo:
            if u.require_other_vendor and not r.require_other_vendor:
                self.refuse("require_other_vendor", False, True,
                            "whether the reviewer must be another vendor than the author")
            self.put(("require_other_vendor",), r.require_other_vendor)
        if "sandbox" in repo:
            if SANDBOX_ORDER[r.sandbox] < SANDBOX_ORDER[u.sandbox]:
                self.refuse("sandbox", r.sandbox, u.sandbox, "the sandbox of commands")
            self.put(("sandbox",), r.sandbox)
        for key in LOWER_IS_STRICTER:
            if key in repo:
                if getattr(r, key) > getattr(u, key):
                    self.refuse(key, getattr(r, key), getattr(u, key), "a limit")
                self.put((key,), getattr(r, key))
        if "protected_paths" in repo:
            self.put(("protected_paths",), _union(u.protected_paths, r.protected_paths),
                     "adds to yours")
        if "approval" in repo:
            self._approval()
        return self.apply, self.tightened

    def _prices(self) -> None:
        from baton.config.prices import unit_price

        for model, price in self.repo_cfg.prices.items():
            key = ("prices", model)
            mine = unit_price(model, self.user_cfg.prices)
            if mine is None:
                self.refuse(key, price.model_dump(exclude_none=True), None,
                            "prices are yours to set: a price the repository invents, such "
                            "as 0, would switch a cost limit off")
            rates = [(price.input_per_mtok, mine.input_per_mtok),
                     (price.output_per_mtok, mine.output_per_mtok)]
            if price.cached_input_per_mtok is not None:
                theirs_cached = mine.cached_input_per_mtok
                rates.append((price.cached_input_per_mtok,
                              mine.input_per_mtok if theirs_cached is None else theirs_cached))
            if any(repo_rate < user_rate for repo_rate, user_rate in rates):
                self.refuse(key, price.model_dump(exclude_none=True),
                            {"input_per_mtok": mine.input_per_mtok,
                             "output_per_mtok": mine.output_per_mtok},
                            f"the price of {model} (from {mine.source}); a lower price "
                            "makes cost limits hold less")
            self.put(("prices", model), price.model_dump())

    def _limits(self, where: tuple[str, ...], table: dict[str, Any], repo_limits: Any,
                user_limits: Any) -> None:
        for key in LIMIT_KEYS:
            if key not in table:
                continue
            value = getattr(repo_limits, key)
            mine = getattr(user_limits, key) if user_limits is not None else None
            if _cap(value) > _cap(mine):
                self.refuse((*where, key), value, mine, "a cost or call limit")
            self.put((*where, key), value)

    def _approval(self) -> None:
        table, r, u = self.repo["approval"], self.repo_cfg.approval, self.user_cfg.approval
        what = "the approval rules"
        if "risk_level" in table:
            if RISK_ORDER[r.risk_level] > RISK_ORDER[u.risk_level]:
                self.refuse("approval.risk_level", r.risk_level, u.risk_level, what)
            self.put(("approval", "risk_level"), r.risk_level)
        if "max_diff_lines" in table:
            if _cap(r.max_diff_lines) > _cap(u.max_diff_lines):
                self.refuse("approval.max_diff_lines", r.max_diff_lines, u.max_diff_lines, what)
            self.put(("approval", "max_diff_lines"), r.max_diff_lines)
        if "test_changes" in table:
            if u.test_changes and not r.test_changes:
                self.refuse("approval.test_changes", False, True, what)
            self.put(("approval", "test_changes"), r.test_changes)
        if "gate_config" in table:
            if u.gate_config and not r.gate_config:
                self.refuse("approval.gate_config", False, True, what)
            self.put(("approval", "gate_config"), r.gate_config)
        if "paths" in table:
            self.put(("approval", "paths"), _union(u.paths, r.paths), "adds to yours")


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


# Every key a repository value may only tighten, for strip_guards.
GUARD_KEYS = ("prices", "limits", "role_limits", "summarize_evidence", "sandbox",
              "protected_paths", "approval", "require_other_vendor", *LOWER_IS_STRICTER)


def resolve_repo_guards(repo: dict[str, Any], source: Path, repo_cfg: Any, user_cfg: Any,
                        origin_of: Callable[[tuple[str, ...]], str],
                        user_file: Path) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The guard values to apply on top of the user's layers, and (dotted name, how).

    Raises ``ConfigError`` naming the file and the key when a value would loosen a guard.
    """
    return _Resolver(repo, source, repo_cfg, user_cfg, origin_of, user_file).run()


def strip_guards(repo: dict[str, Any]) -> dict[str, Any]:
    """The repository's settings without the guards (those are resolved separately)."""
    return {k: v for k, v in repo.items() if k not in GUARD_KEYS and k != "verify_commands"}
