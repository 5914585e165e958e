"""Run one verification command, contained: own session, time limit, scrubbed environment.

The command runs under ``bash -c`` in its own session and process group, with stdin closed
and stdout and stderr merged into an unnamed temporary file (no pipe to fill up). When it
exits or times out, every process left in its group or session is killed, so background
children never outlive it. Each command's environment also carries a fresh random marker
(``BATON_COMMAND_ID``) that its descendants inherit; a process found with that marker is
killed too, so a child that left the session with ``setsid`` (or double-forked and
re-parented itself) still does not survive, unless it also scrubbed its own environment.
With bubblewrap it also runs without network, on a read-only
view of the system with only the worktree and a private scratch folder (``TMPDIR``)
writable, with the user's home directory replaced by an empty one (the toolchain folders
on ``PATH`` and the running Python stay visible, read-only), in its own PID namespace (so
even a process that escaped with ``setsid`` dies with it).

The environment of every command is scrubbed: variables whose name or value looks secret,
and every value the run's masker knows (the key of each configured ``api_key_env``, whatever
its name), are removed.

A command that times out is recorded with ``timed_out=True`` and ``exit_code=None``; one
killed by a signal has a negative exit code (``-9`` for SIGKILL), as in subprocess. One
that writes more than MAX_CAPTURE_BYTES is killed too, with a note at the end of its tail.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Literal

from baton.errors import UserError
from baton.models import CommandEvidence
from baton.secrets import SecretMasker, looks_secret_name, looks_secret_value

__all__ = ["SandboxUnavailable", "run_command", "sandbox_available", "sandbox_notice",
           "scrubbed_env"]

KILL_GRACE_S = 1.0
# A command writing more than this is killed: a runaway loop must not fill the disk.
MAX_CAPTURE_BYTES = 256 * 1024 * 1024
WATCH_INTERVAL_S = 0.25
# Extra bytes before the kept tail that are masked too, so a secret cut by the tail's
# first byte is still recognised and masked whole.
MASK_MARGIN_BYTES = 4096
# Set in every command's environment to a fresh value; descendants inherit it.
MARKER_VARIABLE = "BATON_COMMAND_ID"
SCRATCH_PREFIX = "baton-scratch-"
"""A sandboxed command's private temporary folder, in the system's temporary folder."""

_SECRET_PREFIXES = ("OPENAI_", "ANTHROPIC_")


class SandboxUnavailable(UserError):
    """The configuration requires bubblewrap, and it is missing or does not work here."""


def scrubbed_env(environ: Mapping[str, str],
                 masker: SecretMasker | None = None) -> dict[str, str]:
    """``environ`` without variables that look like secrets, by name or by value, without
    any variable whose value ``masker`` masks, and without any that holds an API key the
    masker knows (a configured key variable, whatever its name)."""
    known = set(masker.values) if masker is not None else set()
    keys = masker.keys() if masker is not None else set()
    return {name: value for name, value in environ.items()
            if not _secret_variable(name, value) and value not in known
            and not any(key in value for key in keys)}


def _secret_variable(name: str, value: str) -> bool:
    upper = name.upper()
    return (
        looks_secret_name(name)
        or upper.startswith(_SECRET_PREFIXES)
        or "_API_" in upper
        or upper.endswith("_API")
        or looks_secret_value(value)
    )


def _home_dirs() -> list[str]:
    """The user's home directory (and /root), which commands must not see."""
    homes = {os.path.realpath(os.path.expanduser("~")), "/root"}
    return sorted(h for h in homes if h not in ("/", "") and os.path.isdir(h))


# Toolchain folders that need a sibling to work (cargo's rustc proxy reads ~/.rustup).
_TOOLCHAIN_SIBLINGS = {".cargo": (".rustup",), ".local": ()}
# Never bound back, even when on PATH.
_NEVER_BOUND = {".ssh", ".gnupg", ".aws", ".config", ".docker", ".kube", ".password-store",
                ".mozilla", ".netrc"}


