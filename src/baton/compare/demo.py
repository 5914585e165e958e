"""``baton compare --demo``: three routing policies on four small real tasks, offline.

The models are scripted (the fake gateway, over real HTTP): per task and trial each model
draws one of its answer sequences by weight, so the policies differ in quality and price
the way real ones do, reproducibly. Everything else is real: a git repository with four
bugs, a baton run per trial in its own clone, verification by the repository's tests, and
scoring by hidden checks the models never see.

- ``strong``: a dear implementer that is right 9 times in 10, an approving reviewer;
- ``cheap``: a cheap implementer that is right 4 times in 10, the same reviewer (so its
  wrong patches go through: false go);
- ``cheap-reviewed``: the cheap implementer with a strict reviewer of another vendor who
  sends wrong patches back (the implementer then fixes them) and now and then blocks a
  good one (false no-go).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from baton.compare.comparison import Comparison, ThreadBackend, run_comparison
from baton.compare.suite import load_suite
from baton.compare.trial import TrialResult
from baton.gateway.server import FakeGateway

POLICIES = ["strong", "cheap", "cheap-reviewed"]
DEFAULT_TRIALS = 8
"""Per task: 4 tasks x 8 = 32 trials per policy, past the 30 below which baton warns."""

PRICES = {  # USD per million tokens (input, output); scripted, in the range of real ones
    "acme/planner": (2.0, 8.0), "acme/coder-large": (6.0, 30.0),
    "acme/coder-small": (0.3, 1.2), "other/reviewer": (1.0, 4.0),
    "other/reviewer-strict": (3.0, 15.0),
}
USAGE = {"planner": (1500, 300), "implementer": (2500, 200), "reviewer": (2000, 150)}


# Each task: the file, the buggy text, a correct patch and a plausible wrong one (which
# passes the repository's tests and fails the hidden checks).
TASKS: dict[str, dict[str, str]] = {
    "clamp": {
        "file": "clamp.py",
        "task": "Fix clamp(x, lo, hi): a value above hi must come back as hi.",
        "bug": "    if x < lo:\n        return lo\n    if x > hi:\n        return lo",
        "good": "    if x < lo:\n        return lo\n    if x > hi:\n        return hi",
        "wrong": "    if x > hi:\n        return hi",
    },
    "slug": {
        "file": "slug.py",
        "task": "slugify() must lower-case, drop punctuation and join words with single "
                "hyphens: 'Hello, World!' -> 'hello-world'.",
        "bug": '    return title.replace(" ", "-")',
        "good": '    cleaned = "".join(c if c.isalnum() else " " for c in title.lower())\n'
                '    return "-".join(cleaned.split())',
        "wrong": '    return title.lower().replace(" ", "-")',
    },
    "duration": {
        "file": "duration.py",
        "task": "parse_duration() must accept hours: '1h30m' is 5400 seconds, '2h' 7200.",
        "bug": '        elif ch == "m":',
        "good": '        elif ch == "h":\n            total += int(number) * 3600\n'
                '            number = ""\n        elif ch == "m":',
        "wrong": '        elif ch == "h":\n            total += int(number) * 3600\n'
                 '        elif ch == "m":',
    },
    "chunks": {
        "file": "chunks.py",
        "task": "chunks(items, size) drops the last, shorter chunk: chunks([1, 2, 3], 2) "
                "must be [[1, 2], [3]]; a size below 1 must raise ValueError.",
        "bug": "    return [items[i:i + size] for i in range(0, len(items) - size + 1, size)]",
        "good": '    if size < 1:\n        raise ValueError("size must be at least 1")\n'
                "    return [items[i:i + size] for i in range(0, len(items), size)]",
        "wrong": "    return [items[i:i + size] for i in range(0, len(items), size)]",
    },
}


def _fence(obj: dict[str, Any]) -> str:
    return "```json\n" + json.dumps(obj, indent=2) + "\n```\n"


def _edit(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def _entry(role: str, content: str) -> dict[str, Any]:
    prompt, completion = USAGE[role]
    return {"content": content,
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def _verdict(verdict: str, summary: str, fixes: list[str]) -> str:
    return _fence({"verdict": verdict, "summary": summary,
                   "top_risks": fixes[:1], "required_fixes": fixes,
                   "verification_commands": [], "questions_for_owner": []})


def _plan(task_id: str, spec: dict[str, str], verify: str) -> str:
    return _fence({
        "summary": spec["task"], "affected_files": [{"path": spec["file"],
                                                     "change": "fix the bug described"}],
        "risks": ["an edge case the repository's tests do not cover"],
        "acceptance_criteria": [spec["task"]], "test_commands": [verify],
        "rollback": "Revert the run's single commit.", "risk_level": "low",
        "commit_message": f"Fix {task_id}", "packets": []})


def demo_script(verify: str) -> dict[str, Any]:
    """The fake gateway's script: every model's answers, per task, with seeded variants."""
    models: dict[str, dict[str, Any]] = {m: {"tasks": {}, "entries": ["(no task)"]}
                                         for m in PRICES}
    approve = _verdict("approve", "The change does what the task asks; tests pass.", [])
    for n, (task_id, spec) in enumerate(TASKS.items(), 1):
        good = _edit(spec["file"], spec["bug"], spec["good"])
        wrong = _edit(spec["file"], spec["bug"], spec["wrong"])
        mend = _edit(spec["file"], spec["wrong"], spec["good"])
        send_back = _verdict("request_changes", "The fix misses an edge case of the task.",
                             [f"handle every case the task names: {spec['task']}"])
        block = _verdict("block", "I cannot convince myself this is safe.",
                         ["explain why the change is complete"])
        tasks = {m: models[m]["tasks"] for m in PRICES}
        tasks["acme/planner"][task_id] = [_entry("planner", _plan(task_id, spec, verify))]
        tasks["acme/coder-large"][task_id] = {"seed": 100 + n, "variants": [
            {"weight": 9, "entries": [_entry("implementer", good)]},
            {"weight": 1, "entries": [_entry("implementer", wrong)]}]}
        tasks["other/reviewer"][task_id] = [_entry("reviewer", approve)]
        # The cheap coder and the strict reviewer draw with one seed and the same weights,
        # so within a trial the reviewer "sees" which patch it got.
        tasks["acme/coder-small"][task_id] = {"seed": n, "variants": [
            {"weight": 3, "entries": [_entry("implementer", good)]},
            {"weight": 1, "entries": [_entry("implementer", good)]},
            {"weight": 6, "entries": [_entry("implementer", wrong),
                                      _entry("implementer", mend)]}]}
        tasks["other/reviewer-strict"][task_id] = {"seed": n, "variants": [
            {"weight": 3, "entries": [_entry("reviewer", approve)]},
            {"weight": 1, "entries": [_entry("reviewer", block)]},
            {"weight": 6, "entries": [_entry("reviewer", send_back),
                                      _entry("reviewer", approve)]}]}
    return {"models": models, "repeat_last": True}


CONFIG = """\
# The demo comparison's policies and prices (written by baton compare --demo).
[limits]
max_cost_usd = 0.25

