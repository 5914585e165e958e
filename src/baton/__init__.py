"""baton: a gated, role-separated coding workflow on a real git repository."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
