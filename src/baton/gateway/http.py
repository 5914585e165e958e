"""The fake gateway's HTTP side: the server, and the handler that speaks the wire.

Answers (streamed or not) and faults (error statuses, resets, hangs, trickles, cut or
garbled streams, malformed content) are written here; what to answer is decided by
``FakeGateway.decide`` in ``server.py``, which this module never imports: the handler
sees the gateway only through the small ``Decider`` protocol below.
"""

from __future__ import annotations

import json
import math
import select
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from baton.gateway import tools, wires
from baton.gateway.inflight import InFlight
from baton.gateway.script import Entry, Fault, Script


class Decider(Protocol):
    """What the HTTP side needs from the gateway: its script, its state and its decisions."""

    script: Script
    verbose: bool
    _stopping: threading.Event
    in_flight: InFlight

    def models_payload(self) -> dict[str, Any]: ...
    def requests(self) -> list[dict[str, Any]]: ...
    def reset(self) -> None: ...
    def reject(self, status: int, message: str, code: str, run: str | None,
               call: str | None, stream: bool, model: Any = None) -> Plan: ...
    def decide(self, model: str, run: str | None, call: str | None, stream: bool,
               messages: Any = None, trial: str | None = None) -> Plan: ...

MALFORMED_CONTENT = '{"summary": "unterminated'
GARBLED_LINE = b'data: {"id": "chatcmpl-garbled", "choices": [{"delta": {"content": "ab\n\n'

_ERROR_KINDS = {
    400: ("invalid_request_error", "bad_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "model_not_found"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", "unprocessable_entity"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("server_error", "internal_error"),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "gateway_timeout"),
}


@dataclass
class Plan:
    """What to answer one chat request with, decided under the lock, executed outside."""

    record: dict[str, Any]
    entry: Entry | None = None
    fault: Fault | None = None
    error: tuple[int, str, str] | None = None  # status, message, code


def _tokens(chars: int) -> int:
    return math.ceil(chars / 4)


def _prompt_chars(request: dict[str, Any]) -> int:
    total = 0
    for message in request.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += len(part["text"])
    return total


