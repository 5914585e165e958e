"""Shared pieces of the run benchmarks: the gateway in its own process, figures, rows."""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from baton.demo import demo_script_path


def compile_baton() -> None:
    """Write baton's bytecode, as ``pip install`` does: an editable checkout run under
    PYTHONDONTWRITEBYTECODE would otherwise compile every edited module in every process
    measured, which no installed baton does."""
    import compileall

    import baton

    compileall.compile_dir(str(Path(baton.__file__).parent), quiet=1)


def demo_script(latency: float, jitter: float = 0.0) -> dict[str, Any]:
    """The demo's gateway script with every answer taking ``latency`` seconds (plus a
    uniform draw in [-jitter, +jitter])."""
    script = json.loads(demo_script_path().read_text())
    for entries in script["models"].values():
        for entry in entries:
            entry["latency_s"] = latency
            if jitter:
                entry["latency_jitter_s"] = jitter
    return script


def _serve(script: dict[str, Any], ready: Any, stop: Any) -> None:
    from baton.gateway.server import FakeGateway

    with FakeGateway(script) as gateway:
        ready.put(gateway.base_url)
        stop.wait()


@contextmanager
def gateway_process(latency: float, jitter: float = 0.0, script: dict[str, Any] | None = None
                    ) -> Iterator[tuple[str, int]]:
    """The fake gateway serving the demo script (or ``script``) in a process of its own (its
    CPU time and memory are not counted as baton's or the floor's); yields (base_url, pid)."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    script = script if script is not None else demo_script(latency, jitter)
    proc = context.Process(target=_serve, args=(script, ready, stop),
                           daemon=True)
    proc.start()
    try:
        yield ready.get(timeout=30), proc.pid or 0
    finally:
        stop.set()
        proc.join(10)


def user_config(folder: Path, base_url: str, max_concurrency: int | None = None
                ) -> dict[str, str]:
    """An environment whose user configuration points at ``base_url`` (with the endpoint's
    ``max_concurrency`` raised when given: the default, 8, caps calls per process)."""
    user = folder / "user.toml"
    text = f'[endpoints.default]\nbase_url = "{base_url}"\n'
    if max_concurrency is not None:
        text += f"max_concurrency = {max_concurrency}\n"
    user.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATON_"))}
    env["BATON_CONFIG"] = str(user)
    return env


def spread(values: Sequence[float], fmt: str = "{:.3f}") -> str:
    """Median with min-max, e.g. ``5.312 (5.290-5.401)``."""
    return (fmt.format(statistics.median(values)) + " ("
            + fmt.format(min(values)) + "-" + fmt.format(max(values)) + ")")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def tree_memory_mb(root: int, skip: set[int]) -> tuple[float, float]:
    """Resident memory of ``root`` and its descendants (not those in ``skip``), in MB: the
    sum of their RSS (shared pages counted in every process) and of their PSS (shared
    pages divided among the processes sharing them)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    rss = pss = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in skip:
            continue
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return rss / 1024, pss / 1024


class Peak:
    """Samples the resident memory of this process tree (minus ``skip``) in the background."""

    def __init__(self, skip: set[int]) -> None:
        self.skip = skip
        self.peak = self.peak_pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            rss, pss = tree_memory_mb(os.getpid(), self.skip)
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)

    def __enter__(self) -> Peak:
        self.peak, self.peak_pss = tree_memory_mb(os.getpid(), self.skip)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
