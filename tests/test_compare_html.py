"""The ``baton compare`` HTML report: its charts read back as geometry, then opened in Chromium.

Trials are built by hand (2 tasks, 4 policies, known outcomes), summarized by the real
``results.summarize`` and rendered; the page's ``<main>`` is well-formed XML, so its SVG is
read with ElementTree and checked against figures computed here by hand.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from browser import browser_page, why_unavailable

from baton.compare import results as R
from baton.compare.html_report import render_html, write_html
from baton.compare.trial import TrialResult

REASON = why_unavailable()
needs_browser = pytest.mark.skipif(REASON is not None, reason=f"no browser: {REASON}")
if REASON is not None:
    print(f"tests/test_compare_html.py: browser tests skip: {REASON}", file=sys.stderr)

SVG = "{http://www.w3.org/2000/svg}"
NASTY = "<b>x&y</b>"
TASKS = ["t1", "t2"]
# policy -> (cost per trial by role, outcomes on t1, outcomes on t2)
PLAN: dict[str, tuple[dict[str, float], list[str], list[str]]] = {
    "cheap": ({"planner": 0.01, "implementer": 0.02},
              ["success", "success", "false_go"], ["no_go", "success", "error"]),
    NASTY: ({"planner": 0.02, "implementer": 0.04, "reviewer": 0.03},
            ["success", "success", "success"], ["success", "false_no_go", "paused"]),
    "pricey": ({"planner": 0.05, "implementer": 0.10, "reviewer": 0.05},
               ["false_go", "no_go", "success"], ["error", "no_go", "no_go"]),
    "many": ({"implementer": 0.4, "judge": 0.1}, ["success"] * 15, ["success"] * 15),
}
STATES = {"success": ("done", "go", True), "false_go": ("done", "go", False),
          "no_go": ("done", "no-go", False), "false_no_go": ("done", "needs-changes", True),
          "error": ("error", None, None), "paused": ("paused", None, None)}
POLICIES = list(PLAN)
EXPECTED_FRONT = ["cheap", NASTY, "many"]  # pricey: dearer and less successful than NASTY


def make_results() -> list[TrialResult]:
    out = []
    for policy, (roles, *by_task) in PLAN.items():
        for task, kinds in zip(TASKS, by_task, strict=True):
            for i, kind in enumerate(kinds):
                state, decision, solved = STATES[kind]
                out.append(TrialResult(
                    id=f"{task}--{policy}--{i}", task=task, policy=policy, trial=i,
                    state=state, decision=decision, solved=solved,
                    cost_usd=round(sum(roles.values()), 6), wall_s=1.0 + i,
                    by_role={r: {"calls": 1, "cost_usd": c} for r, c in roles.items()},
                    error="boom <i>oops</i>" if kind == "error" else None))
    return out


def expected_outcome(task: str, policy: str, trial: int) -> str:
    _, first, second = PLAN[policy]
    return (first if task == "t1" else second)[trial]


@pytest.fixture(scope="module")
def built() -> tuple[dict, list[TrialResult], str, ET.Element]:
    results = make_results()
    summary = R.summarize(results, POLICIES, TASKS, planned=len(results) + 2,
                          not_run=["t1--cheap--3", "t2--cheap--3"])
    html = render_html(summary, results)
    main = ET.fromstring(html[html.index("<main>"):html.index("</main>") + len("</main>")])
    return summary, results, html, main


def find(root: ET.Element, tag: str, **attrs: str) -> list[ET.Element]:
    """Elements (HTML or SVG) of that tag whose attributes include ``attrs``."""
    return [e for e in root.iter() if e.tag in (tag, SVG + tag)
            and all(e.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def one(root: ET.Element, tag: str, **attrs: str) -> ET.Element:
    found = find(root, tag, **attrs)
    assert len(found) == 1, (tag, attrs, len(found))
    return found[0]


def classes(e: ET.Element) -> set[str]:
    return set((e.get("class") or "").split())


def test_summary_is_what_the_plan_says(built):
    summary, *_ = built
    assert summary["pareto"] == EXPECTED_FRONT
    assert {p: f["too_few_to_trust"] for p, f in summary["policies"].items()} == \
        {"cheap": True, NASTY: True, "pricey": True, "many": False}


def test_header_and_policies_table(built):
    summary, results, _, main = built
    counts = "".join(one(main, "p", id="counts").itertext())
    assert counts == f"{len(results) + 2} trials planned, {len(results)} finished, 2 not run."
    note = "".join(one(main, "p", id="too-few").itertext())
    assert "too wide to rank on" in note and "many" not in note and NASTY in note
    table = one(main, "table", id="policies")
    rows = find(table, "tr")[1:]
    assert [r.get("data-policy") for r in rows] == POLICIES
    for row in rows:
        f = summary["policies"][row.get("data-policy")]
        text = ["".join(td.itertext()) for td in row]
        assert text[1] == f"{f['successes']}/{f['trials']}"
        assert text[7] == str(f["errors"])
        name = "".join(one(row, "span", **{"class": "name"}).itertext())
        assert name == row.get("data-policy")
        assert ("too few to trust" in text[0]) == f["too_few_to_trust"]
        assert ("Pareto front" in text[0]) == (row.get("data-policy") in EXPECTED_FRONT)
    cheap = ["".join(td.itertext()) for td in rows[0]]
    assert cheap[1:4] == ["3/6", "50%", "19% – 81%"]
    assert cheap[5] == "1 (25%)" and cheap[6] == "0 (0%)" and cheap[8] == "$0.0300"


def test_grid_has_one_square_per_trial_with_its_outcome(built):
    _, results, _, main = built
    grid = one(main, "svg", id="grid")
    squares = [r for r in find(grid, "rect") if "trial" in classes(r)]
    assert len(squares) == len(results) == 48
    seen = set()
    for sq in squares:
        key = (sq.get("data-task"), sq.get("data-policy"), int(sq.get("data-trial")))
        seen.add(key)
        assert sq.get("data-outcome") == expected_outcome(*key), key
        title = one(sq, "title").text
        assert title.startswith(f"{key[0]}--{key[1]}--{key[2]}: ")
        assert title.split(": ")[1].split(" (")[0] == sq.get("data-outcome").replace("_", " ")
    assert len(seen) == len(results)
    kinds = {sq.get("data-outcome") for sq in squares}
    assert kinds == {"success", "false_go", "false_no_go", "no_go", "error", "paused"}
    # one colour per outcome, each shown in the legend
    fills = {sq.get("data-outcome"): {s.get("fill") for s in squares
                                       if s.get("data-outcome") == sq.get("data-outcome")}
             for sq in squares}
    assert all(len(v) == 1 for v in fills.values())
    assert len({next(iter(v)) for v in fills.values()}) == 6
    legend = ET.tostring(one(main, "p", id="grid-legend"), encoding="unicode")
    for (colour,) in fills.values():
        assert colour in legend


def test_pareto_scatter_geometry(built):
    summary, _, _, main = built
    chart = one(main, "svg", id="pareto")
    circles = find(chart, "circle")
    assert [c.get("data-policy") for c in circles] == POLICIES
    ticks = {t.text: float(t.get("y")) - 4 for t in find(chart, "text")
             if "y" in classes(t)}
    y0, y100 = ticks["0%"], ticks["100%"]
    xticks = [(t.text, float(t.get("x"))) for t in find(chart, "text") if "x" in classes(t)]
    assert xticks[0][0] == "$0.00" and len(xticks) >= 3
    x0 = xticks[0][1]
    (label1, x1) = xticks[1]
    per_px = float(label1.lstrip("$")) / (x1 - x0)
    points = {}
    for c in circles:
        f = summary["policies"][c.get("data-policy")]
        cx, cy = float(c.get("cx")), float(c.get("cy"))
        points[c.get("data-policy")] = (cx, cy)
        assert cy == pytest.approx(y0 + f["success_rate"] * (y100 - y0), abs=0.02)
        assert (cx - x0) * per_px == pytest.approx(f["cost_per_task_usd"], abs=1e-4)
        hollow = c.get("fill") == "none"
        assert hollow == ("too-few" in classes(c)) == f["too_few_to_trust"]
        bar = one(chart, "line", data_policy=c.get("data-policy"))
        assert "interval" in classes(bar) and float(bar.get("x1")) == cx
        low, high = f["success_interval_95"]
        assert low < f["success_rate"] < high or f["success_rate"] in (0, 1)
        y_low, y_high = float(bar.get("y1")), float(bar.get("y2"))
        assert y_low >= cy >= y_high  # low is lower on the page
        assert y_low == pytest.approx(y0 + low * (y100 - y0), abs=0.02)
        assert y_high == pytest.approx(y0 + high * (y100 - y0), abs=0.02)
    labels = [t.text for t in find(chart, "text") if "label" in classes(t)]
    assert labels == POLICIES
    front = one(chart, "polyline", id="front")
    joined = [tuple(float(v) for v in p.split(",")) for p in front.get("points").split()]
    assert joined == [points[p] for p in EXPECTED_FRONT]
    titles = {t.text for t in find(chart, "text") if "axis-title" in classes(t)}
    assert titles == {"cost per task (USD)", "success rate"}


def test_cost_by_role_widths_are_proportional(built):
    _, _, _, main = built
    chart = one(main, "svg", id="cost-by-role")
    expected = {p: {r: c for r, c in roles.items()} for p, (roles, *_) in PLAN.items()}
    bars = find(chart, "g")
    assert [g.get("data-policy") for g in bars] == POLICIES
    ratios = []
    for g in bars:
        rects = {r.get("data-role"): float(r.get("width")) for r in find(g, "rect")}
        want = expected[g.get("data-policy")]
        assert {r for r, w in rects.items() if w > 0} == set(want)
        ratios += [rects[r] / c for r, c in want.items()]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-3)
    # the dearest policy fills the plot; the others are shorter on the same scale
    totals = {g.get("data-policy"): sum(float(r.get("width")) for r in find(g, "rect"))
              for g in bars}
    assert totals["many"] == pytest.approx(420, rel=1e-3)
    assert totals["cheap"] == pytest.approx(420 * 0.03 / 0.5, rel=1e-3)
    legend = "".join(one(main, "p", id="role-legend").itertext())
    for role in ("planner", "implementer", "reviewer", "judge"):
        assert role in legend


def test_pairs_table_matches_the_summary(built):
    summary, _, _, main = built
    rows = find(one(main, "table", id="pairs"), "tr")[1:]
    assert len(rows) == len(summary["pairs"]) == 6
    for row, pair in zip(rows, summary["pairs"], strict=True):
        text = ["".join(td.itertext()) for td in row]
        assert text[:5] == [pair["first"], pair["second"], str(pair["pairs"]),
                            str(pair["only_first"]), str(pair["only_second"])]
        assert float(text[5]) == pytest.approx(pair["p_value"], rel=1e-3)
        assert text[6] == ("differ at 5%" if pair["p_value"] < 0.05
                           else "no evidence of a difference")


def test_text_is_escaped_and_the_page_is_inert(built):
    _, _, html, main = built
    assert not [e for e in main.iter() if e.tag.split("}")[-1] in ("b", "i") and
                e.get("style") is None]
    assert "<b>" not in html and "<i>oops" not in html
    assert "&lt;b&gt;x&amp;y&lt;/b&gt;" in html and "boom &lt;i&gt;oops&lt;/i&gt;" in html
    assert "<script" not in html and "default-src 'none'" in html
    assert not re.search(r"""(src|href)=["'](?!data:)""", html)