def _json_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object ({} when it is not one)."""
    try:
        request = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return request if isinstance(request, dict) else {}


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], handler: type, gateway: Decider) -> None:
        self.gateway = gateway
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def close_connections(self) -> None:
        """End kept-alive connections too, so a stopped gateway answers nothing more."""
        with self.connections_lock:
            open_now = list(self.connections)
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients resetting or dropping their connections is routine here; stay quiet.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "baton-fake-gateway/1"
    server: GatewayServer

    # -- plumbing ------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    @property
    def gw(self) -> Decider:
        return self.server.gateway

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.gw.verbose:
            sys.stderr.write(f"fake-gateway: {self.address_string()} {format % args}\n")

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the gateway stops first; True if it is still running."""
        return not self.gw._stopping.wait(seconds) if seconds > 0 else True

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_error_json(self, status: int, message: str, code: str,
                         headers: dict[str, str] | None = None) -> None:
        kind = _ERROR_KINDS.get(status, ("api_error", str(status)))[0]
        error = {"message": message, "type": kind, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers)

    def _drop(self, *, rst: bool) -> None:
        """Close the connection now: with a TCP reset, or a plain FIN."""
        self.close_connection = True
        sock = self.connection
        try:
            if rst:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.rfile.close()  # releases the makefile() reference so close() really closes
        sock.close()

    def _start_stream(self, headers: dict[str, str]) -> None:
        """The status line and headers of a server-sent event stream, sent in chunks."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    # -- routes --------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/models":
            self._send_json(200, self.gw.models_payload())
        elif path == "/_gateway/requests":
            self._send_json(200, self.gw.requests())
        elif path == "/_gateway/concurrency":
            self._send_json(200, self.gw.in_flight.snapshot())
        else:
            self._send_error_json(404, f"no route GET {path}", "not_found")

    def do_POST(self) -> None:  # noqa: N802
        raw = self._read_body()
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            if path == "/v1/chat/completions":
                with self.gw.in_flight.track():
                    self._chat(raw)
            elif path in ("/v1/responses", "/v1/messages"):
                with self.gw.in_flight.track():
                    self._wire(raw, "responses" if path == "/v1/responses" else "messages")
            elif path == "/v1/messages/count_tokens":
                request = _json_object(raw)
                self._send_json(200, {"input_tokens": _tokens(wires.prompt_chars(request))})
            elif path == "/_gateway/reset":
                self.gw.reset()
                self._send_json(200, {"ok": True})
            else:
                self._send_error_json(404, f"no route POST {path}", "not_found")
        except OSError:
            # The client went away (or the socket was closed on purpose); nothing to send.
            self.close_connection = True

    def _chat(self, raw: bytes) -> None:
        run = self.headers.get("X-Baton-Run")
        call = self.headers.get("X-Baton-Call")
        trial = self.headers.get("X-Baton-Trial")
        problem: str | None
        try:
            request = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            request = None
            problem = f"request body is not valid JSON: {exc}"
        else:
            problem = None
        if not isinstance(request, dict):
            problem = problem or "request body must be a JSON object"
            plan = self.gw.reject(400, problem, "invalid_json", run, call, False)
        elif not isinstance(request.get("model"), str):
            plan = self.gw.reject(400, "you must provide a model parameter (a string)",
                                  "missing_model", run, call, bool(request.get("stream")),
                                  request.get("model"))
        else:
            plan = self.gw.decide(request["model"], run, call, bool(request.get("stream")),
                                  messages=request.get("messages"), trial=trial)
        if isinstance(request, dict) and request.get("tools"):
            plan.record["tools"] = tools.offered_names(request["tools"])  # in the request log
        if plan.error is not None:
            self._send_error_json(*plan.error)
        elif plan.fault is not None:
            assert plan.entry is not None
            self._fault(plan, request)
        else:
            assert plan.entry is not None
            self._answer(plan, request, plan.entry.content)

    # -- the Responses and Anthropic Messages wires (gateway/wires.py) --------------------

    def _wire_error(self, wire: str, status: int, message: str, code: str,
                    headers: dict[str, str] | None = None) -> None:
        if wire == "messages":
            return self._send_json(status, wires.anthropic_error(status, message), headers)
        return self._send_error_json(status, message, code, headers)

    def _wire(self, raw: bytes, wire: str) -> None:
        run = self.headers.get("X-Baton-Run")
        call = self.headers.get("X-Baton-Call")
        trial = self.headers.get("X-Baton-Trial")
        request = _json_object(raw)
        stream = bool(request.get("stream"))
        if not isinstance(request.get("model"), str):
            plan = self.gw.reject(400, "you must provide a model parameter (a string)",
                                  "missing_model", run, call, stream, request.get("model"))
        else:
            plan = self.gw.decide(request["model"], run, call, stream,
                                  messages=request.get("input" if wire == "responses"
                                                       else "messages"), trial=trial)
        plan.record["wire"] = wire
        if request.get("tools"):
            plan.record["tools"] = wires.offered_tools(request)
        if plan.error is not None:
            return self._wire_error(wire, *plan.error)
        entry = plan.entry
        assert entry is not None
        fault = plan.fault
        kind = fault.kind if fault is not None else "normal"
        config = self.gw.script.faults
        if fault is not None and kind.isdigit():
            status, headers = int(kind), {}
            if status == 429:
                after = config.retry_after_s if fault.retry_after_s is None \
                    else fault.retry_after_s
                headers["Retry-After"] = str(int(after)) if after == int(after) else str(after)
            return self._wire_error(wire, status, f"fake gateway injected fault {kind} "
                                    f"(request {plan.record['n']})",
                                    _ERROR_KINDS.get(status, ("api_error", kind))[1], headers)
        if kind == "reset":
            return self._drop(rst=True)
        if kind == "hang":
            assert fault is not None
            return self._hang(config.hang_s if fault.hang_s is None else fault.hang_s)
        if kind == "invalid_json":
            entry = entry.model_copy(update={"content": MALFORMED_CONTENT, "tool_calls": []})
        if not self._sleep(plan.record.get("latency_s", entry.latency_s)):
            return self._drop(rst=False)
        n = plan.record["n"]
        given = entry.usage
        prompt = given.prompt_tokens if given and given.prompt_tokens is not None \
            else _tokens(wires.prompt_chars(request))
        completion = given.completion_tokens if given and given.completion_tokens is not None \
            else _tokens(len(entry.content) + tools.arguments_chars(entry.tool_calls))
        cached = min(given.cached_tokens if given else 0, prompt)
        shape = wires.responses_usage if wire == "responses" else wires.messages_usage
        usage: dict[str, Any] | None = (dict(entry.raw_usage) if entry.raw_usage is not None
                                        else shape(prompt, completion, cached))
        if not entry.report_usage:
            usage = None
        headers = {"x-request-id": f"req-fake-{n}", **entry.headers}
        if not stream:
            whole = (wires.response_object if wire == "responses" else wires.message_object)
            return self._send_json(200, whole(entry, request, n, usage), headers)
        make = wires.responses_events if wire == "responses" else wires.messages_events
        events = make(entry, request, n, usage)
        half = max(1, len(events) // 2)
        if kind == "garbled":
            events.insert(half, b"data: {\"type\": \"garbled\x00\n\n")
        self._start_stream(headers)
        interval = 0.0
        if kind == "trickle":
            assert fault is not None
            interval = (config.trickle_interval_s if fault.trickle_interval_s is None
                        else fault.trickle_interval_s)
        for i, data in enumerate(events):
            if kind in ("cut", "endless") and i == half:
                if kind == "endless":
                    return self._endless_events(events[half - 1])
                return self._drop(rst=False)
            self._write_chunk(data)
            if interval and not self._sleep(interval):
                return self._drop(rst=False)
        self.wfile.write(b"0\r\n\r\n")
        return None

    def _endless_events(self, event: bytes) -> None:
        """The same event again and again until the client leaves or the gateway stops."""
        while not self.gw._stopping.is_set():
            self._write_chunk(event)
        self.close_connection = True

    # -- answers -------------------------------------------------------------------------

    def _usage(self, request: dict[str, Any], entry: Entry, content: str) -> dict[str, Any]:
        given = entry.usage
        prompt = given.prompt_tokens if given and given.prompt_tokens is not None else None
        completion = (given.completion_tokens
                      if given and given.completion_tokens is not None else None)
        prompt = _tokens(_prompt_chars(request)) if prompt is None else prompt
        if completion is None:
            completion = _tokens(len(content) + tools.arguments_chars(entry.tool_calls))
        if entry.raw_usage is not None:
            return dict(entry.raw_usage)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": given.cached_tokens if given else 0},
        }
        if entry.cost is not None:
            usage["cost"] = entry.cost
        return usage

    def _answer(self, plan: Plan, request: dict[str, Any], content: str,
                mode: str = "normal", interval: float = 0.0) -> None:
        """Send a completion: ``mode`` is normal, trickle, cut or garbled."""
        entry = plan.entry
        assert entry is not None
        if not self._sleep(plan.record.get("latency_s", entry.latency_s)):
            return self._drop(rst=False)
        n = plan.record["n"]
        headers = {"x-request-id": f"req-fake-{n}", **entry.headers}
        base = {"id": f"chatcmpl-fake-{n}", "created": int(time.time()),
                "model": request["model"], "system_fingerprint": "fake-gateway"}
        usage = self._usage(request, entry, content)
        if not request.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
            if entry.tool_calls:
                message.update(content=content or None,
                               tool_calls=tools.message_tool_calls(entry.tool_calls, n))
            payload = {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": message, "finish_reason": entry.finish_reason,
                 "logprobs": None}]}
            if not entry.report_usage:
                del payload["usage"]
            if mode == "normal":
                return self._send_json(200, payload, headers)
            body = json.dumps(payload).encode()
            if mode == "garbled":  # a raw NUL is invalid JSON inside and outside strings
                middle = len(body) // 2
                body = body[:middle] + b"\x00garbled}" + body[middle:]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if mode == "cut":
                self.wfile.write(body[: len(body) // 2])
                return self._drop(rst=False)
            if mode == "garbled":
                self.wfile.write(body)
                return None
            for piece in (body[i : i + 16] for i in range(0, len(body), 16)):
                self.wfile.write(piece)
                if not self._sleep(interval):
                    return self._drop(rst=False)
            return None

        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        include_usage = include_usage and entry.report_usage
        base["object"] = "chat.completion.chunk"

        def event(data: dict[str, Any]) -> bytes:
            return b"data: " + json.dumps(data).encode() + b"\n\n"

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            data = {**base, "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if include_usage:
                data["usage"] = None
            return event(data)

        size = 2 if mode == "trickle" else max(8, math.ceil(len(content) / 64))
        pieces = _split(content, size)
        if mode in ("cut", "garbled") and len(pieces) < 2:
            pieces = _split(content, max(1, len(content) // 2)) if len(content) > 1 else pieces
        calls = tools.stream_deltas(entry.tool_calls, n, 16 if mode == "trickle" else None)
        pieces = [p for p in pieces if p] if calls else pieces
        deltas = [{"content": p} for p in pieces] + calls
        events = [chunk({"role": "assistant", "content": ""}, None)]
        events += [chunk(d, entry.finish_reason if i == len(deltas) - 1 else None)
                   for i, d in enumerate(deltas)]
        if include_usage:
            events.append(event({**base, "choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        half = 1 + min(max(1, len(deltas) // 2), len(deltas) - 1)  # tool calls count too
        if mode == "garbled":
            events.insert(half, GARBLED_LINE)

        self._start_stream(headers)
        for i, data in enumerate(events):
            if mode == "cut" and i == half:
                return self._drop(rst=False)
            self._write_chunk(data)
            if mode == "trickle" and not self._sleep(interval):
                return self._drop(rst=False)
        self.wfile.write(b"0\r\n\r\n")
        return None

    def _fault(self, plan: Plan, request: dict[str, Any]) -> None:
        fault, entry = plan.fault, plan.entry
        assert fault is not None and entry is not None
        config = self.gw.script.faults
        kind = fault.kind
        if kind.isdigit():
            status = int(kind)
            headers: dict[str, str] = {}
            if status == 429:
                after = fault.retry_after_s
                after = config.retry_after_s if after is None else after
                headers["Retry-After"] = str(int(after)) if after == int(after) else str(after)
                headers["retry-after-ms"] = str(int(after * 1000))
            message = f"fake gateway injected fault {kind} (request {plan.record['n']})"
            code = _ERROR_KINDS.get(status, ("api_error", kind))[1]
            return self._send_error_json(status, message, code, headers)
        if kind == "reset":
            return self._drop(rst=True)
        if kind == "hang":
            return self._hang(config.hang_s if fault.hang_s is None else fault.hang_s)
        if kind == "invalid_json":
            return self._answer(plan, request, MALFORMED_CONTENT)
        if kind == "endless":
            return self._endless(request)
        interval = (config.trickle_interval_s if fault.trickle_interval_s is None
                    else fault.trickle_interval_s)
        return self._answer(plan, request, entry.content, mode=kind, interval=interval)

    def _endless(self, request: dict[str, Any]) -> None:
        """An answer that never ends: content chunks as fast as the client reads them,
        until it disconnects or the gateway stops (a stream, or one chunked JSON body)."""
        piece = "endless " * 512
        stream = bool(request.get("stream"))
        self.send_response(200)
        self.send_header("Content-Type",
                         "text/event-stream; charset=utf-8" if stream else "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {"id": "chatcmpl-endless", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": request["model"]}
        if stream:
            data = json.dumps({**base, "choices": [{"index": 0, "delta": {"content": piece},
                                                    "finish_reason": None}]})
            body = b"data: " + data.encode() + b"\n\n"
        else:
            self._write_chunk(b'{"id": "chatcmpl-endless", "object": "chat.completion", '
                              b'"choices": [{"index": 0, "message": {"role": "assistant", '
                              b'"content": "')
            body = piece.encode()
        while not self.gw._stopping.is_set():
            self._write_chunk(body)  # raises OSError once the client has gone
        self.close_connection = True

    def _hang(self, seconds: float) -> None:
        """Send nothing until ``seconds`` pass, the client leaves or the gateway stops."""
        deadline = time.monotonic() + seconds
        sock = self.connection
        while not self.gw._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            readable, _, _ = select.select([sock], [], [], min(0.1, remaining))
            if readable:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        break  # the client closed its end
                except OSError:
                    break
                self._sleep(0.1)
        self._drop(rst=False)
