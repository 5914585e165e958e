"""The typed settings (pydantic models) and ``load_config``, which merges the layers of
``layers.py`` and validates them; the package docstring says who may set what."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from baton.config.layers import (
    REPO_FORBIDDEN,
    deep_merge,
    dotted,
    env_layer,
    read_toml,
    repo_layer,
    user_config_path,
)
from baton.errors import ConfigError

_read_toml = read_toml  # the old private name

Role = Literal["planner", "implementer", "reviewer", "verifier"]

DEFAULT_PROTECTED = [".git", ".baton"]
# gitignore's dialect (baton.workspace.globs): a leading "/" anchors at the repository root.
# What configures the project's checks: a change waits (evidence/gatefiles.py reads the
# FILE#SECTION entries: a section of a file, a Makefile target).
CHECK_CONFIG_PATHS = (
    "**/conftest.py", "/pytest.ini", "/tox.ini", "/noxfile.py",
    "**/jest.config.*", "**/vitest.config.*",
    "/pyproject.toml#tool.pytest.ini_options", "/pyproject.toml#tool.coverage",
    "/setup.cfg#tool:pytest", "/setup.cfg#coverage:*", "/tox.ini#pytest",
    "/Makefile#test*", "/package.json#scripts.test*",
)
DEFAULT_APPROVAL_PATHS = [
    ".github/workflows/**", "/.gitlab-ci.yml", ".ci/**", "/Jenkinsfile", ".circleci/**",
    "**/migrations/**", "**/alembic/**", "*.sql",
    "**/auth/**", "*auth*.py", "**/security/**",
    "/pyproject.toml", "/setup.py", "/setup.cfg", "/requirements*.txt", "/package.json",
    "/Cargo.toml", "/go.mod", "/Gemfile", "*.lock", "/package-lock.json",
    "/go.sum", "/pnpm-lock.yaml", *CHECK_CONFIG_PATHS,
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Endpoint(_Strict):
    """Where model requests go. Defined only at user level, in the environment or flags."""

    base_url: str
    """Base URL of an OpenAI-compatible API, e.g. ``https://openrouter.ai/api/v1``."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the key (the key itself is never stored)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers sent with every request (no secrets: use the key variable)."""
    max_concurrency: int = 8
    """At most this many requests in flight to this endpoint from one process."""
    vendor: str | None = None
    """The vendor of this endpoint's models when their ids carry no ``vendor/`` prefix."""

    @field_validator("base_url")
    @classmethod
    def _clean_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} is not an http(s) URL")
        if parts.query or parts.fragment:
            cleaned = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
            raise ValueError(
                f"base URL {url!r} has a query string or fragment (tracking parameters "
                f"leak to the provider); use {cleaned!r}"
            )
        return url.rstrip("/")


class Route(_Strict):
    """Which model serves a role, and how."""

    endpoint: str = "default"
    """Name of an endpoint from the user-level configuration."""
    model: str
    """Model id as the endpoint knows it, e.g. ``anthropic/claude-sonnet-4.5``."""
    temperature: float | None = None
    """Sampling temperature; ``None`` leaves the provider's default."""
    max_tokens: int = 4096
    """Most output tokens per call; also the worst case reserved against budgets."""
    fallbacks: list[str] = Field(default_factory=list)
    """Models tried in order, on the same endpoint, when the primary keeps failing."""
    edit_format: Literal["auto", "search_replace", "apply_patch", "editor_tool",
                         "whole_file"] = "auto"
    """Implementer only: how it is asked for edits; ``auto`` by the model's vendor
    (docs/edit-format.md)."""
    agent: Literal["claude-code", "codex"] | None = None
    """A coding agent's command line fills the role instead of one chat completion, with
    ``model`` as its model, on this endpoint (docs/agents.md)."""
    agent_command: str | None = None
    """The agent's executable (default: ``claude`` / ``codex`` on PATH)."""
    agent_args: list[str] = Field(default_factory=list)
    """Extra arguments for the agent's command line."""
    agent_timeout_s: float = Field(default=900.0, gt=0)
    """Most seconds one agent run may take; it is stopped then, and the step fails."""


