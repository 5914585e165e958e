"""The one exception tree of baton.

    BatonError                      base of everything baton raises on purpose
    ├── UserError                   the user must fix something (exit 2)
    │   ├── ConfigError             invalid or unsafe configuration
    │   └── RunNotFound             no such run in this repo
    ├── ProviderError               the model endpoint failed after retries (exit 2)
    ├── WorkflowError               a gate failed in a way that is an error, not a no-go (exit 2)
    │   ├── ModelOutputError        a model's output could not be used (after repair)
    │   └── PromptTooLarge          a prompt passed max_prompt_bytes; nothing was sent
    ├── EditError                   edits could not be applied (reason shown to the implementer)
    ├── BudgetExhausted             a hard limit would be crossed; the run pauses (exit 4)
    ├── AwaitingApproval            a human must approve; the run pauses (exit 3)
    ├── RunLocked                   another process is working on this run
    └── ExportError                 a trace backend refused or could not be reached (exit 2)

Every message says what happened and what to do next. Only the CLI turns these into
text and exit codes; the library never prints or exits.
"""

from __future__ import annotations


class BatonError(Exception):
    """Base of every error baton raises on purpose."""

    exit_code = 2


class UserError(BatonError):
    """Something the user must fix: usage, paths, options."""


class ConfigError(UserError):
    """Configuration is invalid, incomplete or unsafe."""


class RunNotFound(UserError):
    """The named run does not exist in this repository."""


class ProviderError(BatonError):
    """The model endpoint failed, after retries and fallbacks."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class WorkflowError(BatonError):
    """A workflow gate failed in a way that is an error rather than a no-go."""


class ModelOutputError(WorkflowError):
    """A model's output could not be parsed or validated, even after a repair request."""


class PromptTooLarge(WorkflowError):
    """A prompt would pass ``max_prompt_bytes``; it was not sent."""


class EditError(BatonError):
    """Edits returned by the implementer could not be applied."""


class BudgetExhausted(BatonError):
    """A hard budget would be crossed by the next step; the run is paused."""

    exit_code = 4


class AwaitingApproval(BatonError):
    """A change needs a person's approval before it may continue."""

    exit_code = 3


class RunLocked(UserError):
    """Another baton process holds this run."""


class ExportError(BatonError):
    """An OpenTelemetry receiver refused the spans or could not be reached."""
