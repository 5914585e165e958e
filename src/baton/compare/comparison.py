"""A comparison folder and its scheduler: which trials, in what order, within what limits.

The folder holds ``comparison.json`` (the suite, policies, trials and flags it was started
with), ``results.jsonl`` (one line per finished trial, appended and fsynced) and
``trials/<id>/`` (the trial's clone, with its run folder inside, and its ``result.json``).
A trial runs in its own process, so Ctrl-C, SIGTERM or a killed coordinator leave each
run to baton's own resume; ``resume`` runs only what has no result.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from baton import gate
from baton.compare.suite import Suite, load_suite
from baton.compare.trial import (
    TrialResult,
    TrialSpec,
    prepare_clone,
    run_trial,
    trial_overrides,
)
from baton.errors import ConfigError, RunInterrupted, UserError
from baton.llm.budget import check_prices_known

FORMAT = 1
_RECORD_LOCK = threading.Lock()


def interleave(tasks: list[str], policies: list[str], trials: int) -> list[TrialSpec]:
    """Every task x policy x trial, ordered so that policies alternate (rotating which
    goes first) and a bad minute at a provider hits every policy alike."""
    specs: list[TrialSpec] = []
    turn = 0
    for trial in range(1, trials + 1):
        for task in tasks:
            order = policies[turn % len(policies):] + policies[:turn % len(policies)]
            turn += 1
            specs.extend(TrialSpec(task, p, trial) for p in order)
    return specs


@dataclass
class Comparison:
    folder: Path
    suite: Suite
    policies: list[str]
    trials: int
    concurrency: int
    max_cost_usd: float | None
    overrides: dict[str, Any] = field(default_factory=dict)
    run_limit_usd: dict[str, float | None] = field(default_factory=dict)
    endpoints: list[str] = field(default_factory=list)

    # -- the folder ----------------------------------------------------------------

    @classmethod
    def create(cls, folder: Path, suite: Suite, policies: list[str], trials: int, *,
               concurrency: int = 4, max_cost_usd: float | None = None,
               overrides: dict[str, Any] | None = None,
               environ: dict[str, str] | None = None) -> Comparison:
        """Check everything a trial needs, then write the folder's record."""
        if not policies or len(set(policies)) != len(policies):
            raise UserError("--policies needs one or more distinct policy names")
        if trials < 1:
            raise UserError("--trials must be at least 1")
        if concurrency < 1:
            raise UserError("--concurrency must be at least 1")
        folder = Path(folder).resolve()
        if (folder / "comparison.json").exists():
            raise UserError(f"{folder} already holds a comparison; continue it with "
                            f"`baton compare resume {folder}` or choose another --out")
        comparison = cls(folder, suite, policies, trials, concurrency, max_cost_usd,
                         dict(overrides or {}))
        comparison._check(environ)
        folder.mkdir(parents=True, exist_ok=True)
        record = {"format": FORMAT, "suite": str(suite.path), "suite_digest": suite.digest,
                  "policies": policies, "trials": trials, "concurrency": comparison.concurrency,
                  "max_cost_usd": max_cost_usd, "overrides": comparison.overrides,
                  "run_limit_usd": comparison.run_limit_usd,
                  "endpoints": comparison.endpoints, "created": time.time()}
        _write_json(folder / "comparison.json", record)
        return comparison

    @classmethod
    def open(cls, folder: Path) -> Comparison:
        folder = Path(folder).resolve()
        try:
            record = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{folder} holds no comparison (no comparison.json)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{folder}/comparison.json is not valid JSON: {exc}") from None
        if record.get("format") != FORMAT:
            raise UserError(f"{folder}/comparison.json has format {record.get('format')!r}; "
                            f"this baton reads format {FORMAT}")
        suite = load_suite(Path(record["suite"]))
        if suite.digest != record["suite_digest"]:
            raise UserError(f"the suite {suite.path} changed since this comparison started; "
                            "results would mix two suites: start a new comparison")
        return cls(folder, suite, record["policies"], record["trials"],
                   record["concurrency"], record["max_cost_usd"], record["overrides"],
                   record["run_limit_usd"], record["endpoints"])

    def _check(self, environ: dict[str, str] | None) -> None:
        """Policies, prices, endpoints and the cost limit, before any model call."""
        limits: dict[str, float | None] = {}
        endpoints: dict[str, int] = {}
        for task in self.suite.tasks:
            for policy in self.policies:
                settings = gate.load_settings(task.repo, config_file=self.suite.config,
                                              overrides=self.overrides or None,
                                              policy=policy, environ=environ)
                config = settings.config
                check_prices_known(config.limits, config.role_limits, settings.routes,
                                   config.prices)
                gate.check_endpoints(config, settings.routes, settings.environ)
                for route in settings.routes.values():
                    endpoints[route.endpoint] = config.endpoint(route.endpoint).max_concurrency
                limit = config.limits.max_cost_usd
                if self.max_cost_usd is not None and limit is None:
                    raise ConfigError(
                        f"--max-cost needs a per-run cost limit to keep the comparison under "
                        f"it, and policy {policy!r} on task {task.id!r} has none: set "
                        "[limits] max_cost_usd in the suite's config or pass --set "
                        "limits.max_cost_usd=...")
                if limit is not None:
                    limits[policy] = max(limits.get(policy) or 0.0, limit)
                else:
                    limits.setdefault(policy, None)
        self.run_limit_usd = limits
        self.endpoints = sorted(endpoints)
        self.concurrency = max(1, min([self.concurrency, *endpoints.values()]))

    # -- trials ----------------------------------------------------------------------

    def specs(self) -> list[TrialSpec]:
        return interleave([t.id for t in self.suite.tasks], self.policies, self.trials)

    def spec(self, trial_id: str) -> TrialSpec:
        for spec in self.specs():
            if spec.id == trial_id:
                return spec
        raise UserError(f"this comparison has no trial {trial_id!r}")

    def trial_dir(self, spec: TrialSpec) -> Path:
        return self.folder / "trials" / spec.id

    def execute(self, spec: TrialSpec, environ: dict[str, str] | None = None) -> TrialResult:
        """Run (or resume) one trial here, in this process."""
        task = self.suite.task(spec.task)
        clone = prepare_clone(task, self.trial_dir(spec) / "repo")
        return run_trial(spec, task, clone, config_file=self.suite.config,
                         overrides=trial_overrides(self.overrides, task, spec, self.endpoints),
                         environ=environ)

    def results(self) -> list[TrialResult]:
        """Every finished trial, the first line per trial (a torn last line is skipped)."""
        path = self.folder / "results.jsonl"
        found: dict[str, TrialResult] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    result = TrialResult.from_dict(json.loads(line))
                except (json.JSONDecodeError, TypeError):
                    continue
                found.setdefault(result.id, result)
        return list(found.values())

    def record(self, result: TrialResult) -> None:
        """Append the trial's line and fsync it (trials record from their own threads)."""
        with _RECORD_LOCK, open(self.folder / "results.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(result.to_dict()) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def reserve_for(self, spec: TrialSpec) -> float:
        """What a trial may cost at most (its policy's per-run limit)."""
        return float(self.run_limit_usd.get(spec.policy) or 0.0)


class TrialBackend(Protocol):
    """Where trials run: in processes on this machine, or on workers elsewhere."""

    def run(self, comparison: Comparison, spec: TrialSpec) -> TrialResult: ...


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class LocalBackend:
    """Each trial in its own ``python -m baton.compare.worker`` process on this machine.

    A coordinator killed even with SIGKILL takes its trials down with SIGTERM (baton pauses
    each run as interrupted); ``stop()`` sends SIGTERM to every running trial.
    """

    def __init__(self) -> None:
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def run(self, comparison: Comparison, spec: TrialSpec) -> TrialResult:
        folder = comparison.trial_dir(spec)
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / "result.json"
        out.unlink(missing_ok=True)
        with open(folder / "trial.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "baton.compare.worker", str(comparison.folder), spec.id],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
            with self._lock:
                self._procs.add(proc)
            try:
                code = proc.wait()
            finally:
                with self._lock:
                    self._procs.discard(proc)
        if out.exists():
            return TrialResult.from_dict(json.loads(out.read_text(encoding="utf-8")))
        tail = (folder / "trial.log").read_text(encoding="utf-8", errors="replace")[-800:]
        return TrialResult(id=spec.id, task=spec.task, policy=spec.policy, trial=spec.trial,
                           state="interrupted" if code < 0 else "error",
                           error=f"the trial process ended with {code}: {tail.strip()}")

    def stop(self) -> None:
        with self._lock:
            for proc in self._procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)


class ThreadBackend:
    """Each trial in a thread of this process: no process start per trial, for the demo and
    for many short trials. A crash of the coordinator takes its runs with it (each stays
    resumable), and Ctrl-C waits for the running trials to finish: for long comparisons
    the process backend (``LocalBackend``) is the default."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = environ

    def run(self, comparison: Comparison, spec: TrialSpec) -> TrialResult:
        try:
            return comparison.execute(spec, environ=self.environ)
        except RunInterrupted as exc:
            return TrialResult(id=spec.id, task=spec.task, policy=spec.policy,
                               trial=spec.trial, state="interrupted", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - one trial's crash is its result
            return TrialResult(id=spec.id, task=spec.task, policy=spec.policy,
                               trial=spec.trial, state="error",
                               error=f"the trial crashed: {type(exc).__name__}: {exc}")


@dataclass
class Progress:
    """What a live display needs after each change."""

    done: int
    running: int
    left: int
    not_run: int
    spent_usd: float
    elapsed_s: float
    last: TrialResult | None = None

    @property
    def eta_s(self) -> float | None:
        if not self.done or not (self.left or self.running):
            return None
        return self.elapsed_s / self.done * (self.left + self.running)


def run_comparison(comparison: Comparison, *, backend: TrialBackend | None = None,
                   on_progress: Callable[[Progress], None] | None = None
                   ) -> tuple[list[TrialResult], list[TrialSpec]]:
    """Run every trial without a result, ``comparison.concurrency`` at a time, stopping
    before ``max_cost_usd`` could be crossed. Returns all results and the trials not run.

    Interrupted (KeyboardInterrupt): running trials get SIGTERM, finished ones are kept,
    and the interrupt is raised again.
    """
    backend = backend or LocalBackend()
    finished = {r.id: r for r in comparison.results() if r.state != "interrupted"}
    pending: Iterator[TrialSpec] = iter([s for s in comparison.specs() if s.id not in finished])
    spent = sum(r.cost_usd for r in finished.values())
    started = time.monotonic()
    not_run: list[TrialSpec] = []
    running: dict[Future[TrialResult], TrialSpec] = {}
    left = sum(1 for s in comparison.specs() if s.id not in finished)

    def reserved() -> float:
        return sum(comparison.reserve_for(s) for s in running.values())

    def report(last: TrialResult | None = None) -> None:
        if on_progress:
            on_progress(Progress(len(finished), len(running), left, len(not_run), spent,
                                 time.monotonic() - started, last))

    def trial(spec: TrialSpec) -> TrialResult:
        # Recorded here, in the trial's thread: the fsync never holds up the scheduling.
        result = backend.run(comparison, spec)
        if result.state != "interrupted":
            comparison.record(result)
        return result

    def collect() -> None:
        nonlocal spent
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            result = future.result()
            running.pop(future)
            spent += result.cost_usd
            if result.state != "interrupted":
                finished[result.id] = result
            report(result)

    pool = ThreadPoolExecutor(max_workers=comparison.concurrency,
                              thread_name_prefix="baton-trial")
    try:
        for spec in pending:
            while len(running) >= comparison.concurrency:
                collect()
            limit = comparison.max_cost_usd
            if limit is not None and spent + reserved() + comparison.reserve_for(spec) \
                    > limit + 1e-9:
                not_run.append(spec)
                left -= 1
                continue
            running[pool.submit(trial, spec)] = spec
            left -= 1
            report()
        while running:
            collect()
    except KeyboardInterrupt:
        stop = getattr(backend, "stop", None)
        if stop:
            stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    _write_json(comparison.folder / "not_run.json", [s.id for s in not_run])
    return list(finished.values()), not_run


def _write_json(path: Path, data: Any) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
