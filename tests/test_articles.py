"""The two source articles' command lines and words work as written (issue 19).

baton grew out of two published workflows: a workflow orchestrator and a packetizer plus
trace logger. Their only command lines are replayed here literally, with `baton packets`
in place of `python tools/agent_workflows/<script>.py`, then a hand log of one step per
role in the articles' words and field names, then the summary's figures.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from conftest import events

from baton.demo import make_sample_repo

# As the articles print them.
ORCHESTRATOR = r"""python tools/agent_workflows/workflow_orchestrator.py --title "Claude Code Dynamic Workflows ultracode reproduction" \
  --task "Reproduce the useful part of Claude Code Dynamic Workflows / ultracode: split a complex coding request into scoped packets, assign model routes, require adversarial review, and verify with evidence." \
  --out generated/dynamic_workflows_20260603/ultracode_reproduction"""  # noqa: E501
PACKETIZER = r"""python tools/agent_workflows/agent_packetizer.py --title "Codex inside Claude Code two agent review" \
  --task "Reproduce a workflow where one AI coding agent implements and a second agent performs adversarial review before commit." \
  --out generated/codex_claude_workflow_20260603/agent_packet_demo"""  # noqa: E501

FILES = ["README.md", "workflow.json", "trace.jsonl", "verify.sh", "plan.md",
         "review_checklist.md", "packets/01-planner.md", "packets/02-implementer.md",
         "packets/03-reviewer.md", "packets/04-verifier.md"]
TASK_ID = "billing-export-2026-06-03"


def as_baton(article_line: str) -> list[str]:
    """The article's command line with `baton packets` in place of the script.

    Split as a POSIX shell does, a backslash-newline joining the lines.
    """
    argv = shlex.split(article_line.replace("\\\n", ""))
    assert argv[0] == "python" and argv[1].startswith("tools/agent_workflows/")
    return ["packets", *argv[2:]]


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def normalized(repo: Path, out: str) -> dict[str, str]:
    """Every file of the workflow folder ``out``, with the repo's path and the times out."""
    texts = {}
    folder = repo / out
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8").replace(str(repo), "<REPO>")
        text = re.sub(r'"(ts|created)": "[^"]+"', r'"\1": "<TIME>"', text)
        texts[path.relative_to(folder).as_posix()] = text
    return texts


def test_both_article_command_lines_run_as_written(baton, sample_repo):
    for line in (ORCHESTRATOR, PACKETIZER):
        argv = as_baton(line)
        proc = baton(*argv, cwd=sample_repo)
        assert proc.returncode == 0, proc.stderr
        out = sample_repo / flag(argv, "--out")
        for name in FILES:
            assert (out / name).is_file(), (line, name)
        workflow = json.loads((out / "workflow.json").read_text())
        assert workflow["task"] == flag(argv, "--task")
        assert workflow["title"] == flag(argv, "--title")
        first = events(out)[0]
        assert first["type"] == "workflow.created" and first["task"] == flag(argv, "--task")
        assert flag(argv, "--task") in (out / "packets/01-planner.md").read_text()



def test_the_task_as_argument_makes_the_same_folder(baton, tmp_path):
    """`--task "..."` and the positional task write the same folder (in twin repos)."""
    argv = as_baton(PACKETIZER)
    out, task = flag(argv, "--out"), flag(argv, "--task")
    positional = ["packets", task, "--title", flag(argv, "--title"), "--out", out]
    folders = []
    for name, args in (("flag", argv), ("positional", positional)):
        repo = make_sample_repo(tmp_path / name / "repo")
        proc = baton(*args, cwd=repo)
        assert proc.returncode == 0, proc.stderr
        folders.append(normalized(repo, out))
    assert folders[0] == folders[1]
    assert sorted(folders[0]) == sorted(FILES)


def test_packets_refuses_the_task_twice_or_not_at_all(baton, sample_repo):
    both = baton("packets", "Add median()", "--task", "Add mode()", "--title", "t", "--out",
                 "wf", cwd=sample_repo)
    assert both.returncode == 2 and "given twice" in both.stderr
    neither = baton("packets", "--title", "t", "--out", "wf", cwd=sample_repo)
    assert neither.returncode == 2 and "give the task" in neither.stderr
    assert "--task" in neither.stderr
    assert not (sample_repo / "wf").exists()


# One step per role, as the articles' logger records it: task_id, role, model,
# latency_sec, prompt_tokens, output_tokens, result (their words), evidence.
STEPS = [
    ("planner", "openai/gpt-5", "12.3", "5400", "900", "approve", "plan.md"),
    ("implementer", "qwen/qwen3-coder", "41.0", "8000", "2500", "applied", "git diff"),
    ("reviewer", "anthropic/claude-sonnet-4.5", "7.46", "9100", "640", "changes",
     "review.md"),
    ("verifier", "google/gemini-2.5-flash", "3.2", "1200", "80", "verified",
     "pytest -q: exit 0"),
]
BATON_WORD = {"approve": "approve", "applied": "ok", "changes": "request_changes",
              "verified": "pass", "blocked": "block"}


