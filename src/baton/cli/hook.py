"""``baton hook stop|plan --agent A``: the finish hooks of coding agents."""

from __future__ import annotations

import sys

import click


@click.command("hook")
@click.argument("kind", type=click.Choice(["stop", "plan"]))
@click.option("--agent", type=click.Choice(["claude-code", "codex"]), required=True,
              help="Whose hook contract to answer in.")
def hook_cmd(kind: str, agent: str) -> None:
    """Answer an agent's hook: stop reviews the uncommitted change (blocks on no-go with
    the fixes); plan reviews Claude Code's plan on ExitPlanMode. Always exits 0: a baton
    or endpoint that cannot be reached lets the agent go on (said on stderr)."""
    from baton.integrations.hook import run_hook

    out, code = run_hook(kind, agent, sys.stdin.read())
    if out:
        click.echo(out)
    sys.exit(code)
