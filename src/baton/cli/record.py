"""``baton record``: append a step that was run by hand to a trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from baton.cli.common import COUNT, ORDINAL, SECONDS_OR_USD, handle_errors, print_json, warn_all
from baton.runs.record import RESULT_WORDS

# The same as config.ROLES (a test checks), without importing pydantic for `baton record`.
ROLE_CHOICES = ("planner", "implementer", "reviewer", "verifier")


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
        warn_all([f"{trace_path} belongs to run {existing}; recording under {fields['run_id']}"])
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