def test_write_html(tmp_path, built):
    summary, results, html, _ = built
    path = write_html(tmp_path / "cmp", summary, results)
    assert path == tmp_path / "cmp" / "report.html" and path.read_text() == html


@needs_browser
def test_report_in_chromium(tmp_path: Path, built):
    summary, results, _, _ = built
    path = write_html(tmp_path, summary, results)
    console: list[tuple[str, str]] = []
    errors: list[str] = []
    requests: list[str] = []
    with browser_page() as page:
        page.on("console", lambda m: console.append((m.type, m.text)))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.resolve().as_uri())
        page.wait_for_load_state("load")
        for chart in ("svg#pareto", "svg#grid", "svg#cost-by-role"):
            box = page.locator(chart).bounding_box()
            assert box is not None and box["width"] > 0 and box["height"] > 0, chart
        squares = page.locator("svg#grid rect.trial")
        assert squares.count() == len(results)
        assert page.locator("svg#grid rect.trial:visible").count() == len(results)
        box = squares.first.bounding_box()
        assert box is not None and box["width"] > 4 and box["height"] > 4
        assert page.locator("svg#pareto circle.policy").count() == len(POLICIES)
        assert page.locator("svg#pareto circle.too-few").count() == 3
        assert page.locator("table#policies tbody tr").count() == len(POLICIES)
        assert NASTY in page.locator("table#policies").inner_text()
    assert not errors, errors
    assert not [m for m in console if m[0] in ("error", "warning")], console
    assert requests == [path.resolve().as_uri()]
