"""``baton report RUN``: a run's self-contained HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from baton.cli.common import handle_errors, print_json


@click.command("report")
@click.argument("run")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the HTML file (default: report.html in the run folder).")
@click.option("--open", "open_", is_flag=True, help="Open the report in a web browser.")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="The repository whose run it is (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print the report's path as JSON.")
@handle_errors
def report_cmd(run: str, out: Path | None, open_: bool, repo: Path | None,
               as_json: bool) -> None:
    """Write the HTML report of RUN (a run id, a unique prefix of one, or a run folder).

    One file, no network: outcome and reasons, a timeline of every model call and
    command, cost, tokens and latency by role and model, review rounds, approval gates,
    the final diff, the verification evidence and the budget.
    """
    from baton.errors import UserError
    from baton.report.run import write_run_report
    from baton.runs.store import find_repo_root, find_run

    folder = Path(run)
    if folder.is_dir() and (folder / "trace.jsonl").is_file():
        run_dir = folder
    elif folder.is_file() and folder.name == "trace.jsonl":
        run_dir = folder.parent
    else:
        try:
            run_dir = find_run(find_repo_root(repo or Path.cwd()), run)
        except UserError as exc:
            raise UserError(f"{run!r} is not a run folder or a run id: {exc}") from exc
    path = write_run_report(run_dir, out)
    if as_json:
        print_json({"run_dir": str(run_dir), "report": str(path.resolve())})
    else:
        click.echo(f"report: {path.resolve()}")
    if open_:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            click.echo(f"baton: warning: no browser could be opened; open {path} yourself",
                       err=True)
