"""What every CLI module shares: error mapping, JSON output, the console, and the options
and steps of the commands that drive runs (run, resume, approve, review, demo)."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
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
    import signal

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
    import json

    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))



# -- the commands that drive runs ------------------------------------------------------------


def json_option(func: F) -> F:
    """``--json``: one JSON result object on stdout."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON result object.")(func)


def repo_option(help: str = "The git repository (default: current directory).") -> Callable[[F], F]:
    """``--repo DIR`` (default: the current directory)."""
    return click.option("--repo", type=click.Path(path_type=Path, file_okay=False),
                        default=Path("."), help=help)


def config_option(func: F) -> F:
    """``--config FILE``: the user's own settings for this command (may define endpoints)."""
    return click.option(
        "--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
        help="A config file with the highest precedence (may define endpoints).")(func)


def override_options(func: F) -> F:
    """The flags of the moment: --allow-model-commands, --set, and the hard limits; the
    command gets them as one ``overrides`` dict (see :func:`overrides_from`).

    Place it under ``handle_errors`` so that a bad ``--set`` is reported like any error.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, allow_model_commands: bool, settings: tuple[str, ...],
                max_cost: float | None, max_calls: int | None, max_tokens: int | None,
                max_wall: float | None, **kwargs: Any) -> Any:
        kwargs["overrides"] = overrides_from(max_cost, max_calls, max_tokens, max_wall,
                                             allow_model_commands, settings)
        return func(*args, **kwargs)

    command: Any = wrapper
    for opt in reversed([
        click.option("--allow-model-commands", is_flag=True,
                     help="Also run verification commands proposed by the models."),
        click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                     help="Any setting, highest precedence, e.g. "
                     "role_limits.implementer.max_cost_usd=0.5 (repeatable)."),
        click.option("--max-cost", type=float, help="Most US dollars this run may spend."),
        click.option("--max-calls", type=int, help="Most model calls (failed attempts count)."),
        click.option("--max-tokens", type=int, help="Most input plus output tokens."),
        click.option("--max-wall", type=float, help="Most seconds of calls and commands."),
    ]):
        command = opt(command)
    return command  # type: ignore[no-any-return]


def overrides_from(max_cost: float | None, max_calls: int | None, max_tokens: int | None,
                   max_wall: float | None, allow_model_commands: bool,
                   settings: tuple[str, ...] = ()) -> dict[str, Any]:
    """The settings the flags give, as a configuration layer of the highest precedence."""
    from baton.config import deep_merge

    out: dict[str, Any] = {}
    for setting in settings:
        out = deep_merge(out, parse_setting(setting))
    limits = {k: v for k, v in {"max_cost_usd": max_cost, "max_calls": max_calls,
                                "max_tokens": max_tokens, "max_wall_s": max_wall}.items()
              if v is not None}
    if limits:
        out = deep_merge(out, {"limits": limits})
    if allow_model_commands:
        out["allow_model_commands"] = True
    return out


def parse_setting(text: str) -> dict[str, Any]:
    """``a.b.c=VALUE`` as nested tables; VALUE is read as TOML, else taken as a string."""
    import tomllib

    from baton.errors import UserError

    key, sep, raw = text.partition("=")
    parts = [p.strip() for p in key.split(".")]
    if not sep or not all(parts):
        raise UserError(f"--set {text!r}: use KEY=VALUE, e.g. "
                        "--set role_limits.implementer.max_cost_usd=0.5")
    try:
        value: Any = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    for part in reversed(parts):
        value = {part: value}
    return value


@contextlib.contextmanager
def live_display(as_json: bool) -> Iterator[Any]:
    """The run's live display (plain lines when piped, nothing under --json), closed
    however the run ends."""
    from baton.cli.progress import run_display

    display = run_display(as_json)
    try:
        yield display
    finally:
        display.close()


def maybe_ask(result: Any, repo: Path, as_json: bool, progress: Any, *,
              config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Any:
    """On an interactive terminal, answer an approval gate right away (with the same
    configuration and flags this command was given)."""
    from baton.pipeline import answer_approval, resume_run

    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")
    if result.state != "awaiting_approval" or not interactive or as_json:
        return result
    progress.close()  # the live display and a question do not share the terminal
    click.echo(result.reasons[0], err=True)
    if click.confirm("Approve this change and continue?", default=False):
        answer_approval(repo, result.run_id, approved=True, reason="approved on the terminal",
                        config_file=config_file, overrides=overrides)
        progress.reopen()
        return resume_run(repo, result.run_id, progress=progress, config_file=config_file,
                          overrides=overrides)
    return result


# -- shared parameter types and table cells ---------------------------------------------


class _Amount(click.ParamType):
    """A finite number of at least 0 (whole if ``whole``), with a message that says so."""

    def __init__(self, whole: bool = False, minimum: int = 0) -> None:
        self.whole, self.minimum = whole, minimum
        self.name = "integer" if whole else "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, int | float) and not isinstance(value, bool):
            number: float = value
        else:
            try:
                number = int(value) if self.whole else float(value)
            except (TypeError, ValueError):
                kind = "a whole number" if self.whole else "a number"
                self.fail(f"{value!r} is not {kind}", param, ctx)
        if not math.isfinite(number) or number < self.minimum:
            self.fail(f"{value!r} must be a finite number of at least {self.minimum}",
                      param, ctx)
        return number


COUNT, SECONDS_OR_USD, ORDINAL = _Amount(whole=True), _Amount(), _Amount(whole=True, minimum=1)


def warn_all(messages: list[str]) -> None:
    """Each message on stderr as a baton warning."""
    for message in messages:
        click.echo(f"baton: warning: {message}", err=True)


def repo_root_of(repo: Path | None) -> Path:
    """The repository ``--repo`` names, else the current one (a clear error if none)."""
    from baton.runs.store import find_repo_root

    return find_repo_root(repo or Path.cwd())


def money(value: float | None, unknown: int = 0) -> str:
    """Dollars for a table, with the count of calls of unknown cost."""
    text = "-" if value is None else f"${value:.4f}"
    return text + (f" (+{unknown} unknown)" if unknown else "")


def seconds(value: float | None) -> str:
    """A duration for a table: seconds, minutes or hours."""
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f}s"
    return f"{value / 60:.1f}m" if value < 7200 else f"{value / 3600:.1f}h"
