"""``baton runs``: the runs of a repository, newest first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from baton.cli.common import handle_errors, money, print_json, repo_root_of, seconds, warn_all
from baton.errors import RunNotFound


def runs_table(repo_root: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per run of the repository, newest first, and any warnings."""
    from baton.runs.store import effective_state, list_runs, read_workflow

    rows, warnings = [], []
    for run_dir in list_runs(repo_root):
        from baton.runs.reader import run_overview  # not needed when there are no runs

        try:
            wf = read_workflow(run_dir)
        except RunNotFound as exc:
            warnings.append(str(exc))
            continue
        overview = run_overview(run_dir / "trace.jsonl")
        warnings += overview.warnings
        rows.append({
            "run_id": wf.get("run_id") or run_dir.name, "task": wf.get("task"),
            "title": wf.get("title"), "state": effective_state(run_dir, wf),
            "decision": wf.get("decision"),
            "policy": wf.get("policy"), "branch": wf.get("branch"), "created": wf.get("created"),
            **overview.to_dict(), "path": str(run_dir),
        })
    return rows, warnings


@click.command("runs")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="The repository whose runs to list (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def runs_cmd(repo: Path | None, as_json: bool) -> None:
    """List the runs of this repository, newest first: state, decision, cost, time."""
    root = repo_root_of(repo)
    rows, warnings = runs_table(root)
    warn_all(warnings)
    if as_json:
        print_json({"repo": str(root), "runs": rows})
        return
    if not rows:
        click.echo(f"no runs in {root}; start one with `baton run \"TASK\"`")
        return
    from baton.cli.table import Table

    table = Table(title=f"runs of {root}")
    for name in ("run", "task", "state", "decision", "cost", "time", "calls"):
        table.add_column(name, justify="right" if name in ("cost", "time", "calls") else "left")
    for row in rows:
        task = " ".join(str(row["task"] or row["title"] or "").split())
        table.add_row(row["run_id"], task[:48] + ("…" if len(task) > 48 else ""),
                      row["state"] or "-", row["decision"] or "-",
                      money(row["cost_usd"], row["unknown_cost_calls"]),
                      seconds(row["duration_s"]), str(row["calls"]))
    click.echo(table.render(), nl=False)
