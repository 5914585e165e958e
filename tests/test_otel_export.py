"""OpenTelemetry export, checked by a real OTLP/HTTP receiver that decodes the protobuf.

A run goes through the real CLI against the fake gateway (one reviewer attempt fails with a
503 and is retried), then ``baton trace export`` sends it, or it is sent live during the
run through OTEL_EXPORTER_OTLP_ENDPOINT. The receiver decodes every span with
opentelemetry-proto and the tests check names, kinds, parent links and attributes against
the trace itself.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from conftest import CANARY_KEY, REVIEWER, demo_script, events, run_json

pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is not installed: "
                    "pip install -e '.[dev]' (it includes opentelemetry-sdk)")
pytest.importorskip("opentelemetry.proto", reason="opentelemetry-proto is not installed")

from otlp_receiver import Receiver  # noqa: E402

from baton.export.spans import span_id, trace_id  # noqa: E402

TASK = "Add a median() function to stats.py, with tests."


def script_with_retry() -> dict:
    """The demo's answers; the reviewer's first attempt gets a 503 and is retried."""
    script = demo_script()
    script["models"][REVIEWER][0]["faults"] = ["503"]
    return script


def go_run(baton, repo: Path, **env: str) -> tuple[dict, list[dict]]:
    baton.serve(script_with_retry())
    proc = baton("run", TASK, "--repo", str(repo), "--json", **env)
    assert proc.returncode == 0, proc.stderr
    result = run_json(proc)
    return result, events(Path(result["run_dir"]))


def by_id(spans: list[dict]) -> dict[str, dict]:
    return {s["span_id"]: s for s in spans}


def check_run_spans(spans: list[dict], trace: list[dict], run_dir: Path) -> None:
    """Every span, attribute and parent link, against the run's own trace."""
    run_id = trace[0]["run_id"]
    ids = by_id(spans)
    assert len(ids) == len(spans), "each span arrives once"
    assert {s["trace_id"] for s in spans} == {f"{trace_id(run_id):032x}"}
    calls = [e for e in trace if e["type"] == "model.call"]
    commands = [e for e in trace if e["type"] == "command" and e["ran"]]

    roots = [s for s in spans if s["parent_id"] is None]
    assert [r["name"] for r in roots] == ["invoke_workflow baton"]
    root = roots[0]
    assert root["kind"] == "SPAN_KIND_INTERNAL"
    assert root["attributes"]["gen_ai.operation.name"] == "invoke_workflow"
    assert root["attributes"]["gen_ai.workflow.name"] == "baton"
    assert root["attributes"]["gen_ai.conversation.id"] == run_id
    assert root["attributes"]["baton.decision"] == "go"
    assert root["resource"]["service.name"] == "baton"
    assert root["scope"] == "baton"
    decision_events = [e for e in root["events"] if e["name"] == "decision"]
    assert decision_events and decision_events[0]["attributes"]["baton.decision"] == "go"

    chats = [s for s in spans if s["name"].startswith("chat ")]
    assert len(chats) == len(calls) == 6  # planner, 2 implementer, 3 reviewer attempts
    for span, call in zip(sorted(chats, key=lambda s: s["end"]), calls, strict=True):
        a = span["attributes"]
        assert span["name"] == f"chat {call['gen_ai.request.model']}"
        assert span["kind"] == "SPAN_KIND_CLIENT"
        assert span["span_id"] == f"{span_id(run_id, 'call/' + str(call['seq'])):016x}"
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.provider.name"] == call["gen_ai.request.model"].split("/")[0]
        assert "gen_ai.system" not in a  # deprecated
        assert a["gen_ai.request.model"] == call["gen_ai.request.model"]
        assert a["gen_ai.conversation.id"] == run_id
        assert a["baton.role"] == call["role"] and a["baton.attempt"] == call["attempt"]
        assert a["baton.cost_source"] == call["cost_source"]
        assert span["end"] - span["start"] == pytest.approx(call["latency_s"] * 1e9, abs=1e3)
        parent = ids[span["parent_id"]]
        assert parent["name"] == f"invoke_agent {call['role']}"
        assert parent["attributes"]["gen_ai.agent.name"] == call["role"]
        assert parent["attributes"]["gen_ai.operation.name"] == "invoke_agent"
        assert parent["attributes"]["gen_ai.provider.name"]
        assert parent["start"] <= span["start"] and span["end"] <= parent["end"]
        if call["role"] == "planner":
            assert parent["parent_id"] == root["span_id"]
        else:
            packet = ids[parent["parent_id"]]
            assert packet["name"] == "packet 1" and packet["parent_id"] == root["span_id"]
            assert parent["attributes"]["baton.round"] == call["round"]
        if call["outcome"] == "ok":
            assert span["status"] == "STATUS_CODE_UNSET"
            assert a["gen_ai.response.model"] == call["gen_ai.response.model"]
            assert a["gen_ai.response.id"] == call["gen_ai.response.id"]
            assert a["gen_ai.response.finish_reasons"] == ["stop"]
            assert a["gen_ai.usage.input_tokens"] == call["gen_ai.usage.input_tokens"]
            assert a["gen_ai.usage.output_tokens"] == call["gen_ai.usage.output_tokens"]
            assert a["gen_ai.usage.cache_read.input_tokens"] == \
                call["gen_ai.usage.cache_read.input_tokens"]
            assert a["baton.cost_usd"] == pytest.approx(call["cost_usd"])
        else:  # the 503 the gateway sent, then retried
            assert span["status"] == "STATUS_CODE_ERROR" and "503" in span["status_message"]
            assert a["error.type"] == "503" and a["http.response.status_code"] == 503
    assert sum(1 for c in chats if c["status"] == "STATUS_CODE_ERROR") == 1

    agents = [s for s in spans if s["name"].startswith("invoke_agent ")]
    assert sorted(s["name"] for s in agents) == sorted(
        ["invoke_agent planner"] + ["invoke_agent implementer"] * 2
        + ["invoke_agent reviewer"] * 2)
    verdicts = sorted((s["attributes"]["baton.round"], s["attributes"]["baton.review.verdict"])
                      for s in agents if s["name"] == "invoke_agent reviewer")
    assert verdicts == [(1, "request_changes"), (2, "approve")]
    assert all(s["status"] == "STATUS_CODE_UNSET" for s in agents)  # the retry succeeded

    command_spans = [s for s in spans if s["name"].startswith("command ")]
    assert len(command_spans) == len(commands) == 1
    cmd = command_spans[0]
    assert cmd["parent_id"] == root["span_id"]
    assert cmd["attributes"]["process.exit.code"] == 0
    assert cmd["attributes"]["baton.command"] == commands[0]["command"]
    assert cmd["end"] - cmd["start"] == pytest.approx(commands[0]["duration_s"] * 1e9, abs=1e3)
    not_run = [e for e in root["events"] if e["name"] == "command.not_run"]
    assert len(not_run) == sum(1 for e in trace if e["type"] == "command" and not e["ran"])

    assert len(spans) == 1 + 1 + len(agents) + len(chats) + len(command_spans)  # + packet
    for s in spans:
        assert s["start"] <= s["end"]
        if s["parent_id"]:
            parent = ids[s["parent_id"]]
            assert parent["start"] <= s["start"] and s["end"] <= parent["end"], s["name"]


