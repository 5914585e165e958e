"""CLI commands that read traces: ``trace summary`` and ``trace export``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from baton.cli.common import (
    SECONDS_OR_USD,
    handle_errors,
    money,
    print_json,
    repo_root_of,
    seconds,
    warn_all,
)
from baton.errors import UserError

# -- baton trace summary ----------------------------------------------------------------


@click.group("trace")
def trace_group() -> None:
    """Read traces: summary by model, role, run or task; export them over OTLP."""


def _resolve(targets: tuple[str, ...], repo: Path | None) -> list[Path]:
    """Files and folders as given; anything else is a run id (or prefix) of the repo."""
    from baton.runs.store import find_run, list_runs

    if not targets:
        runs = list_runs(repo_root_of(repo))
        return [run / "trace.jsonl" for run in runs if (run / "trace.jsonl").is_file()]
    paths = []
    for target in targets:
        path = Path(target)
        if path.exists():
            paths.append(path)
            continue
        if "/" in target or target.endswith((".jsonl", ".json")):
            raise UserError(f"{target!r} is not a file, a folder or a run id: no such file "
                            "or folder (give a trace file, a run folder, a folder of runs, "
                            "or a run id from `baton runs`)")
        try:
            paths.append(find_run(repo_root_of(repo), target))
        except UserError as exc:  # no such run, or not in a repository
            raise UserError(f"{target!r} is not a file, a folder or a run id: {exc}") from exc
    return paths


@trace_group.command("summary")
@click.argument("targets", nargs=-1, metavar="[RUN-ID | FILE | DIR]...")
@click.option("--by", type=click.Choice(["model", "role", "run", "task"]), default="model",
              show_default=True, help="Group the model calls by this.")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="The repository whose runs to read (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def summary_cmd(targets: tuple[str, ...], by: str, repo: Path | None, as_json: bool) -> None:
    """Calls, latency, tokens and cost by model, role, run or task id.

    With no argument, every run of the current repository. An argument may be a trace
    file, a run folder, a folder of runs or traces (searched recursively), or a run id
    (a unique prefix is enough).
    """
    from baton.runs.reader import summarize

    paths = _resolve(targets, repo)
    summary = summarize(paths, by=by)  # type: ignore[arg-type]
    warn_all(summary.warnings)
    if as_json:
        print_json(summary.to_dict())
    elif not targets and not paths:
        click.echo("no runs in this repository yet; start one with `baton run \"TASK\"`, "
                   "or name trace files or folders")
    else:
        _print_summary(summary.to_dict())


def _print_summary(data: dict[str, Any]) -> None:
    from baton.cli.table import Table  # not rich: a quick command (issue 18)

    table = Table(title=f"{data['events']:,} events, {data['runs']} runs, "
                  f"{data['files']} trace files, by {data['by']}")
    table.add_column(data["by"])
    for name in ("calls", "errors", "mean", "p50", "p95", "tokens in", "tokens out", "cost"):
        table.add_column(name, justify="right")
    table.add_column("outcomes")
    rows = [*data["groups"], data["totals"]]
    for row in rows:
        lat = row["latency_s"]
        cached = f" ({row['cached_tokens']:,} cached)" if row["cached_tokens"] else ""
        table.add_row(
            row["key"], str(row["calls"]), str(row["errors"]),
            seconds(lat["mean"]), seconds(lat["p50"]), seconds(lat["p95"]),
            f"{row['input_tokens']:,}{cached}", f"{row['output_tokens']:,}",
            money(row["cost_usd"], row["unknown_cost_calls"]),
            ", ".join(f"{k} {v}" for k, v in row["outcomes"].items()),
            end_section=len(rows) > 1 and row is rows[-2],
        )
    click.echo(table.render(), nl=False)
    if data["decisions"]:
        click.echo("decisions: " + ", ".join(f"{k} {v}" for k, v in data["decisions"].items()))
    click.echo("mean, p50/p95 (nearest-rank): latency over every call including failed "
               "attempts. (+N unknown): calls whose cost is not known, left out of the sum.")


# -- baton record -----------------------------------------------------------------------


# -- baton trace export -----------------------------------------------------------------


@trace_group.command("export")
@click.argument("targets", nargs=-1, metavar="[RUN-ID | FILE | DIR]...")
@click.option("--otlp", "url", metavar="URL",
              help="The OTLP/HTTP receiver, e.g. http://127.0.0.1:4318 (/v1/traces is added "
              "to a bare address). Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or "
              "OTEL_EXPORTER_OTLP_ENDPOINT.")
@click.option("--include-content", is_flag=True,
              help="Also send the task, prompts and answers (gen_ai.input.messages, "
              "gen_ai.output.messages). Off by default.")
@click.option("--timeout", "timeout_s", type=SECONDS_OR_USD, default=10.0, show_default=True,
              help="Seconds to keep trying to reach the receiver.")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="The repository whose runs to read (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@handle_errors
def export_cmd(targets: tuple[str, ...], url: str | None, include_content: bool,
               timeout_s: float, repo: Path | None, as_json: bool) -> None:
    """Send runs to an OpenTelemetry backend as spans (GenAI semantic conventions).

    One trace per run: invoke_workflow, invoke_agent per role step, chat per model call,
    a span per verification command. Arguments as for `trace summary`; with none, every
    run of the current repository. Needs the extra: pip install 'baton[otel]'.
    """
    import os

    from baton.export.otlp import endpoint_from_env, export_traces, require_otel, traces_url
    from baton.runs.stats import trace_files

    url = url or endpoint_from_env(os.environ)
    if not url:
        raise UserError("say where to send the spans: --otlp http://HOST:4318 (or set "
                        "OTEL_EXPORTER_OTLP_ENDPOINT)")
    traces_url(url)
    require_otel()
    paths = trace_files(_resolve(targets, repo))
    if not paths:
        raise UserError("no trace to export; name a run id, a run folder or a trace file")
    runs = export_traces(paths, url, include_content=include_content, timeout_s=timeout_s)
    if as_json:
        print_json({"endpoint": traces_url(url), "runs": [r.to_dict() for r in runs]})
        return
    for run in runs:
        click.echo(f"run {run.run_id}: {run.spans} spans, trace id {run.trace_id}")
    click.echo(f"exported {sum(r.spans for r in runs)} spans of {len(runs)} run(s) to "
               f"{traces_url(url)}")
