"""Shared fixtures: a real sample git repo, the fake gateway, and baton as a subprocess."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from baton.demo import demo_script_path, make_sample_repo
from baton.gateway.server import FakeGateway

CANARY_KEY = "sk-canary-TEST-0123456789abcdef"


def demo_script() -> dict:
    """A fresh copy of the demo's scripted responses."""
    return copy.deepcopy(json.loads(demo_script_path().read_text()))


def fence(obj: dict) -> str:
    """A JSON object in a fenced block, as models answer."""
    return "```json\n" + json.dumps(obj, indent=2) + "\n```\n"


def response(script: dict, model: str, index: int) -> str:
    """The content of one scripted response."""
    return script["models"][model][index]["content"]


def set_responses(script: dict, model: str, contents: list[str]) -> dict:
    """Replace a model's scripted responses."""
    script["models"][model] = [{"content": c} for c in contents]
    return script


PLANNER = "openai/gpt-5"
IMPLEMENTER = "qwen/qwen3-coder"
REVIEWER = "anthropic/claude-sonnet-4.5"


def snapshot(repo: Path) -> dict:
    """What the user sees of their repo: branch, HEAD, status and every file's hash."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True).stdout

    files = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if rel.startswith((".git/", ".baton/")) or rel in (".git", ".baton") or not path.is_file():
            continue
        files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"branch": git("symbolic-ref", "HEAD"), "head": git("rev-parse", "HEAD"),
            "status": git("status", "--porcelain"), "files": files}


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """A fresh git repository with the demo's sample project."""
    return make_sample_repo(tmp_path / "repo")


class Baton:
    """Runs the real ``baton`` CLI against a fake gateway serving ``script``."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.gateway: FakeGateway | None = None

    def serve(self, script: dict, **options) -> FakeGateway:
        if self.gateway is not None:
            self.gateway.stop()
        self.gateway = FakeGateway(script, **options).start()
        user = self.tmp / "user-config.toml"
        user.write_text(f'[endpoints.default]\nbase_url = "{self.gateway.base_url}"\n'
                        'api_key_env = "BATON_TEST_API_KEY"\n'
                        '[retry]\nbackoff_base_s = 0.01\nbackoff_max_s = 0.05\n')
        return self.gateway

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATON_"))}
        env.update(BATON_CONFIG=str(self.tmp / "user-config.toml"),
                   XDG_CACHE_HOME=str(self.tmp / "cache"),
                   BATON_TEST_API_KEY=CANARY_KEY, CI="true")
        env.update(extra)
        return env

    def __call__(self, *args: str, cwd: Path | None = None, timeout: float = 120,
                 input_text: str | None = None, **extra_env: str) -> subprocess.CompletedProcess:
        stdin = {"input": input_text} if input_text is not None else \
            {"stdin": subprocess.DEVNULL}
        return subprocess.run([sys.executable, "-m", "baton", *args], cwd=cwd or self.tmp,
                              capture_output=True, text=True, env=self.env(**extra_env),
                              timeout=timeout, **stdin)

    def close(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()


@pytest.fixture
def baton(tmp_path: Path):
    """The baton CLI, with a fake gateway started by ``baton.serve(script)``."""
    runner = Baton(tmp_path)
    yield runner
    runner.close()


@pytest.fixture
def buggy_repo(tmp_path: Path) -> Path:
    """The buggy project of tests/buggy_project.py, a real git repository (one commit)."""
    from buggy_project import make_buggy_repo

    return make_buggy_repo(tmp_path / "calc")


def run_json(proc: subprocess.CompletedProcess) -> dict:
    """The JSON result object printed by ``--json``."""
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def events(run_dir: Path) -> list[dict]:
    """Every event of a run's trace."""
    return [json.loads(line) for line in (Path(run_dir) / "trace.jsonl").read_text().splitlines()]
