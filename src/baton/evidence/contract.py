"""The plan as a contract, checked against the final diff and the evidence.

Three findings, each a plain list: files the patch touched that the plan did not name,
files the plan named that the patch left untouched, and test commands the plan named
that did not run. None is an error by itself; each can be an approval rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from baton.models import CommandEvidence, Plan


@dataclass
class ContractCheck:
    """What the final diff did against what the plan promised."""

    unplanned_files: list[str] = field(default_factory=list)
    untouched_files: list[str] = field(default_factory=list)
    commands_not_run: list[str] = field(default_factory=list)

    def messages(self) -> list[str]:
        """One sentence per finding, for the reviewer and the summary."""
        return ([f"changed but not in the plan: {p}" for p in self.unplanned_files]
                + [f"in the plan but not changed: {p}" for p in self.untouched_files]
                + [f"plan test command did not run: {c}" for c in self.commands_not_run])

    def to_dict(self) -> dict[str, list[str]]:
        """JSON-ready form for the trace."""
        return asdict(self)


def check_contract(plan: Plan, changed: Iterable[str],
                   evidence: list[CommandEvidence] | None = None) -> ContractCheck:
    """Compare the plan's files and test commands with the changed paths and the evidence.

    ``evidence`` None means verification has not happened yet: commands are not judged.
    """
    planned = [_norm(p) for p in plan.files()]
    touched = sorted({_norm(p) for p in changed})
    check = ContractCheck(
        unplanned_files=[p for p in touched if p not in planned],
        untouched_files=[p for p in dict.fromkeys(planned) if p not in touched],
    )
    if evidence is not None:
        ran = {e.command.strip() for e in evidence if e.ran}
        check.commands_not_run = [c for c in dict.fromkeys(plan.test_commands)
                                  if c.strip() not in ran]
    return check


def _norm(path: str) -> str:
    path = path.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/")
