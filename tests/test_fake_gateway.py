"""The fake gateway, driven over real HTTP by the real openai SDK."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from baton.errors import ConfigError
from baton.gateway.script import Script
from baton.gateway.server import FakeGateway, load_script

BATON = Path(sys.executable).parent / "baton"
MESSAGES = [{"role": "user", "content": "x" * 40}]  # 10 prompt tokens


@pytest.fixture
def serve():
    """Start gateways for a test and stop them all afterwards."""
    started: list[FakeGateway] = []

    def start(script, **kwargs) -> tuple[FakeGateway, openai.OpenAI]:
        gw = FakeGateway(script, **kwargs).start()
        started.append(gw)
        client = openai.OpenAI(base_url=gw.base_url, api_key="test", max_retries=0, timeout=10)
        return gw, client

    yield start
    for gw in started:
        gw.stop()


def ask(client: openai.OpenAI, model: str = "m", **kwargs) -> str | None:
    response = client.chat.completions.create(model=model, messages=MESSAGES, **kwargs)
    return response.choices[0].message.content


def read_stream(stream) -> tuple[str, list[str | None], list]:
    """Content, finish reasons and usages seen in a stream, until it ends or raises."""
    text, finishes, usages = "", [], []
    for chunk in stream:
        if chunk.usage is not None:
            usages.append(chunk.usage)
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finishes.append(choice.finish_reason)
    return text, finishes, usages


# -- answers ---------------------------------------------------------------------------------


def test_non_streaming_completion_with_usage_cost_and_headers(serve):
    gw, client = serve({"models": {"m": [
        {"content": "hello there", "cost": 0.012, "headers": {"x-litellm-response-cost": "0.01"}},
        {"content": "second", "usage": {"prompt_tokens": 1200, "completion_tokens": 300,
                                         "cached_tokens": 1000}, "finish_reason": "length"},
    ]}})
    raw = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert raw.headers["x-litellm-response-cost"] == "0.01"
    first = raw.parse()
    assert first.object == "chat.completion" and first.id and first.created > 0
    assert first.model == "m"
    assert first.choices[0].message.content == "hello there"
    assert first.choices[0].finish_reason == "stop"
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (10, 3)
    assert first.usage.total_tokens == 13
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert first.usage.model_extra["cost"] == pytest.approx(0.012)

    second = client.chat.completions.create(model="m", messages=MESSAGES)
    assert second.choices[0].finish_reason == "length"
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (1200, 300)
    assert second.usage.prompt_tokens_details.cached_tokens == 1000


def test_streaming_with_usage(serve):
    content = "The plan: " + "step by step, " * 20
    gw, client = serve({"models": {"m": [
        {"content": content, "headers": {"x-custom": "yes"}, "cost": 0.5},
        "short",
    ]}})
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    assert raw.headers["x-custom"] == "yes"
    text, finishes, usages = read_stream(raw.parse())
    assert text == content
    assert len(finishes) > 3  # split into several chunks
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    assert len(usages) == 1
    assert usages[0].prompt_tokens == 10
    assert usages[0].completion_tokens == -(-len(content) // 4)
    assert usages[0].model_extra["cost"] == 0.5

    text, finishes, usages = read_stream(
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert (text, finishes[-1], usages) == ("short", "stop", [])


def test_latency_is_applied(serve):
    gw, client = serve({"models": {"m": [{"content": "slow", "latency_s": 0.3}]}})
    started = time.monotonic()
    assert ask(client) == "slow"
    assert time.monotonic() - started >= 0.3


def test_latency_jitter_draws_each_wait_and_logs_it(serve):
    gw, client = serve({"models": {"m": [{"content": "varied", "latency_s": 0.1,
                                          "latency_jitter_s": 0.08}]}, "repeat_last": True,
                        "faults": {"seed": 3}})
    took = []
    for _ in range(6):
        started = time.monotonic()
        assert ask(client) == "varied"
        took.append(time.monotonic() - started)
    waits = [r["latency_s"] for r in gw.requests()]
    assert all(0.02 <= w <= 0.18 for w in waits) and len(set(waits)) == 6
    assert all(t >= w for t, w in zip(took, waits, strict=True))  # each waited its draw


def test_models_endpoint_lists_scripted_models(serve):
    gw, client = serve({"models": {"a": ["1"], "b": ["2"], "*": ["3"]}})
    assert sorted(model.id for model in client.models.list()) == ["a", "b"]


# -- queues, runs and call keys ----------------------------------------------------------------


def test_each_model_has_its_own_ordered_queue(serve):
    gw, client = serve({"models": {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"]}})
    got = [ask(client, m) for m in ("a", "b", "a", "a", "b")]
    assert got == ["a1", "b1", "a2", "a3", "b2"]
    assert [r["entry_index"] for r in gw.requests()] == [0, 0, 1, 2, 1]


def test_catch_all_serves_unlisted_models_from_one_queue(serve):
    gw, client = serve({"models": {"a": ["a1"], "*": ["any1", "any2"]}})
    assert [ask(client, "x"), ask(client, "a"), ask(client, "y")] == ["any1", "a1", "any2"]


def test_each_run_gets_its_own_copy_of_the_queues(serve):
    gw, client = serve({"models": {"m": ["one", "two", "three"]}})

    def run_ask(run: str) -> str | None:
        return ask(client, extra_headers={"X-Baton-Run": run})

    assert [run_ask("r1"), run_ask("r1"), run_ask("r2"), ask(client), run_ask("r1")] == [
        "one", "two", "one", "one", "three"]
    assert [r["run"] for r in gw.requests()] == ["r1", "r1", "r2", None, "r1"]


def test_call_key_replays_the_same_entry_without_advancing(serve):
    gw, client = serve({"models": {"m": ["first", "second", "third"]}})

    def call(key: str | None, run: str = "r") -> str | None:
        headers = {"X-Baton-Run": run} | ({"X-Baton-Call": key} if key else {})
        return ask(client, extra_headers=headers)

    assert call("planner/p1") == "first"
    assert call("implementer/p1/r1") == "second"
    assert call("planner/p1") == "first"  # the resumed client repeats an in-flight call
    assert call(None) == "third"
    assert call("planner/p1", run="other") == "first"  # keys are per run
    log = gw.requests()
    assert [r["replay"] for r in log] == [False, False, True, False, False]
    assert [r["entry_index"] for r in log] == [0, 1, 0, 2, 0]
    assert log[2]["call"] == "planner/p1"


def test_hundred_concurrent_runs_each_get_their_own_sequence(serve):
    gw, client = serve({"models": {
        "planner": [{"content": "plan", "latency_s": 0.01}],
        "coder": ["code-1", "code-2"],
    }})

    def one_run(i: int) -> list[str | None]:
        headers = {"X-Baton-Run": f"run-{i}"}
        return [ask(client, model, extra_headers=headers)
                for model in ("planner", "coder", "coder")]

    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(one_run, range(100)))
    assert results == [["plan", "code-1", "code-2"]] * 100
    log = gw.requests()
    assert len(log) == 300 and sorted(r["n"] for r in log) == list(range(1, 301))
    assert all(r["status"] == 200 for r in log)


# -- scripted errors ---------------------------------------------------------------------------


def test_unknown_model_is_404_openai_style(serve):
    gw, client = serve({"models": {"m": ["x"]}})
    with pytest.raises(openai.NotFoundError) as info:
        ask(client, "nope")
    error = info.value.response.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    assert "nope" in error["message"] and error["code"] == "model_not_found"
    assert gw.requests()[0]["status"] == 404


def test_exhausted_script_is_a_clear_500(serve):
    gw, client = serve({"models": {"m": ["only"]}})
    assert ask(client) == "only"
    with pytest.raises(openai.InternalServerError) as info:
        ask(client)
    assert "fake gateway script exhausted for model m (request 2)" in str(info.value)


def test_repeat_last_serves_the_last_entry_forever(serve):
    gw, client = serve({"models": {"m": ["a", "b"], "n": {"entries": ["x"], "repeat_last": False}},
                        "repeat_last": True})
    assert [ask(client) for _ in range(4)] == ["a", "b", "b", "b"]
    assert ask(client, "n") == "x"
    with pytest.raises(openai.InternalServerError):
        ask(client, "n")


# -- faults ------------------------------------------------------------------------------------


def test_scheduled_faults_come_in_order_then_the_entry(serve):
    gw, client = serve({"models": {"m": [
        {"content": "finally", "faults": ["503", "429", {"kind": "500"}, "400"]}, "next"]}})
    seen = []
    for expected in (openai.InternalServerError, openai.RateLimitError,
                     openai.InternalServerError, openai.BadRequestError):
        with pytest.raises(expected) as info:
            ask(client)
        seen.append(info.value.status_code)
    assert seen == [503, 429, 500, 400]
    assert ask(client) == "finally"
    assert ask(client) == "next"
    log = gw.requests()
    assert [r["fault"] for r in log] == ["503", "429", "500", "400", None, None]
    assert [r["entry_index"] for r in log] == [0, 0, 0, 0, 0, 1]
    assert [r["fault_source"] for r in log][:4] == ["schedule"] * 4


def test_scheduled_faults_are_per_call_key(serve):
    gw, client = serve({"models": {"m": [{"content": "ok", "faults": ["502"]}]}})
    with pytest.raises(openai.InternalServerError):
        ask(client, extra_headers={"X-Baton-Call": "a"})
    assert ask(client, extra_headers={"X-Baton-Call": "a"}) == "ok"
    assert ask(client, extra_headers={"X-Baton-Call": "a"}) == "ok"  # replay, no more faults


def test_429_carries_retry_after(serve):
    gw, client = serve({"models": {"m": [{"content": "ok", "faults": [
        "429:3600", {"kind": "429", "retry_after_s": 2}, "429"]}]},
        "faults": {"retry_after_s": 7}})
    values = []
    for _ in range(3):
        with pytest.raises(openai.RateLimitError) as info:
            ask(client)
        values.append(info.value.response.headers["retry-after"])
    assert values == ["3600", "2", "7"]
    assert ask(client) == "ok"


def test_reset_is_a_connection_error(serve):
    gw, client = serve({"models": {"m": [{"content": "ok", "faults": ["reset"]}]}})
    with pytest.raises(openai.APIConnectionError):
        ask(client)
    assert ask(client) == "ok"
    assert gw.requests()[0]["status"] is None


def test_cut_stream_never_finishes(serve):
    content = "a fairly long answer that will be cut in the middle of the stream"
    gw, client = serve({"models": {"m": [{"content": content, "faults": ["cut", "cut"]}]}})
    text, finishes = "", []
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            text += chunk.choices[0].delta.content or ""
            finishes.append(chunk.choices[0].finish_reason)
    assert text and content.startswith(text) and text != content
    assert all(f is None for f in finishes)
    with pytest.raises(openai.APIConnectionError):  # non-stream: truncated body
        ask(client)
    assert ask(client) == content


def test_garbled_stream_does_not_complete(serve):
    gw, client = serve({"models": {"m": [{"content": "some streamed text here",
                                          "faults": ["garbled", "garbled"]}]}})
    with pytest.raises(ValueError):  # non-stream: a 200 whose JSON body is broken
        ask(client)
    finishes: list[str | None] = []
    with pytest.raises((ValueError, openai.APIError)):  # the SDK raises json.JSONDecodeError
        for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
            finishes.extend(c.finish_reason for c in chunk.choices)
    assert all(f is None for f in finishes)
    text, finishes, _ = read_stream(
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert (text, finishes[-1]) == ("some streamed text here", "stop")


def test_invalid_json_content_then_the_real_answer(serve):
    gw, client = serve({"models": {"m": [{"content": '{"summary": "ok"}',
                                          "faults": ["invalid_json", "invalid_json"]}]}})
    bad = ask(client)
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad)
    text, _, _ = read_stream(
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert json.loads(ask(client)) == {"summary": "ok"}


def test_hang_times_out_and_does_not_block_stop(serve):
    gw, client = serve({"models": {"m": [{"content": "ok", "faults": ["hang", "hang:0.2"]}]}})
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).chat.completions.create(model="m", messages=MESSAGES)
    assert time.monotonic() - started < 8
    with pytest.raises(openai.APIConnectionError):  # hang:0.2 then closed, nothing sent
        ask(client)
    assert ask(client) == "ok"

    gw2, client2 = serve({"models": {"m": [{"content": "ok", "faults": ["hang"]}]}})
    outcome: list[object] = []

    def hang_forever() -> None:
        try:
            outcome.append(ask(client2))
        except openai.APIConnectionError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=hang_forever, daemon=True)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    gw2.stop()
    thread.join(5)
    assert time.monotonic() - started < 8 and not thread.is_alive()
    assert isinstance(outcome[0], openai.APIConnectionError)


def test_trickle_delivers_slowly(serve):
    content = "0123456789" * 2
    gw, client = serve({"models": {"m": [{"content": content,
                                          "faults": ["trickle:0.02", "trickle:0.01"]}]}})
    started = time.monotonic()
    text, finishes, _ = read_stream(
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert text == content and finishes[-1] == "stop"
    assert time.monotonic() - started >= 10 * 0.02  # 2 characters per chunk
    started = time.monotonic()
    assert ask(client) == content
    assert time.monotonic() - started >= 0.1
    assert ask(client) == content  # faults used up: served at once
    assert [r["fault"] for r in gw.requests()] == ["trickle", "trickle", None]


def test_random_faults_hit_the_rate_and_never_consume_entries(serve):
    script = {"models": {"m": [f"e{i}" for i in range(140)]},
              "faults": {"rate": 0.3, "seed": 7, "kinds": ["429", "500", "503", "reset"],
                         "retry_after_s": 0}}
    gw, client = serve(script)

    def run_all() -> tuple[list[str | None], list]:
        answers = []
        while len(answers) < 140:
            try:
                answers.append(ask(client))
            except (openai.APIStatusError, openai.APIConnectionError):
                pass
        return answers, [r["fault"] for r in gw.requests()]

    answers, faults = run_all()
    assert answers == [f"e{i}" for i in range(140)]
    assert len(faults) >= 180
    rate = sum(f is not None for f in faults) / len(faults)
    assert 0.2 < rate < 0.4
    assert {f for f in faults if f} == {"429", "500", "503", "reset"}

    urllib.request.urlopen(urllib.request.Request(  # noqa: S310
        gw.base_url.removesuffix("/v1") + "/_gateway/reset", method="POST", data=b""))
    assert run_all() == (answers, faults)  # same seed: same faults on the same requests


# -- request log, loading, CLI -----------------------------------------------------------------


def test_request_log_over_http(serve):
    gw, client = serve({"models": {"m": ["a"]}})
    ask(client, extra_headers={"X-Baton-Run": "r", "X-Baton-Call": "k"})
    with urllib.request.urlopen(gw.base_url.removesuffix("/v1") + "/_gateway/requests") as resp:
        log = json.loads(resp.read())
    assert log == gw.requests()
    entry = log[0]
    assert {k: entry[k] for k in ("n", "model", "run", "call", "stream", "status", "fault",
                                  "entry_index", "replay")} == {
        "n": 1, "model": "m", "run": "r", "call": "k", "stream": False, "status": 200,
        "fault": None, "entry_index": 0, "replay": False}
    assert entry["ts"] > 0


def test_load_script_accepts_dicts_and_files_and_explains_errors(tmp_path):
    script = {"models": {"m": ["hi", {"content": "x", "faults": ["hang:2"]}]}}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(script))
    assert load_script(path) == load_script(script) == load_script(str(path))
    assert isinstance(load_script(script), Script)
    assert load_script(script).models["m"].entries[1].faults[0].hang_s == 2

    with pytest.raises(ConfigError, match="file not found"):
        load_script(tmp_path / "missing.json")
    path.write_text('{"models": ')
    with pytest.raises(ConfigError, match=r"invalid JSON at line 1"):
        load_script(path)
    with pytest.raises(ConfigError, match=r"models\.m\.entries\.0\.faults\.0\.kind: unknown fault"):
        load_script({"models": {"m": [{"content": "x", "faults": ["teapot"]}]}})
    with pytest.raises(ConfigError, match=r"faults\.rate"):
        load_script({"models": {}, "faults": {"rate": 2}})
    with pytest.raises(ConfigError, match="Extra inputs"):
        load_script({"models": {}, "modles": {}})
    with pytest.raises(ConfigError, match="loopback"):
        FakeGateway({"models": {}}, host="0.0.0.0")


def test_cli_serves_until_terminated(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"models": {"m": ["from the cli"]}}))
    proc = subprocess.Popen(
        [str(BATON), "fake-gateway", "--script", str(script), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "fake gateway serving scripted responses at http://127.0.0.1:" in line
        url = line.split(" at ", 1)[1].split()[0]
        client = openai.OpenAI(base_url=url, api_key="test", max_retries=0, timeout=10)
        assert ask(client) == "from the cli"
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_reports_bad_scripts(tmp_path):
    script = tmp_path / "bad.json"
    script.write_text(json.dumps({"models": {"m": [{"contents": "typo"}]}}))
    result = subprocess.run(
        [str(BATON), "fake-gateway", "--script", str(script)],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "baton: error:" in result.stderr and "models.m.entries.0" in result.stderr


def test_stopped_gateway_answers_nothing_on_kept_alive_connections(serve):
    gw, client = serve({"models": {"m": ["a", "b"]}})
    assert ask(client) == "a"  # leaves a kept-alive connection in the client's pool
    gw.stop()
    with pytest.raises(openai.APIConnectionError):
        ask(client)
    assert len(gw.requests()) == 1


@pytest.mark.parametrize("status, error", [
    ("401", openai.AuthenticationError), ("403", openai.PermissionDeniedError),
    ("404", openai.NotFoundError), ("422", openai.UnprocessableEntityError),
    ("502", openai.InternalServerError), ("504", openai.InternalServerError),
])
def test_error_statuses_map_to_sdk_errors(serve, status, error):
    gw, client = serve({"models": {"m": [{"content": "ok", "faults": [status]}]}})
    with pytest.raises(error) as info:
        ask(client)
    body = info.value.response.json()["error"]
    assert info.value.status_code == int(status) and body["message"] and body["type"]
    assert ask(client) == "ok"


def test_trickle_slower_than_read_timeout_times_out(serve):
    gw, client = serve({"models": {"m": [{"content": "ok", "faults": ["trickle:0.5"]}]}})
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).chat.completions.create(model="m", messages=MESSAGES)
    assert ask(client) == "ok"
