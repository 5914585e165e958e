"""``baton integrate claude-code|codex``: write the plugin shipped in the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from baton.errors import UserError

AGENTS = {"claude-code": "claude-code", "codex": "codex"}
HOOK_FILES = {"claude-code": ("hooks/hooks.json",), "codex": ("hooks.json",)}

ENABLE = {
    "claude-code": ("Enable it in Claude Code:\n"
                    "  claude --plugin-dir {dir}\n"
                    "or add it to a marketplace and `/plugin install baton`."),
    "codex": ("Enable it in Codex: add the plugin folder {dir} through Codex's plugin "
              "settings (see docs/integrate-codex.md); the Stop hook is in hooks.json."),
}


def plugin_files(agent: str, hooks: bool = True) -> dict[str, bytes]:
    """The plugin's files, relative path to bytes."""
    if agent not in AGENTS:
        raise UserError(f"unknown agent {agent!r}: claude-code or codex")
    base = resources.files("baton.integrations") / AGENTS[agent]
    files: dict[str, bytes] = {}

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            elif child.name != "__pycache__":
                files[rel] = child.read_bytes()

    walk(base, "")
    if not hooks:
        for rel in HOOK_FILES[agent]:
            files.pop(rel, None)
    return files


def write_plugin(agent: str, target: Path, *, hooks: bool = True,
                 force: bool = False) -> list[Path]:
    """Write the plugin into ``target``; refuses to overwrite a file unless ``force``."""
    files = plugin_files(agent, hooks)
    existing = [rel for rel in files if (target / rel).exists()]
    if existing and not force:
        raise UserError(f"{target} already has {', '.join(sorted(existing))}; "
                        "pass --force to overwrite")
    written = []
    for rel, data in sorted(files.items()):
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written
