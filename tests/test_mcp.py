"""``baton mcp`` driven over stdio by the ``mcp`` SDK's own client, against the fake gateway
on a real repository."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from conftest import REVIEWER, fence

from baton.demo import make_sample_repo

mcp = pytest.importorskip("mcp")
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402


def request_changes() -> str:
    return fence({
        "verdict": "request_changes", "summary": "median is wrong for unsorted input",
        "top_risks": ["wrong answer"],
        "findings": [{"file": "stats.py", "line_start": 11, "line_end": 12,
                      "severity": "high", "message": "sort a copy of the values first"}]})


async def session_run(baton, repo: Path, body) -> object:
    params = StdioServerParameters(command=sys.executable, args=["-m", "baton", "mcp"],
                                   env=baton.env(), cwd=str(repo))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return await body(session)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_sample_repo(tmp_path / "repo")
    (repo / "stats.py").write_text((repo / "stats.py").read_text() + "\n# edited\n")
    return repo


def test_tools_listed_with_schemas_and_none_approves(baton, repo):
    baton.serve({"models": {}})

    async def body(session):
        return (await session.list_tools()).tools

    tools = anyio.run(session_run, baton, repo, body)
    names = {t.name for t in tools}
    assert names == {"review_change", "review_plan", "start_run", "show_run", "list_runs"}
    assert not any("approve" in n or "reject" in n for n in names)
    review = next(t for t in tools if t.name == "review_change")
    props = review.output_schema["properties"]
    for key in ("verdict", "findings", "evidence_summary", "run_id", "cost_usd", "decision",
                "next_step"):
        assert key in props


def test_review_of_uncommitted_change_gives_verdict_structured_and_progress(baton, repo):
    gateway = baton.serve({"models": {REVIEWER: [{"content": request_changes()}]}})
    notes: list = []

    async def body(session):
        async def on_progress(progress, total, message):
            notes.append((progress, message))

        result = await session.call_tool("review_change", {"target": "uncommitted"},
                                         progress_callback=on_progress)
        runs = await session.call_tool("list_runs", {})
        return result, runs

    result, runs = anyio.run(session_run, baton, repo, body)
    assert not result.is_error, result.content
    data = result.structured_content
    assert data["decision"] == "no-go"
    assert data["verdict"] == "request_changes"
    assert data["findings"][0]["message"] == "sort a copy of the values first"
    assert data["run_id"] and "follow" in data["next_step"]
    assert notes, "no progress notification arrived"
    assert [r["run_id"] for r in runs.structured_content["runs"]] == [data["run_id"]]
    assert gateway is not None


@pytest.mark.parametrize("name,args", [
    ("review_change", {"target": "uncommitted", "max_cost": 100}),
    ("review_change", {"target": "uncommitted", "endpoint": "http://elsewhere"}),
    ("start_run", {"task": "x", "allow_model_commands": True}),
    ("approve", {"run_id": "x"}),
])
def test_forbidden_calls_are_refused_and_nothing_runs(baton, repo, name, args):
    baton.serve({"models": {}})

    async def body(session):
        return await session.call_tool(name, args)

    result = anyio.run(session_run, baton, repo, body)
    assert result.is_error
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert "refused" in text or "unknown tool" in text, text
    assert not (repo / ".baton" / "runs").exists() or \
        not any((repo / ".baton" / "runs").iterdir())


def test_without_the_extra_says_how_to_install_and_exits_2(baton, repo):
    import subprocess

    code = ("import sys\n"
            "for m in ('mcp', 'mcp.server', 'mcp.server.mcpserver'): sys.modules[m] = None\n"
            "from baton.cli.main import main\n"
            "sys.argv = ['baton', 'mcp']\n"
            "main()\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                          text=True, env=baton.env(), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'baton[mcp]'" in proc.stderr
