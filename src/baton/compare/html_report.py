"""The HTML report of a ``baton compare`` comparison: one self-contained page.

It is a pure function of the comparison's summary (``results.summarize``) and its trial
results: the per-policy table, a cost-against-success scatter with the Wilson intervals and
the Pareto front, a task-by-policy grid with one square per trial, the cost per task split
by role, and the paired McNemar tests. Inline CSS and SVG only, no script, no network;
every name, task id and error is escaped on the way in (``report.html.tag``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from baton.compare.stats import TRUST_FROM
from baton.compare.trial import TrialResult
from baton.report.html import Html, badge, join, page, seconds, section, tag, usd
from baton.report.svg import nice_step

REPORT_FILE = "report.html"
SVG_NS = "http://www.w3.org/2000/svg"
OUTCOMES: dict[str, tuple[str, str]] = {
    "success": ("#1a7f37", "success (a go that passes the checks)"),
    "false_go": ("#cf222e", "false go (a go that fails the checks)"),
    "false_no_go": ("#bf8700", "false no-go (a non-go whose tree passes)"),
    "no_go": ("#8c959f", "no-go (and the tree fails the checks)"),
    "error": ("#1d2330", "error"),
    "paused": ("#d0d7de", "paused (budget or approval stop)"),
}
ROLE_COLOURS = {"planner": "#6f42c1", "implementer": "#0969da", "reviewer": "#bf3989",
                "verifier": "#1a7f37"}
EXTRA_COLOURS = ("#e16f24", "#57606a", "#1b7c83", "#8250df", "#9a6700", "#cf222e")
POINT_COLOUR = "#0969da"


def outcome(result: TrialResult) -> str:
    """What a trial came to: success, false_go, false_no_go, no_go, error or paused."""
    if result.success:
        return "success"
    if result.decision == "go":
        return "false_go"
    if result.state == "error":
        return "error"
    if result.state == "paused":
        return "paused"
    return "false_no_go" if result.solved else "no_go"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _svg(content: Html, width: float, height: float, id_: str, label: str) -> Html:
    return tag("svg", content, xmlns=SVG_NS, id=id_, viewBox=f"0 0 {width:.0f} {height:.0f}",
               width=f"{width:.0f}", height=f"{height:.0f}", role="img", aria_label=label)


def _legend(items: Sequence[tuple[str, str]], **attrs: Any) -> Html:
    return tag("p", join(tag("span", join([tag("i", "", style=f"background:{colour}"), name]))
                         for name, colour in items), class_="legend", **attrs)


def _table(id_: str, headers: Sequence[str], rows: Sequence[tuple[dict[str, Any], list[Any]]],
           numeric: Sequence[int] = ()) -> Html:
    def cells(row: Sequence[Any], cell: str) -> Html:
        return join(tag(cell, v, class_="num" if i in numeric else None)
                    for i, v in enumerate(row))

    body = join(tag("tr", cells(row, "td"), **attrs) for attrs, row in rows)
    return tag("table", join([tag("thead", tag("tr", cells(headers, "th"))),
                              tag("tbody", body)]), id=id_)


def _header(summary: Mapping[str, Any], title: str) -> Html:
    figures: dict[str, Any] = summary.get("policies") or {}
    parts = [tag("h1", title), tag("p", f"{summary.get('planned', 0)} trials planned, "
                                        f"{summary.get('finished', 0)} finished, "
                                        f"{summary.get('not_run', 0)} not run.", id="counts")]
    if summary.get("note"):
        parts.append(tag("p", f"Note: {summary['note']}.", class_="note", id="note"))
    few = [p for p, f in figures.items() if f.get("too_few_to_trust")]
    if few:
        parts.append(tag("p", f"Fewer than {TRUST_FROM} trials for {', '.join(few)}: the 95% "
                              "interval is too wide to rank on.", class_="note", id="too-few"))
    return join(parts)


def _policies_table(summary: Mapping[str, Any]) -> Html:
    front = set(summary.get("pareto") or [])
    rows = []
    for name, f in (summary.get("policies") or {}).items():
        low, high = f.get("success_interval_95") or [0.0, 1.0]
        badges = []
        if f.get("too_few_to_trust"):
            badges.append(badge("too few to trust", "warn"))
        if name in front:
            badges.append(badge("Pareto front", "good"))
        marks = tag("span", join(badges, " "), style="display:flex;flex-direction:column;"
                    "gap:3px;margin-top:3px;white-space:nowrap;align-items:flex-start")
        rows.append(({"data_policy": name}, [
            join([tag("span", name, class_="name"), marks if badges else ""]),
            f"{f['successes']}/{f['trials']}", _pct(f.get("success_rate")),
            f"{_pct(low)} – {_pct(high)}", _pct(f.get("go_rate")),
            f"{f['false_go']} ({_pct(f.get('false_go_rate'))})",
            f"{f['false_no_go']} ({_pct(f.get('false_no_go_rate'))})", f["errors"],
            usd(f.get("cost_per_task_usd")), usd(f.get("cost_per_success_usd")),
            f"{seconds(f.get('latency_p50_s'))} / {seconds(f.get('latency_p95_s'))}"]))
    headers = ["policy", "success", "rate", "Wilson 95%", "go rate", "false go",
               "false no-go", "errors", "$/task", "$/success", "p50 / p95 time"]
    return tag("div", _table("policies", headers, rows, numeric=range(1, 11)),
               style="overflow-x:auto")


def _pareto_svg(summary: Mapping[str, Any]) -> Html:
    figures = {p: f for p, f in (summary.get("policies") or {}).items()
               if f.get("cost_per_task_usd") is not None and f.get("trials")}
    if not figures:
        return tag("p", "No policy has a cost per task to plot.", class_="muted")
    width, height, left, right, top, bottom = 680.0, 360.0, 64.0, 150.0, 16.0, 46.0
    plot_w, plot_h = width - left - right, height - top - bottom
    top_cost = max(f["cost_per_task_usd"] for f in figures.values())
    step = nice_step(top_cost, 5)
    x_max = max(step, math.ceil(top_cost / step - 1e-9) * step)
    digits = max(2, -math.floor(math.log10(step)))

    def x(cost: float) -> float:
        return left + cost / x_max * plot_w

    def y(rate: float) -> float:
        return top + (1 - rate) * plot_h

    axes = [tag("line", x1=left, x2=left, y1=top, y2=top + plot_h, stroke="#57606a"),
            tag("line", x1=left, x2=left + plot_w, y1=top + plot_h, y2=top + plot_h,
                stroke="#57606a")]
    for i in range(round(x_max / step) + 1):
        tx = x(i * step)
        axes.append(tag("line", x1=f"{tx:.1f}", x2=f"{tx:.1f}", y1=top, y2=top + plot_h))
        axes.append(tag("text", f"${i * step:.{digits}f}", x=f"{tx:.1f}", y=top + plot_h + 16,
                        text_anchor="middle", class_="tick x"))
    for pct in range(0, 101, 20):
        ty = y(pct / 100)
        axes.append(tag("line", x1=left, x2=left + plot_w, y1=f"{ty:.1f}", y2=f"{ty:.1f}"))
        axes.append(tag("text", f"{pct}%", x=left - 6, y=f"{ty + 4:.1f}", text_anchor="end",
                        class_="tick y"))
    axes.append(tag("text", "cost per task (USD)", x=f"{left + plot_w / 2:.1f}",
                    y=height - 8, text_anchor="middle", class_="axis-title"))
    axes.append(tag("text", "success rate", x=14, y=f"{top + plot_h / 2:.1f}",
                    text_anchor="middle", class_="axis-title",
                    transform=f"rotate(-90 14 {top + plot_h / 2:.1f})"))
    points, marks = {}, []
    for name, f in figures.items():
        cx, cy = x(f["cost_per_task_usd"]), y(f["success_rate"] or 0.0)
        points[name] = (cx, cy)
        low, high = f.get("success_interval_95") or [0.0, 1.0]
        few = bool(f.get("too_few_to_trust"))
        tip = (f"{name}: {_pct(f['success_rate'])} success ({_pct(low)} – {_pct(high)}), "
               f"{usd(f['cost_per_task_usd'])} per task")
        marks.append(tag("line", tag("title", tip), x1=f"{cx:.2f}", x2=f"{cx:.2f}",
                         y1=f"{y(low):.2f}", y2=f"{y(high):.2f}", class_="interval",
                         data_policy=name, stroke=POINT_COLOUR, stroke_width=2,
                         stroke_opacity="0.45"))
        marks.append(tag("circle", tag("title", tip), cx=f"{cx:.2f}", cy=f"{cy:.2f}", r=6,
                         class_="policy too-few" if few else "policy", data_policy=name,
                         fill="none" if few else POINT_COLOUR, stroke=POINT_COLOUR,
                         stroke_width=2))
        marks.append(tag("text", name, x=f"{cx + 9:.1f}", y=f"{cy - 6:.1f}", class_="label",
                         data_policy=name))
    front = [p for p in summary.get("pareto") or [] if p in points]
    front.sort(key=lambda p: (figures[p]["cost_per_task_usd"], -points[p][1]))
    line = tag("polyline", id="front", fill="none", stroke="#1a7f37", stroke_width=2,
               stroke_dasharray="5 3",
               points=" ".join(f"{points[p][0]:.2f},{points[p][1]:.2f}" for p in front))
    body = join([tag("g", join(axes), class_="grid"), line, tag("g", join(marks))])
    return _svg(body, width, height, "pareto", "cost per task against success rate")


def _grid_svg(summary: Mapping[str, Any], results: Sequence[TrialResult]) -> Html:
    policies = list(summary.get("policies") or {})
    tasks = list(summary.get("grid") or {})
    for r in results:
        if r.policy not in policies:
            policies.append(r.policy)
        if r.task not in tasks:
            tasks.append(r.task)
    cells: dict[tuple[str, str], list[TrialResult]] = {}
    for r in sorted(results, key=lambda r: r.trial):
        cells.setdefault((r.task, r.policy), []).append(r)
    if not cells:
        return tag("p", "No trial has finished.", class_="muted")
    size, gap, per_row = 12, 3, 10
    most = max(len(v) for v in cells.values())
    lines = math.ceil(most / per_row)
    label_w = min(max(len(t) for t in tasks) * 7 + 16, 260)
    col_w = max(min(most, per_row) * (size + gap) + 12, 90)
    row_h = lines * (size + gap) + 10
    head = 24
    parts = []
    for j, policy in enumerate(policies):
        parts.append(tag("text", policy, x=label_w + j * col_w + 4, y=16, class_="column",
                         data_policy=policy))
    for i, task in enumerate(tasks):
        y0 = head + i * row_h
        parts.append(tag("text", task, x=label_w - 8, y=y0 + row_h / 2 + 4, text_anchor="end",
                         class_="lane", data_task=task))
        for j, policy in enumerate(policies):
            x0 = label_w + j * col_w
            parts.append(tag("rect", x=x0, y=y0 + 2, width=col_w - 4, height=row_h - 4,
                             class_="lane-bg"))
            for k, r in enumerate(cells.get((task, policy), [])):
                kind = outcome(r)
                tip = f"{r.id}: {kind.replace('_', ' ')}" + (f" ({r.error[:200]})"
                                                            if r.error else "")
                parts.append(tag(
                    "rect", tag("title", tip), x=x0 + 4 + (k % per_row) * (size + gap),
                    y=y0 + 5 + (k // per_row) * (size + gap), width=size, height=size, rx=2,
                    class_="trial", fill=OUTCOMES[kind][0], data_task=task, data_policy=policy,
                    data_trial=r.trial, data_outcome=kind))
    width = label_w + col_w * len(policies) + 8
    height = head + row_h * len(tasks) + 6
    return _svg(join(parts), width, height, "grid", "trials by task and policy")


def _role_order(figures: Mapping[str, Any]) -> list[str]:
    roles = {role for f in figures.values() for role in (f.get("by_role") or {})}
    return [r for r in ROLE_COLOURS if r in roles] + sorted(roles - set(ROLE_COLOURS))


def role_colours(roles: Sequence[str]) -> dict[str, str]:
    """A colour per role: the run report's for the known roles, then a fixed palette."""
    extra = iter(EXTRA_COLOURS * (len(roles) // len(EXTRA_COLOURS) + 1))
    return {r: ROLE_COLOURS.get(r) or next(extra) for r in roles}


def _cost_svg(summary: Mapping[str, Any]) -> tuple[Html, list[str]]:
    figures = {p: f for p, f in (summary.get("policies") or {}).items() if f.get("trials")}
    roles = _role_order(figures)
    colours = role_colours(roles)
    per_task = {p: {role: float((f.get("by_role") or {}).get(role, {}).get("cost_usd", 0.0))
                    / f["trials"] for role in roles} for p, f in figures.items()}
    top = max([sum(v.values()) for v in per_task.values()] + [0.0])
    if not figures or top <= 0:
        return tag("p", "No model spend was recorded.", class_="muted"), roles
    label_w, plot_w, row_h = 170.0, 420.0, 26.0
    bars = []
    for i, (policy, costs) in enumerate(per_task.items()):
        y0, x0 = 6 + i * row_h, label_w
        rects = [tag("text", policy, x=label_w - 8, y=f"{y0 + row_h / 2 + 1:.1f}",
                     text_anchor="end")]
        for role in roles:
            w = costs[role] / top * plot_w
            rects.append(tag("rect", tag("title", f"{policy} · {role}: {usd(costs[role])} "
                                                  "per task"),
                             x=f"{x0:.3f}", y=y0 + 3, width=f"{w:.3f}", height=row_h - 8,
                             fill=colours[role], data_role=role,
                             data_cost=f"{costs[role]:.6f}"))
            x0 += w
        rects.append(tag("text", usd(sum(costs.values())), x=f"{x0 + 6:.1f}",
                         y=f"{y0 + row_h / 2 + 1:.1f}"))
        bars.append(tag("g", join(rects), data_policy=policy, class_="cost-bar"))
    height = 12 + row_h * len(per_task)
    return _svg(join(bars), label_w + plot_w + 90, height, "cost-by-role",
                "cost per task by role"), roles


def _pairs_table(summary: Mapping[str, Any]) -> Html:
    rows = []
    for pair in summary.get("pairs") or []:
        p = pair["p_value"]
        rows.append(({"data_first": pair["first"], "data_second": pair["second"]}, [
            pair["first"], pair["second"], pair["pairs"], pair["only_first"],
            pair["only_second"], f"{p:.4g}",
            "differ at 5%" if p < 0.05 else "no evidence of a difference"]))
    headers = ["first", "second", "pairs", "only first succeeded", "only second succeeded",
               "McNemar exact p", "reading"]
    return _table("pairs", headers, rows, numeric=(2, 3, 4, 5))


def render_html(summary: dict[str, Any], results: list[TrialResult], *,
                title: str = "baton compare") -> str:
    """The whole report page for a comparison's summary and its trial results."""
    cost_chart, roles = _cost_svg(summary)
    colours = role_colours(roles)
    body = join([
        _header(summary, title),
        section("Policies", _policies_table(summary), id_="policy-figures",
                note="Success is a go whose result passes the scoring checks; the interval "
                     "is the 95% Wilson score interval; errors count as failures."),
        section("Cost against success", _pareto_svg(summary), id_="front-chart",
                note="Each point is a policy with its 95% interval; the dashed line joins "
                     "the Pareto front; hollow points have too few trials to trust."),
        section("Every trial", join([_legend([(label, colour) for colour, label
                                              in OUTCOMES.values()], id="grid-legend"),
                                     _grid_svg(summary, results)]), id_="trials"),
        section("Cost per task by role", join([
            _legend([(r, colours[r]) for r in roles], id="role-legend"), cost_chart]),
            id_="roles"),
        section("Paired tests", _pairs_table(summary), id_="paired",
                note="McNemar's exact test on the trials both policies ran (same task, same "
                     "trial); only the discordant pairs count."),
    ])
    return page(title, body, generator="baton compare")


def write_html(folder: Path, summary: dict[str, Any], results: list[TrialResult]) -> Path:
    """Write the report to ``folder/report.html`` and return its path."""
    path = Path(folder) / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(summary, results), encoding="utf-8")
    return path
