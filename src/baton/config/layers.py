"""The configuration's layers as plain data: files, environment, merging (no pydantic).

Reading a layer needs only the standard library, so a quick command (``baton policies``
from its cache, see ``cache.py``) can tell whether anything changed without importing the
typed models of ``settings.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from baton.errors import ConfigError

ROLES: tuple[str, ...] = ("planner", "implementer", "reviewer", "verifier")

# Keys a repository file may not set: they decide where keys and commands go.
REPO_FORBIDDEN = {
    "endpoints": "endpoints (base URL and key variable)",
    "command_allowlist": "the allowlist of model-proposed commands",
    "allow_model_commands": "running model-proposed commands",
    "checkout_dir": "where verification checkouts are written",
}



def user_config_path(environ: dict[str, str] | None = None) -> Path:
    """Where the user-level configuration lives (``$BATON_CONFIG`` overrides)."""
    env = os.environ if environ is None else environ
    if env.get("BATON_CONFIG"):
        return Path(env["BATON_CONFIG"])
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "baton" / "config.toml"


def cache_dir(environ: dict[str, str] | None = None) -> Path:
    """Where baton keeps derived, disposable data (``$BATON_CACHE_DIR`` overrides)."""
    env = os.environ if environ is None else environ
    if env.get("BATON_CACHE_DIR"):
        return Path(env["BATON_CACHE_DIR"])
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "baton"


def read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # not needed by a quick command whose answer is cached

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file and retry") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc


def repo_layer(repo: Path) -> tuple[dict[str, Any], Path | None]:
    """The repository's own settings and the file they came from."""
    toml = repo / "baton.toml"
    if toml.is_file():
        return read_toml(toml), toml
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        data = read_toml(pyproject).get("tool", {}).get("baton")
        if data:
            return data, pyproject
    return {}, None


def env_layer(environ: dict[str, str]) -> dict[str, Any]:
    """Settings from environment variables."""
    data: dict[str, Any] = {}
    if environ.get("OPENAI_BASE_URL"):
        data["endpoints"] = {
            "default": {"base_url": environ["OPENAI_BASE_URL"], "api_key_env": "OPENAI_API_KEY"}
        }
    if environ.get("BATON_POLICY"):
        data["policy"] = environ["BATON_POLICY"]
    limits = {}
    for key in ("max_cost_usd", "max_tokens", "max_calls", "max_wall_s"):
        value = environ.get(f"BATON_{key.upper()}")
        if value:
            limits[key] = value
    if limits:
        data["limits"] = limits
    return data


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into a copy of ``base``; tables merge, everything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def dotted(path: tuple[str, ...]) -> str:
    """A setting's path as a dotted key, quoting parts that hold dots or slashes."""
    return ".".join(p if p.replace("_", "").replace("-", "").isalnum() else f'"{p}"'
                    for p in path)
