"""CLI commands about configuration: policies and init."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .cli_common import handle_errors, print_json


@click.command("policies")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A config file with the highest precedence.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def policies_cmd(repo, config_file, as_json):
    """List the routing policies and, for each role, the model it routes to."""
    from .config import ROLES, load_config
    from .runstore import find_repo_root

    config = load_config(find_repo_root(repo), config_file=config_file)
    names = sorted({"default", *config.policies})
    data = {name: {role: r.model_dump() for role, r in config.policy_routes(name).items()}
            for name in names}
    if as_json:
        print_json({"active": config.policy, "policies": data})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="routing policies")
    for column in ("policy", "role", "endpoint", "model", "max tokens", "fallbacks"):
        table.add_column(column)
    for name in names:
        for role in ROLES:
            r = data[name][role]
            label = f"{name}{' (active)' if name == config.policy else ''}"
            table.add_row(label if role == "planner" else "", role, r["endpoint"], r["model"],
                          str(r["max_tokens"]), ", ".join(r["fallbacks"]))
    Console().print(table)


@click.command("init")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--user", "user_level", is_flag=True,
              help="Write the user-level config (endpoints, allowlist) instead.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@handle_errors
def init_cmd(repo, user_level, force):
    """Write a commented starting configuration."""
    import jinja2

    from .config import user_config_path
    from .detect import detect_test_commands
    from .errors import UserError
    from .runstore import find_repo_root

    env = jinja2.Environment(loader=jinja2.PackageLoader("baton", "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    if user_level:
        target = user_config_path()
        text = env.get_template("user-config.toml.j2").render()
    else:
        root = find_repo_root(repo)
        target = root / "baton.toml"
        commands = detect_test_commands(root) or ["python -m pytest -q"]
        text = env.get_template("baton.toml.j2").render(verify_commands=commands,
                                                        user_config=user_config_path())
    if target.exists() and not force:
        raise UserError(f"{target} exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    if user_level:
        os.chmod(target, 0o600)
    click.echo(f"wrote {target}")