def _toolchain_under(homes: list[str], path_env: str | None) -> list[str]:
    """Toolchain folders inside a home: what PATH and the running Python need, read-only.

    A PATH entry ``~/X/...`` brings back ``~/X`` whole (pyenv, nvm, cargo need their
    whole folder), except ``~/.local``, of which only the PATH entry and ``lib`` come
    back, and never a folder that holds credentials (``~/.ssh``, ``~/.config``, ...).
    """
    import sys

    wanted = [p for p in (path_env or "").split(os.pathsep) if p]
    wanted += [sys.prefix, sys.base_prefix]
    found: list[str] = []

    def add(folder: str) -> None:
        if folder not in found and os.path.isdir(folder):
            found.append(folder)

    for entry in wanted:
        real = os.path.realpath(entry)
        home = next((h for h in homes if real.startswith(h + os.sep)), None)
        if home is None:
            continue
        top = real[len(home) + 1:].split(os.sep, 1)[0]
        if top in _NEVER_BOUND:
            continue
        if top == ".local":
            add(real)
            add(os.path.join(home, ".local", "lib"))
            continue
        add(os.path.join(home, top))
        for sibling in _TOOLCHAIN_SIBLINGS.get(top, ()):
            add(os.path.join(home, sibling))
    return found


def _bwrap_args(cwd: Path, scratch: Path, path_env: str | None = None,
                hidden: Sequence[Path] = (), *, network: bool = False,
                writable: Sequence[Path] = ()) -> list[str]:
    # /tmp stays visible read-only (a virtualenv or the repo itself may live there);
    # temporary files go to a private scratch folder named by TMPDIR. The home directory
    # is an empty tmpfs: ~/.ssh, ~/.netrc, ~/.config and the like are not there; the
    # toolchain on PATH inside it is bound back read-only, and the worktree read-write.
    # Folders in ``hidden`` (the repository's git metadata, baton's run folders) appear
    # empty and read-only.
    work = str(cwd)
    homes = _home_dirs()
    hide: list[str] = []
    for home in homes:
        hide += ["--tmpfs", home]
    toolchain = _toolchain_under(homes, path_env)
    for folder in toolchain:
        hide += ["--ro-bind", folder, folder]
    for secret in hidden:
        real = os.path.realpath(secret)
        under_home = any(_contains(h, real) for h in homes) \
            and not any(_contains(t, real) for t in toolchain)
        if os.path.isdir(real) and not under_home and not _contains(real, work):
            hide += ["--tmpfs", real, "--remount-ro", real]
    return [
        "bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        *hide,
        "--bind", str(scratch), str(scratch),
        *[arg for folder in writable
          for arg in ("--bind", os.path.realpath(folder), os.path.realpath(folder))],
        "--bind", work, work,
        "--chdir", work,
        *([] if network else ["--unshare-net"]),
        "--unshare-pid",
        "--die-with-parent",
        "--new-session",
        "--",
    ]  # fmt: skip


def _contains(folder: str, path: str) -> bool:
    return os.path.commonpath([folder, path]) == folder


