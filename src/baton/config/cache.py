"""A cache of resolved routing policies, so ``baton policies`` skips the typed models.

Validating the configuration needs pydantic, whose import alone costs a quick command
several times what the CLI library costs. The result of a *successful* load is stored
under a key made of everything the load read: the bytes of the repository's file, the
user file and ``--config``, the environment's settings, and baton's own settings module.
Identical inputs give the identical result, so it is read back as it was written; any
change (or a missing, damaged or foreign cache file) means a full load, which also
reports every configuration error exactly as before. Nothing but derived data is kept,
and removing the cache folder is always safe.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from baton.config.layers import cache_dir, env_layer, user_config_path

__all__ = ["policy_listing"]

_FORMAT = 2  # 2: keys are BLAKE2b-256 (was SHA-256)

try:  # hashlib.blake2b itself; importing hashlib loads OpenSSL, a quick command's largest cost
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b as _blake2b


def policy_listing(repo: Path, *, config_file: Path | None = None,
                   environ: dict[str, str] | None = None) -> dict[str, Any]:
    """``{"active": policy, "policies": {name: {role: route}}}`` of ``repo``'s configuration.

    Read from the cache when every input is byte for byte what the cached load read, else
    resolved with :func:`baton.config.load_config` (errors raised as it raises them) and
    cached for next time.
    """
    env = dict(os.environ if environ is None else environ)
    key = _inputs_key(repo, config_file, env)
    path = cache_dir(env) / "config" / f"policies-{key}.json"
    cached = _read(path, key)
    if cached is not None:
        return cached
    from baton.config.settings import load_config

    config = load_config(repo, config_file=config_file, environ=env)
    names = sorted({"default", *config.policies})
    listing = {"active": config.policy,
               "policies": {name: {role: route.model_dump(mode="json")
                                   for role, route in config.policy_routes(name).items()}
                            for name in names}}
    _write(path, {"format": _FORMAT, "key": key, "listing": listing})
    return listing


def _inputs_key(repo: Path, config_file: Path | None, env: dict[str, str]) -> str:
    digest = _blake2b(f"format {_FORMAT}\0".encode(), digest_size=32)
    settings = Path(__file__).with_name("settings.py")
    for label, file in (("code", settings), ("layers", Path(__file__).with_name("layers.py")),
                        ("baton.toml", repo / "baton.toml"),
                        ("pyproject", repo / "pyproject.toml"),
                        ("user", user_config_path(env)),
                        ("config", config_file)):
        digest.update(f"{label}\0{file}\0".encode())
        if file is not None:
            digest.update(_content(file))
    digest.update(json.dumps(env_layer(env), sort_keys=True).encode())
    return digest.hexdigest()


def _content(file: Path) -> bytes:
    try:
        return b"present\0" + file.read_bytes()
    except OSError as exc:  # absent or unreadable: part of the key, the load will say more
        return f"absent {exc.errno}\0".encode()


def _read(path: Path, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("key") != key:
        return None
    listing = data.get("listing")
    if not isinstance(listing, dict) or not isinstance(listing.get("active"), str) \
            or not isinstance(listing.get("policies"), dict):
        return None
    return listing


def _write(path: Path, data: dict[str, Any]) -> None:
    """Write atomically; a cache that cannot be written is simply not there next time."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=".policies-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, sort_keys=True)
        os.replace(scratch, path)
    except OSError:
        return