def no_content(receiver: Receiver, run_dir: Path) -> None:
    """No key and no prompt or answer text in anything that was sent."""
    body = b"".join(receiver.bodies)
    assert CANARY_KEY.encode() not in body
    assert TASK.encode() not in body
    for folder in ("packets", "responses"):
        for path in (run_dir / folder).glob("*.md"):
            for line in path.read_text().splitlines():
                if len(line) > 40:
                    assert line.encode() not in body, (path, line)


def test_trace_export_sends_every_span_with_genai_attributes(baton, sample_repo):
    result, trace = go_run(baton, sample_repo)
    run_dir = Path(result["run_dir"])
    with Receiver() as receiver:
        proc = baton("trace", "export", "--otlp", receiver.url, result["run_id"], "--json",
                     cwd=sample_repo)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        spans = receiver.wait_for(out["runs"][0]["spans"])
    assert out["endpoint"] == receiver.url + "/v1/traces"
    assert out["runs"][0]["run_id"] == result["run_id"]
    assert len(spans) == out["runs"][0]["spans"]
    assert set(receiver.content_types) == {"application/x-protobuf"}
    check_run_spans(spans, trace, run_dir)
    no_content(receiver, run_dir)

    # Exporting again gives the same ids: a backend sees the same trace, not a new one.
    with Receiver() as again:
        proc = baton("trace", "export", "--otlp", again.url + "/v1/traces", str(run_dir))
        assert proc.returncode == 0, proc.stderr
        assert f"exported {len(spans)} spans of 1 run(s)" in proc.stdout
        second = again.wait_for(len(spans))
    assert sorted(s["span_id"] for s in second) == sorted(s["span_id"] for s in spans)


