"""The one seam to model endpoints: messages in; text, usage and latency out.

``OpenAIProvider`` talks to any OpenAI-compatible endpoint through the official SDK with
the SDK's own retries turned off: retrying is done once, in ``retry.py``.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import math
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from baton.config import Endpoint
from baton.errors import ConfigError
from baton.llm.tools import ToolCall, ToolCallCollector, encode_answer, from_message
from baton.secrets import remember_secret

if TYPE_CHECKING:  # the SDK is imported when the first provider is made
    from openai import RequestOptions

# A token count above this is not a real count (no model has a context this large).
ABSURD_TOKENS = 100_000_000
# Characters one output token may stand for, at most, when bounding a response's size.
CHARS_PER_TOKEN_BOUND = 32
RESPONSE_SLACK_CHARS = 65_536


def response_bound_chars(max_tokens: int) -> int:
    """The most characters of answer accepted for ``max_tokens``; past it, cut and failed."""
    return max(max_tokens, 0) * CHARS_PER_TOKEN_BOUND + RESPONSE_SLACK_CHARS


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
    tools: list[dict[str, Any]] | None = None
    """Function tools offered (``llm/tools.py``); their calls come back in the answer's text."""
    adapt: Callable[[str], ChatRequest] | None = field(default=None, compare=False, repr=False)
    """The request for a fallback model, when it is asked differently (its own prompt and
    tools: the implementer's edit format by vendor); None: the same request."""


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
    usage_problems: list[str] = field(default_factory=list)
    """Reported numbers that were unusable (negative, not finite, absurd) and dropped."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """The answer's tool calls; ``text`` holds them too (``tools.encode_answer``)."""


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
        billed: bool = False,
    ) -> None:
        super().__init__(message)
        self.billed = billed
        """The provider produced (and may bill) output before this failure: count the
        call's worst case against budgets."""
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
        remember_secret(key)  # masked everywhere from now on, whatever the variable's name
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


@functools.lru_cache(maxsize=4)
def _tls_context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    import httpx2

    return httpx2.create_ssl_context()


def _tls_context() -> ssl.SSLContext:
    """One TLS context per process (loading the CA store costs about 0.25 s of CPU, which
    every run of a comparison paid again); remade if SSL_CERT_FILE or SSL_CERT_DIR change."""
    return _tls_context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


