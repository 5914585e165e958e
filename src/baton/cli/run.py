"""CLI commands that drive runs: run, resume, approve, reject, demo."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click

from baton.cli.common import (
    config_option,
    handle_errors,
    json_option,
    live_display,
    maybe_ask,
    override_options,
    print_json,
    repo_option,
    stop_runs_on_sigterm,
)


def report(result, as_json: bool, display=None, footer: str | None = None,
           extra: dict[str, Any] | None = None) -> None:
    """Print a run's result (then ``footer``; ``extra`` keys in JSON) and exit with its code."""
    shown = display.warnings_shown if display is not None else set()
    if display is not None:
        display.close()
    if getattr(result, "tree", None) is not None or result.branch in ("", None):
        from baton.cli.review import report_review

        report_review(result, as_json, shown)
    for warning in result.warnings:
        if warning not in shown:
            click.echo(f"baton: warning: {warning}", err=True)
    if as_json:
        print_json({**result.to_dict(), **(extra or {})})
        sys.exit(result.exit_code)
    label = result.decision or result.state
    click.echo(f"{label.upper()}: run {result.run_id}")
    for reason in result.reasons:
        click.echo(f"  {reason}")
    if result.decision == "no-go":
        _print_failed_commands(result.run_dir)
    click.echo(f"  branch:     {result.branch}" + (f" (commit {result.commit[:12]})"
                                                  if result.commit else ""))
    worktree = _worktree_of(result.run_dir)
    if result.decision != "go" and worktree is not None:
        click.echo(f"  worktree:   {worktree}")
    click.echo(f"  run folder: {result.run_dir}")
    t = result.totals
    if t:
        click.echo(f"  totals:     {t.get('calls', 0)} calls, {t.get('input_tokens', 0)} in"
                   f" / {t.get('output_tokens', 0)} out tokens, ${t.get('cost_usd', 0):.4f}"
                   + (f" (+{t['unknown_cost_calls']} calls of unknown cost)"
                      if t.get("unknown_cost_calls") else ""))
    if result.decision == "go":
        git = _git_here(result.run_dir.parents[2])
        click.echo(f"  apply it:   {git} merge {result.branch}   (or review `{git} show "
                   f"{result.branch}` first)")
    elif result.decision == "no-go":
        click.echo(f"  next:       `baton show {result.run_id}` for the diff and evidence; "
                   "`baton clean` removes the run's worktree and branch")
    if footer:
        click.echo(footer)
    sys.exit(result.exit_code)


def _git_here(repo: Path) -> str:
    """``git``, or ``git -C REPO`` when the repository is not the current folder."""
    import shlex

    try:
        same = Path.cwd().resolve() == repo.resolve()
    except OSError:
        same = False
    return "git" if same else f"git -C {shlex.quote(str(repo))}"


def _worktree_of(run_dir: Path) -> str | None:
    from baton.runs.store import read_workflow

    try:
        path = read_workflow(run_dir).get("worktree")
    except Exception:  # noqa: BLE001 - a screen hint only
        return None
    return path if path and Path(path).is_dir() else None


def _print_failed_commands(run_dir: Path) -> None:
    from baton.runs.show import failed_commands

    for failed in failed_commands(run_dir, tail_lines=12):
        how = "timed out" if failed.timed_out else f"exit {failed.exit_code}"
        click.echo(f"  $ {failed.command}  ({how}); last lines of its output:")
        for line in (failed.output_tail or "(no output)").splitlines():
            click.echo(f"  | {line}")
        if failed.log_file:
            click.echo(f"  full output: {failed.log_file}")


def read_task(task: str | None, task_file: Path | None) -> str:
    """The task from the argument, ``-`` (standard input) or ``--task-file``."""
    from baton.errors import UserError

    if task_file is not None and task not in (None, ""):
        raise UserError("give the task either as an argument or with --task-file, not both")
    if task_file is not None:
        if str(task_file) == "-":
            return sys.stdin.read()
        try:
            return task_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"--task-file {task_file}: cannot read ({exc.strerror})") from exc
    if task == "-":
        if sys.stdin.isatty():
            raise UserError("`baton run -` reads the task from standard input: pipe it in, "
                            "e.g. `baton run - < task.md`")
        return sys.stdin.read()
    if task is None:
        raise UserError('no task: `baton run "TASK"`, `baton run - < task.md` or '
                        "`baton run --task-file task.md`")
    return task


@contextlib.contextmanager
def _naming_run(repo: Path, run_id: str | None):
    """Errors about an existing run name it, even those raised before it continues."""
    from baton.errors import BatonError

    try:
        yield
    except BatonError as exc:
        if exc.run_id is None and run_id:
            from baton.runs.store import find_repo_root, find_run

            try:
                exc.run_id = find_run(find_repo_root(repo), run_id).name
            except BatonError:
                pass
        raise


