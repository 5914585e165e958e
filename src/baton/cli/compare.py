"""``baton compare``: routing policies measured on a suite of the user's own tasks."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from baton.cli import common


class _CompareGroup(click.Group):
    """``baton compare SUITE ...`` starts; ``resume`` and ``init`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


@click.group("compare", cls=_CompareGroup)
def compare_group() -> None:
    """Compare routing policies on a suite of your own tasks: every task x policy x trial
    is its own baton run, scored by checks the models never see (docs/compare.md).

    \b
    baton compare SUITE --policies A,B --trials N [--concurrency K] [--max-cost USD]
    baton compare resume DIR
    baton compare init [FILE]
    """


@compare_group.command("start", hidden=True)
@common.handle_errors
@click.argument("suite_file", metavar="SUITE", required=False,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--policies", help="Comma-separated policy names to compare.")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Runs of every task under every policy (default 3; --demo: 8).")
@click.option("--demo", is_flag=True,
              help="Compare three policies of scripted models on a bundled suite, offline.")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True,
              help="Trials at once (never above an endpoint's max_concurrency).")
@click.option("--max-cost", "max_cost", type=float, default=None,
              help="Most USD the whole comparison may spend; needs a per-run cost limit.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The comparison folder (default: ./baton-compare-<time>).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="A setting for every run, e.g. --set limits.max_cost_usd=0.5.")
@common.json_option
def start_cmd(suite_file: Path | None, policies: str | None, trials: int | None, demo: bool,
              concurrency: int, max_cost: float | None, out: Path | None,
              settings: tuple[str, ...], as_json: bool) -> None:
    """Start a comparison."""
    from baton.compare.comparison import Comparison
    from baton.compare.suite import load_suite
    from baton.errors import UserError

    if demo:
        if suite_file or policies or max_cost is not None or settings:
            raise UserError("--demo brings its own suite and policies: pass only --trials, "
                            "--concurrency, --out or --json with it")
        _demo(out, trials, concurrency, as_json)
        return
    if suite_file is None or not policies:
        raise UserError("give a suite file and --policies A,B (or try `baton compare --demo`)")
    trials = trials or 3
    common.stop_runs_on_sigterm()
    overrides = common.overrides_from(None, None, None, None, False, settings)
    suite = load_suite(suite_file)
    folder = out or Path(f"baton-compare-{time.strftime('%Y%m%d-%H%M%S')}")
    comparison = Comparison.create(folder, suite,
                                   [p.strip() for p in policies.split(",") if p.strip()],
                                   trials, concurrency=concurrency, max_cost_usd=max_cost,
                                   overrides=overrides)
    if not as_json:
        click.echo(f"comparison in {comparison.folder}: {len(suite.tasks)} task(s) x "
                   f"{len(comparison.policies)} policies x {trials} trial(s), "
                   f"{comparison.concurrency} at a time", err=True)
    _run(comparison, as_json)


@compare_group.command("resume")
@common.handle_errors
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@common.json_option
def resume_cmd(folder: Path, as_json: bool) -> None:
    """Continue an interrupted comparison: finished trials are kept, unfinished runs
    continue through baton's resume."""
    from baton.compare.comparison import Comparison

    common.stop_runs_on_sigterm()
    _run(Comparison.open(folder), as_json)


@compare_group.command("init")
@common.handle_errors
@click.argument("target", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False),
                default=Path("compare-suite.toml"))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def init_cmd(target: Path, force: bool) -> None:
    """Write a commented example suite."""
    from baton.compare.suite import EXAMPLE
    from baton.errors import UserError

    if target.exists() and not force:
        raise UserError(f"{target} exists; pass --force to overwrite it")
    target.write_text(EXAMPLE, encoding="utf-8")
    click.echo(f"wrote {target}; edit its tasks, then: baton compare {target} "
               "--policies default,OTHER --trials 10")


SCRIPTED = ("the models in this demo are scripted (a fake gateway on 127.0.0.1 answers "
            "each trial from weighted answer sequences): the figures show how baton "
            "measures policies, not how real models compare")


def _demo(out: Path | None, trials: int | None, concurrency: int, as_json: bool) -> None:
    from baton.compare.demo import DEFAULT_TRIALS, POLICIES, TASKS, run_compare_demo

    if out is not None and out.exists() and any(out.iterdir()):
        from baton.errors import UserError

        raise UserError(f"{out} is not empty; the demo builds its suite there: choose a new "
                        "folder")
    trials = trials or DEFAULT_TRIALS
    if not as_json:
        click.echo(f"baton compare --demo: {len(TASKS)} tasks x {len(POLICIES)} policies "
                   f"({', '.join(POLICIES)}) x {trials} trials, each a real baton run "
                   "scored by hidden checks.\nNote: " + SCRIPTED + ".", err=True)
    show = _Progress(enabled=not as_json)
    try:
        comparison, results, not_run = run_compare_demo(out, trials=trials,
                                                        concurrency=concurrency,
                                                        on_progress=show)
    finally:
        show.close()
    _finish(comparison, results, not_run, as_json, note=SCRIPTED)


def _run(comparison: Any, as_json: bool) -> None:
    from baton.compare.comparison import run_comparison

    show = _Progress(enabled=not as_json)
    try:
        results, not_run = run_comparison(comparison, on_progress=show)
    except KeyboardInterrupt:
        show.close()
        raise click.ClickException(
            f"comparison stopped; continue it with `baton compare resume {comparison.folder}`"
        ) from None
    show.close()
    _finish(comparison, results, not_run, as_json)


def _finish(comparison: Any, results: list[Any], not_run: list[Any], as_json: bool,
            note: str | None = None) -> None:
    from baton.compare.html_report import write_html
    from baton.compare.results import summarize

    summary = summarize(results, comparison.policies, [t.id for t in comparison.suite.tasks],
                        len(comparison.specs()), [s.id for s in not_run])
    summary["folder"] = str(comparison.folder)
    if note:
        summary["note"] = note
    (comparison.folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n",
                                                     encoding="utf-8")
    report = write_html(comparison.folder, summary, results)
    if as_json:
        common.print_json(summary)
    else:
        click.echo(_table(summary))
        click.echo(f"summary: {comparison.folder / 'summary.json'}")
        click.echo(f"report:  {report}")
        if note:
            click.echo(f"Note: {note}.")


class _Progress:
    """A line per finished trial when piped; one live line with ETA on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()

    def __call__(self, p: Any) -> None:
        if not self.enabled:
            return
        eta = f", ETA {common.seconds(p.eta_s)}" if p.eta_s is not None else ""
        status = (f"{p.done} done, {p.running} running, {p.left} left"
                  + (f", {p.not_run} not run (cost limit)" if p.not_run else "")
                  + f", spent ${p.spent_usd:.4f}{eta}")
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + status)
            sys.stderr.flush()
        elif p.last is not None:
            r = p.last
            verdict = r.error or (f"{r.decision or r.state}, checks "
                                  f"{'pass' if r.solved else 'fail' if r.solved is False else '-'}")
            click.echo(f"trial {r.id}: {verdict}, ${r.cost_usd:.4f} [{status}]", err=True)

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _table(summary: dict[str, Any]) -> str:
    from baton.cli.table import Table

    table = Table("routing policies")
    for name, justify in [("policy", "left"), ("success", "right"), ("95% interval", "right"),
                          ("false go", "right"), ("false no-go", "right"),
                          ("errors", "right"), ("$/task", "right"), ("$/success", "right"),
                          ("p50", "right")]:
        table.add_column(name, justify)
    for name, f in summary["policies"].items():
        low, high = f["success_interval_95"]
        table.add_row(name + (" *" if f["too_few_to_trust"] else ""),
                      f"{f['successes']}/{f['trials']}", f"{100 * low:.0f}-{100 * high:.0f}%",
                      f"{f['false_go']} ({_pct(f['false_go_rate'])})",
                      f"{f['false_no_go']} ({_pct(f['false_no_go_rate'])})", str(f["errors"]),
                      common.money(f["cost_per_task_usd"]),
                      common.money(f["cost_per_success_usd"]),
                      common.seconds(f["latency_p50_s"]))
    lines = [table.render()]
    for pair in summary["pairs"]:
        lines.append(f"{pair['first']} vs {pair['second']}: {pair['only_first']} vs "
                     f"{pair['only_second']} discordant of {pair['pairs']} pairs, "
                     f"McNemar exact p = {pair['p_value']:.3g}")
    lines.append("Pareto front (cost per task vs success): " + ", ".join(summary["pareto"]))
    if any(f["too_few_to_trust"] for f in summary["policies"].values()):
        lines.append("* fewer than 30 trials: the interval is too wide to rank on")
    if summary["not_run"]:
        lines.append(f"{summary['not_run']} of {summary['planned']} trials did not run: "
                     "the --max-cost limit would have been crossed")
    return "\n".join(lines)