def test_include_content_sends_prompts_and_answers(baton, sample_repo):
    result, trace = go_run(baton, sample_repo)
    with Receiver() as receiver:
        proc = baton("trace", "export", "--otlp", receiver.url, result["run_dir"],
                     "--include-content", "--json")
        assert proc.returncode == 0, proc.stderr
        spans = receiver.wait_for(json.loads(proc.stdout)["runs"][0]["spans"])
    root = next(s for s in spans if s["parent_id"] is None)
    assert root["attributes"]["baton.task"] == TASK
    planner = next(s for s in spans if s["name"] == "chat openai/gpt-5")
    messages = json.loads(planner["attributes"]["gen_ai.input.messages"])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert TASK in messages[1]["parts"][0]["content"]
    answer = json.loads(planner["attributes"]["gen_ai.output.messages"])
    sent = (Path(result["run_dir"]) / "responses" / "01-planner.md").read_text()
    assert answer[0]["parts"][0]["content"] == sent and answer[0]["finish_reason"] == "stop"
    assert CANARY_KEY.encode() not in b"".join(receiver.bodies)


def test_live_export_during_a_run(baton, sample_repo):
    with Receiver() as receiver:
        result, trace = go_run(baton, sample_repo, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url)
        expected = 1 + 1 + 5 + 6 + 1  # workflow, packet, agents, chats, command
        spans = receiver.wait_for(expected)
    assert len(spans) == expected
    check_run_spans(spans, trace, Path(result["run_dir"]))
    no_content(receiver, Path(result["run_dir"]))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_receiver_is_an_error_for_export_but_never_breaks_a_run(baton,
                                                                             sample_repo):
    url = f"http://127.0.0.1:{_closed_port()}"
    result, trace = go_run(baton, sample_repo, OTEL_EXPORTER_OTLP_ENDPOINT=url)
    assert result["decision"] == "go"  # the run did not care that nobody listened
    proc = baton("trace", "export", "--otlp", url, result["run_dir"], "--timeout", "1")
    assert proc.returncode == 2
    assert "did not accept the spans" in proc.stderr and url in proc.stderr

    proc = baton("trace", "export", "--otlp", "ftp://nowhere", result["run_dir"])
    assert proc.returncode == 2 and "not an OTLP/HTTP address" in proc.stderr
    proc = baton("trace", "export", result["run_dir"])
    assert proc.returncode == 2 and "--otlp" in proc.stderr
    proc = baton("trace", "export", "--otlp", url, "no-such-run", cwd=sample_repo)
    assert proc.returncode == 2 and "no-such-run" in proc.stderr
    assert events(Path(result["run_dir"])) == trace  # the trace is untouched


def test_without_the_extra_export_names_it(baton, sample_repo, tmp_path):
    """With OpenTelemetry made unimportable, export says which extra to install."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'opentelemetry' or name.startswith('opentelemetry.'):\n"
        "            raise ImportError('blocked for the test: ' + name)\n"
        "sys.meta_path.insert(0, _Block())\n")
    baton.serve(script_with_retry())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", PYTHONPATH=str(blocker),
                 OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert proc.returncode == 0, proc.stderr
    result = run_json(proc)
    assert result["decision"] == "go"  # the run goes on, and says why nothing was sent
    assert "OpenTelemetry is not installed" in proc.stderr and "baton[otel]" in proc.stderr
    proc = baton("trace", "export", "--otlp", "http://127.0.0.1:9", result["run_dir"],
                 PYTHONPATH=str(blocker))
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'baton[otel]'" in proc.stderr


def test_live_export_of_a_paused_then_rejected_run(baton, sample_repo):
    """At the gate the structure is sent with the pause; the rejection sends the end."""
    import subprocess

    toml = sample_repo / "baton.toml"
    toml.write_text(toml.read_text() + '\n[approval]\npaths = ["stats.py"]\n')
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit",
                    "-qam", "gate"], cwd=sample_repo, check=True)
    with Receiver() as receiver:
        baton.serve(demo_script())
        proc = baton("run", TASK, "--repo", str(sample_repo), "--json",
                     OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url)
        assert proc.returncode == 3, proc.stderr
        run_id = run_json(proc)["run_id"]
        spans = receiver.wait_for(1 + 1 + 4 + 5)  # workflow, packet, 4 agents, 5 chats
        root = next(s for s in spans if s["parent_id"] is None)
        assert root["attributes"]["baton.state"] == "awaiting_approval"
        assert "approval.required" in [e["name"] for e in root["events"]]
        proc = baton("reject", run_id, "--reason", "not now", cwd=sample_repo,
                     OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url)
        assert proc.returncode == 1, proc.stderr
        later = receiver.wait_for(len(spans) + 6)[len(spans):]
    again = next(s for s in later if s["parent_id"] is None)
    assert again["span_id"] == root["span_id"]  # the same span, sent again with its end
    assert again["attributes"]["baton.decision"] == "no-go"
    assert again["end"] >= root["end"]
    assert "approval.decision" in [e["name"] for e in again["events"]]
    assert not [s for s in later if s["name"].startswith("chat ")]  # calls are sent once
