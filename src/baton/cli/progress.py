"""Show a run's steps as they happen, on a terminal."""

from __future__ import annotations

import sys
from typing import Any

from baton.run_context import Progress


def _line(event: dict[str, Any]) -> str | None:
    kind = event["type"]
    if kind == "model.call":
        where = f" p{event['packet']} r{event['round']}" if event.get("packet") else ""
        if event.get("outcome") != "ok":
            return (f"  {event['role']}{where}: attempt {event['attempt']} with "
                    f"{event['gen_ai.request.model']} failed: {event.get('error')}")
        cost = event.get("cost_usd")
        money = f"${cost:.4f}" if isinstance(cost, int | float) else "cost unknown"
        return (f"  {event['role']}{where}: {event['gen_ai.request.model']} "
                f"{event['latency_s']:.1f}s, {event.get('gen_ai.usage.input_tokens')} in / "
                f"{event.get('gen_ai.usage.output_tokens')} out, {money}")
    if kind == "plan.gate":
        return "  plan gate: " + ("passed" if event["passed"] else
                                  "failed: " + "; ".join(event["errors"])[:200])
    if kind == "packet.start":
        return f"packet {event['packet']}: {event['title']}"
    if kind == "edits.applied":
        return (f"  edits applied: {', '.join(event['files'])} "
                f"(+{event['added']} -{event['removed']})")
    if kind == "edits.rejected":
        return f"  edits refused: {event['reason'][:200]}"
    if kind == "review.verdict":
        return f"  review round {event['round']}: {event['verdict']}"
    if kind == "command":
        if not event.get("ran"):
            return f"  not run: {event['command']} ({event.get('reason_not_run')})"
        return (f"  $ {event['command']} -> exit {event.get('exit_code')} "
                f"({event.get('duration_s', 0):.1f}s)")
    if kind == "base.command" and event.get("ran"):
        return (f"  base commit: $ {event['command']} -> exit {event.get('exit_code')} "
                f"({event.get('duration_s', 0):.1f}s)")
    if kind == "evidence.flags" and event.get("tampering"):
        return "test tampering: " + "; ".join(f["message"] for f in event["tampering"])[:300]
    if kind == "fix.start":
        return f"fix round {event['fix_round']}: failing: {', '.join(event['failed'])}"
    if kind == "approval.required":
        return "approval required: " + "; ".join(event.get("rules") or [])
    if kind == "budget.exhausted":
        return f"budget exhausted ({event.get('limit')})"
    if kind == "decision":
        return f"decision: {event['decision']}"
    if kind == "run.resume":
        return f"resuming run {event['run_id']} ({event.get('recorded_calls', 0)} recorded calls)"
    if kind == "run.start":
        return f"run {event['run_id']} on {event['branch']}"
    return None


def terminal_progress(enabled: bool) -> Progress | None:
    """A progress callback printing to stderr when it is a terminal, else None."""
    if not enabled or not sys.stderr.isatty():
        return None
    from rich.console import Console

    console = Console(stderr=True, highlight=False)

    def show(event: dict[str, Any]) -> None:
        line = _line(event)
        if line:
            console.print(line, markup=False)

    return show
