"""Tool calls over chat completions: offered, collected (whole and in streamed pieces),
bounded, counted and recorded; a crash in the middle of a tool-call answer is resumed
without paying for any recorded call twice.

The provider is baton's own, through the official SDK, against the real fake gateway.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PLANNER, REVIEWER, demo_script, events, fence, run_json
from test_crash_resume import kill, run_dir_of, start_baton

from baton.config import Endpoint
from baton.demo import make_sample_repo
from baton.gateway.server import FakeGateway
from baton.llm.provider import AttemptFailed, ChatRequest, OpenAIProvider
from baton.llm.tools import TOOLS_BY_FORMAT, decode_answer

PATCH = ("*** Begin Patch\n*** Add File: notes/todo.md\n"
         + "".join(f"+item {n}: a line long enough to need several pieces\n" for n in range(40))
         + "*** End Patch\n")
CALLS = [{"name": "apply_patch", "arguments": {"input": PATCH}, "id": "call_a"},
         {"name": "str_replace_based_edit_tool",
          "arguments": {"command": "create", "path": "x.py", "file_text": "X = 1\n"}}]


@pytest.fixture
def gateway():
    gw = FakeGateway({"models": {"m": {"entries": [
        {"content": "Here is the patch.", "tool_calls": CALLS, "cost": 0.002}],
        "repeat_last": True}}}).start()
    yield gw
    gw.stop()


def ask(gw: FakeGateway, *, stream: bool, max_tokens: int = 4096):
    provider = OpenAIProvider(Endpoint(base_url=gw.base_url), "no-key")
    tools = TOOLS_BY_FORMAT["apply_patch"] + TOOLS_BY_FORMAT["editor_tool"]
    return provider.complete(ChatRequest(model="m", messages=[{"role": "user", "content": "go"}],
                                         max_tokens=max_tokens, stream=stream, tools=tools),
                             timeout_s=20)


@pytest.mark.parametrize("stream", [True, False])
def test_tool_calls_are_offered_collected_and_recorded_with_the_text(gateway, stream):
    done = ask(gateway, stream=stream)
    arguments = [json.dumps(c["arguments"]) for c in CALLS]
    assert [(c.id, c.name, c.arguments) for c in done.tool_calls] == [
        ("call_a", "apply_patch", arguments[0]),
        ("call_fake_1_1", "str_replace_based_edit_tool", arguments[1])]
    assert done.finish_reason == "tool_calls"
    # The text holds the calls too, so recording the text records them, and reads back.
    text, calls = decode_answer(done.text)
    assert text == "Here is the patch." and calls == done.tool_calls
    assert json.loads(calls[0].arguments)["input"] == PATCH
    # Usage counts the calls' characters as output (the gateway's chars / 4 rule).
    chars = len("Here is the patch.") + sum(len(c["name"]) + len(a)
                                            for c, a in zip(CALLS, arguments, strict=True))
    assert done.output_tokens == -(-chars // 4)
    sent = gateway.requests()[-1]
    assert sent["tools"] == ["apply_patch", "str_replace_based_edit_tool"]
    assert sent["stream"] is stream


def test_streamed_arguments_come_in_many_pieces_and_count_against_the_size_bound(gateway):
    import httpx2

    # The wire really carries the arguments in pieces, joined by index.
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    raw = httpx2.post(f"{gateway.base_url}/chat/completions", json=body, timeout=10).text
    deltas = [json.loads(line[6:])["choices"][0]["delta"] for line in raw.splitlines()
              if line.startswith("data: {")]
    pieces = [d for d in deltas if d.get("tool_calls")]
    assert len(pieces) > 20 and {p["tool_calls"][0]["index"] for p in pieces} == {0, 1}
    # max_tokens=1 bounds a stream at 65,568 characters (a whole body at 4x that many
    # bytes): the text alone is far under it, so only the tool calls' characters pass it.
    big = [{"name": "apply_patch", "arguments": {"input": "+" + "y" * 300_000}}]
    gw = FakeGateway({"models": {"m": [{"content": "small", "tool_calls": big}]},
                      "repeat_last": True}).start()
    try:
        for stream in (True, False):
            with pytest.raises(AttemptFailed) as failed:
                ask(gw, stream=stream, max_tokens=1)
            assert "more than max_tokens=1 can produce" in str(failed.value)
            assert failed.value.billed
    finally:
        gw.stop()


def test_a_stream_cut_in_the_middle_of_a_tool_call_is_a_retryable_failure():
    gw = FakeGateway({"models": {"m": [{"tool_calls": CALLS, "faults": ["cut"]}]}}).start()
    try:
        with pytest.raises(AttemptFailed) as failed:
            ask(gw, stream=True)
        assert failed.value.retryable  # half a tool call is never an answer
        assert ask(gw, stream=True).tool_calls[1].name == "str_replace_based_edit_tool"
    finally:
        gw.stop()


IMPLEMENTER = "openai/gpt-5-codex"
MEDIAN_PATCH = (
    "*** Begin Patch\n*** Update File: stats.py\n@@ def mean(values):\n"
    "     return sum(values) / len(values)\n"
    "+\n+\n+def median(values):\n+    ordered = sorted(values)\n"
    "+    middle = len(ordered) // 2\n+    if len(ordered) % 2:\n"
    "+        return ordered[middle]\n"
    "+    return (ordered[middle - 1] + ordered[middle]) / 2\n"
    "*** Add File: tests/test_median.py\n+import unittest\n+\n+from stats import median\n"
    "+\n+\n+class MedianTest(unittest.TestCase):\n+    def test_even(self):\n"
    "+        self.assertEqual(median([4, 1, 3, 2]), 2.5)\n*** End Patch\n")


def wait_for(gateway: FakeGateway, model: str, count: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if sum(r["model"] == model for r in gateway.requests()) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"no request {count} for {model}: {gateway.requests()}")


def test_a_crash_mid_tool_call_answer_and_one_after_it_resume_without_paying_twice(
        baton, tmp_path):
    repo = make_sample_repo(tmp_path / "repo")
    toml = repo / "baton.toml"
    toml.write_text(toml.read_text().replace("qwen/qwen3-coder", IMPLEMENTER))
    subprocess.run(["git", "commit", "-qam", "codex implements"], cwd=repo, check=True)
    script = demo_script()
    # The tool call trickles in (16 characters every 100 ms: about 5 s); the reviewer waits.
    script["models"][IMPLEMENTER] = [{
        "tool_calls": [{"name": "apply_patch", "arguments": {"input": MEDIAN_PATCH}}],
        "cost": 0.01, "faults": [{"kind": "trickle", "trickle_interval_s": 0.1}]}]
    script["models"][REVIEWER] = [{"latency_s": 2.0, "content": fence({
        "verdict": "approve", "summary": "fine", "top_risks": [], "required_fixes": []})}]
    gateway = baton.serve(script)

    # 1. SIGKILL while the implementer's tool call is arriving, half of it streamed.
    proc = start_baton(baton, repo, "run", "Add median()", "--json")
    wait_for(gateway, IMPLEMENTER, 1, time.monotonic() + 60)
    time.sleep(1.0)
    kill(proc)
    run_dir = run_dir_of(repo)
    assert run_dir is not None
    before = events(run_dir)
    key = "implementer/p1/r1/e1"
    assert any(e["type"] == "model.start" and e.get("call_key") == key for e in before)
    assert not any(e["type"] == "model.call" and e.get("call_key") == key for e in before)

    # 2. Resume; SIGKILL again while the reviewer thinks (the tool call is recorded now).
    proc = start_baton(baton, repo, "resume", run_dir.name, "--json")
    wait_for(gateway, REVIEWER, 1, time.monotonic() + 60)
    time.sleep(0.3)
    kill(proc)
    recorded = [e for e in events(run_dir) if e["type"] == "model.call"
                and e.get("call_key") == key and e["outcome"] == "ok"]
    assert len(recorded) == 1 and "apply_patch" in (run_dir / recorded[0]["response_file"]
                                                      ).read_text()

    # 3. Resume to the end.
    done = subprocess.run([sys.executable, "-m", "baton", "resume", run_dir.name, "--json"],
                          cwd=repo, capture_output=True, text=True, env=baton.env(),
                          stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = run_json(done)
    assert result["decision"] == "go"
    median = subprocess.run(["git", "show", f"{result['branch']}:stats.py"], cwd=repo,
                            capture_output=True, text=True).stdout
    assert "def median(values):" in median

    log = gateway.requests()
    asked = {m: [r for r in log if r["model"] == m] for m in (PLANNER, IMPLEMENTER, REVIEWER)}
    assert len(asked[PLANNER]) == 1  # recorded before the first crash: never asked again
    # The implementer: the trickled answer the crash cut, then once more on the first
    # resume (the one call in flight); never again once it was recorded.
    assert [(r["call"], r["fault"]) for r in asked[IMPLEMENTER]] == [(key, "trickle"),
                                                                     (key, None)]
    assert [r["replay"] for r in asked[REVIEWER]] == [False, True]
    final = events(run_dir)
    paid = [e for e in final if e["type"] == "model.call" and e.get("role") == "implementer"
            and e["outcome"] == "ok"]
    assert [e["call_key"] for e in paid] == [key]
    assert [e["cost_usd"] for e in paid] == [0.01]  # charged once
    applied = [e for e in final if e["type"] == "edits.applied"]
    assert len(applied) == 1 and applied[0]["edit_format"] == "apply_patch"
    assert sorted(applied[0]["files"]) == ["stats.py", "tests/test_median.py"]
    assert Path(run_dir / "trace.jsonl").read_text().endswith("\n")
