"""``baton completion bash|zsh|fish``: the shell's completion script, run ids included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

ENV_VAR = "_BATON_COMPLETE"


def complete_run_id(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Run ids of the repository in the current folder (or --repo), newest first."""
    from click.shell_completion import CompletionItem

    from baton.errors import BatonError
    from baton.runs.store import find_repo_root, list_runs, read_workflow

    try:
        root = find_repo_root(Path(ctx.params.get("repo") or "."))
        out = []
        for run_dir in list_runs(root):
            if run_dir.name.startswith(incomplete):
                state = read_workflow(run_dir).get("state")
                out.append(CompletionItem(run_dir.name, help=str(state)))
        return out
    except BatonError:
        return []


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_cmd(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  eval "$(baton completion bash)"      (in ~/.bashrc)
    zsh:   eval "$(baton completion zsh)"       (in ~/.zshrc)
    fish:  baton completion fish > ~/.config/fish/completions/baton.fish
    """
    from click.shell_completion import get_completion_class

    from baton.cli.main import cli

    cls = get_completion_class(shell)
    assert cls is not None  # the three choices are click's built-in shells
    click.echo(cls(cli, {}, "baton", ENV_VAR).source())
