"""Show a run's steps as they happen.

On a terminal: rich's live display, with the current step, its model, elapsed seconds and
tokens as they stream (or, for a command, the command and its latest output line), and
a line above it for every step that ended. Off a terminal (piped, in CI): a plain line
when each step starts and when it ends, flushed at once, so a log shows where a run is.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _where(event: dict[str, Any]) -> str:
    return f" p{event['packet']} r{event['round']}" if event.get("packet") else ""


def _start_line(event: dict[str, Any]) -> str | None:
    """The line announcing that a step started, or None if ``event`` starts nothing."""
    kind = event["type"]
    if kind == "model.start":
        again = f" (attempt {event['attempt']})" if event.get("attempt", 1) > 1 else ""
        return (f"  {event['role']}{_where(event)}: asking {event['gen_ai.request.model']}"
                f"{again} ...")
    if kind == "command.start":
        on = "base commit: " if event.get("stage") == "base" else ""
        return f"  {on}$ {event['command']} ..."
    return None


def _line(event: dict[str, Any]) -> str | None:
    """The line for an event that ended a step or marks the run, or None."""
    kind = event["type"]
    if kind == "model.call":
        where = _where(event)
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
        if event.get("kind") == "review":
            return f"review {event['run_id']} of {event.get('selection')}"
        return f"run {event['run_id']} on {event['branch']}"
    if kind == "state" and event.get("state") in ("failed", "interrupted"):
        return f"run {event['run_id']} {event['state']}: {str(event.get('detail'))[:300]}"
    if kind == "reviewer.vendor" and event.get("relation") != "other_vendor":
        return f"  reviewer vendor: {event.get('message')}"
    return None


class _Current:
    """The step in flight, rendered by the live display (elapsed time computed on render)."""

    def __init__(self) -> None:
        self.label: str | None = None
        self.started = 0.0
        self.detail = ""

    def begin(self, label: str) -> None:
        self.label, self.started, self.detail = label, time.monotonic(), ""

    def end(self) -> None:
        self.label = None

    def __rich__(self) -> Any:
        from rich.text import Text

        if self.label is None:
            return Text("")
        elapsed = time.monotonic() - self.started
        text = Text(f"… {self.label}  {elapsed:.0f}s", style="bold")
        if self.detail:
            text.append(f"  {self.detail}", style="dim")
        return text


class RunDisplay:
    """A progress callback for a run; ``close()`` it when the run ends.

    ``mode`` is ``live`` (a terminal), ``plain`` (lines, for pipes and logs) or ``quiet``
    (``--json``: only warnings, which go to stderr at once).
    """

    def __init__(self, mode: str, stream: TextIO | None = None) -> None:
        self.mode = mode
        self.stream = stream or sys.stderr
        self.warnings_shown: set[str] = set()
        self.run_id: str | None = None
        self._current = _Current()
        self._live: Any = None
        self._console: Any = None
        if mode == "live":
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False)
            self.reopen()

    def reopen(self) -> None:
        """Start (again) the live area of a terminal display."""
        if self.mode != "live" or self._live is not None:
            return
        from rich.live import Live

        self._live = Live(self._current, console=self._console, refresh_per_second=4,
                          transient=True)
        self._live.start()

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        self.run_id = event.get("run_id") or self.run_id
        if kind == "warning":
            self.warnings_shown.add(event["message"])
            self._print(f"baton: warning: {event['message']}")
            return
        if self.mode == "quiet":
            return
        if kind in ("model.delta", "command.output"):
            if self.mode == "live":
                self._current.detail = (f"~{event['est_output_tokens']} tokens"
                                        if kind == "model.delta" else event["line"][-160:])
            return
        start = _start_line(event)
        if start is not None:
            if self.mode == "live":
                label = (f"{event['role']}{_where(event)} · {event['gen_ai.request.model']}"
                         if kind == "model.start" else f"$ {event['command']}")
                self._current.begin(label)
            else:
                self._print(start)
            return
        line = _line(event)
        if kind in ("model.call", "command"):
            self._current.end()
        if line:
            self._print(line)

    def _print(self, line: str) -> None:
        if self._console is not None:
            self._console.print(line, markup=False)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Stop the live display (idempotent)."""
        if self._live is not None:
            self._current.end()
            self._live.stop()
            self._live = None


def run_display(as_json: bool) -> RunDisplay:
    """The display for this process: live on a terminal, plain lines otherwise."""
    if as_json:
        return RunDisplay("quiet")
    return RunDisplay("live" if sys.stderr.isatty() else "plain")

