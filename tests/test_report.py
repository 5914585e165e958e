"""``baton report``: the HTML report, opened in real headless Chromium and read as a person.

Runs go through the real CLI against the fake gateway (one reviewer attempt gets a 503 and
is retried, so the timeline shows a failed attempt), then the report is opened from disk
in Debian's chromium driven by Playwright. The assertions are on what is on the screen:
one bar per model call and command, the totals, the verdicts, the outcome; no console
error, no network request, a screenshot that is not blank.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from browser import browser_page, colour_stats, why_unavailable
from conftest import CANARY_KEY, REVIEWER, demo_script, events, run_json

from baton.runs.trace import TraceWriter

TASK = "Add a median() function to stats.py, with tests."

REASON = why_unavailable()
needs_browser = pytest.mark.skipif(REASON is not None, reason=f"no browser: {REASON}")
if REASON is not None:
    print(f"tests/test_report.py: browser tests skip: {REASON}", file=sys.stderr)


def script_with_retry() -> dict:
    script = demo_script()
    script["models"][REVIEWER][0]["faults"] = ["503"]
    return script


def make_run(baton, repo: Path, *extra: str, script: dict | None = None) -> tuple[dict, Path]:
    baton.serve(script or script_with_retry())
    proc = baton("run", TASK, "--repo", str(repo), "--json", *extra)
    result = run_json(proc)
    return result, Path(result["run_dir"])


def report(baton, run: str, *extra: str, cwd: Path | None = None) -> Path:
    proc = baton("report", run, "--json", *extra, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return Path(json.loads(proc.stdout)["report"])


class Seen:
    """What the browser showed: console messages, page errors, requests."""

    def __init__(self, page) -> None:
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.console.append((m.type, m.text)))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))


def open_report(page, path: Path) -> Seen:
    seen = Seen(page)
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return seen


@needs_browser
def test_report_shows_every_call_command_total_and_verdict(baton, sample_repo, tmp_path):
    result, run_dir = make_run(baton, sample_repo)
    assert result["decision"] == "go"
    trace = events(run_dir)
    calls = [e for e in trace if e["type"] == "model.call"]
    commands = [e for e in trace if e["type"] == "command" and e["ran"]]
    assert len(calls) == 6 and len(commands) == 1

    path = report(baton, result["run_id"], cwd=sample_repo)
    assert path == run_dir / "report.html"
    with browser_page() as page:
        seen = open_report(page, path)
        # The outcome, and its reason.
        assert page.inner_text("#outcome") == "GO"
        assert "review approved and 1 verification command(s) exited 0" in \
            page.inner_text(".outcome")
        # One visible bar per model call attempt and per command, on the right lane.
        bars = page.locator("svg.timeline rect.bar")
        assert bars.count() == len(calls) + len(commands)
        call_bars = page.locator("svg.timeline rect.bar[data-kind=call]")
        assert call_bars.count() == len(calls)
        assert page.locator("svg.timeline rect.bar[data-kind=command]").count() == 1
        for i in range(bars.count()):
            box = bars.nth(i).bounding_box()
            assert box is not None and box["width"] >= 2 and box["height"] > 5
        roles = [call_bars.nth(i).get_attribute("data-role") for i in range(call_bars.count())]
        assert sorted(roles) == sorted(c["role"] for c in calls)
        failed = page.locator("svg.timeline rect.bar.error")
        assert failed.count() == 1 and failed.get_attribute("data-role") == "reviewer"
        retry = page.locator("svg.timeline rect.bar.retry")
        assert retry.count() == 1 and "attempt 2" in retry.locator("title").text_content()
        lanes = page.locator("svg.timeline text.lane").all_text_contents()
        assert lanes == ["planner", "implementer", "reviewer", "commands"]
        # Bars follow one another in time, in the trace's order.
        xs = [float(call_bars.nth(i).get_attribute("x")) for i in range(call_bars.count())]
        assert xs == sorted(xs)

        # The totals, as the trace has them.
        def total(key: str) -> str:
            return page.inner_text(f"[data-total={key}] .value")

        assert total("calls") == str(len(calls))
        assert total("input-tokens") == \
            f"{sum(c.get('gen_ai.usage.input_tokens') or 0 for c in calls):,}"
        assert total("output-tokens") == \
            f"{sum(c.get('gen_ai.usage.output_tokens') or 0 for c in calls):,}"
        assert total("cost") == f"${sum(c['cost_usd'] or 0 for c in calls):.4f}"
        assert total("rounds") == "2" and total("commands") == "1"
        role_rows = page.locator("table.by-role tbody tr").all_inner_texts()
        assert [r.split("\t")[0] for r in role_rows] == ["implementer", "planner", "reviewer"]
        assert page.locator("table.by-role tfoot td").first.inner_text() == "total"
        assert page.locator("svg.chart rect.hbar").count() == 3 + 3 + 3

        # Each review round with its verdict and required fixes.
        rounds = page.locator(".round")
        assert rounds.count() == 2
        assert "request_changes" in rounds.nth(0).inner_text()
        assert "sort a copy of the values" in rounds.nth(0).locator("ol.fixes").inner_text()
        assert "approve" in rounds.nth(1).inner_text()
        # The diff, highlighted; the evidence with its exit code and output tail.
        assert page.locator(".diff .add").count() > 10
        assert page.locator(".diff .file").count() == 2
        assert "+def median(values):" in page.locator(".diff").inner_text()
        evidence = page.locator("table.evidence tbody tr")
        assert evidence.count() == 3
        assert "exit 0" in evidence.nth(0).inner_text()
        assert "not run" in evidence.nth(1).inner_text()
        assert "OK" in page.locator("pre.tail").first.inner_text()
        assert page.locator("#approvals").inner_text().count("no approval rule fired") == 1

        shot = page.screenshot(full_page=False)
    assert not seen.errors, seen.errors
    assert not [m for m in seen.console if m[0] in ("error", "warning")], seen.console
    assert seen.requests == [path.resolve().as_uri()]  # the file itself, nothing else
    colours, inked = colour_stats(shot)
    assert colours > 50 and inked > 0.05, (colours, inked)


@needs_browser
def test_paused_run_report_shows_the_gate_and_the_budget(baton, sample_repo):
    (sample_repo / "baton.toml").write_text(
        (sample_repo / "baton.toml").read_text() + "\n[approval]\npaths = [\"stats.py\"]\n")
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qam",
                    "gate stats.py"], cwd=sample_repo, check=True)
    result, run_dir = make_run(baton, sample_repo, "--max-cost", "1", "--max-calls", "7",
                               "--title", "median with a gate")
    assert result["state"] == "awaiting_approval"
    out = sample_repo.parent / "elsewhere" / "gate.html"
    path = report(baton, str(run_dir), "--out", str(out))
    assert path == out.resolve()
    with browser_page() as page:
        seen = open_report(page, path)
        assert page.inner_text("#outcome") == "AWAITING APPROVAL"
        assert page.inner_text("h1") == "median with a gate"
        gate = page.inner_text("#approvals")
        assert "stats.py" in gate and "waiting" in gate
        budget = page.locator("table.budget tbody tr").all_inner_texts()
        cost = next(r for r in budget if "\tcost\t" in r)
        assert "$1.0000" in cost and "%" in cost
        calls = next(r for r in budget if "\tcalls\t" in r)
        spent = len([e for e in events(run_dir) if e["type"] == "model.call"])
        assert f"\t{spent}\t7\t" in calls and f"{round(spent / 7 * 100)}%" in calls
        # the patch waiting for approval is written on pause, so the report shows it
        diff = page.inner_text("#diff")
        assert "stats.py" in diff and "def median" in diff
    assert not seen.errors and seen.requests == [path.as_uri()]


def test_report_masks_secrets_and_escapes_model_text(baton, sample_repo):
    """A key in the environment and markup in a model's answer stay inert text."""
    script = script_with_retry()
    review = json.loads(re.search(r"```json\n(.*?)```", script["models"][REVIEWER][0]["content"],
                                  re.S).group(1))
    review["required_fixes"].append("<script>alert(1)</script> and " + CANARY_KEY)
    script["models"][REVIEWER][0]["content"] = "```json\n" + json.dumps(review) + "\n```\n"
    result, run_dir = make_run(baton, sample_repo, script=script)
    path = report(baton, str(run_dir))
    html = path.read_text()
    assert CANARY_KEY not in html
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"""(src|href)=["'](?!data:)""", html)  # nothing to fetch
    assert "default-src 'none'" in html


