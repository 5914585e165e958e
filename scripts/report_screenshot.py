#!/usr/bin/env python3
"""Make docs/report.png, the README's picture of `baton demo`'s HTML report.

    .venv/bin/python scripts/report_screenshot.py [OUT.png]

Runs the demo, then takes the picture with the browser tests' own tooling
(tests/browser.py: Debian's chromium through Playwright).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import colour_stats, save_screenshot, why_unavailable  # noqa: E402

from baton.demo import run_demo  # noqa: E402
from baton.report.run import write_run_report  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "report.png"
    reason = why_unavailable()
    if reason:
        print(f"report_screenshot: cannot take the picture: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="baton-shot-") as tmp:
        result, _ = run_demo(Path(tmp))
        html = write_run_report(result.run_dir)
        data = save_screenshot(html, out, width=1100, height=760)
    colours, inked = colour_stats(data)
    print(f"report_screenshot: wrote {out} ({len(data):,} bytes, {colours} colours, "
          f"{inked:.0%} inked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