class Price(_Strict):
    """A per-model price, in US dollars per million tokens (0 for local models)."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)


class Limits(_Strict):
    """Hard limits; ``None`` disables a limit."""

    max_cost_usd: float | None = Field(default=None, ge=0)
    """Most money a run (or role) may spend."""
    max_tokens: int | None = Field(default=None, ge=0)
    """Most input plus output tokens."""
    max_calls: int | None = Field(default=None, ge=0)
    """Most model calls, failed attempts included."""
    max_wall_s: float | None = Field(default=None, ge=0)
    """Most wall-clock seconds of model calls and commands."""


class RetryPolicy(_Strict):
    """How one model call is retried (the SDK's own retries are off)."""

    max_attempts: int = Field(default=4, ge=1)
    """Most attempts per model before moving to the next fallback."""
    max_retry_after_s: float = Field(default=30, ge=0)
    """Honour a server's Retry-After up to this; a longer wait fails the attempt at once."""
    backoff_base_s: float = Field(default=0.5, ge=0)
    """First backoff ceiling; doubles per attempt (full jitter)."""
    backoff_max_s: float = Field(default=8, ge=0)
    """Largest backoff between attempts."""
    attempt_timeout_s: float = Field(default=300, gt=0)
    """Overall deadline of one attempt, covering a stream that trickles slowly."""


class Approval(_Strict):
    """When a change must wait for a person."""

    risk_level: Literal["low", "medium", "high", "critical", "never"] = "high"
    """Plans at or above this risk level wait; ``never`` turns the rule off."""
    paths: list[str] = Field(default_factory=lambda: list(DEFAULT_APPROVAL_PATHS))
    """Globs of paths whose change needs approval; ``FILE#SECTION`` names a section of a
    file (``pyproject.toml#tool.coverage``, ``package.json#scripts.test``, a Makefile
    target) whose change needs approval."""
    gate_config: bool = True
    """A change to the repository's ``baton.toml``, ``.baton/`` or ``[tool.baton]`` waits
    (a repository may not switch this off)."""
    test_changes: bool = True
    """Deleting or modifying existing test files needs approval."""
    max_diff_lines: int | None = 500
    """A diff with more changed lines than this needs approval."""
    tampering: bool = True
    """Signs of test tampering (tests deleted, removed, skipped, weakened, fewer run) wait."""
    unplanned_files: bool = False
    """A change to a file the plan did not name waits."""
    untouched_planned_files: bool = False
    """A file the plan named but the patch left untouched waits."""
    plan_commands_not_run: bool = False
    """A test command the plan named that did not run waits (checked after verification)."""


class Config(_Strict):
    """The whole resolved configuration of one run."""

    policy: str = "default"
    """Name of the routing policy to use."""
    policies: dict[str, dict[str, Route]] = Field(default_factory=dict)
    """Named routing policies: role -> route."""
    routes: dict[str, Route] = Field(default_factory=dict)
    """Shortcut: routes of the ``default`` policy."""
    endpoints: dict[str, Endpoint] = Field(default_factory=dict)
    prices: dict[str, Price] = Field(default_factory=dict)
    verify_commands: list[str] = Field(default_factory=list)
    """Commands the verifier always runs, in order, in the worktree."""
    run_plan_commands: bool = True
    """Run the test commands the plan names (they are the plan's own acceptance)."""
    command_allowlist: list[str] = Field(default_factory=list)
    """Prefixes of model-proposed commands that may run (user level or flags only)."""
    allow_model_commands: bool = False
    """Run every model-proposed command (user level or flags only)."""
    command_timeout_s: float = 600
    max_output_bytes: int = 64_000
    max_review_rounds: int = Field(default=2, ge=1)
    require_other_vendor: bool = False
    """Refuse a reviewer not proven to be another vendor than the author (else a warning)."""
    max_fix_rounds: int = Field(default=2, ge=0)
    """Failed verification goes back to the implementer this many times (0: no-go at once)."""
    verify_base: bool = True
    """Also run the verify commands once on the base commit, for before/after evidence."""
    max_edit_attempts: int = Field(default=2, ge=1)
    max_plan_attempts: int = Field(default=2, ge=1)
    max_packets: int = Field(default=5, ge=1)
    repo_map_bytes: int = 12_000
    summarize_evidence: bool = False
    protected_paths: list[str] = Field(default_factory=list)
    sandbox: Literal["auto", "bwrap", "none"] = "auto"
    checkout_dir: str = Field(default="auto", min_length=1)
    """Where verification's disposable checkouts are made: ``auto`` (memory-backed
    ``/dev/shm`` when it has room, else the temporary folder), ``temp`` or a folder outside
    the repository (user level or flags only)."""
    limits: Limits = Field(default_factory=Limits)
    role_limits: dict[str, Limits] = Field(default_factory=dict)
    approval: Approval = Field(default_factory=Approval)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    stream: bool = True
    """Stream responses (usage is requested at the end of the stream)."""
    max_prompt_bytes: int = Field(default=2_000_000, ge=10_000)
    """Largest prompt sent to a model, in UTF-8 bytes; file content past it is cut with a
    note, and a prompt still larger is refused with an error."""
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)
    _verify_origins: list[str] = PrivateAttr(default_factory=list)

    @property
    def origins(self) -> dict[str, str]:
        """Where each explicitly set setting came from (dotted key -> file or layer)."""
        return dict(self._origins)

    @property
    def verify_origins(self) -> list[str]:
        """Where each of ``verify_commands`` came from, in the same order."""
        return list(self._verify_origins)

    def policy_routes(self, name: str | None = None) -> dict[str, Route]:
        """The routes of a policy, every role filled."""
        name = name or self.policy
        base = dict(DEFAULT_ROUTES)
        if name == "default":
            base.update(self.routes)
            base.update(self.policies.get("default", {}))
        elif name in self.policies:
            base.update(self.policies[name])
        else:
            known = ", ".join(sorted({"default", *self.policies})) or "default"
            raise ConfigError(f"unknown policy {name!r}; known policies: {known}")
        return base

    def endpoint(self, name: str) -> Endpoint:
        """A named endpoint, or a clear error saying how to define it."""
        if name in self.endpoints:
            return self.endpoints[name]
        raise ConfigError(
            f"no endpoint named {name!r}. Define it in your user config "
            f"({user_config_path()}) as [endpoints.{name}] with base_url and api_key_env, "
            "or set OPENAI_BASE_URL for the 'default' endpoint."
        )


