#!/usr/bin/env python3
"""Check baton's OpenTelemetry export against a real backend: Arize Phoenix, offline.

    .venv/bin/python scripts/phoenix_check.py [--venv DIR] [--keep]

1. installs ``arize-phoenix`` into its own virtual environment (about 850 MB, once;
   default ~/.cache/baton-phoenix-venv),
2. starts ``phoenix serve`` on 127.0.0.1 only (a private working folder, telemetry off;
   its gRPC receiver, which binds every interface by itself, is made to bind 127.0.0.1,
   and the process's listening sockets are checked before anything is sent),
3. runs ``baton demo`` and exports its run with ``baton trace export --otlp``,
4. reads the spans back through Phoenix's REST API (``GET /v1/projects/default/spans``),
   checks names, parent links and GenAI attributes, and prints them.

Too heavy for every CI run; run it by hand. Exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PHOENIX = os.environ.get("BATON_PHOENIX_PACKAGE", "arize-phoenix==20.26.1")
DEFAULT_VENV = Path.home() / ".cache" / "baton-phoenix-venv"

# Started inside Phoenix's venv: make its gRPC server bind loopback, then `phoenix serve`.
WRAPPER = """\
import sys
import grpc.aio._server as _server

_add = _server.Server.add_insecure_port
_add_secure = _server.Server.add_secure_port

def _local(address):
    for wildcard in ("[::]:", "0.0.0.0:"):
        if address.startswith(wildcard):
            return "127.0.0.1:" + address[len(wildcard):]
    return address

_server.Server.add_insecure_port = lambda self, address: _add(self, _local(address))
_server.Server.add_secure_port = lambda self, address, creds: _add_secure(
    self, _local(address), creds)