@functools.cache
def sandbox_available() -> bool:
    """True if bubblewrap is installed and works here (tried once, then remembered)."""
    if shutil.which("bwrap") is None:
        return False
    try:
        with tempfile.TemporaryDirectory() as probe:
            result = subprocess.run(
                [*_bwrap_args(Path(probe), Path(probe)), "true"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
                check=False,
            )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


UNSANDBOXED = (
    'sandbox = "auto" but bubblewrap is missing or does not work here: verification '
    "commands run WITHOUT a sandbox. They can reach the network, read your home directory "
    "and write outside the worktree; baton still scrubs secrets from their environment, "
    "kills their process group, session and every process carrying their environment "
    "marker at the end. Install bubblewrap (Debian: bubblewrap), or set "
    'sandbox = "bwrap" in your user config to refuse to run without it.'
)


def sandbox_notice(sandbox: str) -> str | None:
    """A warning when ``sandbox`` resolves to no sandbox without the user asking for none."""
    if sandbox == "auto" and not sandbox_available():
        return UNSANDBOXED
    return None


def _resolve_sandbox(sandbox: str) -> Literal["bwrap", "none"]:
    if sandbox == "none":
        return "none"
    if sandbox == "auto":
        return "bwrap" if sandbox_available() else "none"
    if sandbox == "bwrap":
        if not sandbox_available():
            raise SandboxUnavailable(
                "the sandbox is set to bwrap but bubblewrap is missing or does not work here "
                "(it needs user namespaces); install the Debian package bubblewrap "
                'or set sandbox = "none"'
            )
        return "bwrap"
    raise UserError(f'unknown sandbox {sandbox!r}; use "auto", "bwrap" or "none"')


def run_command(
    command: str,
    cwd: Path,
    *,
    timeout_s: float,
    source: Literal["config", "plan", "reviewer"],
    max_output_bytes: int = 64_000,
    env: Mapping[str, str] | None = None,
    sandbox: str = "auto",
    log_path: Path | None = None,
    secrets: SecretMasker | None = None,
    session_file: Path | None = None,
    on_output: Callable[[str], None] | None = None,
    hide: Sequence[Path] = (),
    network: bool = False,
    writable: Sequence[Path] = (),
    pass_env: Mapping[str, str] | None = None,
    stop: Callable[[], bool] | None = None,
) -> CommandEvidence:
    """Run ``command`` in ``cwd`` and return what was observed; never raises for its failure.

    In the sandbox, the folders in ``hide`` appear empty to the command, those in
    ``writable`` are writable besides ``cwd``, and the network is cut unless ``network``
    (a coding agent must reach its model). ``pass_env`` is added after the environment is
    scrubbed of secrets (an agent's own API key: give ``secrets`` a masker that knows it).
    ``on_output``, if given, is called with the latest line of output (masked) while the
    command runs, a few times a second, for a live display; ``stop``, if given, is asked as
    often, and a True ends the command the way a time-out does (``exit_code`` None).
    """
    if timeout_s <= 0:
        raise UserError(f"the command timeout must be positive, not {timeout_s}")
    used = _resolve_sandbox(sandbox)
    masker = secrets if secrets is not None else SecretMasker()
    shell = shutil.which("bash") or "/bin/sh"
    argv = [shell, "-c", command]
    child_env = scrubbed_env(os.environ if env is None else env, masker)
    child_env.update(pass_env or {})  # the caller's masker knows these values
    marker = uuid.uuid4().hex
    child_env[MARKER_VARIABLE] = marker
    sandboxed = used == "bwrap"
    with tempfile.TemporaryFile() as output, (
        tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) if sandboxed
        else contextlib.nullcontext(None)
    ) as scratch:
        if scratch is not None:
            argv = [*_bwrap_args(Path(os.path.realpath(cwd)), Path(scratch),
                                 child_env.get("PATH"), hide, network=network,
                                 writable=writable), *argv]
            child_env.update(TMPDIR=scratch, TMP=scratch, TEMP=scratch)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return CommandEvidence(
                command=masker.mask(command),
                source=source,
                ran=False,
                reason_not_run=f"could not start: {exc.strerror or exc}",
                sandbox=used,
            )
        if session_file is not None:  # lets a later resume end it if this process dies
            session_file.write_text(f"{proc.pid} {marker} {os.path.realpath(cwd)}\n"
                                    + (f"scratch {scratch}\n" if scratch else ""))
        try:
            outcome = _wait_exited(proc, timeout_s, output,
                                   _latest_line(output, masker, on_output), stop)
            duration = time.monotonic() - started
        finally:
            _kill_session(proc.pid, marker)  # also on KeyboardInterrupt: leave nothing running
            returncode = proc.wait()
            if session_file is not None:
                session_file.unlink(missing_ok=True)
        size, digest, tail = _read_output(output, max_output_bytes)
    kept = _mask_tail(masker, tail, max_output_bytes, cut=size > len(tail))
    if outcome == "flood":
        kept += f"\n[baton: output passed {MAX_CAPTURE_BYTES} bytes; the command was killed]\n"
    timed_out = outcome == "timeout"
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(kept, encoding="utf-8")
    return CommandEvidence(
        command=masker.mask(command),  # a reviewer's command may carry a token
        source=source,
        ran=True,
        exit_code=None if timed_out or outcome == "stopped" else returncode,
        duration_s=round(duration, 3),
        timed_out=timed_out,
        output_tail=kept,
        output_sha256=digest,
        output_bytes=size,
        sandbox=used,
    )