def test_a_hand_log_in_the_articles_words(baton, sample_repo):
    argv = as_baton(PACKETIZER)
    assert baton(*argv, cwd=sample_repo).returncode == 0
    out = sample_repo / flag(argv, "--out")
    trace = out / "trace.jsonl"
    for role, model, latency, prompt, output, result, evidence in STEPS:
        proc = baton("record", "--trace", str(trace), "--task-id", TASK_ID, "--role", role,
                     "--model", model, "--latency-sec", latency, "--prompt-tokens", prompt,
                     "--output-tokens", output, "--result", result, "--evidence", evidence,
                     cwd=sample_repo)
        assert proc.returncode == 0, proc.stderr
        assert f"task {TASK_ID}" in proc.stdout
    # A second task, blocked, recorded with baton's own flag names.
    proc = baton("record", "--trace", str(trace), "--task-id", "billing-export-2026-06-04",
                 "--role", "reviewer", "--model", "anthropic/claude-sonnet-4.5",
                 "--latency-s", "2.5", "--input-tokens", "3000", "--output-tokens", "100",
                 "--result", "blocked", "--cost-usd", "0.01", cwd=sample_repo)
    assert proc.returncode == 0, proc.stderr
    assert "result block (given as blocked)" in proc.stdout

    written = events(out)
    assert [e["seq"] for e in written] == list(range(6))
    calls = written[1:]
    run_id = "packets-agent_packet_demo"
    for event, (role, model, latency, prompt, output, result, evidence) in zip(
            calls, STEPS, strict=False):
        assert event["type"] == "model.call" and event["source"] == "manual"
        assert event["run_id"] == run_id and event["task_id"] == TASK_ID
        assert event["role"] == role and event["gen_ai.request.model"] == model
        assert event["latency_s"] == float(latency)
        assert event["gen_ai.usage.input_tokens"] == int(prompt)
        assert event["gen_ai.usage.output_tokens"] == int(output)
        assert event["result"] == BATON_WORD[result] and event["result_as_given"] == result
        assert event["evidence"] == [evidence]
    assert calls[-1]["result"] == "block" and calls[-1]["task_id"] == "billing-export-2026-06-04"

    proc = baton("trace", "summary", str(trace), "--by", "task", "--json", cwd=sample_repo)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    tasks = {g["key"]: g for g in data["groups"]}
    assert list(tasks) == [TASK_ID, "billing-export-2026-06-04"]
    first = tasks[TASK_ID]
    assert (first["calls"], first["ok"], first["errors"]) == (4, 4, 0)
    assert first["input_tokens"] == 5400 + 8000 + 9100 + 1200
    assert first["output_tokens"] == 900 + 2500 + 640 + 80
    assert first["latency_s"] == {"mean": round((12.3 + 41.0 + 7.46 + 3.2) / 4, 4),
                                  "p50": 7.46, "p95": 41.0, "max": 41.0}
    assert first["outcomes"] == {"approve": 1, "ok": 1, "pass": 1, "request_changes": 1}
    second = tasks["billing-export-2026-06-04"]
    assert second["calls"] == 1 and second["cost_usd"] == 0.01
    assert second["outcomes"] == {"block": 1}
    assert data["totals"]["calls"] == 5 and data["runs"] == 1 and data["warnings"] == []

    # Grouped by role, the articles' words are counted with baton's.
    proc = baton("trace", "summary", str(trace), "--by", "role", "--json", cwd=sample_repo)
    roles = {g["key"]: g for g in json.loads(proc.stdout)["groups"]}
    assert roles["reviewer"]["outcomes"] == {"block": 1, "request_changes": 1}
    assert roles["implementer"]["outcomes"] == {"ok": 1}

    # The table shows the mean latency (the articles' avg_latency) beside p50 and p95.
    proc = baton("trace", "summary", str(trace), "--by", "model", cwd=sample_repo)
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if "p50" in line)
    assert re.search(r"mean\s*\S\s*p50\s*\S\s*p95", header), header
    reviewer_row = next(line for line in proc.stdout.splitlines()
                        if "anthropic/claude-sonnet-4.5" in line)
    assert re.search(r"\b5\.0s\b.*\b2\.5s\b.*\b7\.5s\b", reviewer_row), reviewer_row  # mean


def test_the_readme_maps_the_articles_to_baton():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    note = readme.split("## Coming from the articles", 1)[1].split("\n## ", 1)[0]
    for word in ("workflow_orchestrator.py", "agent_packetizer.py", "baton packets --task",
                 "task_id", "--task-id", "latency_sec", "--latency-sec", "prompt_tokens",
                 "--prompt-tokens", "output_tokens", "changes", "blocked", "verified",
                 "applied", "avg_latency", "--by task"):
        assert word in note, word
