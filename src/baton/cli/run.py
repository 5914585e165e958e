"""CLI commands that drive runs: run, resume, approve, reject, demo."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from baton.cli.common import handle_errors, print_json


def _overrides(max_cost: float | None, max_calls: int | None, max_tokens: int | None,
               max_wall: float | None, allow_model_commands: bool,
               settings: tuple[str, ...] = ()) -> dict[str, Any]:
    from baton.config import deep_merge

    out: dict[str, Any] = {}
    for setting in settings:
        out = deep_merge(out, parse_setting(setting))
    limits = {k: v for k, v in {"max_cost_usd": max_cost, "max_calls": max_calls,
                                "max_tokens": max_tokens, "max_wall_s": max_wall}.items()
              if v is not None}
    if limits:
        out = deep_merge(out, {"limits": limits})
    if allow_model_commands:
        out["allow_model_commands"] = True
    return out


def parse_setting(text: str) -> dict[str, Any]:
    """``a.b.c=VALUE`` as nested tables; VALUE is read as TOML, else taken as a string."""
    import tomllib

    from baton.errors import UserError

    key, sep, raw = text.partition("=")
    parts = [p.strip() for p in key.split(".")]
    if not sep or not all(parts):
        raise UserError(f"--set {text!r}: use KEY=VALUE, e.g. "
                        "--set role_limits.implementer.max_cost_usd=0.5")
    try:
        value: Any = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    for part in reversed(parts):
        value = {part: value}
    return value


def budget_options(func):
    """Flags for hard limits and settings, shared by run and resume."""
    for opt in reversed([
        click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                     help="Any setting, highest precedence, e.g. "
                     "role_limits.implementer.max_cost_usd=0.5 (repeatable)."),
        click.option("--max-cost", type=float, help="Most US dollars this run may spend."),
        click.option("--max-calls", type=int, help="Most model calls (failed attempts count)."),
        click.option("--max-tokens", type=int, help="Most input plus output tokens."),
        click.option("--max-wall", type=float, help="Most seconds of calls and commands."),
    ]):
        func = opt(func)
    return func


def report(result, as_json: bool, footer: str | None = None,
           extra: dict[str, Any] | None = None) -> None:
    """Print a run's result (then ``footer``; ``extra`` keys in JSON) and exit with its code."""
    for warning in result.warnings:
        click.echo(f"baton: warning: {warning}", err=True)
    if as_json:
        print_json({**result.to_dict(), **(extra or {})})
    else:
        label = result.decision or result.state
        click.echo(f"{label.upper()}: run {result.run_id}")
        for reason in result.reasons:
            click.echo(f"  {reason}")
        click.echo(f"  branch:     {result.branch}" + (f" (commit {result.commit[:12]})"
                                                      if result.commit else ""))
        click.echo(f"  run folder: {result.run_dir}")
        t = result.totals
        if t:
            click.echo(f"  totals:     {t.get('calls', 0)} calls, {t.get('input_tokens', 0)} in"
                       f" / {t.get('output_tokens', 0)} out tokens, ${t.get('cost_usd', 0):.4f}"
                       + (f" (+{t['unknown_cost_calls']} calls of unknown cost)"
                          if t.get("unknown_cost_calls") else ""))
        if result.decision == "go":
            click.echo(f"  apply it:   git merge {result.branch}   (or review `git show "
                       f"{result.branch}` first)")
        if footer:
            click.echo(footer)
    sys.exit(result.exit_code)


def _maybe_ask(result, repo: Path, as_json: bool, progress, *, config_file=None,
              overrides=None):
    """On an interactive terminal, answer an approval gate right away (with the same
    configuration and flags this command was given)."""
    from baton.pipeline import answer_approval, resume_run

    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")
    if result.state != "awaiting_approval" or not interactive or as_json:
        return result
    click.echo(result.reasons[0], err=True)
    if click.confirm("Approve this change and continue?", default=False):
        answer_approval(repo, result.run_id, approved=True, reason="approved on the terminal",
                        config_file=config_file, overrides=overrides)
        return resume_run(repo, result.run_id, progress=progress, config_file=config_file,
                          overrides=overrides)
    return result


def config_option(func):
    """``--config FILE``: the user's own settings for this command (may define endpoints)."""
    return click.option(
        "--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
        help="A config file with the highest precedence (may define endpoints).")(func)


