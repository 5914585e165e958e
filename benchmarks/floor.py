"""The floor of a demo-shaped run: the same work as ``baton run``, in a straight line.

No gate, no trace, no run folder, no secret masking, no retries: what a run must do at
the least with the demo's configuration (the sample's baton.toml, verify_base on, the
disposable checkout):

1. ``git worktree add`` on a new branch from HEAD;
2. the verify command on a disposable checkout of the base commit (``git archive``);
3. the five model calls of the demo script (planner, implementer, reviewer, implementer,
   reviewer) through the official ``openai`` SDK, streamed, as baton sends them;
4. the implementer's SEARCH/REPLACE edits written into the worktree;
5. ``git add -A`` + ``write-tree`` + ``commit-tree``, the verify command on a disposable
   checkout of that tree, ``update-ref`` of the branch, the worktree removed (as on go).

The verify command runs in bubblewrap where it works (the sandbox probe included), as
baton's default ``sandbox = "auto"`` does.

    .venv/bin/python benchmarks/floor.py --base-url URL --repo PATH [--run-id ID]

Used by bench_overhead.py (as a subprocess beside ``baton run``, and in-process beside
``start_run``). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import uuid
from pathlib import Path
from typing import Any

PLANNER, IMPLEMENTER, REVIEWER = "openai/gpt-5", "qwen/qwen3-coder", "anthropic/claude-sonnet-4.5"
TASK = "Add median() to stats.py"
_BLOCK = re.compile(r"^(\S[^\n]*)\n<<<<<<< SEARCH\n(.*?)^=======\n(.*?)^>>>>>>> REPLACE$",
                    re.S | re.M)


def _git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                          check=True).stdout


def _verify(repo: Path, treeish: str, command: str, sandboxed: bool) -> int:
    """The verify command on a throwaway folder holding exactly ``treeish``'s files."""
    holder = Path(tempfile.mkdtemp(prefix="floor-verify-"))
    try:
        data = _git("archive", "--format=tar", treeish, cwd=repo)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(holder / "src", filter="data")
        work = str(holder / "src")
        argv = ["bash", "-c", command]
        if sandboxed:  # as baton's sandbox = "auto" does where bubblewrap works
            argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                    "--bind", work, work, "--chdir", work,
                    "--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session",
                    "--", *argv]
        return subprocess.run(argv, cwd=work, capture_output=True,
                              stdin=subprocess.DEVNULL).returncode
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _ask(client: Any, model: str, run_id: str, prompt: str) -> str:
    import openai

    # sent and read as baton does: the body as built, the SDK's stream, each chunk as its
    # JSON object
    stream = client.post(
        "/chat/completions", cast_to=object, stream=True, stream_cls=openai.Stream[object],
        options={"headers": {"X-Baton-Run": run_id}, "security": {"bearer_auth": True}},
        body={"model": model, "max_tokens": 4096, "stream": True,
              "stream_options": {"include_usage": True},
              "messages": [{"role": "system", "content": f"You are the {model} role."},
                           {"role": "user", "content": prompt}]})
    parts = [c["choices"][0]["delta"].get("content") or "" for c in stream if c["choices"]]
    return "".join(parts)


def _apply(worktree: Path, answer: str) -> None:
    for path, search, replace in _BLOCK.findall(answer):
        target = worktree / path.strip()
        target.parent.mkdir(parents=True, exist_ok=True)
        old = target.read_text() if target.exists() else ""
        target.write_text(old.replace(search, replace, 1) if search else old + replace)


def floor_run(base_url: str, repo: Path, run_id: str | None = None) -> str:
    """One floor run on ``repo`` (a sample repository); returns the commit it lands."""
    import openai

    run_id = run_id or uuid.uuid4().hex[:12]
    client = openai.OpenAI(base_url=base_url, api_key="no-key", max_retries=0)
    command = tomllib.loads((repo / "baton.toml").read_text())["verify_commands"][0]
    base = _git("rev-parse", "HEAD", cwd=repo).decode().strip()
    worktree = repo / ".floor" / run_id
    branch = f"floor/{run_id}"
    _git("worktree", "add", "-q", "-b", branch, str(worktree), base, cwd=repo)
    sandboxed = shutil.which("bwrap") is not None and subprocess.run(
        ["bwrap", "--ro-bind", "/", "/", "true"], capture_output=True).returncode == 0
    _verify(repo, base, command, sandboxed)
    files = "\n\n".join(f"{p.name}:\n{p.read_text()}" for p in sorted(worktree.glob("*.py")))
    plan = _ask(client, PLANNER, run_id, f"Task: {TASK}\n\n{files}")
    review = ""
    for _round in range(2):
        answer = _ask(client, IMPLEMENTER, run_id, f"{TASK}\n\n{plan}\n\n{review}\n\n{files}")
        _apply(worktree, answer)
        diff = _git("diff", cwd=worktree).decode()
        review = _ask(client, REVIEWER, run_id, f"{TASK}\n\n{plan}\n\n{diff}")
    _git("add", "-A", cwd=worktree)
    tree = _git("write-tree", cwd=worktree).decode().strip()
    commit = _git("-c", "user.name=floor", "-c", "user.email=floor@localhost", "commit-tree",
                  tree, "-p", base, "-m", "Add median() with tests", cwd=repo).decode().strip()
    if _verify(repo, tree, command, sandboxed) != 0:
        raise SystemExit("floor: the verify command failed on the result")
    _git("update-ref", f"refs/heads/{branch}", commit, cwd=repo)
    _git("worktree", "remove", "--force", str(worktree), cwd=repo)
    return commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--repo", required=True, type=Path)
    parser.add_argument("--run-id")
    args = parser.parse_args()
    print(floor_run(args.base_url, args.repo, args.run_id))


if __name__ == "__main__":
    sys.exit(main())