[policies.strong]
planner = {{ model = "acme/planner" }}
implementer = {{ model = "acme/coder-large" }}
reviewer = {{ model = "other/reviewer" }}

[policies.cheap]
planner = {{ model = "acme/planner" }}
implementer = {{ model = "acme/coder-small" }}
reviewer = {{ model = "other/reviewer" }}

[policies.cheap-reviewed]
planner = {{ model = "acme/planner" }}
implementer = {{ model = "acme/coder-small" }}
reviewer = {{ model = "other/reviewer-strict" }}
{prices}"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=baton demo", "-c", "user.email=demo@localhost",
                    "-c", "init.defaultBranch=main", "-c", "core.hooksPath=/dev/null", *args],
                   cwd=repo, check=True, capture_output=True)


def make_demo_suite(base: Path) -> Path:
    """The bundled repository (one commit), hidden checks, config and suite file."""
    python = shlex.quote(sys.executable)
    source = resources.files("baton") / "demo_data" / "compare"
    with resources.as_file(source) as src:
        shutil.copytree(src, base, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    repo = base / "toolkit"
    (repo / ".gitignore").write_text("__pycache__/\n", encoding="utf-8")  # not in a wheel
    toml = repo / "baton.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("{python}", python),
                    encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "toolkit with four bugs")
    prices = "".join(f'\n[prices."{m}"]\ninput_per_mtok = {i}\noutput_per_mtok = {o}\n'
                     for m, (i, o) in PRICES.items())
    (base / "compare.toml").write_text(CONFIG.format(prices=prices), encoding="utf-8")
    check = json.dumps(f"{python} -m unittest tests/test_hidden.py")
    suite = base / "suite.toml"
    suite.write_text('# The demo suite (written by baton compare --demo).\n'
                     'config = "compare.toml"\n' + "".join(
                         f'\n[[task]]\nid = "{task_id}"\nrepo = "toolkit"\nbase = "main"\n'
                         f'task = {json.dumps(spec["task"])}\n'
                         f'checks = [{check}]\n'
                         'check_files = { "tests/test_hidden.py" = '
                         f'"hidden/test_{task_id}.py" }}\n'
                         for task_id, spec in TASKS.items()), encoding="utf-8")
    return suite


def run_compare_demo(out: Path | None = None, *, trials: int = DEFAULT_TRIALS,
                     concurrency: int = 8,
                     on_progress: Any = None) -> tuple[Comparison, list[TrialResult], list[Any]]:
    """Build the demo suite in ``out`` (default: a new temporary folder), start the fake
    gateway here, and run the comparison with every trial in a thread of this process."""
    base = Path(out) if out else Path(tempfile.mkdtemp(prefix="baton-compare-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    suite = load_suite(make_demo_suite(base / "suite"))
    verify = f"{shlex.quote(sys.executable)} -m unittest discover -s tests"
    with FakeGateway(demo_script(verify)) as gateway:
        user_config = base / "demo-user-config.toml"
        user_config.write_text(
            "# written by baton compare --demo: the endpoint is the local fake gateway\n"
            f'[endpoints.default]\nbase_url = "{gateway.base_url}"\n'
            f'api_key_env = "BATON_DEMO_KEY"\nmax_concurrency = {concurrency}\n',
            encoding="utf-8")
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("OPENAI_", "BATON_"))}
        environ.update(BATON_CONFIG=str(user_config), BATON_DEMO_KEY="demo-not-a-secret")
        comparison = Comparison.create(base / "comparison", suite, POLICIES, trials,
                                       concurrency=concurrency, environ=environ)
        results, not_run = run_comparison(comparison, backend=ThreadBackend(environ),
                                          on_progress=on_progress)
    return comparison, results, not_run

