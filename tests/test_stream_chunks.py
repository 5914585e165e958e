"""Streamed chunks are read as the JSON objects they are (no typed chunk per piece): odd
shapes from a misbehaving server are a clear failed attempt or are ignored, never a crash.

A hand-written server on 127.0.0.1 sends the exact bytes; the provider is baton's own,
through the official SDK.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from baton.config import Endpoint
from baton.llm.provider import AttemptFailed, ChatRequest, OpenAIProvider


def serve(events: list[bytes], seen: list[dict] | None = None):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if seen is not None:
                seen.append({"path": self.path, "headers": dict(self.headers),
                             "body": json.loads(body)})
            body = b"".join(b"data: " + e + b"\n\n" for e in events) + b"data: [DONE]\n\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def chunk(**fields) -> bytes:
    return json.dumps({"id": "c1", "model": "m", **fields}).encode()


def ask(events: list[bytes], seen: list[dict] | None = None, **fields):
    server = serve(events, seen)
    try:
        endpoint = Endpoint(base_url=f"http://127.0.0.1:{server.server_port}/v1")
        provider = OpenAIProvider(endpoint, "the-endpoint-key")
        request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                              max_tokens=100, **fields)
        return provider.complete(request, timeout_s=10)
    finally:
        server.shutdown()
        server.server_close()


def test_text_usage_and_finish_are_read_from_plain_objects():
    done = ask([chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}}]),
                chunk(choices=[{"index": 0, "delta": {"content": "Hello, "}}]),
                chunk(choices=[{"index": 0, "delta": {"content": "world"},
                                "finish_reason": "stop"}]),
                chunk(choices=[], usage={"prompt_tokens": 7, "completion_tokens": 3,
                                         "prompt_tokens_details": {"cached_tokens": 2},
                                         "cost": 0.001})])
    assert (done.text, done.finish_reason, done.model, done.response_id) == \
        ("Hello, world", "stop", "m", "c1")
    assert (done.input_tokens, done.output_tokens, done.cached_tokens) == (7, 3, 2)
    assert done.usage["cost"] == 0.001


def test_pieces_of_the_wrong_shape_are_ignored():
    done = ask([chunk(choices="not a list"), chunk(choices=[17, {"delta": "text?"}]),
                chunk(choices=[{"delta": {"content": 5}}]),
                chunk(choices=[{"delta": {"content": "ok"}, "finish_reason": "stop"}]),
                chunk(usage="lots")])
    assert (done.text, done.finish_reason, done.input_tokens) == ("ok", "stop", None)


@pytest.mark.parametrize("event, message", [
    (b"42", "a stream chunk is int, not an object"),
    (b'["a"]', "a stream chunk is list, not an object"),
    (b'{"error": {"message": "overloaded"}}', "overloaded"),
    (b'{"choices": [{"delta": {"content": "ab', "broken response"),
])
def test_a_chunk_that_is_no_chunk_fails_the_attempt_clearly(event, message):
    with pytest.raises(AttemptFailed) as failed:
        ask([chunk(choices=[{"delta": {"content": "a"}}]), event])
    assert message in str(failed.value)
    assert failed.value.retryable


def test_the_request_is_the_body_baton_built_with_the_endpoints_key_only(monkeypatch):
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "admin-key-never-sent")
    seen: list[dict] = []
    done = ask([chunk(choices=[{"index": 0, "delta": {"content": "ok"},
                                "finish_reason": "stop"}])], seen,
               temperature=0.2, headers={"X-Baton-Run": "r1"})
    assert done.text == "ok"
    [request] = seen
    assert request["path"] == "/v1/chat/completions"
    assert request["body"] == {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                               "max_tokens": 100, "temperature": 0.2, "stream": True,
                               "stream_options": {"include_usage": True}}
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["authorization"] == "Bearer the-endpoint-key"
    assert headers["x-baton-run"] == "r1"
    assert "admin-key-never-sent" not in json.dumps(request)