from phoenix.server.main import main
sys.argv = ["phoenix", "serve"]
main()
"""


def say(message: str) -> None:
    print(f"phoenix_check: {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if (venv / "bin" / "phoenix").exists():
        say(f"using {PHOENIX.split('==')[0]} already installed in {venv}")
        return python
    say(f"installing {PHOENIX} into {venv} (about 850 MB, a minute or two)")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", PHOENIX], check=True)
    say(f"installed in {time.monotonic() - started:.0f} s")
    return python


def listening_addresses(pid: int) -> list[str]:
    """Local addresses of the LISTEN sockets held by ``pid`` and its children (Linux)."""
    inodes: set[str] = set()
    pids = {pid}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                continue
            if int(ppid) == pid:
                pids.add(int(entry.name))
    for p in pids:
        try:
            for fd in Path(f"/proc/{p}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A: LISTEN
                continue
            hexaddr, hexport = cols[1].split(":")
            found.append(f"{_ip(hexaddr, width)}:{int(hexport, 16)}")
    return found


def _ip(hexaddr: str, width: int) -> str:
    raw = bytes.fromhex(hexaddr)
    if width == 8:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return "[" + socket.inet_ntop(socket.AF_INET6, words) + "]"


def loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0]
    return host.startswith("127.") or host in ("[::1]", "[::ffff:127.0.0.1]")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def wait_healthy(base: str, proc: subprocess.Popen, timeout_s: float = 180) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            raise SystemExit(f"phoenix_check: phoenix exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"phoenix_check: phoenix did not answer /healthz in {timeout_s:.0f} s")


def read_spans(base: str, trace_id: str, expected: int, timeout_s: float = 60) -> list[dict]:
    """Every span of one trace, polled until the count stops changing."""
    deadline = time.monotonic() + timeout_s
    last, stable, spans = -1, 0, []
    while time.monotonic() < deadline:
        spans, cursor = [], None
        while True:
            query = f"limit=100&trace_id={trace_id}" + (f"&cursor={cursor}" if cursor else "")
            page = get_json(f"{base}/v1/projects/default/spans?{query}")
            spans += page.get("data", [])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        stable = stable + 1 if len(spans) == last else 0
        last = len(spans)
        if len(spans) >= expected and stable >= 2:
            break
        time.sleep(0.5)
    return spans


def run_baton(*args: str, cwd: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "baton", *args, "--json"], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"phoenix_check: baton {' '.join(args)} failed "
                         f"({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout)


def check(spans: list[dict], trace: list[dict], exported: int) -> list[str]:
    """What is wrong with the spans Phoenix returned, as sentences (empty: all good)."""
    problems = []
    calls = [e for e in trace if e["type"] == "model.call"]
    ran = [e for e in trace if e["type"] == "command" and e["ran"]]
    by_id = {s["context"]["span_id"]: s for s in spans}
    if len(spans) != exported:
        problems.append(f"exported {exported} spans, Phoenix returned {len(spans)}")
    roots = [s for s in spans if not s.get("parent_id")]
    if [r["name"] for r in roots] != ["invoke_workflow baton"]:
        problems.append(f"roots: {[r['name'] for r in roots]}")
    chats = [s for s in spans if s["name"].startswith("chat ")]
    if len(chats) != len(calls):
        problems.append(f"{len(chats)} chat spans for {len(calls)} model calls")
    for s in spans:
        parent = s.get("parent_id")
        if parent and parent not in by_id:
            problems.append(f"{s['name']}: parent {parent} not in the trace")
    for s in chats:
        a = s["attributes"]
        parent = by_id.get(s.get("parent_id") or "", {})
        if not parent.get("name", "").startswith("invoke_agent "):
            problems.append(f"{s['name']}: parent is {parent.get('name')}")
        for key in ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
                    "gen_ai.conversation.id"):
            if _get(a, key) in (None, ""):
                problems.append(f"{s['name']}: no {key}")
    agents = [s for s in spans if s["name"].startswith("invoke_agent ")]
    if not all(_get(s["attributes"], "gen_ai.agent.name") for s in agents):
        problems.append("an invoke_agent span has no gen_ai.agent.name")
    if len([s for s in spans if s["name"].startswith("command ")]) != len(ran):
        problems.append("command spans do not match the commands that ran")
    task = next(e["task"] for e in trace if e["type"] == "run.start")
    if task in json.dumps(spans):
        problems.append("the task text reached Phoenix though content was not asked for")
    return problems


def _get(attributes: dict, dotted: str):
    """Phoenix nests attributes by their dots; plain keys are accepted too."""
    if dotted in attributes:
        return attributes[dotted]
    node = attributes
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def show(spans: list[dict]) -> None:
    by_id = {s["context"]["span_id"]: s for s in spans}

    def depth(s: dict) -> int:
        d, parent = 0, s.get("parent_id")
        while parent and parent in by_id and d < 10:
            d, parent = d + 1, by_id[parent].get("parent_id")
        return d

    for s in sorted(spans, key=lambda s: (s["start_time"], depth(s))):
        a = s["attributes"]
        facts = [f"{k}={_get(a, k)}" for k in (
            "gen_ai.operation.name", "gen_ai.agent.name", "gen_ai.provider.name",
            "gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
            "baton.cost_usd", "baton.review.verdict", "process.exit.code", "baton.decision")
            if _get(a, k) is not None]
        print(f"  {'  ' * depth(s)}{s['name']}  [{s['span_kind']}, {s['status_code']}, "
              f"span {s['context']['span_id']}]  " + " ".join(facts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                        help="Phoenix's own virtual environment (created if missing).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folders.")
    args = parser.parse_args()
    if shutil.which("git") is None:
        raise SystemExit("phoenix_check: git is needed for baton demo")
    python = install(args.venv)
    work = Path(tempfile.mkdtemp(prefix="baton-phoenix-"))
    port, grpc_port = free_port(), free_port()
    (work / "phoenix_local.py").write_text(WRAPPER)
    env = {**os.environ, "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(port),
           "PHOENIX_GRPC_PORT": str(grpc_port), "PHOENIX_WORKING_DIR": str(work / "phoenix"),
           "PHOENIX_TELEMETRY_ENABLED": "false", "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
           "DO_NOT_TRACK": "1"}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    base = f"http://127.0.0.1:{port}"
    log = (work / "phoenix.log").open("w")
    say(f"starting phoenix serve on {base} (gRPC 127.0.0.1:{grpc_port}), log {log.name}")
    proc = subprocess.Popen([str(python), str(work / "phoenix_local.py")], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        say(f"healthy after {wait_healthy(base, proc):.1f} s")
        addresses = listening_addresses(proc.pid)
        say(f"phoenix listens on: {', '.join(sorted(addresses))}")
        outside = [a for a in addresses if not loopback(a)]
        if outside or not addresses:
            say(f"REFUSED: phoenix listens beyond loopback: {outside}; nothing was sent")
            return 1
        demo = run_baton("demo", "--keep", str(work / "demo"), cwd=work)
        run_dir = Path(demo["run_dir"])
        say(f"baton demo: {demo['decision']}, run {demo['run_id']}")
        exported = run_baton("trace", "export", "--otlp", base, str(run_dir), cwd=work)
        sent = exported["runs"][0]
        say(f"exported {sent['spans']} spans to {exported['endpoint']}, trace {sent['trace_id']}")
        spans = read_spans(base, sent["trace_id"], sent["spans"])
        say(f"read back {len(spans)} spans from {base}/v1/projects/default/spans:")
        show(spans)
        trace = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
        problems = check(spans, trace, sent["spans"])
        for problem in problems:
            say(f"PROBLEM: {problem}")
        chat = next((s for s in spans if s["name"].startswith("chat ")), None)
        if chat is not None:
            say("attributes of one chat span as Phoenix stores them:")
            print(json.dumps(chat["attributes"], indent=2, sort_keys=True)[:3000])
        say("OK: every check passed" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
