"""CLI commands that read and extend traces: ``trace summary``, ``record``, ``runs``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from baton.cli.common import handle_errors, print_json
from baton.errors import RunNotFound, UserError
from baton.runs.record import RESULT_WORDS

# The same as config.ROLES (a test checks), without importing pydantic for `baton record`.
ROLE_CHOICES = ("planner", "implementer", "reviewer", "verifier")


class _Amount(click.ParamType):
    """A finite number of at least 0 (whole if ``whole``), with a message that says so."""

    def __init__(self, whole: bool = False, minimum: int = 0) -> None:
        self.whole, self.minimum = whole, minimum
        self.name = "integer" if whole else "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, int | float) and not isinstance(value, bool):
            number: float = value
        else:
            try:
                number = int(value) if self.whole else float(value)
            except (TypeError, ValueError):
                kind = "a whole number" if self.whole else "a number"
                self.fail(f"{value!r} is not {kind}", param, ctx)
        if not math.isfinite(number) or number < self.minimum:
            self.fail(f"{value!r} must be a finite number of at least {self.minimum}",
                      param, ctx)
        return number


COUNT, SECONDS_OR_USD, ORDINAL = _Amount(whole=True), _Amount(), _Amount(whole=True, minimum=1)


def _warn(messages: list[str]) -> None:
    for message in messages:
        click.echo(f"baton: warning: {message}", err=True)


def _repo_root(repo: Path | None) -> Path:
    from baton.runs.store import find_repo_root

    return find_repo_root(repo or Path.cwd())


def _money(value: float | None, unknown: int = 0) -> str:
    text = "-" if value is None else f"${value:.4f}"
    return text + (f" (+{unknown} unknown)" if unknown else "")


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f}s"
    return f"{value / 60:.1f}m" if value < 7200 else f"{value / 3600:.1f}h"


# -- baton trace summary ----------------------------------------------------------------


@click.group("trace")
def trace_group() -> None:
    """Read traces: summary by model, role, run or task; export them over OTLP."""


def _resolve(targets: tuple[str, ...], repo: Path | None) -> list[Path]:
    """Files and folders as given; anything else is a run id (or prefix) of the repo."""
    from baton.runs.store import find_run, list_runs

    if not targets:
        runs = list_runs(_repo_root(repo))
        return [run / "trace.jsonl" for run in runs if (run / "trace.jsonl").is_file()]
    paths = []
    for target in targets:
        path = Path(target)
        if path.exists():
            paths.append(path)
            continue
        try:
            paths.append(find_run(_repo_root(repo), target))
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
    from baton.runs.stats import summarize

    paths = _resolve(targets, repo)
    summary = summarize(paths, by=by)  # type: ignore[arg-type]
    _warn(summary.warnings)
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
            _seconds(lat["mean"]), _seconds(lat["p50"]), _seconds(lat["p95"]),
            f"{row['input_tokens']:,}{cached}", f"{row['output_tokens']:,}",
            _money(row["cost_usd"], row["unknown_cost_calls"]),
            ", ".join(f"{k} {v}" for k, v in row["outcomes"].items()),
            end_section=len(rows) > 1 and row is rows[-2],
        )
    click.echo(table.render(), nl=False)
    if data["decisions"]:
        click.echo("decisions: " + ", ".join(f"{k} {v}" for k, v in data["decisions"].items()))
    click.echo("mean, p50/p95 (nearest-rank): latency over every call including failed "
               "attempts. (+N unknown): calls whose cost is not known, left out of the sum.")


# -- baton record -----------------------------------------------------------------------


@click.command("record")
@click.option("--trace", "trace_path", required=True,
              type=click.Path(path_type=Path, dir_okay=True),
              help="The trace to append to (a run folder means its trace.jsonl).")
@click.option("--role", required=True, type=click.Choice(ROLE_CHOICES))
@click.option("--model", required=True, help="The model that did the step.")
@click.option("--latency-s", "--latency-sec", "latency_s", required=True, type=SECONDS_OR_USD,
              help="How long the step took, in seconds.")
@click.option("--input-tokens", "--prompt-tokens", "input_tokens", required=True, type=COUNT)
@click.option("--output-tokens", required=True, type=COUNT)
@click.option("--result", required=True, type=click.Choice(RESULT_WORDS),
              help="What the step concluded; the articles' changes, blocked, verified and "
                   "applied are recorded as request_changes, block, pass and ok.")
@click.option("--evidence", multiple=True,
              help="A line of evidence (a command and its exit code, a link); repeatable.")
@click.option("--cost-usd", type=SECONDS_OR_USD,
              help="What the step cost; otherwise priced from the model when baton knows it.")
@click.option("--cached-tokens", type=COUNT,
              help="Input tokens read from the provider's cache.")
@click.option("--endpoint", help="The name of the endpoint used.")
@click.option("--run-id", help="Default: the trace's run id, else the trace's folder name.")
@click.option("--task-id", help="Your own key for the task (e.g. billing-export-2026-06-03); "
                                "`trace summary --by task` groups by it.")
@click.option("--packet", type=ORDINAL, help="The packet this step belongs to.")
@click.option("--round", "round_", type=ORDINAL, help="The review round.")
@click.option("--json", "as_json", is_flag=True, help="Print the appended event as JSON.")
@handle_errors
def record_cmd(trace_path: Path, as_json: bool, **fields: Any) -> None:
    """Append a step that was run by hand to a trace, as a model.call with source manual."""
    from baton.runs.record import record_call
    from baton.runs.stats import trace_run_id

    fields["evidence"] = list(fields["evidence"])
    if trace_path.is_dir():
        trace_path = trace_path / "trace.jsonl"
    existing = trace_run_id(trace_path) if trace_path.is_file() else None
    if fields["run_id"] and existing and fields["run_id"] != existing:
        _warn([f"{trace_path} belongs to run {existing}; recording under {fields['run_id']}"])
    event = record_call(trace_path, **fields)
    if as_json:
        print_json(event)
        return
    cost = event["cost_usd"]
    click.echo(
        f"recorded {event['role']} step #{event['seq']} of run {event['run_id']}: "
        f"{event['gen_ai.request.model']}, {event['latency_s']}s, "
        f"{event['gen_ai.usage.input_tokens']} in / {event['gen_ai.usage.output_tokens']} out, "
        + (f"${cost:.4f} ({event['cost_source']})" if cost is not None else "cost unknown")
        + f", result {event['result']}"
        + (f" (given as {event['result_as_given']})"
           if event["result_as_given"] != event["result"] else "")
        + (f", task {event['task_id']}" if event.get("task_id") else "")
    )


# -- baton runs -------------------------------------------------------------------------


def runs_table(repo_root: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per run of the repository, newest first, and any warnings."""
    from baton.runs.stats import run_overview
    from baton.runs.store import list_runs, read_workflow

    rows, warnings = [], []
    for run_dir in list_runs(repo_root):
        try:
            wf = read_workflow(run_dir)
        except RunNotFound as exc:
            warnings.append(str(exc))
            continue
        overview = run_overview(run_dir / "trace.jsonl")
        warnings += overview.warnings
        rows.append({
            "run_id": wf.get("run_id") or run_dir.name, "task": wf.get("task"),
            "title": wf.get("title"), "state": wf.get("state"), "decision": wf.get("decision"),
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
    root = _repo_root(repo)
    rows, warnings = runs_table(root)
    _warn(warnings)
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
                      _money(row["cost_usd"], row["unknown_cost_calls"]),
                      _seconds(row["duration_s"]), str(row["calls"]))
    click.echo(table.render(), nl=False)


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
