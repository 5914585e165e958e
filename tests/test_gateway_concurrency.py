"""The fake gateway counts requests in flight, and draws a seeded variant per trial."""

from __future__ import annotations

import json
import threading
import urllib.request

import openai
import pytest

from baton.errors import ConfigError
from baton.gateway.server import FakeGateway, load_script


def _get(gw: FakeGateway, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{gw.port}{path}") as reply:
        return json.loads(reply.read())


def test_peak_concurrency_is_counted_over_http() -> None:
    script = {"models": {"m": {"entries": [{"content": "ok", "latency_s": 0.4}],
                               "repeat_last": True}}}
    with FakeGateway(script) as gw:
        client = openai.OpenAI(base_url=gw.base_url, api_key="x", max_retries=0)
        start = threading.Barrier(5)

        def call() -> None:
            start.wait()
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

        threads = [threading.Thread(target=call) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seen = _get(gw, "/_gateway/concurrency")
        assert seen == {"current": 0, "peak": 5, "total": 5}
        call_alone = threading.Thread(target=call)
        start = threading.Barrier(1)
        call_alone.start()
        call_alone.join()
        assert gw.in_flight.snapshot()["peak"] == 5  # a peak is kept until reset
        gw.reset()
        assert _get(gw, "/_gateway/concurrency") == {"current": 0, "peak": 0, "total": 0}


def _draw(gw: FakeGateway, trial: str | None, run: str = "r") -> str:
    client = openai.OpenAI(base_url=gw.base_url, api_key="x", max_retries=0)
    headers = {"X-Baton-Run": run, **({"X-Baton-Trial": trial} if trial else {})}
    reply = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], extra_headers=headers)
    return reply.choices[0].message.content or ""


def test_variants_are_drawn_per_trial_reproducibly_and_by_weight() -> None:
    script = {"models": {"m": {"seed": 11, "variants": [
        {"weight": 3, "entries": ["good"]}, {"weight": 1, "entries": ["bad"]}]}}}
    with FakeGateway(script) as gw:
        first = [_draw(gw, f"t{i}", run=f"a{i}") for i in range(400)]
        second = [_draw(gw, f"t{i}", run=f"b{i}") for i in range(400)]
        assert first == second  # the trial, not the run, draws the variant
        assert 250 < first.count("good") < 350  # about 3 in 4
        log = gw.requests()
        assert {r["variant"] for r in log} == {0, 1}
        assert log[0]["trial"] == "t0"
        # without a trial header the run draws it
        for run in ("only-run", "other-run"):
            _draw(gw, None, run=run)
            assert gw.requests()[-1]["trial"] is None
            assert gw.requests()[-1]["variant"] == gw.script.models["m"].pick(run)[0]
    with FakeGateway({**script, "models": {"m": {**script["models"]["m"], "seed": 12}}}) as gw:
        other = [_draw(gw, f"t{i}", run=f"a{i}") for i in range(400)]
    assert other != first  # another seed, another draw


def test_variants_and_entries_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="either entries or variants"):
        load_script({"models": {"m": {"entries": ["a"], "variants": [{"entries": ["b"]}]}}})
    with pytest.raises(ConfigError, match="weight"):
        load_script({"models": {"m": {"variants": [{"weight": 0, "entries": ["b"]}]}}})


def test_a_model_answers_each_comparison_task_from_its_own_script() -> None:
    script = {"models": {"m": {"entries": ["default"], "repeat_last": True, "tasks": {
        "clamp": ["clamp answer"],
        "dates": {"seed": 3, "variants": [{"entries": ["dates good"]},
                                          {"entries": ["dates bad"]}]}}}}}
    with FakeGateway(script) as gw:
        assert _draw(gw, "clamp--cheap--1", run="r1") == "clamp answer"
        assert _draw(gw, "other--cheap--1", run="r2") == "default"
        assert _draw(gw, None, run="r3") == "default"
        dates = {_draw(gw, f"dates--cheap--{i}", run=f"d{i}") for i in range(40)}
        assert dates == {"dates good", "dates bad"}
        again = _draw(gw, "dates--cheap--7", run="again")
        assert again == _draw(gw, "dates--cheap--7", run="again2")
