"""HTML building blocks: escaping, the page shell with its inline CSS, tables, badges.

Everything returns ``Html`` (a str that is already markup); any other value is escaped,
so text from a trace, a model or a repository can never become markup.
"""

from __future__ import annotations

import html as _html
from collections.abc import Iterable, Sequence
from typing import Any


class Html(str):
    """A string that is already HTML (never escaped again)."""


def esc(value: Any) -> Html:
    """``value`` as HTML text (``Html`` passes through unchanged)."""
    if isinstance(value, Html):
        return value
    return Html(_html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Html:
    """Parts (escaped unless ``Html``) joined into one piece of markup."""
    return Html(sep.join(esc(p) for p in parts))


def tag(name: str, content: Any = "", **attrs: Any) -> Html:
    """``<name attrs>content</name>``; ``class_`` means ``class``; None drops an attribute."""
    rendered = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items()
        if v is not None and v is not False
    )
    return Html(f"<{name}{rendered}>{esc(content)}</{name}>")


def badge(text: str, kind: str) -> Html:
    """A coloured label: kind is ``good``, ``bad``, ``warn`` or ``neutral``."""
    return tag("span", text, class_=f"badge {kind}")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
          numeric: Sequence[int] = (), class_: str = "", foot: Sequence[Any] | None = None
          ) -> Html:
    """A table; columns listed in ``numeric`` are right-aligned."""
    def cells(row: Sequence[Any], cell: str) -> Html:
        return join(tag(cell, v, class_="num" if i in numeric else None)
                    for i, v in enumerate(row))

    head = tag("thead", tag("tr", cells(headers, "th")))
    body = tag("tbody", join(tag("tr", cells(r, "td")) for r in rows))
    tfoot = tag("tfoot", tag("tr", cells(foot, "td"))) if foot is not None else Html("")
    return tag("table", join([head, body, tfoot]), class_=class_ or None)


def section(title: str, content: Any, *, id_: str, note: str = "") -> Html:
    """A titled section of the page."""
    parts = [tag("h2", title)]
    if note:
        parts.append(tag("p", note, class_="note"))
    parts.append(content)
    return tag("section", join(parts), id=id_)


def usd(value: float | None) -> str:
    """Dollars with four decimals, or "unknown"."""
    return "unknown" if value is None else f"${value:.4f}"


def seconds(value: float | None) -> str:
    """A duration a person reads at a glance."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def css() -> str:
    """The style sheet every report inlines (``report/style.css``)."""
    from importlib import resources

    return (resources.files("baton.report") / "style.css").read_text(encoding="utf-8")



def page(title: str, body: Any, *, generator: str = "baton") -> Html:
    """A whole HTML document: no script, no external resource of any kind."""
    return Html(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<meta name=\"generator\" content=\"{esc(generator)}\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        "<link rel=\"icon\" href=\"data:,\">"
        f"<title>{esc(title)}</title><style>{css()}</style></head>"
        f"<body><main>{esc(body)}</main></body></html>\n"
    )
