"""``baton clean``: remove the worktrees, branches and run folders of finished runs."""

from __future__ import annotations

from pathlib import Path

import click

from baton.cli.common import handle_errors, print_json


@click.command("clean")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              help="The repository to clean (default: the current one).")
@click.option("--dry-run", "-n", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--all", "include_unfinished", is_flag=True,
              help="Also runs that could still be resumed or approved, and unmerged go "
              "branches.")
@click.option("--keep-runs", is_flag=True,
              help="Keep the run folders (traces, evidence); remove worktrees and branches.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def clean_cmd(repo: Path, dry_run: bool, include_unfinished: bool, keep_runs: bool,
              as_json: bool) -> None:
    """Remove the worktrees, branches and run folders of finished runs.

    Runs that can still be resumed or approved are kept unless --all; a run another baton
    process is working on is never touched. A go run keeps its branch until it is merged.
    What a killed run left outside the repository (its disposable checkout, its command's
    scratch folder and processes) is removed for every run no process is working on.
    """
    import sys

    from baton.runs.clean import clean
    from baton.runs.store import find_repo_root

    report = clean(find_repo_root(repo), dry_run=dry_run,
                   include_unfinished=include_unfinished, keep_run_folders=keep_runs)
    if as_json:
        print_json(report.to_dict())
    else:
        verb = "would remove" if dry_run else "removed"
        removed = 0
        for item in report.items:
            for what in item.remove:
                click.echo(f"{verb} {what}")
                removed += 1
            if item.keep:
                click.echo(f"kept run {item.run_id}: {item.keep}")
            for error in item.errors:
                click.echo(f"baton: error: run {item.run_id}: {error}", err=True)
        if not removed:
            click.echo("nothing to remove")
        elif dry_run:
            click.echo("(dry run: nothing was removed; run `baton clean` to do it)")
    sys.exit(2 if any(item.errors for item in report.items) else 0)
