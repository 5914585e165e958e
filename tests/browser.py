"""Headless Chromium (Debian's package) driven by Playwright, for tests and the README picture.

Playwright's own browser download does not work offline, so the system ``chromium`` is
used through ``executable_path``. ``why_unavailable()`` says why a browser test must skip.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """The system Chromium, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def why_unavailable() -> str | None:
    """None when a browser test can run, else the reason it cannot."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return ("Debian's chromium is not installed (scripts/test.sh installs it with "
                "apt-get install chromium when it runs as root)")
    return None


@contextmanager
def browser_page(width: int = 1200, height: int = 900) -> Iterator[Any]:
    """A fresh page in a fresh headless Chromium profile."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="baton-chromium-") as profile, \
            sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height})
        try:
            yield context.new_page()
        finally:
            context.close()


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the raw RGB(A) rows of an 8-bit PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), (depth, color)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        filt = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if filt == 1:
                line[i] = (line[i] + a) & 0xFF
            elif filt == 2:
                line[i] = (line[i] + b) & 0xFF
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) \
                    & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def colour_stats(data: bytes) -> tuple[int, float]:
    """How many distinct colours a PNG has, and the share of pixels that are not white."""
    width, height, rows = png_pixels(data)
    bpp = len(rows[0]) // width
    colours: set[bytes] = set()
    inked = 0
    for row in rows:
        for x in range(0, len(row), bpp):
            px = row[x:x + 3]
            colours.add(px)
            if px != b"\xff\xff\xff":
                inked += 1
    return len(colours), inked / (width * height)


def save_screenshot(html: Path, png: Path, *, width: int = 1100, height: int = 820) -> bytes:
    """A screenshot of the top of a page (the README picture is made with this)."""
    with browser_page(width, height) as page:
        page.goto(html.resolve().as_uri())
        data = page.screenshot(path=str(png), full_page=False)
    return data
