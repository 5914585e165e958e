"""How many requests the fake gateway is answering at once, and the most it ever was.

A comparison promises never to exceed an endpoint's ``max_concurrency``; this counter is
how a test checks it from the outside (``GET /_gateway/concurrency``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class InFlight:
    """A thread-safe count of requests being answered: now, at most, and in all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0
        self.total = 0

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count one request for as long as the block runs."""
        with self._lock:
            self.current += 1
            self.total += 1
            self.peak = max(self.peak, self.current)
        try:
            yield
        finally:
            with self._lock:
                self.current -= 1

    def reset(self) -> None:
        """Forget the peak and the total (requests in flight stay counted)."""
        with self._lock:
            self.peak = self.current
            self.total = 0

    def snapshot(self) -> dict[str, int]:
        """``{"current", "peak", "total"}``, read at one moment."""
        with self._lock:
            return {"current": self.current, "peak": self.peak, "total": self.total}