@click.command("run")
@click.argument("task")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              help="The git repository to work on (default: current directory).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A config file with the highest precedence (may define endpoints).")
@click.option("--policy", help="The routing policy to use.")
@click.option("--title", help="A short title for the run.")
@click.option("--allow-model-commands", is_flag=True,
              help="Also run verification commands proposed by the models.")
@budget_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result object.")
@handle_errors
def run_cmd(task, repo, config_file, policy, title, allow_model_commands, settings, max_cost,
            max_calls, max_tokens, max_wall, as_json):
    """Run TASK through plan, implement, adversarial review and verification.

    Exit codes: 0 go, 1 no-go, 2 error, 3 awaiting approval, 4 budget exhausted.
    """
    from baton.cli.progress import terminal_progress
    from baton.pipeline import start_run

    progress = terminal_progress(not as_json)
    overrides = _overrides(max_cost, max_calls, max_tokens, max_wall, allow_model_commands,
                           settings)
    result = start_run(task, repo, config_file=config_file, policy=policy, title=title,
                       progress=progress, overrides=overrides)
    report(_maybe_ask(result, repo, as_json, progress, config_file=config_file,
                      overrides=overrides), as_json)


@click.command("resume")
@click.argument("run_id")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@config_option
@click.option("--allow-model-commands", is_flag=True)
@budget_options
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def resume_cmd(run_id, repo, config_file, allow_model_commands, settings, max_cost, max_calls,
               max_tokens, max_wall, as_json):
    """Continue a paused or crashed run without repeating any recorded model call.

    Endpoints, keys, sandbox, allowlists, prices and limits come from your configuration,
    environment and these flags now, never from the run folder.
    """
    from baton.cli.progress import terminal_progress
    from baton.pipeline import resume_run

    progress = terminal_progress(not as_json)
    overrides = _overrides(max_cost, max_calls, max_tokens, max_wall, allow_model_commands,
                           settings)
    result = resume_run(repo, run_id, progress=progress, overrides=overrides,
                        config_file=config_file)
    report(_maybe_ask(result, repo, as_json, progress, config_file=config_file,
                      overrides=overrides), as_json)


@click.command("approve")
@click.argument("run_id")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--reason", default="", help="Why (recorded in the trace).")
@config_option
@click.option("--allow-model-commands", is_flag=True)
@budget_options
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def approve_cmd(run_id, repo, reason, config_file, allow_model_commands, settings, max_cost,
                max_calls, max_tokens, max_wall, as_json):
    """Approve a run waiting at an approval gate, then continue it.

    Nothing is recorded unless the run can continue (endpoint, key, prices, sandbox); a
    run that has an answer cannot be answered again.
    """
    from baton.cli.progress import terminal_progress
    from baton.pipeline import answer_approval, resume_run

    overrides = _overrides(max_cost, max_calls, max_tokens, max_wall, allow_model_commands,
                           settings)
    answer_approval(repo, run_id, approved=True, reason=reason, config_file=config_file,
                    overrides=overrides)
    report(resume_run(repo, run_id, progress=terminal_progress(not as_json),
                      config_file=config_file, overrides=overrides), as_json)


@click.command("reject")
@click.argument("run_id")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--reason", required=True, help="Why the change is rejected.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def reject_cmd(run_id, repo, reason, as_json):
    """Reject a run waiting at an approval gate; it ends as no-go."""
    from baton.pipeline import answer_approval

    wf = answer_approval(repo, run_id, approved=False, reason=reason)
    if as_json:
        print_json({"run_id": wf["run_id"], "state": wf["state"], "decision": wf["decision"]})
    else:
        click.echo(f"NO-GO: run {wf['run_id']} rejected: {reason}")
    sys.exit(1)


@click.command("demo")
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False),
              help="Create the sample repository here instead of a temporary folder.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def demo_cmd(keep, as_json):
    """Run the whole workflow offline on a bundled sample with scripted model responses."""
    from baton.cli.progress import terminal_progress
    from baton.demo import run_demo

    if not as_json:
        click.echo("baton demo: the model responses are SCRIPTED (served over real HTTP by "
                   "the built-in fake gateway); the git repository, worktree, edits and "
                   "tests are real.\n")
    result, repo = run_demo(keep, progress=terminal_progress(not as_json))
    if not as_json:
        click.echo(f"sample repository: {repo}")
    from baton.report.run import write_run_report

    html = write_run_report(result.run_dir)
    report(result, as_json, footer=f"  report:     {html}", extra={"report": str(html)})
