"""The command line: thin wrappers that parse flags, call the library, and map errors.

Subcommands live in their own modules and are imported only when used, so
``baton --help`` starts fast.
"""

from __future__ import annotations

import importlib
import sys

import click

# name -> "module:attribute" of a click command; imported on first use.
COMMANDS: dict[str, str] = {
    "run": "baton.cli.run:run_cmd",
    "resume": "baton.cli.run:resume_cmd",
    "approve": "baton.cli.run:approve_cmd",
    "reject": "baton.cli.run:reject_cmd",
    "demo": "baton.cli.run:demo_cmd",
    "packets": "baton.cli.packets:packets_cmd",
    "record": "baton.cli.trace:record_cmd",
    "trace": "baton.cli.trace:trace_group",
    "runs": "baton.cli.trace:runs_cmd",
    "report": "baton.cli.report:report_cmd",
    "config": "baton.cli.config:config_cmd",
    "policies": "baton.cli.config:policies_cmd",
    "init": "baton.cli.config:init_cmd",
    "fake-gateway": "baton.cli.gateway:fake_gateway_cmd",
}

HELP = {
    "run": "Run a task through the gated workflow on a repository.",
    "resume": "Continue a paused or crashed run.",
    "approve": "Approve a run waiting at an approval gate, and continue it.",
    "reject": "Reject a run waiting at an approval gate (ends as no-go).",
    "demo": "The whole workflow offline on a bundled sample, with scripted responses.",
    "packets": "Write the workflow folder for a task, with no model calls.",
    "record": "Append a step that was run by hand to a trace.",
    "trace": "Read traces: summary by model, role, run or task; export them over OTLP.",
    "runs": "List the runs of this repository.",
    "report": "Write a run's self-contained HTML report.",
    "config": "Print the settings in force and where each came from (--show-origin).",
    "policies": "List the routing policies and their routes.",
    "init": "Write a commented starting configuration.",
    "fake-gateway": "Serve a scripted OpenAI-compatible API on 127.0.0.1.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        if ctx.resilient_parsing or sys.argv[1:2] in ([], ["--help"], ["-h"]):
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
    cli(prog_name="baton")
