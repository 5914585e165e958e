"""``baton mcp``: serve baton's review tools to a coding agent over stdio."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from baton.cli import common


@click.command("mcp")
@common.handle_errors
@common.repo_option("The repository the tools work on (default: the current directory).")
def mcp_cmd(repo: Path) -> None:
    """Serve review_change, review_plan, start_run, show_run and list_runs over MCP on
    stdio. No tool can approve, reject, change configuration or loosen a guard.

    Needs the extra: pip install 'baton[mcp]' (exit 2 without it).
    """
    from baton.integrations import mcp_server

    if not mcp_server.available():
        click.echo(f"baton: {mcp_server.INSTALL_HINT}", err=True)
        sys.exit(2)
    mcp_server.serve(repo)
