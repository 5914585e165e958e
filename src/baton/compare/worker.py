"""``python -m baton.compare.worker DIR TRIAL_ID``: one trial of a comparison, in its own process.

The local backend starts one of these per trial; a SIGTERM stops the run the way baton's
own Ctrl-C does (resumable, nothing recorded), and no result file is written.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

from baton.compare.comparison import Comparison
from baton.compare.trial import write_result
from baton.errors import RunInterrupted, Terminated


def main(argv: list[str]) -> int:
    """``python -m baton.compare.worker DIR TRIAL_ID``: one trial, in its own process."""
    def on_sigterm(signum: int, frame: Any) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, on_sigterm)
    comparison = Comparison.open(Path(argv[0]))
    spec = comparison.spec(argv[1])
    try:
        result = comparison.execute(spec)
    except (RunInterrupted, KeyboardInterrupt) as exc:
        print(f"trial {spec.id} stopped: {exc or type(exc).__name__}", file=sys.stderr)
        return 143
    write_result(comparison.trial_dir(spec) / "result.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
