"""Files that configure baton or the project's checks: a change to one waits for a person.

A patch that rewrites ``baton.toml`` (``verify_commands = ["true"]``) or a test section of
``pyproject.toml`` changes what the *next* check means, so it stops for approval. Two
kinds of entry:

- the files that configure baton itself (``BATON_CONFIG``): the repository's
  ``baton.toml``, anything under ``.baton/``, ``[tool.baton]`` in ``pyproject.toml``;
  always checked while ``approval.gate_config`` is on (a repository may not switch it off);
- entries of ``approval.paths`` naming a section, ``FILE#SECTION`` (``FILE`` a glob, the
  section a dotted key path whose parts may hold ``*``): ``pyproject.toml#tool.coverage``,
  ``setup.cfg#tool:pytest``, ``package.json#scripts.test``, ``Makefile#test*`` (targets).

Each rule names the file, the section and what changed in it (keys added, removed,
changed), so the person knows what to look at.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from baton.config.settings import CHECK_CONFIG_PATHS
from baton.workspace.globs import glob_match

# old or new text of a path (None: absent on that side)
Reader = Callable[[str, str], str | None]

BATON_CONFIG = ("/baton.toml", "/.baton/**", "/pyproject.toml#tool.baton")
# The default approval paths that configure the project's checks (the user may drop
# them from ``approval.paths``, a repository may not).
CHECK_CONFIG = CHECK_CONFIG_PATHS
_VERBS = {"M": "modified", "D": "deleted", "R": "renamed", "A": "added"}
_MISSING = object()


def handled_here(entry: str) -> bool:
    """Whether an ``approval.paths`` entry is judged here (else: a plain path glob)."""
    return entry in CHECK_CONFIG or split_entry(entry)[1] is not None


def split_entry(entry: str) -> tuple[str, str | None]:
    """``FILE#SECTION`` -> (glob, section); a plain glob -> (glob, None)."""
    glob, sep, section = entry.rpartition("#")
    if sep and glob and section and "/" not in section:
        return glob, section
    return entry, None


def gate_file_rules(entries: list[str], changes: list[Any], read: Reader, *,
                    gate_config: bool) -> list[str]:
    """One rule per changed gate file (or changed section of one), each described."""
    fired: list[str] = []
    wanted = [*(BATON_CONFIG if gate_config else ()), *entries]
    for change in changes:
        for entry in dict.fromkeys(wanted):
            glob, section = split_entry(entry)
            if not glob_match(glob, change.path):
                continue
            if section is None:
                if entry in BATON_CONFIG:
                    fired.append(_whole(change, read))
                elif entry in CHECK_CONFIG:
                    fired.append(f"gate config {change.path!r} "
                                 f"{_VERBS.get(change.status, 'changed')} (it changes how "
                                 f"the project's checks run; approval path {entry!r})")
                continue
            what = section_change(change.path, section, read(change.path, "old"),
                                  read(change.path, "new"))
            if what:
                fired.append(f"gate config {change.path!r} [{section}] {what} (it changes "
                             f"how the project's checks run; approval path {entry!r})")
    return list(dict.fromkeys(fired))


def _whole(change: Any, read: Reader) -> str:
    verb = _VERBS.get(change.status, "changed")
    detail = ""
    if change.path.endswith(".toml"):
        keys = _key_changes(_toml(read(change.path, "old")), _toml(read(change.path, "new")))
        detail = f": {keys}" if keys else ""
    return (f"baton's own configuration {change.path!r} {verb}{detail} (the next run of "
            "this repository would use it)")


def section_change(path: str, section: str, old: str | None, new: str | None) -> str:
    """How ``section`` of the file at ``path`` changed ("" when it did not)."""
    name = path.rsplit("/", 1)[-1]
    if name.endswith(".toml"):
        before, after = _dig(_toml(old), section), _dig(_toml(new), section)
    elif name.endswith(".json"):
        before, after = _dig(_json(old), section), _dig(_json(new), section)
    elif name.endswith((".cfg", ".ini")):
        before, after = _ini(old, section), _ini(new, section)
    elif name in ("Makefile", "makefile", "GNUmakefile") or name.endswith(".mk"):
        before, after = _targets(old, section), _targets(new, section)
    else:
        return ""
    if before == after:
        return ""
    if before is _MISSING:
        return "added"
    if after is _MISSING:
        return "removed"
    if isinstance(before, dict) and isinstance(after, dict):
        return "changed: " + (_key_changes(before, after) or "reordered")
    return "changed"


def _key_changes(before: Any, after: Any) -> str:
    """Keys added, removed and changed between two nested tables, dotted, at most 8."""
    flat_before, flat_after = _flatten(before), _flatten(after)
    words = [f"added `{k}`" for k in flat_after if k not in flat_before]
    words += [f"removed `{k}`" for k in flat_before if k not in flat_after]
    words += [f"changed `{k}`" for k in flat_after
              if k in flat_before and flat_before[k] != flat_after[k]]
    more = f" and {len(words) - 8} more" if len(words) > 8 else ""
    return ", ".join(words[:8]) + more


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, dict) or value is _MISSING:
        return {prefix: value} if prefix and value is not _MISSING else {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        out.update(_flatten(item, name) if isinstance(item, dict) else {name: item})
    return out


def _dig(data: Any, section: str) -> Any:
    """The merged values under a dotted path whose parts may be wildcards."""
    nodes = [data]
    for part in section.split("."):
        nodes = [v for node in nodes if isinstance(node, dict)
                 for k, v in sorted(node.items()) if fnmatchcase(str(k), part)]
    if not nodes:
        return _MISSING
    return nodes[0] if len(nodes) == 1 else {"*": nodes}


def _toml(text: str | None) -> Any:
    if text is None:
        return _MISSING
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {"(unparsable)": text}


def _json(text: str | None) -> Any:
    if text is None:
        return _MISSING
    try:
        return json.loads(text)
    except ValueError:
        return {"(unparsable)": text}


def _ini(text: str | None, section: str) -> Any:
    if text is None:
        return _MISSING
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return {"(unparsable)": text}
    found = {name: dict(parser.items(name)) for name in parser.sections()
             if fnmatchcase(name, section)}
    return found or _MISSING


_TARGET = re.compile(r"^([A-Za-z0-9_.%/ -]+?)\s*::?(?!=)")


def _targets(text: str | None, pattern: str) -> Any:
    """The Makefile rules whose target matches ``pattern``: their lines, by target."""
    if text is None:
        return _MISSING
    rules: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = _TARGET.match(line)
        if match and not line.startswith("\t"):
            names = [n for n in match.group(1).split() if fnmatchcase(n, pattern)]
            current = rules.setdefault(names[0], [line]) if names else None
        elif current is not None and (line.startswith("\t") or not line.strip()):
            current.append(line.rstrip())
        else:
            current = None
    return rules or _MISSING
