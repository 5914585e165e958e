"""The one seam to model endpoints: messages in; text, usage and latency out.

``OpenAIProvider`` talks to any OpenAI-compatible endpoint through the official SDK with
the SDK's own retries turned off: retrying is done once, in ``retry.py``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from baton.config import Endpoint
from baton.errors import ConfigError


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completion request."""

    model: str
    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float | None = None
    stream: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    on_text: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    """Called with each piece of streamed text as it arrives (for a live display)."""


@dataclass(frozen=True)
class Completion:
    """A complete answer with what the provider reported about it."""

    text: str
    model: str
    response_id: str | None
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    latency_s: float
    usage: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class AttemptFailed(Exception):
    """One attempt failed; ``retryable`` says whether trying again may help."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        latency_s: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.latency_s = latency_s


class Provider(Protocol):
    """Anything that can answer one chat request within a time limit."""

    def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion: ...


NON_RETRYABLE = {400, 401, 403, 404, 422}


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_api_key(endpoint: Endpoint, environ: dict[str, str]) -> str:
    """The endpoint's key from the environment; local endpoints may have none."""
    key = environ.get(endpoint.api_key_env, "")
    if key:
        return key
    if _is_loopback(endpoint.base_url):
        return "no-key"
    raise ConfigError(
        f"no API key: set the environment variable {endpoint.api_key_env} "
        f"for the endpoint at {endpoint.base_url}"
    )


def key_hint(endpoint: Endpoint, environ: dict[str, str]) -> str:
    """How to name the endpoint's key in a message about a failure that looks like auth."""
    if environ.get(endpoint.api_key_env):
        return f"the key in {endpoint.api_key_env}"
    return (f"{endpoint.api_key_env}, which is not set (so no key was sent to "
            f"{endpoint.base_url})")


def missing_key_warning(name: str, endpoint: Endpoint, environ: dict[str, str]) -> str | None:
    """Said before a run starts: a local endpoint whose key variable is unset gets no key."""
    if environ.get(endpoint.api_key_env) or not _is_loopback(endpoint.base_url):
        return None
    return (f"endpoint {name!r} ({endpoint.base_url}): {endpoint.api_key_env} is not set, "
            "so requests go without a key; set it if the server needs one (a LiteLLM proxy "
            "does)")


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class OpenAIProvider:
    """An OpenAI-compatible endpoint reached through the official ``openai`` SDK."""

    def __init__(self, endpoint: Endpoint, api_key: str) -> None:
        import openai

        self._openai = openai
        self.endpoint = endpoint
        self._client = openai.OpenAI(
            base_url=endpoint.base_url,
            api_key=api_key,
            max_retries=0,
            default_headers=endpoint.headers or None,
        )
        self._slots = threading.BoundedSemaphore(endpoint.max_concurrency)

    def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion:
        """One attempt, bounded by ``timeout_s`` overall, even for a trickling stream."""
        with self._slots:
            start = time.monotonic()
            try:
                return self._complete(request, timeout_s, start)
            except AttemptFailed:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below, never swallowed
                raise self._classify(exc, time.monotonic() - start) from exc

    def _complete(self, request: ChatRequest, timeout_s: float, start: float) -> Completion:
        import httpx2

        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "timeout": httpx2.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            "extra_headers": request.headers or None,
        }
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        completions = self._client.chat.completions
        if not request.stream:
            # Streamed at the HTTP level so the deadline can close a trickling body.
            with completions.with_streaming_response.create(**kwargs) as raw:
                with _deadline(raw.close, timeout_s, start):
                    parsed = raw.parse()
                    return self._from_response(parsed, dict(raw.headers), start, timeout_s)
        raw = completions.with_raw_response.create(
            stream=True, stream_options={"include_usage": True}, **kwargs)
        stream = raw.parse()
        try:
            with _deadline(stream.close, timeout_s, start):
                return self._collect(stream, dict(raw.headers), start, timeout_s,
                                     request.on_text)
        finally:
            stream.close()

    def _collect(self, stream: Any, headers: dict[str, str], start: float, limit: float,
                 on_text: Callable[[str], None] | None = None):
        parts: list[str] = []
        finish = response_id = model = None
        usage = None
        for chunk in stream:
            if time.monotonic() - start > limit:
                raise _too_slow(limit, time.monotonic() - start)
            response_id = response_id or chunk.id
            model = model or chunk.model
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices or []:
                if choice.delta and choice.delta.content:
                    parts.append(choice.delta.content)
                    if on_text is not None:
                        on_text(choice.delta.content)
                if choice.finish_reason:
                    finish = choice.finish_reason
        latency = time.monotonic() - start
        if latency > limit:
            raise _too_slow(limit, latency)
        if finish is None:
            raise AttemptFailed(
                "stream ended before the answer was complete (no finish reason)",
                retryable=True, latency_s=latency,
            )
        return _completion("".join(parts), model, response_id, finish, usage, headers, latency)

    def _from_response(self, resp: Any, headers: dict[str, str], start: float,
                       limit: float) -> Completion:
        latency = time.monotonic() - start
        if latency > limit:
            raise _too_slow(limit, latency)
        if not getattr(resp, "choices", None):
            raise AttemptFailed("response has no choices", retryable=True, latency_s=latency)
        choice = resp.choices[0]
        text = (choice.message.content if choice.message else None) or ""
        return _completion(text, resp.model, resp.id, choice.finish_reason, resp.usage,
                           headers, latency)

    def _classify(self, exc: Exception, latency: float) -> AttemptFailed:
        openai = self._openai
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            message = f"HTTP {status} from {self.endpoint.base_url}: {_error_text(exc)}"
            return AttemptFailed(
                message, retryable=status not in NON_RETRYABLE, status_code=status,
                retry_after_s=_retry_after(exc.response.headers), latency_s=latency,
            )
        if isinstance(exc, openai.APITimeoutError):
            return AttemptFailed("request timed out", retryable=True, latency_s=latency)
        if isinstance(exc, openai.APIConnectionError):
            return AttemptFailed(f"connection failed: {exc.__cause__ or exc}", retryable=True,
                                 latency_s=latency)
        return AttemptFailed(f"broken response: {type(exc).__name__}: {exc}", retryable=True,
                             latency_s=latency)


def _too_slow(limit: float, latency: float) -> AttemptFailed:
    return AttemptFailed(
        f"no complete answer within {limit:g}s (retry.attempt_timeout_s); the response "
        "was still arriving", retryable=True, latency_s=latency,
    )


@contextlib.contextmanager
def _deadline(close: Callable[[], None], limit: float, start: float) -> Iterator[None]:
    """Close the response when the attempt's time is up, and report that, not a read error.

    httpx timeouts are per read, so a body that trickles in never trips them.
    """
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        close()

    timer = threading.Timer(max(0.0, limit - (time.monotonic() - start)), expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as exc:
        if fired.is_set():
            raise _too_slow(limit, time.monotonic() - start) from exc
        raise
    finally:
        timer.cancel()


def _error_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(exc)[:300]


def _completion(text, model, response_id, finish, usage, headers, latency) -> Completion:
    usage_dict = usage.model_dump() if usage is not None else None
    cached = None
    if usage is not None:
        details = getattr(usage, "prompt_tokens_details", None)
        cached = getattr(details, "cached_tokens", None) if details is not None else None
    return Completion(
        text=text,
        model=model or "",
        response_id=response_id,
        finish_reason=finish,
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        cached_tokens=cached,
        latency_s=latency,
        usage=usage_dict,
        headers={k.lower(): v for k, v in headers.items()},
    )
