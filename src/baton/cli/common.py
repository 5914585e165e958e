"""What every CLI module shares: error mapping, JSON output, the console."""

from __future__ import annotations

import functools
import json
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from baton.errors import BatonError

F = TypeVar("F", bound=Callable[..., Any])


def _next_step(run_id: str | None, state: str) -> str:
    if not run_id:
        return ""
    if state == "interrupted":
        return ""  # the message already says how to continue
    return (f"\nrun {run_id} is recorded in .baton/runs/{run_id}/ (`baton show {run_id}`); "
            f"after fixing the cause, continue it with `baton resume {run_id}`")


def _fail(message: str, exit_code: int, run_id: str | None, state: str, as_json: bool,
          details: str | None = None) -> None:
    """Print the error (and, under --json, one result object on stdout), then exit."""
    if as_json:
        print_json({"run_id": run_id, "state": state, "decision": None, "error": message,
                    "exit_code": exit_code, **({"details": details} if details else {})})
    prefix = f"baton: error: run {run_id}: " if run_id and run_id not in message \
        else "baton: error: "
    click.echo(prefix + message + _next_step(run_id, state), err=True)
    sys.exit(exit_code)


def _crash_file(exc: BaseException) -> str:
    """Keep the traceback of an unexpected exception outside any run; return its path."""
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="baton-error-", suffix=".txt")
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write("".join(traceback.format_exception(exc)))
    return path


def _on_sigterm(signum: int, frame: Any) -> None:
    from baton.errors import Terminated

    raise Terminated()


def stop_runs_on_sigterm() -> None:
    """From now on SIGTERM stops a run the way Ctrl-C does: recorded, named, resumable."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def handle_errors(func: F) -> F:
    """Turn every failure into a message naming the run, and the right exit code.

    Under ``--json`` stdout gets exactly one result object, errors included.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return func(*args, **kwargs)
        except BatonError as exc:
            from baton.errors import InternalError, RunInterrupted

            state = ("interrupted" if isinstance(exc, RunInterrupted) else
                     "failed" if exc.run_id else "error")
            details = exc.details if isinstance(exc, InternalError) else None
            _fail(str(exc), exc.exit_code, exc.run_id, state, as_json, details)
        except KeyboardInterrupt as exc:  # outside a run's workflow (before it started)
            from baton.errors import Terminated

            name, code = ("SIGTERM", 143) if isinstance(exc, Terminated) else ("Ctrl-C", 130)
            run_id = kwargs.get("run_id")
            _fail(f"stopped by {name}" + (f"; continue with `baton resume {run_id}`"
                                          if run_id else ""), code, run_id, "interrupted",
                  as_json)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - a bug: say where the traceback is
            path = _crash_file(exc)
            _fail(f"unexpected {type(exc).__name__}: {exc} (a bug in baton; the traceback is "
                  f"in {path})", 2, None, "error", as_json, path)

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))

