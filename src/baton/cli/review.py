"""``baton review``: gate a change made elsewhere, or a plan, with the gate of ``baton run``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from baton.cli import common


def report_review(result, as_json: bool, shown: set[str] | None = None) -> None:
    """Print a review's result and exit with its code (warnings in ``shown`` were already
    printed by the live display)."""
    for warning in result.warnings:
        if warning not in (shown or set()):
            click.echo(f"baton: warning: {warning}", err=True)
    if as_json:
        common.print_json(result.to_dict())
        sys.exit(result.exit_code)
    label = result.decision or result.state
    click.echo(f"{label.upper()}: review {result.run_id}"
               + (f" of {result.selection}" if getattr(result, "selection", None) else ""))
    for reason in result.reasons:
        click.echo(f"  {reason}")
    findings = getattr(result, "findings", [])
    for number, finding in enumerate(findings, 1):
        where = finding.get("file") or "-"
        if finding.get("line_start"):
            where += f":{finding['line_start']}"
            if finding.get("line_end") and finding["line_end"] != finding["line_start"]:
                where += f"-{finding['line_end']}"
        click.echo(f"  {number}. [{finding['severity']}] {where}: {finding['message']}")
    if getattr(result, "tree", None):
        click.echo(f"  tree:       {result.tree}")
    click.echo(f"  run folder: {result.run_dir}")
    t = result.totals
    if t:
        click.echo(f"  totals:     {t.get('calls', 0)} calls, {t.get('input_tokens', 0)} in"
                   f" / {t.get('output_tokens', 0)} out tokens, ${t.get('cost_usd', 0):.4f}")
    if getattr(result, "sarif", None):
        click.echo(f"  sarif:      {result.sarif}")
    if result.decision == "go" and getattr(result, "tree", None):
        click.echo("  this change, as reviewed, may be committed (nothing was changed in your "
                   "repository)")
    sys.exit(result.exit_code)


@click.command("review")
@common.handle_errors  # outermost: the flags' own errors (a bad --set) are reported too
@click.option("--uncommitted", is_flag=True,
              help="Staged, unstaged and untracked changes (ignored files excluded).")
@click.option("--staged", is_flag=True, help="Only what is staged.")
@click.option("--base", "base_ref", metavar="REF",
              help="Commits from the merge base with REF to HEAD (uncommitted edits are not "
              "part of it).")
@click.option("--commit", "commit_sha", metavar="SHA",
              help="One commit against its parent, verified on that commit's tree.")
@click.option("--diff", "diff_file", metavar="FILE|-",
              help="A unified diff applied to HEAD (- reads standard input).")
@click.option("--plan", "plan_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A plan (baton's plan JSON or Markdown): reviewed alone when no change is "
              "selected, else checked against the diff.")
@click.option("--task", default="", help="What the change is meant to do.")
@click.option("--follow", metavar="RUN",
              help="Review the changed state again after an earlier review's findings.")
@click.option("--author-model", metavar="MODEL",
              help="The model that wrote the change (else Co-Authored-By trailers).")
@click.option("--sarif", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the findings as SARIF 2.1.0 to this file.")
@common.repo_option()
@common.config_option
@click.option("--policy", help="The routing policy to use.")
@common.override_options
@common.json_option
def review_cmd(uncommitted, staged, base_ref, commit_sha, diff_file, plan_file, task, follow,
               author_model, sarif, repo, config_file, policy, overrides, as_json):
    """Review a change made elsewhere: the reviewer, the harness's own checks on a
    disposable checkout, approval rules, then go or no-go. Nothing in your repository
    changes, and no branch is made.

    Exit codes: 0 go, 1 no-go, 2 error, 3 awaiting approval, 4 budget exhausted.
    """
    from baton.errors import UserError
    from baton.review.selection import Selection, read_diff_source
    from baton.review.workflow import start_review

    chosen = [name for name, value in (("--uncommitted", uncommitted), ("--staged", staged),
                                       ("--base", base_ref), ("--commit", commit_sha),
                                       ("--diff", diff_file)) if value]
    if len(chosen) > 1:
        raise UserError(f"choose one change to review, not {' and '.join(chosen)}")
    selection = None
    if uncommitted:
        selection = Selection("uncommitted")
    elif staged:
        selection = Selection("staged")
    elif base_ref:
        selection = Selection("base", base_ref)
    elif commit_sha:
        selection = Selection("commit", commit_sha)
    elif diff_file:
        stdin = sys.stdin.read() if diff_file == "-" else None
        selection = Selection("diff", diff_file, read_diff_source(diff_file, stdin))
    common.stop_runs_on_sigterm()
    with common.live_display(as_json) as display:
        result = start_review(
            repo, selection=selection, task=task, plan_file=plan_file, follow=follow,
            author_model=author_model, sarif=sarif, config_file=config_file, policy=policy,
            progress=display, overrides=overrides,
        )
        result = common.maybe_ask(result, repo, as_json, display, config_file=config_file,
                           overrides=overrides)
    report_review(result, as_json, display.warnings_shown)
