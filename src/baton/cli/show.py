"""``baton show RUN``: one run's state, reasons, failed commands, diff and next step."""

from __future__ import annotations

from pathlib import Path

import click

from baton.cli.common import handle_errors, print_json
from baton.cli.completion import complete_run_id


@click.command("show")
@click.argument("run_id", required=False, shell_complete=complete_run_id)
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              help="The repository of the run (default: the current one).")
@click.option("--no-diff", is_flag=True, help="Leave the diff out.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def show_cmd(run_id: str | None, repo: Path, no_diff: bool, as_json: bool) -> None:
    """Show one run (default: the newest): state, reasons, failed commands, the diff."""
    from baton.runs.show import run_view
    from baton.runs.store import find_repo_root, find_run, last_run

    root = find_repo_root(repo)
    run_dir = find_run(root, run_id) if run_id else last_run(root)
    view = run_view(run_dir, with_diff=not no_diff)
    if as_json:
        print_json(view.to_dict())
        return
    echo = click.echo
    echo(f"run {view.run_id}: {view.state}" + (f", {view.decision}" if view.decision else ""))
    echo(f"  task:       {' '.join(view.task.split())[:300]}")
    for reason in view.reasons:
        echo(f"  reason:     {reason}")
    if view.error and view.error not in view.reasons:
        echo(f"  error:      {view.error}")
    echo(f"  branch:     {view.branch}" + (f" (commit {view.commit[:12]})" if view.commit
                                             else ""))
    if view.worktree_exists:
        echo(f"  worktree:   {view.worktree}")
    echo(f"  run folder: {view.run_dir}")
    t = view.totals
    if t:
        echo(f"  totals:     {t.get('calls', 0)} calls, ${t.get('cost_usd', 0):.4f}, "
             f"{t.get('input_tokens', 0)} in / {t.get('output_tokens', 0)} out tokens")
    if view.summary_file:
        echo(f"  summary:    {view.summary_file}")
    for failed in view.failed_commands:
        how = "timed out" if failed.timed_out else f"exit {failed.exit_code}"
        echo(f"\nfailed: $ {failed.command}  ({how})")
        for line in (failed.output_tail or "(no output)").splitlines():
            echo(f"  | {line}")
        if failed.log_file:
            echo(f"  full output: {failed.log_file}")
    if view.next_step:
        echo(f"\nnext: {view.next_step}")
    if view.diff is not None:
        echo("\n" + (view.diff.rstrip() or "(the diff is empty: no changes)"))
    elif not no_diff:
        echo("\n(no diff recorded yet)")
