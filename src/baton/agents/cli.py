"""How baton starts each coding agent, and reads what it says (docs/agents.md).

One ``AgentCli`` per agent: the command line (non-interactive, JSON output, the role's
model, baton's sandbox instead of the agent's own), the private home folder and settings
that keep it on the configured endpoint and off the internet, and the parsing of its
output into the final answer and its token usage. Nothing here runs a process: the
backend (``agents/backend.py``) does, through baton's sandboxed ``run_command``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.errors import ConfigError

AGENT_VENDORS = {"claude-code": "anthropic", "codex": "openai"}
"""Whose models each agent is (the reviewer's other-vendor rule applies to agents)."""
DEFAULT_COMMANDS = {"claude-code": "claude", "codex": "codex"}


@dataclass
class Usage:
    """Tokens an agent reported for one invocation (all its model calls together)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int = 0
    calls: int = 0
    claimed_cost_usd: float | None = None
    """What the agent says it cost (Claude Code, from its own built-in prices): shown as
    the agent's claim only; baton's cost comes from baton's price table."""


@dataclass
class Outcome:
    """The final answer of an agent run, parsed from its output."""

    text: str | None
    usage: Usage = field(default_factory=Usage)
    problem: str | None = None
    """Why the output could not be read (None: it could)."""


@dataclass
class Invocation:
    """Everything needed to start one agent run."""

    command: str
    env: dict[str, str]
    secret_env: dict[str, str]
    answer_file: Path | None = None


def _quote(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


class ClaudeCode:
    """``claude -p PROMPT --output-format stream-json --verbose``: one JSON event per line;
    the last is ``{"type": "result", ...}`` with ``result``, ``usage`` and
    ``total_cost_usd`` (its claim); each ``assistant`` event carries that call's usage,
    which lets baton stop it when the budget would be crossed."""

    name = "claude-code"

    def invocation(self, *, executable: str, model: str, prompt: str, base_url: str,
                   api_key: str, home: Path, tmp: Path, extra_args: list[str],
                   headers: dict[str, str], budget_usd: float | None,
                   json_schema: dict[str, Any] | None, edits: bool) -> Invocation:
        # baton's sandbox and gates hold the implementer, so it may run any command in its
        # scratch copy (IS_SANDBOX lets it do so as root); planner and reviewer only read.
        argv = [executable, "-p", prompt, "--output-format", "stream-json", "--verbose",
                "--model", model, "--permission-mode", "bypassPermissions" if edits else "plan"]
        if budget_usd is not None:
            argv += ["--max-budget-usd", f"{max(budget_usd, 0.0):.6f}"]
        if json_schema is not None:
            argv += ["--json-schema", json.dumps(json_schema)]
        argv += extra_args
        root = base_url.rstrip("/")
        root = root[: -len("/v1")] if root.endswith("/v1") else root
        env = {
            "HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude"), "TMPDIR": str(tmp),
            "ANTHROPIC_BASE_URL": root, "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1",
            "DISABLE_ERROR_REPORTING": "1", "DISABLE_BUG_COMMAND": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            # Background chores (titles, summaries) go to the same model, so the endpoint
            # sees and bills every call the agent makes.
            "ANTHROPIC_SMALL_FAST_MODEL": model, "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        }
        if edits:
            env["IS_SANDBOX"] = "1"
        if headers:
            env["ANTHROPIC_CUSTOM_HEADERS"] = "\n".join(f"{k}: {v}" for k, v in headers.items())
        return Invocation(_quote(argv), env, {"ANTHROPIC_API_KEY": api_key})

    def live_usage(self, line: str, usage: Usage) -> None:
        """Count an ``assistant`` event's usage as it arrives (one per model call)."""
        event = _json_line(line)
        if not event or event.get("type") != "assistant":
            return
        message = event.get("message") or {}
        u = message.get("usage") or {}
        if not isinstance(u, dict):
            return
        usage.calls += 1
        usage.input_tokens = (usage.input_tokens or 0) + _int(u.get("input_tokens")) \
            + _int(u.get("cache_read_input_tokens")) + _int(u.get("cache_creation_input_tokens"))
        usage.cached_tokens += _int(u.get("cache_read_input_tokens"))
        usage.output_tokens = (usage.output_tokens or 0) + _int(u.get("output_tokens"))

    def live_usage_from_home(self, home: Path) -> Usage:
        """The usage so far, from the session transcripts in the private config folder."""
        usage = Usage()
        for line in _log_lines(home / ".claude" / "projects", "*.jsonl"):
            self.live_usage(line, usage)
        return usage

    def outcome(self, output: str, invocation: Invocation) -> Outcome:
        result = None
        live = Usage()
        for line in output.splitlines():
            event = _json_line(line)
            if event and event.get("type") == "result":
                result = event
            self.live_usage(line, live)
        if result is None:
            return Outcome(None, live, "Claude Code printed no result event")
        u = result.get("usage") or {}
        usage = Usage(
            input_tokens=_int(u.get("input_tokens")) + _int(u.get("cache_read_input_tokens"))
            + _int(u.get("cache_creation_input_tokens")),
            output_tokens=_int(u.get("output_tokens")),
            cached_tokens=_int(u.get("cache_read_input_tokens")),
            calls=max(live.calls, _int(result.get("num_turns"))),
            claimed_cost_usd=result.get("total_cost_usd")
            if isinstance(result.get("total_cost_usd"), (int, float)) else None)
        per_model = result.get("modelUsage")
        if not (usage.input_tokens or usage.output_tokens) and isinstance(per_model, dict):
            # an error result (a budget stop) may carry its usage only per model
            models = [m for m in per_model.values() if isinstance(m, dict)]
            usage.cached_tokens = sum(_int(m.get("cacheReadInputTokens")) for m in models)
            usage.input_tokens = sum(_int(m.get("inputTokens"))
                                     + _int(m.get("cacheCreationInputTokens"))
                                     for m in models) + usage.cached_tokens
            usage.output_tokens = sum(_int(m.get("outputTokens")) for m in models)
        if not (usage.input_tokens or usage.output_tokens) and live.calls:
            usage.input_tokens, usage.output_tokens = live.input_tokens, live.output_tokens
            usage.cached_tokens = live.cached_tokens
        if result.get("is_error"):
            return Outcome(None, usage, f"Claude Code ended with an error: "
                                        f"{result.get('subtype')}: {result.get('result')}")
        structured = result.get("structured_output")
        if structured is not None:
            return Outcome(json.dumps(structured), usage)
        text = result.get("result")
        return Outcome(text if isinstance(text, str) else None, usage,
                       None if isinstance(text, str) else "the result has no text")


class Codex:
    """``codex exec --json``: JSONL events (``item.completed``, ``turn.completed`` with the
    turn's usage); the final message goes to ``-o FILE``. Its private ``CODEX_HOME`` holds
    a ``config.toml`` naming the endpoint (Responses wire), no retries, an idle timeout,
    analytics off; its session log there has a ``token_count`` after every model call."""

    name = "codex"

    def invocation(self, *, executable: str, model: str, prompt: str, base_url: str,
                   api_key: str, home: Path, tmp: Path, extra_args: list[str],
                   headers: dict[str, str], budget_usd: float | None,
                   json_schema: dict[str, Any] | None, edits: bool) -> Invocation:
        codex_home = home / "codex"
        codex_home.mkdir(parents=True, exist_ok=True)
        header_table = "".join(f"{json.dumps(k)} = {json.dumps(v)}, "
                               for k, v in headers.items()).rstrip(", ")
        (codex_home / "config.toml").write_text(
            "# written by baton for one agent run\n"
            f"model = {json.dumps(model)}\nmodel_provider = \"baton\"\n"
            "approval_policy = \"never\"\n"
            # baton's sandbox holds the agent; Codex's own would nest inside it
            "sandbox_mode = \"danger-full-access\"\n"
            "[model_providers.baton]\nname = \"baton\"\n"
            f"base_url = {json.dumps(base_url.rstrip('/'))}\n"
            "env_key = \"BATON_AGENT_KEY\"\nwire_api = \"responses\"\n"
            "request_max_retries = 0\nstream_max_retries = 0\n"
            "stream_idle_timeout_ms = 60000\n"
            + (f"http_headers = {{ {header_table} }}\n" if headers else "")
            + "[analytics]\nenabled = false\n", encoding="utf-8")
        answer = home / "last-message.txt"
        answer.unlink(missing_ok=True)
        argv = [executable, "exec", "--json", "--strict-config", "--disable", "plugins",
                "--skip-git-repo-check", "-m", model, "-o", str(answer)]
        if json_schema is not None:
            schema = home / "answer-schema.json"
            schema.write_text(json.dumps(json_schema), encoding="utf-8")
            argv += ["--output-schema", str(schema)]
        argv += [*extra_args, prompt]
        env = {"HOME": str(home), "CODEX_HOME": str(codex_home), "TMPDIR": str(tmp)}
        return Invocation(_quote(argv) + " < /dev/null", env, {"BATON_AGENT_KEY": api_key},
                          answer_file=answer)

    def live_usage_from_home(self, home: Path) -> Usage:
        """The latest ``token_count`` of the session log (the whole session so far)."""
        usage = Usage()
        for line in _log_lines(home / "codex" / "sessions", "rollout-*.jsonl"):
            payload = (_json_line(line) or {}).get("payload") or {}
            if payload.get("type") != "token_count":
                continue
            total = ((payload.get("info") or {}).get("total_token_usage")) or {}
            usage.calls += 1
            usage.input_tokens = _int(total.get("input_tokens"))
            usage.output_tokens = _int(total.get("output_tokens"))
            usage.cached_tokens = _int(total.get("cached_input_tokens"))
        return usage

    def outcome(self, output: str, invocation: Invocation) -> Outcome:
        usage = Usage(input_tokens=0, output_tokens=0)
        turns = 0
        failure = None
        last_message = None
        for line in output.splitlines():
            event = _json_line(line)
            if not event:
                continue
            kind = event.get("type")
            if kind == "turn.completed":
                turns += 1
                u = event.get("usage") or {}
                usage.input_tokens = (usage.input_tokens or 0) + _int(u.get("input_tokens"))
                usage.output_tokens = (usage.output_tokens or 0) + _int(u.get("output_tokens"))
                usage.cached_tokens += _int(u.get("cached_input_tokens"))
            elif kind == "turn.failed":
                failure = str((event.get("error") or {}).get("message") or event)
            elif kind == "error":
                failure = failure or str(event.get("message"))
            elif kind == "item.completed":
                item = event.get("item") or {}
                if item.get("type") == "agent_message" and isinstance(item.get("text"), str):
                    last_message = item["text"]
        usage.calls = turns
        if not turns:
            usage.input_tokens = usage.output_tokens = None
        text = None
        if invocation.answer_file is not None and invocation.answer_file.is_file():
            text = invocation.answer_file.read_text(encoding="utf-8", errors="replace")
        text = text if text and text.strip() else last_message
        if failure and not text:
            return Outcome(None, usage, f"Codex failed: {failure}")
        if text is None:
            return Outcome(None, usage, "Codex printed no final message")
        return Outcome(text, usage)


AGENTS: dict[str, ClaudeCode | Codex] = {"claude-code": ClaudeCode(), "codex": Codex()}


def agent_cli(name: str) -> ClaudeCode | Codex:
    try:
        return AGENTS[name]
    except KeyError:
        raise ConfigError(f"unknown agent {name!r}; use one of {', '.join(AGENTS)}") from None


def _log_lines(folder: Path, pattern: str) -> list[str]:
    """Every line of the agent's session logs under ``folder`` (read while it writes)."""
    lines: list[str] = []
    for log in sorted(folder.rglob(pattern)):
        try:
            lines += log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
    return lines


def _json_line(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
