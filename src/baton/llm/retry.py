"""The single retry layer: attempts per model, Retry-After, backoff, then fallbacks."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from baton.config import RetryPolicy
from baton.errors import ProviderError
from baton.llm.provider import AttemptFailed, ChatRequest, Completion, Provider

AUTH_FAILURES = {401, 403}


@dataclass(frozen=True)
class Attempt:
    """What one attempt did; every attempt, failed or not, goes to the trace."""

    model: str
    number: int
    completion: Completion | None
    error: AttemptFailed | None

    @property
    def latency_s(self) -> float:
        """Seconds the attempt took."""
        if self.completion is not None:
            return self.completion.latency_s
        return self.error.latency_s if self.error else 0.0


def _backoff(policy: RetryPolicy, try_number: int) -> float:
    ceiling = min(policy.backoff_max_s, policy.backoff_base_s * 2 ** (try_number - 1))
    return random.uniform(0, ceiling)


def complete_with_retries(
    provider: Provider,
    request: ChatRequest,
    models: list[str],
    policy: RetryPolicy,
    *,
    before_attempt: Callable[[str], None] = lambda model: None,
    after_attempt: Callable[[Attempt], None] = lambda attempt: None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Completion, str]:
    """Answer ``request`` with the first model that succeeds; returns (completion, model)."""
    number = 0
    failures: list[str] = []
    for model in models:
        for try_number in range(1, policy.max_attempts + 1):
            number += 1
            before_attempt(model)
            try:
                completion = provider.complete(
                    _with_model(request, model), timeout_s=policy.attempt_timeout_s
                )
            except AttemptFailed as err:
                after_attempt(Attempt(model, number, None, err))
                failures.append(f"{model} attempt {try_number}: {err}")
                if err.status_code in AUTH_FAILURES:
                    raise ProviderError(
                        f"{err}. Check the key in the endpoint's key variable.",
                        status_code=err.status_code,
                    ) from err
                if not err.retryable or try_number == policy.max_attempts:
                    break
                wait = err.retry_after_s
                if wait is not None and wait > policy.max_retry_after_s:
                    failures.append(
                        f"{model}: server asked to wait {wait:.0f}s, more than "
                        f"max_retry_after_s={policy.max_retry_after_s:.0f}s; not waiting"
                    )
                    break
                sleep(wait if wait is not None else _backoff(policy, try_number))
                continue
            after_attempt(Attempt(model, number, completion, None))
            return completion, model
    raise ProviderError(
        "the model endpoint failed after every attempt and fallback:\n  "
        + "\n  ".join(failures[-8:])
        + "\nCheck the endpoint, or configure fallbacks for this role and resume the run."
    )


def _with_model(request: ChatRequest, model: str) -> ChatRequest:
    if request.model == model:
        return request
    return ChatRequest(
        model=model, messages=request.messages, max_tokens=request.max_tokens,
        temperature=request.temperature, stream=request.stream, headers=request.headers,
    )
