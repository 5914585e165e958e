"""baton: a gated, role-separated coding workflow on a real git repository.

The public API is small and imported lazily, so ``baton --help`` stays fast::

    from baton import start_run, resume_run
    result = start_run("Add a median() function, with tests", Path("."))
    result.decision   # "go" / "no-go" / None while paused
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "start_run": "baton.pipeline",
    "resume_run": "baton.pipeline",
    "answer_approval": "baton.pipeline",
    "RunResult": "baton.gate",
    "Config": "baton.config",
    "load_config": "baton.config",
    "Plan": "baton.models",
    "Verdict": "baton.models",
    "CommandEvidence": "baton.models",
    "FakeGateway": "baton.gateway.server",
    "write_packets": "baton.packets",
    "summarize": "baton.runs.reader",
    "BatonError": "baton.errors",
    "UserError": "baton.errors",
    "ConfigError": "baton.errors",
    "ProviderError": "baton.errors",
    "WorkflowError": "baton.errors",
    "ModelOutputError": "baton.errors",
    "EditError": "baton.errors",
    "BudgetExhausted": "baton.errors",
    "AwaitingApproval": "baton.errors",
    "RunLocked": "baton.errors",
    "RunNotFound": "baton.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'baton' has no attribute {name!r}")
