"""Running verification commands: exit codes, output capture, timeouts, no survivors."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

import pytest

from baton.errors import UserError
from baton.secrets import SecretMasker
from baton.workspace import sandbox as commands
from baton.workspace.sandbox import (
    SandboxUnavailable,
    run_command,
    sandbox_available,
    scrubbed_env,
)

SANDBOXES = [
    "none",
    pytest.param(
        "bwrap",
        marks=pytest.mark.skipif(not sandbox_available(), reason="bubblewrap not usable here"),
    ),
]


def _alive_with(marker: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker.encode() in cmdline and state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def _wait_gone(marker: str, within_s: float = 2.0) -> list[int]:
    deadline = time.monotonic() + within_s
    while (alive := _alive_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_exit_codes_and_output_are_recorded(tmp_path: Path, sandbox: str) -> None:
    ok = run_command("echo hello; echo oops >&2", tmp_path, timeout_s=10, source="config",
                     sandbox=sandbox)  # fmt: skip
    assert (ok.ran, ok.exit_code, ok.timed_out, ok.sandbox) == (True, 0, False, sandbox)
    assert ok.output_tail == "hello\noops\n"
    assert ok.output_bytes == len(b"hello\noops\n")
    assert ok.output_sha256 == hashlib.sha256(b"hello\noops\n").hexdigest()
    assert ok.duration_s is not None and 0 <= ok.duration_s < 5
    failed = run_command("exit 1", tmp_path, timeout_s=10, source="plan", sandbox=sandbox)
    assert (failed.exit_code, failed.source) == (1, "plan")


def test_runs_in_cwd_with_stdin_closed(tmp_path: Path) -> None:
    ev = run_command("pwd; cat; echo done", tmp_path, timeout_s=10, source="config", sandbox="none")
    assert ev.output_tail == f"{os.path.realpath(tmp_path)}\ndone\n"


def test_duration_is_measured(tmp_path: Path) -> None:
    ev = run_command("sleep 0.3", tmp_path, timeout_s=10, source="config", sandbox="none")
    assert ev.duration_s is not None and 0.25 <= ev.duration_s < 15


def test_output_tail_is_capped_but_size_and_hash_cover_everything(tmp_path: Path) -> None:
    script = "for i in $(seq 1 20000); do echo line-$i; done"
    ev = run_command(script, tmp_path, timeout_s=20, source="config", sandbox="none",
                     max_output_bytes=1000)  # fmt: skip
    full = "".join(f"line-{i}\n" for i in range(1, 20001)).encode()
    assert ev.output_bytes == len(full)
    assert ev.output_sha256 == hashlib.sha256(full).hexdigest()
    assert len(ev.output_tail.encode()) <= 1000
    assert ev.output_tail.endswith("line-19999\nline-20000\n")
    assert full.decode().endswith(ev.output_tail)


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_timeout_kills_the_whole_group(tmp_path: Path, sandbox: str) -> None:
    marker = f"baton-test-{uuid.uuid4().hex}"
    command = (
        f"trap '' TERM; "  # the shell itself ignores SIGTERM
        f"bash -c 'trap \"\" TERM; exec -a {marker}-bg sleep 1000' & "
        f"(setsid -f bash -c 'exec -a {marker}-pg sleep 1000' 2>/dev/null || true); "
        f"( ( exec -a {marker}-daemon sleep 1000 ) & ) ; "  # double fork, same session
        f"exec -a {marker}-fg sleep 1000"
    )
    started = time.monotonic()
    ev = run_command(command, tmp_path, timeout_s=1.5, source="reviewer", sandbox=sandbox)
    assert ev.timed_out and ev.exit_code is None
    assert time.monotonic() - started < 20
    assert ev.duration_s is not None and 1.4 <= ev.duration_s < 15
    assert _wait_gone(marker) == []


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_background_children_do_not_outlive_a_finished_command(
    tmp_path: Path, sandbox: str
) -> None:
    marker = f"baton-test-{uuid.uuid4().hex}"
    command = f"( exec -a {marker} sleep 1000 ) & ( ( exec -a {marker} sleep 1000 ) & ); echo ok"
    ev = run_command(command, tmp_path, timeout_s=10, source="config", sandbox=sandbox)
    assert (ev.exit_code, ev.timed_out, ev.output_tail) == (0, False, "ok\n")
    assert _wait_gone(marker) == []


def test_process_group_escapee_in_same_session_is_killed(tmp_path: Path) -> None:
    marker = f"baton-test-{uuid.uuid4().hex}"
    # A child moves itself to its own process group but stays in the session.
    command = f'python3 -c \'import os; os.setpgid(0, 0); os.execvp("sleep", ["{marker}", "1000"])\' & sleep 0.3'  # noqa: E501
    ev = run_command(command, tmp_path, timeout_s=10, source="config", sandbox="none")
    assert ev.exit_code == 0
    assert _wait_gone(marker) == []


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_secret_env_vars_are_not_visible(
    tmp_path: Path, sandbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_TEST_API_KEY", "sk-canary-0123456789")
    monkeypatch.setenv("HARMLESS_NAME", "ghp_" + "c" * 36)  # secret by its value alone
    monkeypatch.setenv("BATON_TEST_VISIBLE", "plain-value")
    ev = run_command("env", tmp_path, timeout_s=10, source="config", sandbox=sandbox)
    assert "canary" not in ev.output_tail
    assert "BATON_TEST_API_KEY" not in ev.output_tail
    assert "HARMLESS_NAME" not in ev.output_tail
    assert "BATON_TEST_VISIBLE=plain-value" in ev.output_tail
    assert "PATH=" in ev.output_tail


def test_explicit_env_is_scrubbed_too(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "MY_TOKEN": "leaky-token-value", "KEEP": "yes"}
    ev = run_command("env", tmp_path, timeout_s=10, source="config", sandbox="none", env=env)
    assert "leaky" not in ev.output_tail and "KEEP=yes" in ev.output_tail


def test_scrubbed_env_rules() -> None:
    env = {
        "PATH": "/bin", "HOME": "/root", "LANG": "C.UTF-8", "TERM": "xterm",
        "OPENAI_BASE_URL": "http://x", "ANTHROPIC_MODEL": "m", "MY_API_BASE": "u",
        "aws_secret_access_key": "k", "GH_TOKEN": "t", "DB_PASSWORD": "p",
        "SSH_AUTH_SOCK": "/tmp/s", "NOTHING": "sk-abcdefgh12345",
    }  # fmt: skip
    assert scrubbed_env(env) == {
        "PATH": "/bin", "HOME": "/root", "LANG": "C.UTF-8", "TERM": "xterm",
        "SSH_AUTH_SOCK": "/tmp/s",
    }  # fmt: skip


def test_output_is_masked_but_hash_is_of_raw_output(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "cmd.log"
    masker = SecretMasker({"DEPLOY_KEY": "super-secret-value"})
    ev = run_command("echo super-secret-value; echo sk-abcdefgh12345678", tmp_path,
                     timeout_s=10, source="config", sandbox="none", log_path=log,
                     secrets=masker)  # fmt: skip
    raw = b"super-secret-value\nsk-abcdefgh12345678\n"
    assert ev.output_tail == "***\n***\n"
    assert ev.command == "echo ***; echo ***"
    assert log.read_text() == "***\n***\n"
    assert ev.output_sha256 == hashlib.sha256(raw).hexdigest()
    assert ev.output_bytes == len(raw)


def test_secret_cut_by_the_tail_boundary_is_still_masked(tmp_path: Path) -> None:
    masker = SecretMasker({"DEPLOY_KEY": "S" * 40})
    # The secret ends 20 bytes into the kept 100-byte tail.
    command = "printf 'x%.0s' $(seq 1 500); printf 'SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS'; printf 'y%.0s' $(seq 1 80)"  # noqa: E501
    ev = run_command(command, tmp_path, timeout_s=10, source="config", sandbox="none",
                     max_output_bytes=100, secrets=masker)  # fmt: skip
    assert "S" not in ev.output_tail
    assert ev.output_tail.endswith("y" * 80)


def test_default_masker_uses_patterns(tmp_path: Path) -> None:
    ev = run_command("echo Authorization: Bearer abcdefghij", tmp_path, timeout_s=10,
                     source="config", sandbox="none")  # fmt: skip
    assert ev.output_tail == "Authorization: ***\n"


def test_missing_cwd_is_recorded_as_not_run(tmp_path: Path) -> None:
    ev = run_command("true", tmp_path / "missing", timeout_s=10, source="config", sandbox="none")
    assert ev.ran is False and ev.reason_not_run and "could not start" in ev.reason_not_run


def test_killed_by_signal_has_negative_exit_code(tmp_path: Path) -> None:
    ev = run_command("kill -9 $$", tmp_path, timeout_s=10, source="config", sandbox="none")
    assert (ev.exit_code, ev.timed_out) == (-9, False)


def test_without_pidfd_timeouts_and_cleanup_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "pidfd_open", raising=False)  # older kernels, macOS
    marker = f"baton-test-{uuid.uuid4().hex}"
    ev = run_command(f"(exec -a {marker} sleep 1000) & exec sleep 1000", tmp_path,
                     timeout_s=1, source="config", sandbox="none")  # fmt: skip
    assert ev.timed_out and ev.exit_code is None
    ok = run_command("echo fine", tmp_path, timeout_s=10, source="config", sandbox="none")
    assert (ok.exit_code, ok.output_tail) == (0, "fine\n")
    assert _wait_gone(marker) == []


def test_output_flood_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "MAX_CAPTURE_BYTES", 1_000_000)
    ev = run_command("yes flood", tmp_path, timeout_s=30, source="config", sandbox="none",
                     max_output_bytes=100)  # fmt: skip
    assert not ev.timed_out and ev.exit_code is not None and ev.exit_code < 0
    assert ev.duration_s is not None and ev.duration_s < 20
    assert ev.output_tail.endswith("the command was killed]\n")
    assert ev.output_bytes > 1_000_000


def test_bad_arguments_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown sandbox"):
        run_command("true", tmp_path, timeout_s=1, source="config", sandbox="docker")
    with pytest.raises(UserError, match="positive"):
        run_command("true", tmp_path, timeout_s=0, source="config", sandbox="none")


@pytest.mark.skipif(sandbox_available(), reason="bubblewrap works here")
def test_required_bwrap_missing_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="install the Debian package bubblewrap"):
        run_command("true", tmp_path, timeout_s=1, source="config", sandbox="bwrap")


def test_auto_sandbox_matches_availability(tmp_path: Path) -> None:
    ev = run_command("true", tmp_path, timeout_s=10, source="config", sandbox="auto")
    assert ev.sandbox == ("bwrap" if sandbox_available() else "none")


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap not usable here")
def test_bwrap_confines_writes_and_network(tmp_path: Path) -> None:
    probe = Path(f"/var/tmp/baton-ro-probe-{uuid.uuid4().hex}")
    command = (
        f"touch ok.txt && echo w1; touch {probe} 2>/dev/null || echo ro; "
        'touch "$TMPDIR/private" && echo tmp; touch /tmp/baton-ro-tmp 2>/dev/null || echo rotmp; '
        "test -x /bin/sh && echo seen; "
        "(exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null && echo net || echo nonet"
    )
    try:
        ev = run_command(command, tmp_path, timeout_s=10, source="config", sandbox="bwrap")
        assert not probe.exists()
    finally:
        probe.unlink(missing_ok=True)
    assert ev.sandbox == "bwrap"
    assert ev.output_tail.split() == ["w1", "ro", "tmp", "rotmp", "seen", "nonet"]
    assert (tmp_path / "ok.txt").exists()
    assert not Path("/tmp/baton-ro-tmp").exists()


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap not usable here")
def test_bwrap_still_sees_programs_that_live_under_tmp(tmp_path: Path) -> None:
    # A virtualenv or a repository may live under /tmp: the sandbox must not hide it.
    tool = tmp_path / "bin" / "tool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho tool-ran\n")
    tool.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    ev = run_command(str(tool), work, timeout_s=10, source="config", sandbox="bwrap")
    assert ev.exit_code == 0 and "tool-ran" in ev.output_tail
