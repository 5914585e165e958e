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
    key_hint: str = "the key in the endpoint's key variable",
) -> tuple[Completion, str]:
    """Answer ``request`` with the first model that succeeds; returns (completion, model).

    ``key_hint`` names the key for messages about failures that look like a bad key.
    """
    number = 0
    failures: list[str] = []
    errors: list[AttemptFailed] = []
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
                errors.append(err)
                if err.status_code in AUTH_FAILURES:
                    raise ProviderError(
                        f"{err}. The endpoint refused the key: check {key_hint}.",
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
    raise ProviderError(_failure_message(failures, errors, models, key_hint),
                        status_code=errors[-1].status_code if errors else None)


# Words with which gateways and proxies answer a missing or wrong key with a 400 (a LiteLLM
# proxy without its database answers "No connected db." to any key it cannot check).
_AUTH_WORDS = ("api key", "api_key", "apikey", "auth", "credential", "token",
               "no connected db", "permission", "unauthori", "forbidden", "invalid key")


def looks_like_auth(err: AttemptFailed) -> bool:
    """Whether a failure looks like a missing or wrong key, whatever its status code."""
    if err.status_code in AUTH_FAILURES:
        return True
    text = str(err).lower()
    return err.status_code == 400 and any(word in text for word in _AUTH_WORDS)


def _failure_message(failures: list[str], errors: list[AttemptFailed], models: list[str],
                     key_hint: str) -> str:
    """What happened, said as it happened, and only the next steps that can help."""
    tried = sorted({line.split(" attempt ")[0] for line in failures if " attempt " in line})
    count = len(errors)
    if count == 1:
        head = f"the model endpoint failed on the only attempt made ({models[0]}):"
    else:
        head = f"the model endpoint failed {count} attempts ({', '.join(tried)}):"
    hints: list[str] = []
    last = errors[-1] if errors else None
    if last is not None and not last.retryable:
        hints.append(f"HTTP {last.status_code} is not retried: the same request gets the "
                     "same answer.")
    if any(looks_like_auth(e) for e in errors):
        hints.append(f"This looks like a missing or wrong key: check {key_hint} (proxies "
                     "such as LiteLLM answer a bad key with HTTP 400).")
    elif last is not None and last.status_code is None:
        hints.append("The endpoint could not be reached or did not answer in time: check "
                     "that it is up and its base_url is right (fallback models on the same "
                     "endpoint would not help).")
    elif last is not None and last.status_code in (404, 422) or len(models) == 1:
        hints.append("Check the model name, or configure fallbacks for this role "
                     "(routes.ROLE.fallbacks).")
    else:
        hints.append("Check the endpoint and the model names.")
    return head + "\n  " + "\n  ".join(failures[-8:]) + "\n" + " ".join(hints)


def _with_model(request: ChatRequest, model: str) -> ChatRequest:
    if request.model == model:
        return request
    if request.adapt is not None:
        return request.adapt(model)
    return ChatRequest(
        model=model, messages=request.messages, max_tokens=request.max_tokens,
        temperature=request.temperature, stream=request.stream, headers=request.headers,
        on_text=request.on_text, tools=request.tools,
    )
