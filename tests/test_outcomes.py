"""Every outcome names its run and the next step: errors, Ctrl-C, SIGTERM, a dead process,
a bug; under --json, exactly one result object on stdout whatever happened."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import PLANNER, demo_script, events, run_json

TASK = "Add a median() function to stats.py, with tests."


def only_run(repo: Path) -> Path:
    (run_dir,) = (repo / ".baton" / "runs").iterdir()
    return run_dir


def wait_for_event(repo: Path, kind: str, timeout: float = 60) -> Path:
    """The run folder, once its trace holds an event of ``kind``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        base = repo / ".baton" / "runs"
        for run_dir in base.iterdir() if base.is_dir() else []:
            trace = run_dir / "trace.jsonl"
            if trace.is_file() and f'"type": "{kind}"' in trace.read_text():
                return run_dir
        time.sleep(0.05)
    raise AssertionError(f"no {kind} event within {timeout}s")


def start(baton, repo: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "baton", *args], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=baton.env(), stdin=subprocess.DEVNULL)


def test_a_provider_error_under_json_prints_one_result_object_naming_the_run(
        baton, sample_repo):
    script = demo_script()
    script["models"][PLANNER][0]["faults"] = ["400"]
    baton.serve(script)
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 2, proc.stderr
    result = json.loads(proc.stdout)  # exactly one JSON document, nothing else on stdout
    run_id = only_run(sample_repo).name
    assert result["run_id"] == run_id and result["state"] == "failed"
    assert result["exit_code"] == 2 and "HTTP 400" in result["error"]
    # the message says what happened: one attempt, not retried, no talk of fallbacks
    assert "the only attempt made" in result["error"]
    assert "not retried" in result["error"]
    assert "after every attempt and fallback" not in proc.stderr
    assert f"run {run_id}" in proc.stderr and f"baton resume {run_id}" in proc.stderr


def test_a_usage_error_under_json_is_one_object_too(baton, tmp_path):
    proc = baton("run", TASK, "--repo", str(tmp_path / "nowhere"), "--json")
    assert proc.returncode == 2
    result = json.loads(proc.stdout)
    assert result["state"] == "error" and result["run_id"] is None
    assert "not a folder" in result["error"]


class _NoDbProxy(BaseHTTPRequestHandler):
    """What a LiteLLM proxy with a bad key answers: 400 "No connected db."."""

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"error": {"message": "No connected db.", "type": "no_db_connection",
                                     "param": None, "code": "400"}}).encode()
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_proxy_answering_400_no_connected_db_gets_a_key_hint(baton, sample_repo):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoDbProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        (baton.tmp / "user-config.toml").write_text(
            f'[endpoints.default]\nbase_url = "http://127.0.0.1:{server.server_port}/v1"\n'
            'api_key_env = "LITELLM_KEY_NOT_SET"\n')
        proc = baton("run", TASK, "--repo", str(sample_repo))
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    # said before the first call: the key variable is unset, so no key goes out
    assert err.index("LITELLM_KEY_NOT_SET is not set, so requests go without a key") \
        < err.index("planner: asking")
    assert "No connected db." in err
    assert "looks like a missing or wrong key" in err
    assert "LITELLM_KEY_NOT_SET, which is not set (so no key was sent" in err


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGINT, 130, "Ctrl-C"),
                                                    (signal.SIGTERM, 143, "SIGTERM")])
