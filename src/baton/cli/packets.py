"""``baton packets``: write the workflow folder with no model calls."""

from __future__ import annotations

from pathlib import Path

import click

from baton.cli.common import handle_errors, print_json


@click.command("packets")
@click.argument("task")
@click.option("--title", required=True, help="A short title for the workflow.")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The folder to write (must be empty unless --force).")
@click.option("--force", is_flag=True, help="Write into a non-empty --out folder.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def packets_cmd(task, title, repo, out, force, as_json):
    """Write TASK's workflow folder: packets, plan template, checklist, verify.sh, trace."""
    from baton.packets import write_packets

    workflow = write_packets(task, title, repo, out, force=force)
    if as_json:
        print_json({"out": str(out), **workflow})
        return
    click.echo(f"wrote the workflow folder {out}")
    click.echo(f"  verify commands ({workflow['verify_commands_source']}): "
               + (", ".join(workflow["verify_commands"]) or "none"))
    click.echo(f"  start with {out / 'README.md'}")
