"""Inline SVG charts generated in Python: a Gantt-style timeline and horizontal bar charts.

Both take plain data and return markup (``Html``); nothing is fetched or scripted. Every
bar carries its tooltip (``<title>``) and ``data-*`` attributes, so a reader can hover and
a test can count what a person sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from baton.report.html import Html, esc, join, tag


@dataclass
class Bar:
    """One step on a timeline lane, in seconds from the start of the chart."""

    lane: str
    start: float
    end: float
    label: str = ""
    classes: str = ""
    title: str = ""
    data: Mapping[str, str] = field(default_factory=dict)


def nice_step(span: float, target_ticks: int = 8) -> float:
    """A round tick interval (1, 2 or 5 times a power of ten) giving about that many ticks."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _tick_label(value: float, step: float) -> str:
    if step >= 1:
        return f"{value:.0f}s"
    if step >= 0.1:
        return f"{value:.1f}s"
    return f"{value * 1000:.0f}ms"


def cut_idle(bars: Sequence[Bar], min_gap_s: float, keep_s: float
             ) -> tuple[list[Bar], list[tuple[float, float]]]:
    """Bars with every idle stretch longer than ``min_gap_s`` shortened to ``keep_s``.

    A run that waited an hour for a person would otherwise squeeze its calls into slivers.
    Returns the shifted bars and the cuts as (position on the new axis, seconds cut out).
    """
    order = sorted(range(len(bars)), key=lambda i: bars[i].start)
    shifted: dict[int, Bar] = {}
    cuts: list[tuple[float, float]] = []
    shift, busy_until = 0.0, None
    for i in order:
        bar = bars[i]
        if busy_until is not None and bar.start - busy_until > min_gap_s:
            removed = bar.start - busy_until - keep_s
            cuts.append((busy_until - shift + keep_s / 2, removed + keep_s))
            shift += removed
        busy_until = bar.end if busy_until is None else max(busy_until, bar.end)
        shifted[i] = Bar(bar.lane, bar.start - shift, bar.end - shift, bar.label, bar.classes,
                         bar.title, bar.data)
    return [shifted[i] for i in range(len(bars))], cuts


def gantt(bars: Sequence[Bar], lanes: Sequence[str], *, width: int = 1040,
          lane_height: int = 30, label_width: int = 120, min_bar_px: float = 3.0,
          cuts: Sequence[tuple[float, str]] = (), css_class: str = "timeline") -> Html:
    """A timeline: one row per lane, one rectangle per bar, a time axis along the bottom.

    ``cuts`` are (position, label) marks where idle time was cut out of the axis.
    """
    total = max([b.end for b in bars] + [0.0]) or 1.0
    plot = width - label_width - 16
    height = lane_height * len(lanes) + 30
    scale = plot / total
    rows = []
    for index, lane in enumerate(lanes):
        y = index * lane_height
        rows.append(tag("rect", x=label_width, y=y + 2, width=plot, height=lane_height - 4,
                        class_="lane-bg"))
        rows.append(tag("text", lane, x=label_width - 8, y=y + lane_height / 2 + 4,
                        text_anchor="end", class_="lane"))
    step = nice_step(total)
    ticks = []
    value = 0.0
    while value <= total + step / 1000:
        x = label_width + value * scale
        ticks.append(tag("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=0,
                         y2=lane_height * len(lanes)))
        ticks.append(tag("text", _tick_label(value, step), x=f"{x:.1f}",
                         y=lane_height * len(lanes) + 16, text_anchor="middle"))
        value += step
    shapes = []
    for bar in bars:
        row = lanes.index(bar.lane)
        x = label_width + bar.start * scale
        w = max((bar.end - bar.start) * scale, min_bar_px)
        y = row * lane_height + 6
        data = {f"data_{k}": v for k, v in bar.data.items()}
        rect = tag("rect", tag("title", bar.title or bar.label), x=f"{x:.1f}", y=y,
                   width=f"{w:.1f}", height=lane_height - 12, rx=2,
                   class_=f"bar {bar.classes}".strip(), **data)
        shapes.append(rect)
        if bar.label and w > 7 * len(bar.label):
            shapes.append(tag("text", bar.label, x=f"{x + 4:.1f}", y=y + lane_height / 2 - 2,
                              class_="bar-label", fill="#fff"))
    marks = []
    for position, label in cuts:
        x = label_width + position * scale
        marks.append(tag("line", tag("title", label), x1=f"{x:.1f}", x2=f"{x:.1f}", y1=0,
                         y2=lane_height * len(lanes), class_="cut"))
        marks.append(tag("text", label, x=f"{x + 3:.1f}", y=lane_height * len(lanes) + 28,
                         class_="cut-label"))
    if cuts:
        height += 14
    return tag("svg", join([
        tag("g", join(rows), class_="lanes"), tag("g", join(ticks), class_="grid"),
        tag("g", join(marks), class_="cuts"), tag("g", join(shapes), class_="bars"),
    ]), xmlns="http://www.w3.org/2000/svg", viewBox=f"0 0 {width} {height}", width=width,
        height=height, class_=css_class, role="img", aria_label="timeline")


def bar_chart(items: Sequence[tuple[str, float]], *, fmt: Callable[[float], str],
              title: str, width: int = 380, row_height: int = 24, label_width: int = 170,
              css_class: str = "chart") -> Html:
    """Horizontal bars, one per (label, value), each labelled with ``fmt(value)``."""
    if not items:
        return tag("p", f"{title}: nothing to show", class_="muted")
    top = max(v for _, v in items) or 1.0
    plot = width - label_width - 70
    parts = [tag("text", title, x=0, y=14, class_="chart-title", font_weight="600")]
    for index, (label, value) in enumerate(items):
        y = 24 + index * row_height
        w = max(plot * (value / top), 1.0 if value > 0 else 0.0)
        parts.append(tag("text", label, x=label_width - 8, y=y + row_height / 2 + 3,
                         text_anchor="end"))
        parts.append(tag("rect", tag("title", f"{label}: {fmt(value)}"), x=label_width,
                         y=y + 4, width=f"{w:.1f}", height=row_height - 8, rx=2,
                         class_="hbar", data_label=label, data_value=f"{value}"))
        parts.append(tag("text", fmt(value), x=f"{label_width + w + 6:.1f}",
                         y=y + row_height / 2 + 3))
    height = 24 + row_height * len(items) + 6
    return tag("svg", join(parts), xmlns="http://www.w3.org/2000/svg",
               viewBox=f"0 0 {width} {height}", width=width, height=height,
               class_=css_class, role="img", aria_label=esc(title))
