"""CLI commands about configuration: config (with origins), policies and init."""

from __future__ import annotations

from pathlib import Path

import click

from baton.cli.common import handle_errors, print_json


@click.command("policies")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A config file with the highest precedence.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def policies_cmd(repo, config_file, as_json):
    """List the routing policies and, for each role, the model it routes to."""
    from baton.config.cache import policy_listing
    from baton.config.layers import ROLES
    from baton.runs.store import find_repo_root

    listing = policy_listing(find_repo_root(repo), config_file=config_file)
    active, data = listing["active"], listing["policies"]
    names = sorted(data)
    if as_json:
        print_json({"active": active, "policies": data})
        return
    from baton.cli.table import Table

    table = Table(title="routing policies")
    for column in ("policy", "role", "endpoint", "model", "max tokens", "fallbacks"):
        table.add_column(column)
    for name in names:
        for role in ROLES:
            r = data[name][role]
            label = f"{name}{' (active)' if name == active else ''}"
            table.add_row(label if role == "planner" else "", role, r["endpoint"], r["model"],
                          str(r["max_tokens"]), ", ".join(r["fallbacks"]))
    click.echo(table.render(), nl=False)


@click.command("init")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--user", "user_level", is_flag=True,
              help="Write the user-level config (endpoints, allowlist) instead.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@handle_errors
def init_cmd(repo, user_level, force):
    """Write a commented starting configuration."""
    from baton.cli.initfile import write_starting_config

    click.echo(f"wrote {write_starting_config(repo, user_level=user_level, force=force)}")


@click.command("config")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A config file with the highest precedence.")
@click.option("--show-origin", is_flag=True,
              help="Say which file or layer set each value (repository, user, env, flags).")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def config_cmd(repo, config_file, show_origin, as_json):
    """Print the settings in force, with where each came from (--show-origin)."""
    from baton.config import describe, load_config
    from baton.runs.store import find_repo_root
    from baton.secrets import SecretMasker

    rows = SecretMasker().mask_obj(describe(load_config(find_repo_root(repo),
                                                        config_file=config_file)))
    if as_json:
        print_json(rows)
        return
    import json

    for row in rows:
        line = f"{row['key']} = {json.dumps(row['value'])}"
        click.echo(f"{line}    # {row['origin']}" if show_origin else line)
