"""Configuration: typed models and the layered loader.

Layers, in rising precedence: the repository's ``baton.toml`` or ``[tool.baton]`` in
``pyproject.toml``; the user-level file; environment variables; flags (and ``--config``).
Endpoints (where requests and keys go) may come only from the user level, the
environment or flags: a cloned repository must not be able to send your key elsewhere.
The other guards (prices, limits, sandbox, approval rules, evidence to a model) a
repository may only tighten; see ``ownership.py`` and docs/configuration.md.

The package is a light facade: the layers as plain data live in ``layers.py`` (standard
library only), the pydantic models and ``load_config`` in ``settings.py``, imported on the
first use of one of their names, so a quick command that needs neither stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from baton.config.layers import (
    REPO_FORBIDDEN,
    ROLES,
    cache_dir,
    deep_merge,
    dotted,
    env_layer,
    read_toml,
    repo_layer,
    user_config_path,
)

if TYPE_CHECKING:
    from baton.config.settings import (
        DEFAULT_APPROVAL_PATHS,
        DEFAULT_PROTECTED,
        DEFAULT_ROUTES,
        Approval,
        Config,
        Endpoint,
        Limits,
        Price,
        RetryPolicy,
        Role,
        Route,
        describe,
        load_config,
    )

__all__ = ["DEFAULT_APPROVAL_PATHS", "DEFAULT_PROTECTED", "DEFAULT_ROUTES", "REPO_FORBIDDEN",
           "ROLES", "Approval", "Config", "Endpoint", "Limits", "Price", "RetryPolicy",
           "Role", "Route", "cache_dir", "deep_merge", "describe", "dotted", "env_layer",
           "load_config", "read_toml", "repo_layer", "user_config_path"]


def __getattr__(name: str) -> Any:
    """The typed models and the loader, imported from ``settings.py`` when first asked for."""
    settings = importlib.import_module("baton.config.settings")
    try:
        return getattr(settings, name)
    except AttributeError:
        raise AttributeError(f"module 'baton.config' has no attribute {name!r}") from None