def test_ctrl_c_and_sigterm_name_the_run_and_leave_it_resumable(baton, sample_repo, sig,
                                                                 code, name):
    script = demo_script()
    script["models"][PLANNER][0]["latency_s"] = 60
    gateway = baton.serve(script)
    proc = start(baton, sample_repo, "run", TASK, "--json")
    run_dir = wait_for_event(sample_repo, "model.start")
    # signal once the call is on the wire: a SIGINT that lands inside one of the SDK's lazy
    # imports is swallowed by CPython's import-lock callback ("Exception ignored in ...")
    deadline = time.monotonic() + 60
    while not gateway.requests() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    run_id = run_dir.name
    assert proc.returncode == code, err
    assert f"run {run_id} stopped by {name}" in err and f"baton resume {run_id}" in err
    result = json.loads(out)
    assert result == {**result, "run_id": run_id, "state": "interrupted", "exit_code": code}
    assert json.loads((run_dir / "workflow.json").read_text())["state"] == "interrupted"
    runs = json.loads(baton("runs", "--repo", str(sample_repo), "--json").stdout)["runs"]
    assert runs[0]["state"] == "interrupted"
    # resume --last picks it up and finishes it
    script["models"][PLANNER][0]["latency_s"] = 0
    baton.serve(script)
    (baton.tmp / "user-config.toml").write_text(
        (baton.tmp / "user-config.toml").read_text())
    resumed = baton("resume", "--last", "--repo", str(sample_repo), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert run_json(resumed)["run_id"] == run_id and run_json(resumed)["decision"] == "go"


def test_a_run_whose_process_died_shows_as_interrupted(baton, sample_repo):
    script = demo_script()
    script["models"][PLANNER][0]["latency_s"] = 60
    baton.serve(script)
    proc = start(baton, sample_repo, "run", TASK)
    run_dir = wait_for_event(sample_repo, "model.start")
    runs = json.loads(baton("runs", "--repo", str(sample_repo), "--json").stdout)["runs"]
    assert runs[0]["state"] == "running"  # alive: its process holds the run
    proc.kill()
    proc.communicate()
    assert json.loads((run_dir / "workflow.json").read_text())["state"] == "running"
    runs = json.loads(baton("runs", "--repo", str(sample_repo), "--json").stdout)["runs"]
    assert runs[0]["state"] == "interrupted"
    table = baton("runs", "--repo", str(sample_repo))
    assert "interrupted" in table.stdout


def test_an_unexpected_exception_marks_the_run_failed_and_says_where_the_details_are(
        baton, sample_repo):
    script = demo_script()
    script["models"][PLANNER][0]["latency_s"] = 3
    baton.serve(script)
    proc = start(baton, sample_repo, "run", TASK, "--json")
    run_dir = wait_for_event(sample_repo, "model.start")
    (run_dir / "responses").write_text("a file where the folder of answers goes")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    run_id = run_dir.name
    details = run_dir / "error.txt"
    assert f"run {run_id} failed on an unexpected" in err and str(details) in err
    assert "Traceback" in details.read_text()
    result = json.loads(out)
    assert result["run_id"] == run_id and result["state"] == "failed"
    assert result["details"] == str(details)
    assert json.loads((run_dir / "workflow.json").read_text())["state"] == "failed"
    assert events(run_dir)[-1]["type"] == "run.end"


@pytest.mark.parametrize("target", ["/x", "/abs/missing.jsonl", "2026*", "../up"])
def test_a_bad_run_id_is_a_clear_error(baton, sample_repo, target):
    for args in (["resume", target], ["show", target], ["trace", "summary", target]):
        proc = baton(*args, cwd=sample_repo)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "NotImplementedError" not in proc.stderr
        assert "baton: error:" in proc.stderr and target in proc.stderr


def test_a_star_in_a_run_id_is_not_a_glob(baton, sample_repo):
    baton.serve(demo_script())
    assert baton("run", TASK, "--repo", str(sample_repo)).returncode == 0
    run_id = only_run(sample_repo).name
    assert baton("show", run_id[:6], cwd=sample_repo).returncode == 0  # a prefix is fine
    proc = baton("show", run_id[:4] + "*", cwd=sample_repo)
    assert proc.returncode == 2 and "no run" in proc.stderr
    assert os.path.isdir(sample_repo / ".baton" / "runs" / run_id)


def test_an_endpoint_that_is_down_gets_no_fallback_advice(baton, sample_repo):
    import socket

    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (baton.tmp / "user-config.toml").write_text(
        f'[endpoints.default]\nbase_url = "http://127.0.0.1:{port}/v1"\n'
        'api_key_env = "BATON_TEST_API_KEY"\n'
        "[retry]\nmax_attempts = 2\nbackoff_base_s = 0.01\n")
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 2
    error = json.loads(proc.stdout)["error"]
    assert "failed 2 attempts" in error and "could not be reached" in error
    assert "configure fallbacks" not in error and "fallback models on the same endpoint " \
        "would not help" in error
