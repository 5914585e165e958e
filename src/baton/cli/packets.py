"""``baton packets``: write the workflow folder with no model calls."""

from __future__ import annotations

from pathlib import Path

import click

from baton.cli.common import handle_errors, print_json


@click.command("packets")
@click.argument("task", required=False)
@click.option("--task", "task_option", metavar="TASK",
              help="The task, as a flag instead of the argument (the articles' form).")
@click.option("--title", required=True, help="A short title for the workflow.")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The folder to write (must be empty unless --force).")
@click.option("--force", is_flag=True, help="Write into a non-empty --out folder.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def packets_cmd(task, task_option, title, repo, out, force, as_json):
    """Write TASK's workflow folder: packets, plan template, checklist, verify.sh, trace.

    The task is the argument or `--task TASK`, not both.
    """
    from baton.packets import write_packets

    if task is not None and task_option is not None:
        raise click.UsageError("the task is given twice, as the argument and with --task; "
                               "give it once, either way")
    if task is None and task_option is None:
        raise click.UsageError('give the task: `baton packets "TASK" --title T --out DIR` '
                               'or `baton packets --task "TASK" --title T --out DIR`')
    task = task if task is not None else task_option

    workflow = write_packets(task, title, repo, out, force=force)
    if as_json:
        print_json({"out": str(out), **workflow})
        return
    click.echo(f"wrote the workflow folder {out}")
    click.echo(f"  verify commands ({workflow['verify_commands_source']}): "
               + (", ".join(workflow["verify_commands"]) or "none"))
    click.echo(f"  start with {out / 'README.md'}")