def test_report_errors_leave_the_run_alone(baton, sample_repo, tmp_path):
    run_dir = sample_repo / ".baton" / "runs" / "20260101-000000-aaaaaa"
    writer = TraceWriter(run_dir / "trace.jsonl", run_dir.name)
    writer.emit("run.start", task="t", title="t")
    writer.close()
    (run_dir / "workflow.json").write_text(json.dumps({"run_id": run_dir.name, "state": "done"}))
    before = (run_dir / "trace.jsonl").read_bytes()
    proc = baton("report", "no-such-run", cwd=sample_repo)
    assert proc.returncode == 2 and "no-such-run" in proc.stderr
    proc = baton("report", "x", cwd=tmp_path)  # not a repository
    assert proc.returncode == 2 and "'x'" in proc.stderr
    assert (run_dir / "trace.jsonl").read_bytes() == before
    assert not (run_dir / "report.html").exists()
    assert report(baton, "20260101", cwd=sample_repo) == run_dir / "report.html"  # a prefix
    assert (run_dir / "trace.jsonl").read_bytes() == before


def test_demo_says_where_its_report_is(baton, tmp_path):
    proc = baton("demo", "--keep", str(tmp_path / "demo"))
    assert proc.returncode == 0, proc.stderr
    line = next(t for t in proc.stdout.splitlines() if t.strip().startswith("report:"))
    path = Path(line.split("report:", 1)[1].strip())
    assert path.is_file() and path.name == "report.html"
    assert "GO" in path.read_text()
    proc = baton("demo", "--keep", str(tmp_path / "demo2"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = run_json(proc)
    assert Path(out["report"]) == Path(out["run_dir"]) / "report.html"
    assert Path(out["report"]).is_file()


def test_report_open_hands_the_file_to_the_browser_and_warns_when_none_opens(
        baton, sample_repo, tmp_path):
    _, run_dir = make_run(baton, sample_repo)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n')
    browser.chmod(0o755)
    proc = baton("report", run_dir.name, "--open", cwd=sample_repo, BROWSER=str(browser))
    assert proc.returncode == 0, proc.stderr
    assert opened.read_text() == (run_dir / "report.html").resolve().as_uri()
    assert "no browser" not in proc.stderr
    failing = tmp_path / "failing.sh"
    failing.write_text("#!/bin/sh\nexit 1\n")
    failing.chmod(0o755)
    proc = baton("report", run_dir.name, "--open", cwd=sample_repo, BROWSER=str(failing))
    assert proc.returncode == 0, proc.stderr
    assert "no browser could be opened; open " in proc.stderr
    assert (run_dir / "report.html").is_file()