class OpenAIProvider:
    """An OpenAI-compatible endpoint reached through the official ``openai`` SDK.

    One per endpoint and key in a process (its ``max_concurrency`` is one semaphore); the
    endpoint's configured headers travel on each request (``ChatRequest.headers``)."""

    def __init__(self, endpoint: Endpoint, api_key: str) -> None:
        import openai

        self._openai = openai
        self.endpoint = endpoint
        self._client = openai.OpenAI(
            base_url=endpoint.base_url,
            api_key=api_key,
            max_retries=0,
            http_client=openai.DefaultHttpxClient(verify=_tls_context()),
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

        body: dict[str, Any] = {"model": request.model, "messages": request.messages,
                                "max_tokens": request.max_tokens}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = request.tools
        timeout = httpx2.Timeout(timeout_s, connect=min(10.0, timeout_s))
        if not request.stream:
            # Streamed at the HTTP level so the deadline can close a trickling body.
            with self._client.chat.completions.with_streaming_response.create(
                    **body, timeout=timeout, extra_headers=request.headers or None) as raw:
                with _deadline(raw.close, timeout_s, start):
                    answer = _read_bounded(raw, response_bound_chars(request.max_tokens) * 4,
                                           request.max_tokens, start)
                    return self._from_body(answer, dict(raw.headers), start, timeout_s)
        # The SDK's own request and stream (its headers, errors, SSE decoding, errors
        # mid-stream), with the body as baton built it (``post``: the SDK's documented way
        # to send a body as it is) and each chunk as the JSON object it is: the typed walk
        # of the parameters and a typed chunk per piece were most of a call's CPU time.
        # The key of this endpoint only, as ``create`` sends it (the SDK's default for a
        # plain ``post`` would also send an OPENAI_ADMIN_KEY from the environment).
        options: RequestOptions = {"timeout": timeout, "security": {"bearer_auth": True}}
        if request.headers:
            options["headers"] = request.headers
        stream = self._client.post(
            "/chat/completions", cast_to=object, options=options, stream=True,
            stream_cls=self._openai.Stream[object],
            body={**body, "stream": True, "stream_options": {"include_usage": True}})
        try:
            with _deadline(stream.close, timeout_s, start):
                return self._collect(stream, dict(stream.response.headers), start, timeout_s,
                                     response_bound_chars(request.max_tokens),
                                     request.max_tokens, request.on_text)
        finally:
            stream.close()

    def _collect(self, stream: Any, headers: dict[str, str], start: float, limit: float,
                 bound: int, max_tokens: int,
                 on_text: Callable[[str], None] | None = None):
        parts: list[str] = []
        size = 0
        finish = response_id = model = None
        calls = ToolCallCollector()
        usage = None
        for chunk in stream:
            if time.monotonic() - start > limit:
                raise _too_slow(limit, time.monotonic() - start)
            if not isinstance(chunk, dict):
                raise AttemptFailed(f"broken response: a stream chunk is {type(chunk).__name__}"
                                    ", not an object", retryable=True,
                                    latency_s=time.monotonic() - start)
            response_id = response_id or _str(chunk.get("id"))
            model = model or _str(chunk.get("model"))
            if isinstance(chunk.get("usage"), dict):
                usage = chunk["usage"]
            choices = chunk.get("choices")
            for choice in choices if isinstance(choices, list) else ():
                if not isinstance(choice, dict):
                    continue
                delta = choice.get("delta")
                content = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(content, str) and content:
                    parts.append(content)
                    size += len(content)
                    if size > bound:
                        raise _too_big(bound, max_tokens, time.monotonic() - start)
                    if on_text is not None:
                        on_text(content)
                if isinstance(delta, dict) and delta.get("tool_calls"):
                    added = calls.add(delta["tool_calls"])
                    size += added
                    if size > bound:
                        raise _too_big(bound, max_tokens, time.monotonic() - start)
                    if on_text is not None and added:
                        on_text(" " * added)  # the live display counts characters only
                if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]:
                    finish = choice["finish_reason"]
        latency = time.monotonic() - start
        if latency > limit:
            raise _too_slow(limit, latency)
        if finish is None:
            raise AttemptFailed(
                "stream ended before the answer was complete (no finish reason)",
                retryable=True, latency_s=latency,
            )
        return _completion("".join(parts), model, response_id, finish, usage, headers,
                           latency, calls.calls())

    def _from_body(self, body: bytes, headers: dict[str, str], start: float,
                   limit: float) -> Completion:
        latency = time.monotonic() - start
        if latency > limit:
            raise _too_slow(limit, latency)
        data = json.loads(body)
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise AttemptFailed("response has no choices", retryable=True, latency_s=latency)
        choice = choices[0]
        message = choice.get("message")
        message = message if isinstance(message, dict) else {}
        text = message.get("content") if isinstance(message.get("content"), str) else ""
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
        finish = choice.get("finish_reason")
        return _completion(text, _str(data.get("model")), _str(data.get("id")),
                           finish if isinstance(finish, str) else None, usage, headers,
                           latency, from_message(message))

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


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _too_big(bound: int, max_tokens: int, latency: float) -> AttemptFailed:
    return AttemptFailed(
        f"the response passed {bound} characters, more than max_tokens={max_tokens} can "
        "produce; it was cut off there and treated as failed (a misbehaving provider)",
        retryable=False, latency_s=latency, billed=True,
    )


def _read_bounded(raw: Any, bound_bytes: int, max_tokens: int, start: float) -> bytes:
    """The response body, refused once it passes ``bound_bytes`` (never all held first)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in raw.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > bound_bytes:
            raise _too_big(bound_bytes, max_tokens, time.monotonic() - start)
    return b"".join(chunks)


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


def _count(name: str, value: Any, problems: list[str]) -> int | None:
    """A reported token count, or ``None`` (with a note) when it is not a usable count."""
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    if number is None or number < 0 or number > ABSURD_TOKENS:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        problems.append(f"{name}={shown}")
        return None
    return number


def _completion(text, model, response_id, finish, usage, headers, latency,
                tool_calls: list[ToolCall] | None = None) -> Completion:
    """A completion from the answer and its usage dict; unusable counts become ``None``.

    Tool calls are put after the text (``tools.encode_answer``): recorded, replayed and
    counted with it."""
    problems: list[str] = []
    input_tokens = output_tokens = cached = None
    if isinstance(usage, dict):
        input_tokens = _count("prompt_tokens", usage.get("prompt_tokens"), problems)
        output_tokens = _count("completion_tokens", usage.get("completion_tokens"), problems)
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict):
            cached = _count("cached_tokens", details.get("cached_tokens"), problems)
        if cached is not None and input_tokens is not None:
            cached = min(cached, input_tokens)
        cost = usage.get("cost")
        if cost is not None and not (isinstance(cost, int | float) and not isinstance(cost, bool)
                                     and math.isfinite(cost) and cost >= 0):
            problems.append(f"cost={cost!r}"[:60])
    return Completion(
        text=encode_answer(text, tool_calls or []),
        tool_calls=list(tool_calls or []),
        model=model or "",
        response_id=response_id,
        finish_reason=finish,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=cached,
        latency_s=latency,
        usage=_safe_usage(usage) if isinstance(usage, dict) else None,
        headers={k.lower(): v for k, v in headers.items()},
        usage_problems=problems,
    )


def _safe_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """The usage dict with huge integers and non-finite floats made harmless for JSON."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**18:
            return str(value)[:40]
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value
    return clean(usage)
