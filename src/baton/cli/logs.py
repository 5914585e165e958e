"""Logging to stderr with every secret masked, whatever the level."""

from __future__ import annotations

import logging
import os


class MaskingFilter(logging.Filter):
    """Masks secret values and key formats in every record before it is printed."""

    def __init__(self) -> None:
        super().__init__()
        from baton.secrets import SecretMasker

        self._masker = SecretMasker(os.environ)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._masker.mask(record.getMessage())
        record.args = None
        return True


def setup_logging(level: str) -> None:
    """Log baton, the SDK and its HTTP client at ``level`` to stderr, masked."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The SDK reads OPENAI_LOG itself and may add its own unmasked handler: route it here.
    for name in ("openai", "httpx2", "httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