DEFAULT_ROUTES: dict[str, Route] = {
    "planner": Route(model="openai/gpt-5", max_tokens=8000),
    "implementer": Route(model="qwen/qwen3-coder", max_tokens=16000),
    "reviewer": Route(model="anthropic/claude-sonnet-4.5", max_tokens=6000),
    "verifier": Route(model="google/gemini-2.5-flash", max_tokens=2000),
}

def _check_repo_layer(data: dict[str, Any], source: Path) -> None:
    for key, what in REPO_FORBIDDEN.items():
        if key in data:
            raise ConfigError(
                f"{source} sets '{key}': a repository's config may not choose {what} "
                "(a cloned repo could send your key or run commands you did not allow). "
                f"Move it to your user config ({user_config_path()}), the environment or "
                "flags, and remove it from the repository file."
            )


def load_config(
    repo: Path,
    *,
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Resolve the configuration of a run in ``repo`` from every layer.

    The repository's values describe the project; its guards may only tighten the user's
    (a loosening value is refused, naming the file and key); flags win over everything.
    """
    from baton.config.ownership import resolve_repo_guards, strip_guards

    environ = dict(os.environ if environ is None else environ)
    repo_data, source = repo_layer(repo)
    user_file = user_config_path(environ)
    user_layers: list[tuple[str, dict[str, Any]]] = []
    if user_file.is_file():
        user_layers.append((str(user_file), read_toml(user_file)))
    user_layers.append(("environment", env_layer(environ)))
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"--config {config_file}: no such file")
        user_layers.append((str(config_file), read_toml(config_file)))
    flags = [("flags", overrides)] if overrides else []
    every = ([(str(source), repo_data)] if source is not None else []) + user_layers + flags
    origins = _origins(every)
    user_origins = _origins(user_layers)

    user_merged: dict[str, Any] = {}
    for _, layer in user_layers:
        user_merged = deep_merge(user_merged, layer)
    merged = user_merged
    if source is not None:
        _check_repo_layer(repo_data, source)
        repo_cfg = _validate(repo_data, [(str(source), repo_data)])
        user_cfg = _validate(user_merged, user_layers)
        guards, tightened = resolve_repo_guards(
            repo_data, source, repo_cfg, user_cfg,
            lambda path: _origin_of(user_origins, path), user_file)
        merged = deep_merge(deep_merge(strip_guards(repo_data), user_merged), guards)
        for key, how in tightened:
            for known in [k for k in origins if k == key or k.startswith(key + ".")] or [key]:
                origins[known] = f"{source} ({how})"
    for _, layer in flags:
        merged = deep_merge(merged, layer)
    origins.update(_origins(flags))  # an explicit flag is what is in force
    commands, command_origins = _verify_commands(every)
    if commands:
        merged["verify_commands"] = commands
        origins["verify_commands"] = " + ".join(dict.fromkeys(command_origins))
    config = _validate(merged, every)
    config._origins = origins
    config._verify_origins = command_origins
    return config


def _validate(data: dict[str, Any], layers: list[tuple[str, dict[str, Any]]]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        from baton.config.explain import explain

        raise ConfigError(explain(exc, layers, Config)) from exc


def _verify_commands(layers: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], list[str]]:
    """Every layer's verify commands, the repository's first; none replaces another."""
    commands: list[Any] = []
    where: list[str] = []
    for name, layer in layers:
        value = layer.get("verify_commands")
        if not isinstance(value, list):
            if value is not None:
                return value, []  # not a list: let validation say so
            continue
        for command in value:
            if command not in commands:
                commands.append(command)
                where.append(name)
    return commands, where


def _flatten(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and value:
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def _origins(layers: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, layer in layers:
        for path in _flatten(layer):
            found[dotted(path)] = name
    return found


def _origin_of(origins: dict[str, str], path: tuple[str, ...]) -> str:
    for end in range(len(path), 0, -1):
        key = dotted(path[:end])
        if key in origins:
            return origins[key]
    return "baton's default"


def describe(config: Config) -> list[dict[str, Any]]:
    """Every setting in force as ``{"key", "value", "origin"}`` rows, for ``baton config``.

    ``origin`` is the file or layer that set the value (``flags``, ``environment``, a
    path, or ``default``); each verify command gets its own row.
    """
    rows: list[dict[str, Any]] = []
    data = config.model_dump(mode="json")
    commands = data.pop("verify_commands")
    for path, value in _flatten(data).items():
        key = dotted(path)
        rows.append({"key": key, "value": value, "origin": config._origins.get(key, "default")})
    for index, command in enumerate(commands):
        where = config._verify_origins[index] if index < len(config._verify_origins) \
            else "default"
        rows.append({"key": f"verify_commands[{index}]", "value": command, "origin": where})
    return sorted(rows, key=lambda row: row["key"])
