"""Configuration errors a person can act on: the file at fault, plain words, did-you-mean.

pydantic validates the merged configuration; this turns each of its errors back into the
layer (file, environment or flags) that set the offending value, and says what is wrong
and, for an unknown key, which known key was probably meant.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError


def _lookup(data: Any, path: tuple[Any, ...]) -> bool:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def source_of(path: tuple[Any, ...], layers: list[tuple[str, dict[str, Any]]]) -> str | None:
    """The highest layer that sets ``path`` (the one whose value won), or None."""
    for name, data in reversed(layers):
        if path and _lookup(data, path):
            return name
    return None


def _model_at(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The settings model that holds the keys at ``path`` (None: free-form there)."""
    current: Any = model
    expect_key = False
    for part in path:
        if expect_key:
            expect_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        while typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
            expect_key = True
        current = annotation
        if expect_key and typing.get_origin(current) is dict:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def did_you_mean(model: type[BaseModel], path: tuple[Any, ...]) -> str:
    """`` (did you mean 'x'?)`` for an unknown key at ``path``, or ''."""
    holder = _model_at(model, path[:-1])
    if holder is None or not path:
        return ""
    close = difflib.get_close_matches(str(path[-1]), list(holder.model_fields), n=1,
                                      cutoff=0.6)
    exact_top = len(path) > 1 and str(path[-1]) in model.model_fields
    if close and not exact_top:
        return f" (did you mean {close[0]!r}?)"
    if len(path) > 1:  # a top-level key written below a [table] header lands in that table
        top = difflib.get_close_matches(str(path[-1]), list(model.model_fields), n=1,
                                        cutoff=0.6)
        if top:
            return (f" (did you mean the top-level {top[0]!r}? In TOML, a key after a "
                    f"[{'.'.join(str(p) for p in path[:-1])}] header belongs to that table: "
                    "move it above the first header)")
    return ""


def _words(err: Any) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    got = f", not {value!r}" if not isinstance(value, dict | list) else ""
    if kind == "extra_forbidden":
        return "unknown setting"
    if kind == "missing":
        return "is required"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"must be a whole number{got}"
    if kind in ("float_parsing", "float_type"):
        return f"must be a number{got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"must be true or false{got}"
    if kind in ("string_type",):
        return f"must be text in quotes{got}"
    if kind == "list_type":
        return f'must be a list, e.g. ["..."]{got}'
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a table ([section] or {{ key = value }}){got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {"greater_than_equal": "at least", "greater_than": "more than",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]
        limit = next(iter(ctx.values()), "?")
        return f"must be {bound} {limit}{got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    return str(err["msg"]).removeprefix("Value error, ")


def explain(exc: ValidationError, layers: list[tuple[str, dict[str, Any]]],
            model: type[BaseModel]) -> str:
    """One line per problem, each naming the file (or layer) that set it."""
    lines = ["invalid configuration:"]
    for err in exc.errors():
        path = tuple(err["loc"])
        where = ".".join(str(p) for p in path) or "(top level)"
        owner = path[:-1] if err["type"] == "missing" else path  # who set the table
        source = source_of(owner, layers) or "defaults"
        hint = did_you_mean(model, path) if err["type"] == "extra_forbidden" else ""
        lines.append(f"  {source}: {where}: {_words(err)}{hint}")
    lines.append("Fix the setting in that file and retry (`baton init` writes a commented "
                 "example of every setting).")
    return "\n".join(lines)