# --- waiting and killing -------------------------------------------------------------------


Outcome = Literal["exited", "timeout", "flood", "stopped"]


def _latest_line(output: IO[bytes], masker: SecretMasker,
                 on_output: Callable[[str], None] | None) -> Callable[[], None] | None:
    """A function passing the output's latest non-empty line to ``on_output`` on change."""
    if on_output is None:
        return None
    last = [""]

    def tick() -> None:
        size = os.fstat(output.fileno()).st_size
        chunk = os.pread(output.fileno(), 4096, max(0, size - 4096))
        lines = [ln for ln in chunk.decode("utf-8", "replace").splitlines() if ln.strip()]
        line = masker.mask(lines[-1][-300:]) if lines else ""
        if line != last[0]:
            last[0] = line
            on_output(line)

    return tick


def _wait_exited(proc: subprocess.Popen[bytes], timeout_s: float, output: IO[bytes],
                 tick: Callable[[], None] | None = None,
                 stop: Callable[[], bool] | None = None) -> Outcome:
    """Wait until the process exits (without reaping it), times out, or floods its output.

    Leaving it a zombie keeps its pid, which is also its process group and session id,
    from being reused while we kill what it left behind.
    """
    deadline = time.monotonic() + timeout_s
    with _exit_waiter(proc) as exited_within:
        while (remaining := deadline - time.monotonic()) > 0:
            if exited_within(min(remaining, WATCH_INTERVAL_S)):
                return "exited"
            if os.fstat(output.fileno()).st_size > MAX_CAPTURE_BYTES:
                return "flood"
            if tick is not None:
                tick()
            if stop is not None and stop():
                return "stopped"
    return "timeout"


@contextlib.contextmanager
def _exit_waiter(proc: subprocess.Popen[bytes]) -> Iterator[Callable[[float], bool]]:
    """A function that waits up to some seconds for ``proc`` to exit; True if it did."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        fd = None
    if fd is None:

        def reap_within(seconds: float) -> bool:  # no pidfd: reap, accept the pid-reuse risk
            try:
                proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                return False
            return True

        yield reap_within
        return
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        yield lambda seconds: bool(poller.poll(max(1, int(seconds * 1000))))
    finally:
        os.close(fd)


def end_orphaned_command(session_file: Path) -> bool:
    """Kill what a command of a crashed baton left running, and remove its scratch
    folder; True if a process was found.

    The session file names the command's session id, its environment marker and its
    working folder, then its scratch folder (sandboxed commands). Processes carrying the
    marker are always killed; the session and group are killed only if one of their
    processes still runs in that folder, so a reused pid is left alone. The scratch folder
    is removed only if it is a ``baton-scratch-*`` folder right in the temporary folder.
    """
    try:
        command, scratch = _read_session(session_file)
    except OSError:
        return False
    try:
        sid_text, marker, cwd = command.split(maxsplit=2)
        sid: int | None = int(sid_text)
    except ValueError:
        parsed = found = False
    else:
        parsed = True
        cwd = cwd.strip()
        if not any(_runs_in(pid, cwd) for pid in _members(sid, None)):
            sid = None  # the session is gone; its id may belong to someone else by now
        found = bool(_members(sid, marker))
        if found:
            _kill_session(sid, marker)
    ours = _our_scratch(scratch)  # after the kill: nothing writes into it any more
    if ours is not None:
        shutil.rmtree(ours, ignore_errors=True)
    if parsed:
        session_file.unlink(missing_ok=True)
    return found


def orphaned_scratch(session_file: Path) -> Path | None:
    """The scratch folder a crashed command left, if its session file names one of baton's."""
    try:
        return _our_scratch(_read_session(session_file)[1])
    except OSError:
        return None


