"""Prompt templates: one system and one user template per role, rendered strictly.

The system part is identical for every call of a role so providers can cache it; the
same templates serve ``baton run`` and ``baton packets``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

ROLE_TEMPLATES = ("planner", "implementer", "reviewer", "verifier")
IMPLEMENTER_VARIANTS = ("apply_patch", "editor_tool", "whole_file")
"""The implementer's system templates besides SEARCH/REPLACE (docs/edit-format.md)."""


def fenced(text: str, lang: str = "") -> str:
    """``text`` in a code fence longer than any backtick run inside it.

    Repository text is data: a file holding ``` must not be able to close the fence and
    continue as if it were baton's own prompt.
    """
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{lang}\n{text.rstrip(chr(10))}\n{fence}"


@lru_cache(maxsize=1)
def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("baton", "prompts"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["fenced"] = fenced
    return env


@lru_cache(maxsize=1)
def _file_env():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("baton", "templates"),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render_template(name: str, **context: Any) -> str:
    """A file template from ``baton/templates`` (starting configs, packet files)."""
    return _file_env().get_template(name).render(**context)


def render(role: str, **context: Any) -> list[dict[str, str]]:
    """The chat messages for ``role`` (system, then user); a ``variant`` in ``context``
    picks the system template ``ROLE.VARIANT.system.j2`` (the implementer's edit formats)."""
    env = _env()
    variant = context.pop("variant", None)
    name = f"{role}.{variant}.system.j2" if variant else f"{role}.system.j2"
    system = env.get_template(name).render(**context)
    user = env.get_template(f"{role}.user.j2").render(**context)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def compile_templates(roles: tuple[str, ...] = ROLE_TEMPLATES) -> None:
    """Compile the roles' templates now (they are kept compiled for the process)."""
    env = _env()
    for role in roles:
        env.get_template(f"{role}.system.j2")
        env.get_template(f"{role}.user.j2")
    if "implementer" in roles:  # the edit formats' own system templates
        for variant in IMPLEMENTER_VARIANTS:
            env.get_template(f"implementer.{variant}.system.j2")


def as_markdown(role: str, messages: list[dict[str, str]], *, header: str = "") -> str:
    """A packet file: the exact messages, readable by a person or another agent."""
    parts = [f"# {role} packet\n"]
    if header:
        parts.append(header.rstrip() + "\n")
    for message in messages:
        parts.append(f"\n<!-- message: {message['role']} -->\n")
        parts.append(f"## {message['role']}\n\n{message['content'].rstrip()}\n")
    return "".join(parts)