@click.command("run")
@handle_errors  # outermost: the flags' own errors (a bad --set) are reported too
@click.argument("task", required=False)
@click.option("--task-file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              help="Read the task from this file (`-`: standard input).")
@repo_option("The git repository to work on (default: current directory).")
@config_option
@click.option("--policy", help="The routing policy to use.")
@click.option("--title", help="A short title for the run.")
@override_options
@json_option
def run_cmd(task, task_file, repo, config_file, policy, title, overrides, as_json):
    """Run TASK through plan, implement, adversarial review and verification.

    TASK may be `-` to read it from standard input, or use --task-file.
    Exit codes: 0 go, 1 no-go, 2 error, 3 awaiting approval, 4 budget exhausted.
    """
    from baton.pipeline import start_run

    stop_runs_on_sigterm()
    text = read_task(task, task_file)
    with live_display(as_json) as display:
        result = start_run(text, repo, config_file=config_file, policy=policy, title=title,
                           progress=display, overrides=overrides)
        result = maybe_ask(result, repo, as_json, display, config_file=config_file,
                           overrides=overrides)
    report(result, as_json, display)


def _continue_options(func):
    """The options after the run that continuing it takes (resume, approve): --config,
    the flags of the moment (model commands, settings, limits), --json."""
    return config_option(override_options(json_option(func)))


def _run_arg(func):
    from baton.cli.completion import complete_run_id

    return click.argument("run_id", required=False, shell_complete=complete_run_id)(func)


@click.command("resume")
@handle_errors
@_run_arg
@click.option("--last", is_flag=True, help="The newest run that can be resumed.")
@repo_option()
@_continue_options
def resume_cmd(run_id, last, repo, config_file, overrides, as_json):
    """Continue a paused or crashed run without repeating any recorded model call.

    Endpoints, keys, sandbox, allowlists, prices and limits come from your configuration,
    environment and these flags now, never from the run folder.
    """
    from baton.pipeline import resume_run

    stop_runs_on_sigterm()
    run_id = pick_run(repo, run_id, last, unfinished=True)
    with live_display(as_json) as display, _naming_run(repo, run_id):
        result = resume_run(repo, run_id, progress=display, overrides=overrides,
                            config_file=config_file)
        result = maybe_ask(result, repo, as_json, display, config_file=config_file,
                           overrides=overrides)
    report(result, as_json, display)


def pick_run(repo: Path, run_id: str | None, last: bool, *, unfinished: bool) -> str:
    """The run named, or with ``--last`` the newest one."""
    from baton.errors import UserError
    from baton.runs.store import find_repo_root, last_run

    if run_id and last:
        raise UserError("give a run id or --last, not both")
    if last:
        return last_run(find_repo_root(repo), unfinished=unfinished).name
    if not run_id:
        raise UserError("which run? give its id (`baton runs` lists them) or --last")
    return run_id


@click.command("approve")
@handle_errors
@_run_arg
@repo_option()
@click.option("--reason", default="", help="Why (recorded in the trace).")
@_continue_options
def approve_cmd(run_id, repo, reason, config_file, overrides, as_json):
    """Approve a run waiting at an approval gate, then continue it.

    Nothing is recorded unless the run can continue (endpoint, key, prices, sandbox); a
    run that has an answer cannot be answered again.
    """
    from baton.pipeline import answer_approval, resume_run

    stop_runs_on_sigterm()
    run_id = pick_run(repo, run_id, False, unfinished=True)
    with live_display(as_json) as display, _naming_run(repo, run_id):
        answer_approval(repo, run_id, approved=True, reason=reason,
                        config_file=config_file, overrides=overrides)
        result = resume_run(repo, run_id, progress=display, config_file=config_file,
                            overrides=overrides)
    report(result, as_json, display)


@click.command("reject")
@_run_arg
@repo_option()
@click.option("--reason", required=True, help="Why the change is rejected.")
@json_option
@handle_errors
def reject_cmd(run_id, repo, reason, as_json):
    """Reject a run waiting at an approval gate; it ends as no-go."""
    from baton.pipeline import answer_approval

    run_id = pick_run(repo, run_id, False, unfinished=True)
    with _naming_run(repo, run_id):
        wf = answer_approval(repo, run_id, approved=False, reason=reason)
    if as_json:
        print_json({"run_id": wf["run_id"], "state": wf["state"], "decision": wf["decision"]})
    else:
        click.echo(f"NO-GO: run {wf['run_id']} rejected: {reason}")
    sys.exit(1)


@click.command("demo")
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False),
              help="Create the sample repository here instead of a temporary folder.")
@json_option
@handle_errors
def demo_cmd(keep, as_json):
    """Run the whole workflow offline on a bundled sample with scripted model responses."""
    from baton.demo import demo_folder, run_demo

    stop_runs_on_sigterm()
    base = demo_folder(keep)
    if not as_json:
        click.echo("baton demo: the model responses are SCRIPTED (served over real HTTP by "
                   "the built-in fake gateway); the git repository, worktree, edits and "
                   "tests are real.")
        click.echo(f"demo folder: {base}" + ("" if keep else
                   f" (temporary, kept for you to look at; `rm -rf {base}` when done)") + "\n")
    with live_display(as_json) as display:
        result, repo = run_demo(base, progress=display)
    if not as_json:
        click.echo(f"sample repository: {repo}")
    from baton.report.run import write_run_report

    html = write_run_report(result.run_dir)
    report(result, as_json, display, footer=f"  report:     {html}",
           extra={"report": str(html)})
