"""The CLI's quick exit after a command that loaded the SDK keeps what a normal exit does:
the exit code, flushed output, exit handlers; it steps aside for non-daemon threads."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import atexit, sys, threading, time
import openai  # as after a run: the SDK is loaded
marker = sys.argv[1]
atexit.register(lambda: open(marker, "w").write("handlers ran"))
if sys.argv[2] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.5), open(marker + ".t", "w").write("t"))
                     ).start()
print("output before exit", end="")  # unflushed on purpose
sys.argv = ["baton", *sys.argv[3:]]
from baton.cli.main import main
main()
"""


@pytest.mark.parametrize("args, code", [(["runs", "--repo", "/nonexistent"], 2),
                                        (["--help"], 0)])
def test_exit_code_output_and_exit_handlers_survive(tmp_path, args, code):
    marker = tmp_path / "marker"
    proc = subprocess.run([sys.executable, "-c", PROGRAM, str(marker), "-", *args],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout.startswith("output before exit")
    assert marker.read_text() == "handlers ran"


def test_a_running_non_daemon_thread_is_waited_for(tmp_path):
    marker = tmp_path / "marker"
    proc = subprocess.run([sys.executable, "-c", PROGRAM, str(marker), "thread", "--help"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "marker.t").read_text() == "t"
    assert marker.read_text() == "handlers ran"
