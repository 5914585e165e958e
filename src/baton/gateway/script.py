"""The script of the fake gateway: what each model answers, and which faults to inject.

A script is a JSON document (or the same data as a Python dict)::

    {
      "models": {
        "planner-model": [
          {"content": "...", "latency_s": 0.05,
           "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "cached_tokens": 0},
           "cost": 0.012, "headers": {"x-litellm-response-cost": "0.01"},
           "finish_reason": "stop", "faults": ["503", "429:30"]}
        ],
        "*": ["a plain string is shorthand for {\\"content\\": ...}"]
      },
      "repeat_last": false,
      "faults": {"rate": 0.3, "seed": 7, "kinds": ["429", "500", "reset"], "retry_after_s": 1}
    }

See docs/fake-gateway.md for the semantics.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from baton.errors import ConfigError
from baton.gateway.tools import ScriptedToolCall

CATCH_ALL = "*"

# Fault kinds that are not an HTTP error status.
WIRE_FAULTS = ("reset", "hang", "trickle", "cut", "garbled", "invalid_json", "endless")
# Option each kind takes after a colon in the string form, e.g. "429:3600", "hang:5".
_COLON_OPTION = {"429": "retry_after_s", "hang": "hang_s", "trickle": "trickle_interval_s"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fault(_Strict):
    """One injected failure. Written as a string (``"503"``, ``"429:3600"``, ``"reset"``)
    or as an object (``{"kind": "429", "retry_after_s": 3600}``)."""

    kind: str
    retry_after_s: float | None = Field(default=None, ge=0)
    """429 only: the Retry-After header, in seconds (default: ``faults.retry_after_s``)."""
    hang_s: float | None = Field(default=None, ge=0)
    """hang only: how long to keep the connection open sending nothing (default 30)."""
    trickle_interval_s: float | None = Field(default=None, ge=0)
    """trickle only: pause between two small pieces of the response (default 0.5)."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return value
        kind, sep, option = value.strip().partition(":")
        if not sep:
            return {"kind": kind}
        if kind not in _COLON_OPTION:
            raise ValueError(f"fault {value!r}: only 429, hang and trickle take a ':' option")
        try:
            number = float(option)
        except ValueError:
            raise ValueError(f"fault {value!r}: {option!r} is not a number of seconds") from None
        return {"kind": kind, _COLON_OPTION[kind]: number}

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind in WIRE_FAULTS or (kind.isdigit() and 400 <= int(kind) <= 599):
            return kind
        raise ValueError(
            f"unknown fault kind {kind!r}; use an HTTP error status 400-599 "
            f"(e.g. '429', '503') or one of {', '.join(WIRE_FAULTS)}"
        )

    @property
    def status(self) -> int | None:
        """The HTTP status this fault answers with (None if no status line is ever sent)."""
        if self.kind.isdigit():
            return int(self.kind)
        if self.kind in ("reset", "hang"):
            return None
        return 200


class Usage(_Strict):
    """Token counts to report. A count left out is computed from the text (chars / 4)."""

    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)
    cached_tokens: int = Field(default=0, ge=0)


class Entry(_Strict):
    """One scripted answer of a model."""

    content: str = ""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    """Tool calls answered after ``content`` (gateway/tools.py); the finish reason then
    defaults to ``tool_calls``."""
    latency_s: float = Field(default=0.0, ge=0)
    latency_jitter_s: float = Field(default=0.0, ge=0)
    """Each answer waits ``latency_s`` plus a uniform draw in [-jitter, +jitter] (never less
    than 0), as real models vary; the drawn wait is in the request log."""
    usage: Usage | None = None
    raw_usage: dict[str, Any] | None = None
    """Sent as the ``usage`` object verbatim, unchecked: negative, huge or non-finite numbers
    (``-5e6``, ``10**400``, ``Infinity``), to test a misbehaving provider."""
    report_usage: bool = True
    """False: send no usage at all, as some gateways do (even when a stream asks for it)."""
    cost: float | None = Field(default=None, ge=0)
    """Reported as ``usage.cost`` (OpenRouter style) when set."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP response headers, e.g. ``x-litellm-response-cost``."""
    finish_reason: str = "stop"
    faults: list[Fault] = Field(default_factory=list)
    """What the first attempts at this entry return before it is served."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("tool_calls") and "finish_reason" not in value:
            return {**value, "finish_reason": "tool_calls"}
        return {"content": value} if isinstance(value, str) else value


class Variant(_Strict):
    """One of a model's alternative answer sequences, drawn per trial (or run)."""

    weight: float = Field(default=1.0, gt=0)
    entries: list[Entry]