def _read_session(session_file: Path) -> tuple[str, str | None]:
    """The session file's command line ("sid marker cwd") and the scratch folder it names
    (None for an unsandboxed command, or a file written before scratch folders were named)."""
    command, named, scratch = session_file.read_text().rpartition("\nscratch ")
    return (command, scratch.rstrip("\n")) if named else (scratch, None)


def _our_scratch(named: str | None) -> Path | None:
    if named is None:
        return None
    path = Path(named)
    real = Path(os.path.realpath(named))
    ours = path.name.startswith(SCRATCH_PREFIX) and not path.is_symlink() and real.is_dir() \
        and str(real.parent) == os.path.realpath(tempfile.gettempdir())
    return real if ours else None


def _runs_in(pid: int, folder: str) -> bool:
    try:
        return os.path.realpath(f"/proc/{pid}/cwd").startswith(folder)
    except OSError:
        return False


def _kill_session(sid: int | None, marker: str | None) -> None:
    """Kill the command's process group, session and marked processes: TERM, grace, KILL."""
    if not _signal_all(sid, marker, signal.SIGTERM):
        return
    deadline = time.monotonic() + KILL_GRACE_S
    while time.monotonic() < deadline and _members(sid, marker):
        time.sleep(0.02)
    for _ in range(100):
        if not _signal_all(sid, marker, signal.SIGKILL):
            return
        time.sleep(0.01)


def _signal_all(sid: int | None, marker: str | None, sig: signal.Signals) -> bool:
    """Send ``sig`` to the group and every live member; True if there was any."""
    members = _members(sid, marker)
    if sid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(sid, sig)
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return bool(members)


def _members(sid: int | None, marker: str | None) -> list[int]:
    """Live (non-zombie) processes in session or process group ``sid``, or whose
    environment carries ``marker`` (only this user's processes can be read)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return _group_alive(sid) if sid is not None else []
    needle = f"\0{MARKER_VARIABLE}={marker}\0".encode() if marker else None
    me = os.getpid()
    found = []
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, pgrp, session = fields[0], int(fields[2]), int(fields[3])
        if state in (b"Z", b"X"):
            continue
        if (sid is not None and sid in (pgrp, session)) or (
            needle is not None and _has_marker(entry, needle)
        ):
            found.append(int(entry))
    return found


def _has_marker(pid: str, needle: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return needle in b"\0" + fh.read()
    except OSError:  # another user's process, or gone
        return False


def _group_alive(pgid: int) -> list[int]:
    """Without /proc, the best we can say: the group still has members (maybe zombies)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return []
    return [pgid]


# --- output --------------------------------------------------------------------------------


def _read_output(output: IO[bytes], max_bytes: int) -> tuple[int, str, bytes]:
    """Size and sha256 of everything written, and the last bytes (plus a masking margin)."""
    output.flush()
    output.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := output.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    output.seek(max(0, size - max_bytes - MASK_MARGIN_BYTES))
    return size, digest.hexdigest(), output.read()


def _mask_tail(masker: SecretMasker, tail: bytes, max_bytes: int, *, cut: bool) -> str:
    """The masked text of the last ``max_bytes`` bytes, masked together with the margin."""
    masked = masker.mask(tail.decode("utf-8", errors="replace")).encode("utf-8")
    # If the output was cut, never keep the margin's first bytes: a secret cut there
    # could not be recognised.
    start = max(len(masked) - max_bytes, 256 if cut else 0)
    return masked[start:].decode("utf-8", errors="ignore").lstrip("\ufffd")
