"""The fake gateway's Responses and Anthropic Messages wires, read by real clients: the
``openai`` SDK's Responses API, and plain HTTP with an SSE parser for Messages."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest

from baton.gateway.server import FakeGateway

SCRIPT = {"models": {
    "coder": [{"content": "I will write it.",
               "tool_calls": [{"name": "Write", "arguments": {"file_path": "a.txt",
                                                              "content": "hi\n"}}],
               "usage": {"prompt_tokens": 120, "completion_tokens": 30, "cached_tokens": 20}},
              "All done."],
    "slow": [{"content": "late", "faults": ["hang:30"]}],
    "busy": [{"content": "x", "faults": ["429:7"]}],
}}


def _sse(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_responses_api_streams_text_function_calls_and_usage_to_the_sdk():
    with FakeGateway(SCRIPT) as gw:
        client = openai.OpenAI(base_url=gw.base_url, api_key="x", max_retries=0)
        stream = client.responses.create(model="coder", input="write a.txt", stream=True,
                                         tools=[{"type": "function", "name": "Write",
                                                 "parameters": {"type": "object"}}])
        events = list(stream)
        kinds = [e.type for e in events]
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        assert [e.sequence_number for e in events] == list(range(len(events)))
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == "I will write it."
        done = events[-1].response
        call = [o for o in done.output if o.type == "function_call"][0]
        assert call.name == "Write" and json.loads(call.arguments)["content"] == "hi\n"
        assert (done.usage.input_tokens, done.usage.output_tokens) == (120, 30)
        assert done.usage.input_tokens_details.cached_tokens == 20
        whole = client.responses.create(model="coder", input="and now?")
        assert whole.output_text == "All done." and whole.status == "completed"
        log = gw.requests()
        assert [r["wire"] for r in log] == ["responses", "responses"]
        assert log[0]["tools"] == ["Write"]


def test_messages_api_streams_text_and_tool_use_and_counts_tokens():
    with FakeGateway(SCRIPT) as gw:
        url = f"http://127.0.0.1:{gw.port}/v1/messages"
        body = {"model": "coder", "max_tokens": 100, "stream": True,
                "messages": [{"role": "user", "content": "write a.txt"}]}
        reply = httpx2.post(url, json=body, headers={"x-api-key": "k"}, timeout=10)
        assert reply.status_code == 200
        events = _sse(reply.text)
        assert [k for k, _ in events][0] == "message_start"
        assert [k for k, _ in events][-2:] == ["message_delta", "message_stop"]
        text = "".join(d["delta"]["text"] for k, d in events
                       if k == "content_block_delta" and d["delta"]["type"] == "text_delta")
        assert text == "I will write it."
        tool = [d["content_block"] for k, d in events if k == "content_block_start"
                and d["content_block"]["type"] == "tool_use"][0]
        args = "".join(d["delta"]["partial_json"] for k, d in events
                       if k == "content_block_delta"
                       and d["delta"]["type"] == "input_json_delta")
        assert tool["name"] == "Write" and json.loads(args)["file_path"] == "a.txt"
        delta = [d for k, d in events if k == "message_delta"][0]
        assert delta["delta"]["stop_reason"] == "tool_use"
        assert delta["usage"]["output_tokens"] == 30
        start = events[0][1]["message"]["usage"]
        assert (start["input_tokens"], start["cache_read_input_tokens"]) == (100, 20)
        whole = httpx2.post(url, json={**body, "stream": False}, timeout=10).json()
        assert whole["content"] == [{"type": "text", "text": "All done."}]
        assert whole["stop_reason"] == "end_turn"
        counted = httpx2.post(url + "/count_tokens", json={"model": "coder", "messages": [
            {"role": "user", "content": "x" * 400}]}, timeout=10).json()
        assert counted == {"input_tokens": 100}
        assert [r["wire"] for r in gw.requests()] == ["messages", "messages"]


def test_faults_on_the_agent_wires_speak_each_protocols_errors():
    with FakeGateway(SCRIPT) as gw:
        busy = httpx2.post(f"http://127.0.0.1:{gw.port}/v1/messages",
                           json={"model": "busy", "messages": []}, timeout=10)
        assert busy.status_code == 429 and busy.headers["retry-after"] == "7"
        assert busy.json()["error"]["type"] == "rate_limit_error"
        unknown = httpx2.post(f"http://127.0.0.1:{gw.port}/v1/responses",
                              json={"model": "nobody", "input": "x"}, timeout=10)
        assert unknown.status_code == 404 and "nobody" in unknown.json()["error"]["message"]
        with pytest.raises(httpx2.ReadTimeout):
            httpx2.post(f"http://127.0.0.1:{gw.port}/v1/responses",
                        json={"model": "slow", "input": "x", "stream": True}, timeout=1.0)
