"""``baton integrate claude-code|codex``: write baton's plugin for a coding agent."""

from __future__ import annotations

from pathlib import Path

import click

from baton.cli import common


@click.command("integrate")
@common.handle_errors
@click.argument("agent", type=click.Choice(["claude-code", "codex"]))
@click.option("--dir", "target", type=click.Path(path_type=Path, file_okay=False),
              help="Where to write the plugin (default: ./baton-<agent>-plugin).")
@click.option("--no-hooks", is_flag=True, help="Leave out the finish hook.")
@click.option("--force", is_flag=True, help="Overwrite files already there.")
def integrate_cmd(agent: str, target: Path | None, no_hooks: bool, force: bool) -> None:
    """Write baton's plugin for AGENT (a skill, the MCP server entry and the finish hook)
    into a folder, and print how to enable it. Nothing is written into your agent's
    settings or HOME unless --dir names it."""
    from baton.integrations.plugins import ENABLE, write_plugin

    target = target or Path(f"baton-{agent}-plugin")
    written = write_plugin(agent, target, hooks=not no_hooks, force=force)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(ENABLE[agent].format(dir=target.resolve()))
