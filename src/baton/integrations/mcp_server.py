"""``baton mcp``: an MCP server over stdio on the official ``mcp`` SDK (the ``mcp`` extra).

Its working folder is the repository it was started in. Every tool reads endpoints, keys,
budgets and guards from the user's configuration exactly as the command line does, and no
tool can approve, reject, change configuration or loosen a guard: arguments a tool does not
declare (a budget, an endpoint, ``allow_model_commands``...) are refused before anything
runs, so the agent being gated cannot open its own gate.
"""


from pathlib import Path
from typing import Any

INSTALL_HINT = "baton mcp needs the MCP SDK: pip install 'baton[mcp]'"

FORBIDDEN = {
    "approve", "approved", "reject", "decision", "endpoint", "endpoints", "base_url",
    "api_key", "api_key_env", "config", "config_file", "set", "settings", "overrides",
    "allow_model_commands", "max_cost", "max_calls", "max_tokens", "max_wall", "budget",
    "policy", "limits",
}
"""Argument names that would let the gated agent loosen its own gate (said by name)."""


def available() -> bool:
    """Whether the ``mcp`` extra is installed."""
    try:
        import mcp.server.mcpserver  # noqa: F401
    except ImportError:
        return False
    return True


def _findings_summary(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keep = ("file", "line_start", "line_end", "severity", "message")
    return [{k: f.get(k) for k in keep} for f in findings]


def _evidence_summary(reasons: list[str], warnings: list[str]) -> str:
    return "; ".join(reasons + [f"warning: {w}" for w in warnings]) or "no reasons recorded"


def _next_step(result: Any) -> str:
    from baton.runs.show import next_step

    step = next_step(result.run_id, result.state, result.decision,
                     getattr(result, "branch", None) or None, None)
    if result.decision == "no-go":
        return ("fix the findings, then call review_change again with follow="
                f"{result.run_id!r}")
    if result.state == "awaiting_approval":
        return f"a person decides on the command line: {step}"
    return step or "nothing to do"


def build_server(repo: Path) -> Any:
    """The MCP server for the repository at ``repo`` (needs the extra)."""
    import anyio
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import BaseModel, Field

    from baton.errors import UserError

    class ReviewOutcome(BaseModel):
        """What a review or a run ended with."""

        run_id: str
        state: str
        verdict: str | None = None
        decision: str | None = None
        findings: list[dict[str, Any]] = Field(default_factory=list)
        evidence_summary: str = ""
        cost_usd: float | None = None
        calls: int | None = None
        next_step: str = ""
        run_dir: str = ""
        round: int | None = None

    class RunSummary(BaseModel):
        run_id: str
        state: str
        decision: str | None = None
        task: str | None = None
        created: str | None = None

    class RunList(BaseModel):
        runs: list[RunSummary]
        warnings: list[str] = Field(default_factory=list)

    class RunDetails(BaseModel):
        run_id: str
        state: str
        decision: str | None = None
        task: str = ""
        reasons: list[str] = Field(default_factory=list)
        evidence_summary: str = ""
        cost_usd: float | None = None
        next_step: str = ""
        run_dir: str = ""

    class GatedServer(MCPServer):  # type: ignore[misc]
        async def call_tool(self, name: str, arguments: dict[str, Any],
                            context: Any = None) -> Any:
            tool = self._tool_manager.get_tool(name)
            if tool is None:
                raise ToolError(f"unknown tool {name!r}: baton's MCP tools review and show; "
                                "approvals and configuration stay on the command line")
            allowed = set(tool.parameters.get("properties", {}))
            extra = sorted(set(arguments) - allowed)
            if extra:
                loosen = [a for a in extra if a in FORBIDDEN]
                why = ("an agent may not approve, reject, change configuration or loosen a "
                       "guard through baton's MCP tools; budgets, endpoints and guards come "
                       "from your configuration" if loosen else "not an argument of this tool")
                raise ToolError(f"refused argument(s) {', '.join(extra)} of {name}: {why}; "
                                "nothing was run")
            return await super().call_tool(name, arguments, context)

    server = GatedServer(
        "baton", instructions=(
            "baton gates a change: another vendor's model reviews it and the harness runs "
            "the project's checks. Call review_change before saying a change is done; a "
            "no-go comes with findings to fix. You cannot approve your own work."))
    root = repo

    async def in_thread(ctx: Context, work: Any) -> Any:
        """Run ``work(progress)`` in a worker thread, relaying its events as progress."""
        count = [0]

        def progress(event: dict[str, Any]) -> None:
            count[0] += 1
            message = str(event.get("event") or event.get("type") or "step")
            for key in ("role", "command", "stage", "model"):
                if event.get(key):
                    message += f" {event[key]}"
            try:
                anyio.from_thread.run(ctx.report_progress, float(count[0]), None, message)
            except Exception:  # noqa: BLE001 - a lost progress note never fails the review
                pass

        try:
            return await anyio.to_thread.run_sync(lambda: work(progress))
        except UserError as exc:
            raise ToolError(str(exc)) from exc

    def outcome(result: Any) -> ReviewOutcome:
        data = result.to_dict()
        totals = data.get("totals") or {}
        return ReviewOutcome(
            run_id=result.run_id, state=result.state, verdict=data.get("verdict"),
            decision=result.decision, findings=_findings_summary(data.get("findings") or []),
            evidence_summary=_evidence_summary(result.reasons, result.warnings),
            cost_usd=totals.get("cost_usd"), calls=totals.get("calls"),
            next_step=_next_step(result), run_dir=str(result.run_dir),
            round=data.get("round"))

    @server.tool()
    async def review_change(ctx: Context, target: str = "uncommitted", ref: str = "",
                            task: str = "", follow: str = "",
                            plan_file: str = "") -> ReviewOutcome:
        """Review a change with baton's gate: target is uncommitted, staged, base (ref = the
        branch to compare with), commit (ref = the commit) or diff (ref = a patch file in the
        repository). follow = an earlier review's run id after fixing its findings."""
        from baton.review.selection import Selection, read_diff_source
        from baton.review.workflow import start_review

        if target == "uncommitted":
            selection = Selection("uncommitted")
        elif target == "staged":
            selection = Selection("staged")
        elif target in ("base", "commit"):
            if not ref:
                raise ToolError(f"target {target} needs ref")
            selection = Selection("base" if target == "base" else "commit", ref)
        elif target == "diff":
            if not ref:
                raise ToolError("target diff needs ref: the patch file")
            path = str((root / ref).resolve())
            selection = Selection("diff", path, read_diff_source(path, None))
        else:
            raise ToolError(f"unknown target {target!r}: uncommitted, staged, base, commit, "
                            "diff")
        result = await in_thread(ctx, lambda progress: start_review(
            root, selection=selection, task=task, follow=follow or None,
            plan_file=(root / plan_file) if plan_file else None, progress=progress))
        return outcome(result)

    @server.tool()
    async def review_plan(ctx: Context, plan_file: str, task: str = "") -> ReviewOutcome:
        """Review a plan alone (baton's plan JSON or Markdown, a file in the repository)."""
        from baton.review.workflow import start_review

        result = await in_thread(ctx, lambda progress: start_review(
            root, selection=None, task=task, plan_file=root / plan_file, progress=progress))
        return outcome(result)

    @server.tool()
    async def start_run(ctx: Context, task: str) -> ReviewOutcome:
        """Start a gated `baton run` of task: planned, implemented, reviewed and checked on
        its own branch; an approval gate waits for a person on the command line."""
        from baton.pipeline import start_run as run

        result = await in_thread(ctx, lambda progress: run(task, root, progress=progress))
        return outcome(result)

    @server.tool()
    async def show_run(run_id: str) -> RunDetails:
        """One run or review: state, decision, reasons, cost and the next step."""
        from baton.runs.show import run_view
        from baton.runs.store import find_run

        try:
            view = run_view(find_run(root, run_id), with_diff=False)
        except UserError as exc:
            raise ToolError(str(exc)) from exc
        return RunDetails(run_id=view.run_id, state=view.state, decision=view.decision,
                          task=view.task, reasons=view.reasons,
                          evidence_summary=_evidence_summary(view.reasons, []),
                          cost_usd=(view.totals or {}).get("cost_usd"),
                          next_step=view.next_step or "", run_dir=view.run_dir)

    @server.tool()
    async def list_runs() -> RunList:
        """The repository's runs and reviews, newest first."""
        from baton.errors import RunNotFound
        from baton.runs.store import effective_state, read_workflow
        from baton.runs.store import list_runs as runs

        rows, warnings = [], []
        for run_dir in runs(root):
            try:
                wf = read_workflow(run_dir)
            except RunNotFound as exc:
                warnings.append(str(exc))
                continue
            rows.append(RunSummary(run_id=wf.get("run_id") or run_dir.name,
                                   state=effective_state(run_dir, wf),
                                   decision=wf.get("decision"), task=wf.get("task"),
                                   created=wf.get("created")))
        return RunList(runs=rows, warnings=warnings)

    return server


def serve(repo: Path) -> None:
    """Serve over stdio until the client closes it."""
    from baton.runs.store import find_repo_root

    build_server(find_repo_root(repo)).run("stdio")
