"""The command line: thin wrappers that parse flags, call the library, and map errors.

Subcommands live in their own modules and are imported only when used, so
``baton --help`` starts fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

# name -> "module:attribute" of a click command; imported on first use.
COMMANDS: dict[str, str] = {
    "run": "baton.cli.run:run_cmd",
    "resume": "baton.cli.run:resume_cmd",
    "approve": "baton.cli.run:approve_cmd",
    "reject": "baton.cli.run:reject_cmd",
    "demo": "baton.cli.run:demo_cmd",
    "review": "baton.cli.review:review_cmd",
    "compare": "baton.cli.compare:compare_group",
    "packets": "baton.cli.packets:packets_cmd",
    "record": "baton.cli.record:record_cmd",
    "trace": "baton.cli.trace:trace_group",
    "runs": "baton.cli.runs:runs_cmd",
    "show": "baton.cli.show:show_cmd",
    "clean": "baton.cli.clean:clean_cmd",
    "report": "baton.cli.report:report_cmd",
    "config": "baton.cli.config:config_cmd",
    "policies": "baton.cli.config:policies_cmd",
    "init": "baton.cli.config:init_cmd",
    "fake-gateway": "baton.cli.gateway:fake_gateway_cmd",
    "completion": "baton.cli.completion:completion_cmd",
    "mcp": "baton.cli.mcp:mcp_cmd",
    "hook": "baton.cli.hook:hook_cmd",
    "integrate": "baton.cli.integrate:integrate_cmd",
}

HELP = {
    "run": "Run a task through the gated workflow on a repository.",
    "resume": "Continue a paused or crashed run.",
    "approve": "Approve a run waiting at an approval gate, and continue it.",
    "reject": "Reject a run waiting at an approval gate (ends as no-go).",
    "demo": "The whole workflow offline on a bundled sample, with scripted responses.",
    "review": "Gate a change made elsewhere (diff, staged, branch, commit) or a plan.",
    "compare": "Compare routing policies on a suite of your own tasks (trials, statistics).",
    "packets": "Write the workflow folder for a task, with no model calls.",
    "record": "Append a step that was run by hand to a trace.",
    "trace": "Read traces: summary by model, role, run or task; export them over OTLP.",
    "runs": "List the runs of this repository.",
    "show": "Show one run: state, reasons, failed commands, the diff.",
    "clean": "Remove worktrees, branches and run folders of finished runs.",
    "report": "Write a run's self-contained HTML report.",
    "config": "Print the settings in force and where each came from (--show-origin).",
    "policies": "List the routing policies and their routes.",
    "init": "Write a commented starting configuration.",
    "fake-gateway": "Serve a scripted OpenAI-compatible API on 127.0.0.1.",
    "completion": "Print the shell completion script (bash, zsh or fish).",
    "mcp": "Serve baton's review tools to a coding agent over MCP (stdio).",
    "hook": "Answer a coding agent's Stop / ExitPlanMode hook with a review.",
    "integrate": "Write baton's plugin for Claude Code or Codex into a folder.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        completing = "_BATON_COMPLETE" in os.environ  # complete options and run ids too
        if not completing and (ctx.resilient_parsing
                               or sys.argv[1:2] in ([], ["--help"], ["-h"])):
            return click.Command(cmd_name, help=HELP[cmd_name], short_help=HELP[cmd_name])
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="baton")
@click.option("--log-level", envvar="BATON_LOG_LEVEL",
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="Log to stderr at this level (secrets are always masked).")
def cli(log_level: str | None) -> None:
    """baton: plan, implement, review adversarially, verify, then go or no-go."""
    if log_level:
        from baton.cli.logs import setup_logging

        setup_logging(log_level)


def main() -> None:
    """Console entry point."""
    try:
        cli(prog_name="baton")
    except SystemExit as done:
        if isinstance(done.code, int | None):
            _exit_now(done.code or 0)
        raise


# Modules whose exit handlers (or the lack of them) we do not second-guess.
_NORMAL_EXIT_WITH = ("opentelemetry",)


def _exit_now(code: int) -> None:
    """End the process without tearing the interpreter down, once everything is written.

    Freeing every module and object of a process that imported the openai SDK costs a
    fifth of a second, after the command's work is done and its files are closed. The
    exit handlers still run (temporary folders, logging, anything registered), and the
    output is flushed; only after a command that loaded the SDK, when no other non-daemon
    thread is alive and no exporter is loaded. Otherwise (or if flushing fails) the
    normal exit happens.
    """
    import atexit
    import threading

    others = [t for t in threading.enumerate()
              if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if "openai" not in sys.modules:  # a quick command: nothing worth skipping
        return
    if others or any(m in sys.modules for m in _NORMAL_EXIT_WITH):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)
