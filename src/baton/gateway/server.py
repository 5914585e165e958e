"""A scripted OpenAI-compatible server on 127.0.0.1, for tests, ``baton demo`` and offline CI.

It is a real HTTP/1.1 server (stdlib only) that answers ``/v1/chat/completions`` from a
script (see ``baton.gateway.script``), streaming or not, and injects faults on the wire:
error statuses, resets, hangs, trickles, cut or garbled streams, malformed content.

    with FakeGateway({"models": {"m": ["hello"]}}) as gw:
        client = openai.OpenAI(base_url=gw.base_url, api_key="x")

Queues are kept per ``X-Baton-Run`` header value; a repeated ``X-Baton-Call`` key gets
the same entry again. Everything is logged and readable at ``GET /_gateway/requests``.
"""

from __future__ import annotations

import copy
import ipaddress
import random
import threading
import time
from pathlib import Path
from typing import Any

from baton.errors import ConfigError
from baton.gateway.http import GatewayHandler, GatewayServer, Plan
from baton.gateway.inflight import InFlight
from baton.gateway.script import CATCH_ALL, Script, load_script

__all__ = ["FakeGateway", "load_script", "Script"]


class FakeGateway:
    """The scripted server. ``start()`` serves in a background thread; ``stop()`` ends it."""

    def __init__(
        self,
        script: Script | dict[str, Any] | str | Path,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        verbose: bool = False,
        keep_bodies: bool = False,
    ) -> None:
        self.script = load_script(script)
        self.host = _loopback(host)
        self.port = port
        self.verbose = verbose
        self.keep_bodies = keep_bodies
        """Keep each request's ``messages`` in the log (tests of what reached the model)."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: GatewayServer | None = None
        self._thread: threading.Thread | None = None
        self.in_flight = InFlight()
        """Chat requests being answered now, the most at once, and in all."""
        self._reset_state()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeGateway:
        if self._server is not None:
            return self
        self._stopping.clear()
        try:
            self._server = GatewayServer((self.host, self.port), GatewayHandler, self)
        except OSError as exc:
            message = f"fake gateway cannot listen on {self.host}:{self.port}: {exc}"
            raise ConfigError(message) from None
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"fake-gateway-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop()`` or KeyboardInterrupt."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.2)
        finally:
            self.stop()

    def __enter__(self) -> FakeGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- state ---------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._rng = random.Random(self.script.faults.seed)
        self._latency_rng = random.Random(self.script.faults.seed)
        self._positions: dict[tuple[str | None, str], int] = {}
        self._faults_used: dict[tuple[str | None, str, int, str | None], int] = {}
        self._calls: dict[tuple[str | None, str, str], int] = {}
        self._log: list[dict[str, Any]] = []
        if hasattr(self, "in_flight"):
            self.in_flight.reset()

    def reset(self) -> None:
        """Forget queues, call keys, fault progress and the request log."""
        with self._lock:
            self._reset_state()

    def requests(self) -> list[dict[str, Any]]:
        """The log of chat requests received so far, in order."""
        with self._lock:
            return copy.deepcopy(self._log)

    def models_payload(self) -> dict[str, Any]:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "fake-gateway"}
            for name in self.script.models
            if name != CATCH_ALL
        ]
        return {"object": "list", "data": data}

    def _new_record(self, model: Any, run: str | None, call: str | None, stream: bool,
                    trial: str | None = None) -> dict:
        record = {
            "n": len(self._log) + 1, "model": model, "run": run, "call": call, "trial": trial,
            "stream": stream, "status": None, "fault": None, "fault_source": None,
            "entry_index": None, "replay": False, "ts": time.time(),
            "tools": None,  # names of the tools offered, set by the HTTP side
        }
        self._log.append(record)
        return record

    def reject(self, status: int, message: str, code: str, run: str | None,
               call: str | None, stream: bool, model: Any = None) -> Plan:
        with self._lock:
            record = self._new_record(model, run, call, stream)
            record["status"] = status
            return Plan(record, error=(status, message, code))

    def decide(self, model: str, run: str | None, call: str | None, stream: bool,
               messages: Any = None, trial: str | None = None) -> Plan:
        """Pick the answer of one chat request and advance the state, atomically.

        A model scripted with ``variants`` answers from the variant drawn for ``trial``
        (the ``X-Baton-Trial`` header), or for the run when there is none."""
        with self._lock:
            record = self._new_record(model, run, call, stream, trial)
            if self.keep_bodies:
                record["messages"] = messages
            key = self.script.resolve(model)
            if key is None:
                record["status"] = 404
                known = ", ".join(sorted(self.script.models)) or "none"
                message = (f"The model `{model}` does not exist in the fake gateway script "
                           f"(scripted models: {known})")
                return Plan(record, error=(404, message, "model_not_found"))
            variant, entries = self.script.models[key].pick(trial if trial is not None else run)
            record["variant"] = variant
            replay = call is not None and (run, key, call) in self._calls
            position = self._positions.get((run, key), 0)
            if replay and call is not None:
                index = self._calls[(run, key, call)]
            elif position < len(entries):
                index = position
            elif entries and self.script.repeats(key):
                index = len(entries) - 1
            else:
                record["status"] = 500
                where = f" in run {run!r}" if run is not None else ""
                message = (f"fake gateway script exhausted for model {model} "
                           f"(request {record['n']}): the script has {len(entries)} "
                           f"entries for {key!r}, all used{where}")
                return Plan(record, error=(500, message, "script_exhausted"))
            entry = entries[index]
            jitter = entry.latency_jitter_s and self._latency_rng.uniform(
                -entry.latency_jitter_s, entry.latency_jitter_s)
            record["latency_s"] = max(0.0, entry.latency_s + jitter)
            record["entry_index"] = index
            record["replay"] = replay
            fault_config = self.script.faults
            if fault_config.rate > 0 and self._rng.random() < fault_config.rate:
                fault = self._rng.choice(fault_config.kinds)
                record.update(status=fault.status, fault=fault.kind, fault_source="random")
                return Plan(record, entry=entry, fault=fault)
            if not replay:
                fault_key = (run, key, index, call)
                used = self._faults_used.get(fault_key, 0)
                if used < len(entry.faults):
                    self._faults_used[fault_key] = used + 1
                    fault = entry.faults[used]
                    record.update(status=fault.status, fault=fault.kind, fault_source="schedule")
                    return Plan(record, entry=entry, fault=fault)
                self._positions[(run, key)] = max(position, index + 1)
                if call is not None:
                    self._calls[(run, key, call)] = index
            record["status"] = 200
            return Plan(record, entry=entry)


def _loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or address.version != 4 or not address.is_loopback:
        raise ConfigError(
            f"the fake gateway only listens on a loopback IPv4 address such as 127.0.0.1, "
            f"not {host!r}"
        )
    return host


