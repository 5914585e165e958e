"""The suite file: the tasks a comparison runs, with the checks that score them.

A suite is TOML. Each ``[[task]]`` names a repository (a local path), a base commit, the
task text and its **scoring checks**: commands the models never see, whose files live
outside the repository and are copied only into the checkout that scores a trial.
Everything is checked on load, before any model call: a problem names the task and field.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.errors import ConfigError

TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TASK_FIELDS = {"id", "repo", "base", "task", "checks", "check_files", "verify_commands",
               "check_timeout_s"}
SUITE_FIELDS = {"config", "task"}


@dataclass(frozen=True)
class Task:
    """One task of a suite, resolved: absolute paths, the base as a full commit id."""

    id: str
    repo: Path
    base: str
    task: str
    checks: list[str]
    check_files: dict[str, Path] = field(default_factory=dict)
    """Path inside the scoring checkout -> the file outside the repository it comes from."""
    verify_commands: list[str] | None = None
    check_timeout_s: float = 600.0


@dataclass(frozen=True)
class Suite:
    path: Path
    tasks: list[Task]
    config: Path | None = None
    """A baton config file applied to every run of the comparison (may define policies)."""

    @property
    def digest(self) -> str:
        """A fingerprint of what the suite asks, to refuse resuming with another suite."""
        body = []
        for t in self.tasks:
            files = {dest: hashlib.sha256(src.read_bytes()).hexdigest()
                     for dest, src in sorted(t.check_files.items())}
            body.append([t.id, str(t.repo), t.base, t.task, t.checks, files,
                         t.verify_commands, t.check_timeout_s])
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()[:16]

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise ConfigError(f"the suite {self.path} has no task {task_id!r}")


def load_suite(path: Path) -> Suite:
    """Read and check a suite file; every problem is a ConfigError naming task and field."""
    path = Path(path).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"suite file {path} not found (write an example with "
                          "`baton compare init`)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"suite file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - SUITE_FIELDS)
    if unknown:
        raise ConfigError(f"suite {path.name}: unknown setting(s) {', '.join(unknown)} "
                          f"(known: config, [[task]])")
    here = path.parent
    config = None
    if "config" in data:
        if not isinstance(data["config"], str):
            raise ConfigError(f"suite {path.name}: config: must be a path (a string)")
        config = (here / data["config"]).resolve()
        if not config.is_file():
            raise ConfigError(f"suite {path.name}: config: file {config} not found")
    raw_tasks = data.get("task")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise ConfigError(f"suite {path.name} has no tasks: add at least one [[task]] table")
    tasks: list[Task] = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_tasks, 1):
        t = _task(raw, number, here)
        if t.id in seen:
            raise ConfigError(f"task {t.id!r}: id: used by two tasks; ids must be unique")
        seen.add(t.id)
        tasks.append(t)
    return Suite(path=path, tasks=tasks, config=config)


def _task(raw: Any, number: int, here: Path) -> Task:
    if not isinstance(raw, dict):
        raise ConfigError(f"task #{number}: must be a table ([[task]])")
    name = raw.get("id")
    if not isinstance(name, str) or not TASK_ID.match(name):
        raise ConfigError(f"task #{number}: id: must be a short name of letters, digits, "
                          f"'.', '_' or '-' (got {name!r})")

    def bad(field_name: str, problem: str) -> ConfigError:
        return ConfigError(f"task {name!r}: {field_name}: {problem}")

    unknown = sorted(set(raw) - TASK_FIELDS)
    if unknown:
        raise bad(unknown[0], f"unknown field (known: {', '.join(sorted(TASK_FIELDS))})")
    for key in ("repo", "task"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise bad(key, "required, a non-empty string")
    repo = (here / raw["repo"]).expanduser().resolve()
    if not (repo / ".git").exists():
        raise bad("repo", f"{repo} is not a git repository" if repo.is_dir()
                  else f"{repo} does not exist")
    base_ref = raw.get("base", "HEAD")
    if not isinstance(base_ref, str) or not base_ref.strip():
        raise bad("base", "must be a commit id or ref (a string)")
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{base_ref}^{{commit}}"],
                           cwd=repo, capture_output=True, text=True)
    if found.returncode != 0:
        raise bad("base", f"no commit {base_ref!r} in {repo}")
    checks = raw.get("checks")
    if not isinstance(checks, list) or not checks or \
            not all(isinstance(c, str) and c.strip() for c in checks):
        raise bad("checks", "required, a list of at least one command (the scoring checks)")
    files_raw = raw.get("check_files", {})
    if not isinstance(files_raw, dict):
        raise bad("check_files", 'a table: "path/in/checkout" = "file/outside/the/repo"')
    files: dict[str, Path] = {}
    for dest, src in files_raw.items():
        if not isinstance(src, str):
            raise bad("check_files", f"{dest!r}: the source must be a path (a string)")
        rel = Path(dest)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or rel.parts[0] == ".git":
            raise bad("check_files", f"{dest!r}: must be a relative path inside the checkout")
        source = (here / src).expanduser().resolve()
        if not source.is_file():
            raise bad("check_files", f"{dest!r}: file {source} not found")
        if source.is_relative_to(repo):
            raise bad("check_files", f"{dest!r}: {source} is inside the repository, where "
                      "the models would see it; keep scoring files outside it")
        files[rel.as_posix()] = source
    verify = raw.get("verify_commands")
    if verify is not None and (not isinstance(verify, list)
                               or not all(isinstance(c, str) for c in verify)):
        raise bad("verify_commands", "a list of commands (strings)")
    timeout = raw.get("check_timeout_s", 600)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise bad("check_timeout_s", f"must be a positive number of seconds (got {timeout!r})")
    return Task(id=name, repo=repo, base=found.stdout.strip(), task=raw["task"].strip(),
                checks=list(checks), check_files=files, verify_commands=verify,
                check_timeout_s=float(timeout))


EXAMPLE = '''\
# A baton compare suite: which routing policy works best on *your* tasks.
# Run it with:  baton compare SUITE.toml --policies default,cheap --trials 10
# Each task x policy x trial is its own baton run; then the scoring checks below run
# on the result in a throwaway checkout. The models never see the scoring checks.

# Optional: a baton config file for every run (policies, prices, limits). Endpoints come
# from your user configuration as always. Set a per-run cost limit to use --max-cost.
# config = "compare.toml"

[[task]]
id = "fix-clamp"                     # short name: letters, digits, . _ -
repo = "../calc"                     # a local git repository (relative to this file)
base = "HEAD~1"                      # the commit each trial starts from (a merged fix's parent)
task = "Fix clamp(): values above hi must come back as hi."
# The scoring checks: commands run in the scored checkout; exit 0 means solved.
checks = ["python -m pytest -q -p no:cacheprovider tests/test_hidden_clamp.py"]
# Files only the scoring checkout gets: "path in the checkout" = "file outside the repo".
check_files = { "tests/test_hidden_clamp.py" = "hidden/test_clamp.py" }
# Optional: what the run itself verifies with (default: the repository's baton.toml).
# verify_commands = ["python -m pytest -q"]
# check_timeout_s = 600
'''
