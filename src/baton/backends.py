"""Who fills a role: the seam between the workflow and what answers for a role.

The workflow (``roles.py``, used by both ``baton run`` and ``baton review``) owns every
gate: it builds each role's packet, checks the typed answer (the plan gate, the verdict's
repair-once rule, the edit-repair attempts), records it and decides. A *backend* only
answers the packet. Two calls make the contract:

- ``answer``: the planner's, reviewer's or verifier's packet (rendered chat messages) ->
  the role's text, which the workflow parses and gates (plan JSON, verdict JSON, summary);
- ``change``: the implementer's request (:class:`ChangeRequest`) -> the change made in the
  run's worktree, as :class:`~baton.workspace.edits.AppliedEdits`, or ``EditError`` saying
  what to fix (the workflow sends it back on the next attempt).

``ModelBackend`` (a chat completion through ``RunContext.ask``, edit blocks applied all or
nothing) is today's only implementation; a coding agent's command line is the other
(``baton.agents``), chosen per role in a policy. :func:`for_role` picks one from the
role's route, so the engine never knows which answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from baton.models import PlanPacket
    from baton.run_context import RunContext
    from baton.workspace.edits import AppliedEdits


@dataclass
class ChangeRequest:
    """What the implementer is asked for, before any backend renders it."""

    task: str
    plan_text: str
    packet: PlanPacket
    index: int
    count: int
    round: int
    files: list[dict[str, Any]]
    """The named files' current content (``roles._file_context``)."""
    allowed_files: list[str]
    """The files the plan names: a change elsewhere is flagged as outside the plan."""
    required_fixes: list[str] = field(default_factory=list)
    edit_error: str = ""
    """Why the previous attempt's edits were refused (empty on a first attempt)."""
    base_results: list[dict[str, Any]] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        """The fields as the implementer's prompt template names them."""
        return dict(task=self.task, plan_text=self.plan_text, packet=self.packet,
                    packet_index=self.index, packet_count=self.count, files=self.files,
                    required_fixes=self.required_fixes, round=self.round,
                    edit_error=self.edit_error, base_results=self.base_results)


class RoleBackend(Protocol):
    """What answers for a role (a model behind the endpoint, or an agent command line)."""

    def answer(self, ctx: RunContext, role: str, messages: list[dict[str, str]],
               call_key: str, *, packet: int | None, round: int | None) -> str:
        """The role's answer to its packet, as text for the workflow to parse and gate.
        ``call_key`` is unique in the run: a recorded answer is replayed on resume."""
        ...

    def change(self, ctx: RunContext, request: ChangeRequest, call_key: str) -> AppliedEdits:
        """Make the requested change in ``ctx.worktree`` through baton's path safety, or
        raise ``EditError`` with what to fix (nothing is left written then)."""
        ...


class ModelBackend:
    """A role answered by one chat completion (with the route's retries and fallbacks)."""

    def answer(self, ctx: RunContext, role: str, messages: list[dict[str, str]],
               call_key: str, *, packet: int | None, round: int | None) -> str:
        return ctx.ask(role, messages, call_key, packet=packet, round=round)

    def change(self, ctx: RunContext, request: ChangeRequest, call_key: str) -> AppliedEdits:
        from baton.editing import ask

        # In the model's own edit format (docs/edit-format.md).
        return ask.change(ctx, request.context(), call_key, packet=request.index,
                          round_=request.round, allowed_files=request.allowed_files)


MODEL = ModelBackend()


def for_role(ctx: RunContext, role: str) -> RoleBackend:
    """The backend the role's route names (a model unless the route names an agent)."""
    route = ctx.routes[role]
    if route.agent is not None:
        from baton.agents.backend import AgentBackend

        return AgentBackend(route)
    return MODEL