class ModelScript(_Strict):
    """The ordered answers of one model (``"model": [...]`` or ``{"entries": [...]}``), or
    alternative sequences (``{"variants": [{"weight": 3, "entries": [...]}, ...]}``) of
    which each trial gets one, drawn reproducibly from ``seed`` and the trial's name."""

    entries: list[Entry] = Field(default_factory=list)
    variants: list[Variant] = Field(default_factory=list)
    seed: int = 0
    """With ``variants``: the same seed and trial name always draw the same variant."""
    repeat_last: bool | None = None
    """Serve the last entry again once the list is used up (default: the top-level flag)."""
    tasks: dict[str, ModelScript] = Field(default_factory=dict)
    """Answers per comparison task: a trial named ``TASK--POLICY--N`` whose ``TASK`` is a
    key here is answered by that script (entries or variants); others by this one."""

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        return {"entries": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _one_kind(self) -> ModelScript:
        if self.entries and self.variants:
            raise ValueError("give either entries or variants, not both")
        return self

    def pick(self, name: str | None) -> tuple[int | None, list[Entry]]:
        """The variant drawn for ``name`` (a trial or run) and its entries; ``(None,
        entries)`` for a model without variants."""
        task = (name or "").partition("--")[0]
        if task in self.tasks:
            return self.tasks[task].pick(name)
        if not self.variants:
            return None, self.entries
        digest = hashlib.sha256(f"{self.seed}:{name or ''}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.weight for v in self.variants)
        for index, variant in enumerate(self.variants):
            point -= variant.weight
            if point < 0:
                return index, variant.entries
        return len(self.variants) - 1, self.variants[-1].entries


class RandomFaults(_Strict):
    """Faults injected at random, reproducibly (seeded), before serving any entry."""

    rate: float = Field(default=0.0, ge=0, le=1)
    seed: int = 0
    kinds: list[Fault] = Field(
        default_factory=lambda: [Fault(kind=k) for k in ("429", "500", "502", "503", "reset")],
        min_length=1,
    )
    retry_after_s: float = Field(default=1.0, ge=0)
    """Retry-After of a 429 that does not set its own."""
    hang_s: float = Field(default=30.0, ge=0)
    trickle_interval_s: float = Field(default=0.5, ge=0)


class Script(_Strict):
    """A whole fake gateway script."""

    models: dict[str, ModelScript]
    repeat_last: bool = False
    faults: RandomFaults = Field(default_factory=RandomFaults)

    def resolve(self, model: str) -> str | None:
        """The key of ``models`` that answers for ``model`` (None: unknown model)."""
        if model in self.models:
            return model
        return CATCH_ALL if CATCH_ALL in self.models else None

    def repeats(self, key: str) -> bool:
        flag = self.models[key].repeat_last
        return self.repeat_last if flag is None else flag


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  at {loc}: {msg}")
    return "\n".join(lines)


def load_script(source: Script | dict[str, Any] | str | Path) -> Script:
    """Validate a script given as a ``Script``, a dict, or the path of a JSON file.

    Raises ``ConfigError`` saying what is wrong and where.
    """
    if isinstance(source, Script):
        return source
    where = "fake gateway script"
    if isinstance(source, str | Path):
        path = Path(source)
        where = f"fake gateway script {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{where}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}: cannot be read: {exc}") from None
        try:
            source = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
    if not isinstance(source, dict):
        raise ConfigError(
            f"{where}: must be a JSON object with a \"models\" key, not {type(source).__name__}"
        )
    try:
        return Script.model_validate(source)
    except ValidationError as exc:
        raise ConfigError(f"{where} is invalid:\n{_describe(exc)}") from None
