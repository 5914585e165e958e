"""``baton demo``: the whole workflow offline, with scripted answers over real HTTP."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

from baton.gateway.server import FakeGateway
from baton.pipeline import RunResult, start_run
from baton.run_context import Progress

DEMO_TASK = (
    "Add a median() function to stats.py: the middle value of a non-empty sequence, "
    "the mean of the two middle values for an even count, ValueError for an empty "
    "sequence. Add unit tests."
)


def _copy_sample(dest: Path) -> None:
    sample = resources.files("baton") / "demo_data" / "sample"
    with resources.as_file(sample) as src:
        shutil.copytree(src, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    toml = dest / "baton.toml"
    toml.write_text(toml.read_text().replace("{python}", shlex.quote(sys.executable)))


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=baton demo", "-c", "user.email=demo@localhost",
                    "-c", "init.defaultBranch=main", "-c", "core.hooksPath=/dev/null", *args],
                   cwd=repo, check=True, capture_output=True)


def make_sample_repo(dest: Path) -> Path:
    """A fresh git repository holding the bundled sample project, one commit."""
    dest.mkdir(parents=True, exist_ok=True)
    _copy_sample(dest)
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "Sample project")
    return dest


def demo_script_path() -> Path:
    """The bundled fake-gateway script (also an example of the format)."""
    return Path(str(resources.files("baton") / "demo_data" / "script.json"))


def demo_folder(keep: Path | None = None) -> Path:
    """Where the demo works: ``keep``, else a new temporary folder (left for the user)."""
    return keep or Path(tempfile.mkdtemp(prefix="baton-demo-"))


def run_demo(keep: Path | None = None, *, progress: Progress | None = None
             ) -> tuple[RunResult, Path]:
    """Run the demo task on a fresh sample repository; returns the result and the repo."""
    base = demo_folder(keep)
    repo = make_sample_repo(base / "sample")
    user_config = base / "demo-user-config.toml"
    with FakeGateway(demo_script_path()) as gateway:
        user_config.write_text(
            "# written by baton demo: the endpoint is the local fake gateway\n"
            f'[endpoints.default]\nbase_url = "{gateway.base_url}"\n'
            'api_key_env = "BATON_DEMO_KEY"\n'
        )
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("OPENAI_", "BATON_"))}
        environ.update(BATON_CONFIG=str(user_config), BATON_DEMO_KEY="demo-not-a-secret")
        result = start_run(DEMO_TASK, repo, title="Add median()", progress=progress,
                           environ=environ)
    return result, repo
