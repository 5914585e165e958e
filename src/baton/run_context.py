"""One run's context: its folder, trace, budget and worktree, and the model-call step.

A run can be replayed: a model call whose response is already recorded in the trace is
answered from the run folder instead of the endpoint, so ``resume`` repeats at most the
one call that was in flight when the process stopped.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from baton.config import Config, Route
from baton.errors import PromptTooLarge, RunLocked
from baton.export.live import live_export
from baton.llm.budget import Budget
from baton.llm.pricing import call_cost, reported_cost_in, unit_price
from baton.llm.provider import (
    ChatRequest,
    Completion,
    OpenAIProvider,
    Provider,
    key_hint,
    resolve_api_key,
)
from baton.llm.retry import Attempt, complete_with_retries
from baton.llm.tokens import estimate_tokens, implausible_usage, text_tokens
from baton.models import CommandEvidence
from baton.runs import trace as T
from baton.runs.store import read_workflow, write_workflow
from baton.secrets import SecretMasker
from baton.workspace.git import Worktree
from baton.workspace.snapshot import Snapshot

# A single call reported to cost more than this is not believed: the budget is charged
# this much (so any cost limit stops the run) and the trace says so.
ABSURD_COST_USD = 1_000_000.0

Progress = Callable[[dict[str, Any]], None]
Variants = Callable[[str], "tuple[list[dict[str, str]], list[dict[str, Any]] | None] | None"]
"""A fallback model's own (messages, tools), or None when it is asked as the primary."""

_PROVIDERS: dict[tuple, OpenAIProvider] = {}
_PROVIDERS_LOCK = threading.Lock()


def provider_for(config: Config, route: Route, environ: dict[str, str]) -> Provider:
    """A provider per endpoint, shared by every run in this process (one concurrency cap)."""
    endpoint = config.endpoint(route.endpoint)
    key = resolve_api_key(endpoint, environ)
    ident = (endpoint.base_url, endpoint.api_key_env, key)  # headers go on each request
    with _PROVIDERS_LOCK:  # two providers for one endpoint would double its concurrency cap
        if ident not in _PROVIDERS:
            _PROVIDERS[ident] = OpenAIProvider(endpoint, key)
        return _PROVIDERS[ident]


_WARMING: list[threading.Thread] = []
_WARMING_LOCK = threading.Lock()


def warm_up() -> None:
    """Start, once per process, in a background thread, the one-time work a run would
    otherwise do on its path: import the ``openai`` SDK (most of a second of CPU, needed
    at the first model call), compile the role prompts and the summary template (needed
    at the first prompt and after the decision) and load the price table.

    A run spends that time waiting for git, its base-commit checks and its model calls.
    Nothing depends on the warm-up: a step that fails is ignored, and the same work is
    done (and fails loudly) where it is used.
    """
    with _WARMING_LOCK:
        if _WARMING:
            return
        thread = threading.Thread(target=_warm, name="baton-warm-up", daemon=True)
        _WARMING.append(thread)
        thread.start()


def _warm() -> None:
    def sdk() -> None:
        import openai.resources.chat  # noqa: F401

    def prompts() -> None:
        from baton.prompts import compile_templates

        compile_templates()

    def summary() -> None:
        from baton.runs.summary import compile_template

        compile_template()

    def prices() -> None:
        import genai_prices  # noqa: F401

    for step in (sdk, prompts, summary, prices):
        try:
            step()
        except Exception:  # noqa: BLE001 - done again, and reported, where it is used
            pass


@dataclass
class RunContext:
    """Everything one run's steps share. No global state: many runs may share a process."""

    run_id: str
    run_dir: Path
    repo_root: Path
    config: Config
    routes: dict[str, Route]
    worktree: Worktree
    trace: T.TraceWriter
    budget: Budget
    masker: SecretMasker
    environ: dict[str, str]
    progress: Progress | None = None
    recorded: dict[str, str] = field(default_factory=dict)
    emitted: set[str] = field(default_factory=set)
    cut_off: set[str] = field(default_factory=set)
    """Call keys whose answer stopped at max_tokens (finish reason ``length``)."""
    snapshot: Snapshot | None = None
    """The approved tree fixed as a commit object, once the last packet is approved."""
    snapshot_recorded: Snapshot | None = None
    """The snapshot the trace recorded before a resume (reused when the tree matches)."""
    baseline: list[CommandEvidence] = field(default_factory=list)
    """The verify commands' results on the base commit (empty when not run)."""
    _lock_fd: int | None = None
    live: Any = None
    """Live OpenTelemetry export, when OTEL_EXPORTER_OTLP_ENDPOINT is set (export/live.py)."""

    def __post_init__(self) -> None:
        self.live = live_export(self.environ, self.run_dir)
        warm_up()  # while the run prepares and waits, not on its path

    # -- trace and files -------------------------------------------------------------

    def emit(self, type_: str, *, key: str | None = None, **fields: Any) -> None:
        """Append an event once (a replayed step with the same key is not written again)."""
        if key is not None:
            if key in self.emitted:
                return
            self.emitted.add(key)
            fields["step"] = key
        event = self.trace.emit(type_, **self.masker.mask_obj(fields))
        if self.live is not None:
            self.live.event(event)
        if self.progress is not None:
            self.progress(event)

    def show(self, type_: str, **fields: Any) -> None:
        """Tell the progress display something that does not belong in the trace."""
        if self.progress is not None:
            self.progress({"type": type_, "run_id": self.run_id, **self.masker.mask_obj(fields)})

    def write(self, relpath: str, text: str) -> Path:
        """Write a run-folder file with secrets masked."""
        path = self.run_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.masker.mask(text), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def update_workflow(self, **fields: Any) -> dict[str, Any]:
        """Merge fields into workflow.json."""
        data = read_workflow(self.run_dir)
        data.update(fields, updated=T.now_iso())
        write_workflow(self.run_dir, data)
        return data

    def cut_note(self, call_key: str, role: str) -> str:
        """A hint for the model when its answer was cut off at max_tokens, else ''."""
        if call_key not in self.cut_off:
            return ""
        return (f"\nYour answer was cut off at max_tokens={self.routes[role].max_tokens}: "
                "make it shorter (fewer, smaller blocks).")

    def _next_number(self) -> int:
        folder = self.run_dir / "packets"
        return len(list(folder.glob("*.md"))) + 1 if folder.is_dir() else 1

    # -- the model-call step ---------------------------------------------------------

    def ask(self, role: str, messages: list[dict[str, str]], call_key: str,
            tools: list[dict[str, Any]] | None = None,
            variants: Variants | None = None, **context: Any) -> str:
        """The text answer of ``role``'s model to ``messages``, recorded or replayed.

        With ``tools`` offered, their calls are in the text (``llm.tools.decode_answer``).
        ``variants`` gives a fallback model its own messages and tools (or None: the same)."""
        if call_key in self.recorded:
            return (self.run_dir / self.recorded[call_key]).read_text(encoding="utf-8")
        from baton.prompts import as_markdown

        route = self.routes[role]
        # What is sent is exactly what packets/ shows: secrets masked in both.
        messages = self.masker.mask_obj(messages)
        check_prompt_size(messages, self.config.max_prompt_bytes, role)
        own: dict[str, tuple[list[dict[str, str]], list[dict[str, Any]] | None]] = {}
        for model in route.fallbacks:
            variant = variants(model) if variants is not None else None
            if variant is not None:
                own[model] = (self.masker.mask_obj(variant[0]), variant[1])
                check_prompt_size(own[model][0], self.config.max_prompt_bytes, role)
        number = self._next_number()
        prompt_file = f"packets/{number:02d}-{role}.md"
        response_file = f"responses/{number:02d}-{role}.md"
        offered = f"; tools: {', '.join(t['function']['name'] for t in tools)}" if tools else ""
        packet = as_markdown(role, messages, header=f"call: `{call_key}`{offered}")
        for model, (own_messages, own_tools) in own.items():
            names = ", ".join(t["function"]["name"] for t in own_tools or [])
            packet += as_markdown(f"{role} (fallback {model})", own_messages,
                                  header=f"tools: {names or 'none'}").replace("# ", "\n# ", 1)
        self.write(prompt_file, packet)
        streamed = [0]

        def on_text(text: str) -> None:  # tokens as they stream, for the display only
            streamed[0] += len(text)
            self.show("model.delta", role=role, call_key=call_key,
                      chars=streamed[0], est_output_tokens=-(-streamed[0] // 4))

        request = ChatRequest(
            model=route.model, messages=messages, max_tokens=route.max_tokens,
            temperature=route.temperature, stream=self.config.stream,
            headers={**self.config.endpoint(route.endpoint).headers,
                     "X-Baton-Run": self.run_id, "X-Baton-Call": call_key},
            on_text=on_text if self.progress is not None else None, tools=tools,
        )
        estimate = max(_estimate(m, t) for m, t in [(messages, tools), *own.values()])
        if own:
            base = request
            request = replace(base, adapt=lambda model: replace(
                base, model=model, messages=own[model][0], tools=own[model][1], adapt=None)
                if model in own else replace(base, model=model, adapt=None))
        attempts = [0]

        def before(model: str) -> None:
            self.budget.reserve(role, model, est_input_tokens=estimate,
                                max_output_tokens=route.max_tokens,
                                price=unit_price(model, self.config.prices))
            attempts[0] += 1
            streamed[0] = 0
            self.emit("model.start", role=role, call_key=call_key, attempt=attempts[0],
                      endpoint=route.endpoint, prompt_file=prompt_file,
                      est_input_tokens=estimate, **{T.MODEL: model}, **context)

        def after(attempt: Attempt) -> None:
            self._record_attempt(role, route, call_key, attempt, prompt_file, response_file,
                                 estimate, context)

        provider = provider_for(self.config, route, self.environ)
        completion, _ = complete_with_retries(
            provider, request, [route.model, *route.fallbacks], self.config.retry,
            before_attempt=before, after_attempt=after,
            key_hint=key_hint(self.config.endpoint(route.endpoint), self.environ),
        )
        self.recorded[call_key] = response_file
        return completion.text

    def _record_attempt(self, role: str, route: Route, call_key: str, attempt: Attempt,
                        prompt_file: str, response_file: str, estimate: int,
                        context: dict[str, Any]) -> None:
        done = attempt.completion
        fields: dict[str, Any] = {
            "role": role, "call_key": call_key, "attempt": attempt.number,
            "endpoint": route.endpoint, "source": "baton", T.OPERATION: "chat",
            T.MODEL: attempt.model, "latency_s": round(attempt.latency_s, 4),
            "prompt_file": prompt_file, **context,
        }
        if done is None:
            err = attempt.error
            if err is not None and err.billed:
                # A response cut off at the size bound was produced, and may be billed:
                # the budget counts the call's worst case.
                price = unit_price(attempt.model, self.config.prices)
                charge: dict[str, Any] = {
                          "input_tokens": estimate, "output_tokens": route.max_tokens,
                          "cost_usd": price.cost(estimate, route.max_tokens) if price else None,
                          "reason": "the response was cut off at its size bound: the budget "
                                    "is charged the worst case"}
                fields["budget_charge"] = charge
                self.budget.record(role, input_tokens=estimate, output_tokens=route.max_tokens,
                                   cost_usd=charge["cost_usd"], wall_s=attempt.latency_s)
            else:
                self.budget.record(role, input_tokens=None, output_tokens=None, cost_usd=0.0,
                                   wall_s=attempt.latency_s)
            fields.update(outcome="error", error=str(err),
                          status_code=err.status_code if err else None,
                          cost_usd=0.0, cost_source="no-usage")
            self.emit("model.call", **fields)
            return
        reported, reported_in = reported_cost_in(done.usage, done.headers)
        cost = call_cost(
            attempt.model, input_tokens=done.input_tokens, output_tokens=done.output_tokens,
            cached_tokens=done.cached_tokens or 0, reported_usd=reported,
            prices=self.config.prices, reported_in=reported_in,
        )
        problems = list(done.usage_problems)
        if cost.usd is not None and cost.usd > ABSURD_COST_USD:
            problems.append(f"cost={cost.usd:.6g}")
            cost = type(cost)(ABSURD_COST_USD, cost.source)
        if problems:
            fields["usage_rejected"] = problems
        low_in, low_out, implausible = implausible_usage(
            done.input_tokens, done.cached_tokens, done.output_tokens, done.text, estimate)
        if implausible:
            fields["usage_implausible"] = implausible
        worst = self._charge_without_usage(attempt.model, route, done, cost.usd, estimate,
                                           low_in=low_in, low_out=low_out,
                                           implausible=implausible)
        if worst:
            charge = worst
            fields["budget_charge"] = charge
            self.budget.record(role, input_tokens=charge["input_tokens"],
                               output_tokens=charge["output_tokens"],
                               cost_usd=charge["cost_usd"], wall_s=done.latency_s)
        else:
            self.budget.record(role, input_tokens=done.input_tokens,
                               output_tokens=done.output_tokens, cost_usd=cost.usd,
                               wall_s=done.latency_s)
        self.write(response_file, done.text)
        if done.finish_reason == "length":
            self.cut_off.add(call_key)
        fields.update(
            outcome="ok", response_file=response_file, cost_usd=cost.usd,
            cost_source=cost.source, **{
                T.RESPONSE_MODEL: done.model, T.RESPONSE_ID: done.response_id,
                T.FINISH_REASONS: [done.finish_reason] if done.finish_reason else [],
                T.INPUT_TOKENS: done.input_tokens, T.OUTPUT_TOKENS: done.output_tokens,
                T.CACHED_TOKENS: done.cached_tokens,
            },
        )
        self.emit("model.call", **fields)

    def _charge_without_usage(self, model: str, route: Route, done: Completion,
                              cost_usd: float | None, estimate: int, *,
                              low_in: bool = False, low_out: bool = False,
                              implausible: list[str] | None = None
                              ) -> dict[str, Any] | None:
        """When the provider reported no usable usage, charge the budget the worst case.

        The trace keeps the unknown as unknown; only the budget counts the worst case, so a
        gateway that omits usage, or reports negative, non-finite, absurd or implausibly low
        counts (``low_in``, ``low_out``), cannot make a hard limit silently stop holding.
        A count too low to be true is charged as baton's own over-estimate: of the prompt
        for input, of the answer's text for output.
        """
        if done.input_tokens is not None and done.output_tokens is not None \
                and not (low_in or low_out):
            return None
        price = unit_price(model, self.config.prices)
        if low_in or low_out:
            in_tokens = estimate if done.input_tokens is None or low_in else done.input_tokens
            out_tokens = (route.max_tokens if done.output_tokens is None
                          else text_tokens(done.text) if low_out else done.output_tokens)
            estimated = price.cost(in_tokens, out_tokens) if price is not None else None
            return {"input_tokens": in_tokens, "output_tokens": out_tokens,
                    "cost_usd": estimated if cost_usd is None
                    else max(cost_usd, estimated or 0.0),
                    "reason": "the provider reported implausibly low usage ("
                    + "; ".join(implausible or []) + "): the budget is charged baton's "
                    "own estimate"}
        worst = price.cost(estimate, route.max_tokens) if price is not None else None
        return {"input_tokens": done.input_tokens if done.input_tokens is not None else estimate,
                "output_tokens": done.output_tokens if done.output_tokens is not None
                else route.max_tokens,
                "cost_usd": cost_usd if cost_usd is not None else worst,
                "reason": ("the provider reported unusable usage ("
                           + ", ".join(done.usage_problems) + ")" if done.usage_problems
                           else "the provider reported no usage")
                + ": the budget is charged the worst case"}

    # -- exclusive access ------------------------------------------------------------

    def lock(self) -> None:
        """Hold the run for this process; a second process is refused, not queued."""
        fd = os.open(self.run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLocked(
                f"run {self.run_id} is being worked on by another baton process; "
                "wait for it to finish, then try again"
            ) from None
        self._lock_fd = fd

    def close(self) -> None:
        """Release the lock and close the trace."""
        if self.live is not None:
            self.live.close()
        self.trace.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _estimate(messages: list[dict[str, str]], tools: list[dict[str, Any]] | None) -> int:
    """The input tokens of a request: its messages and the schemas of its tools."""
    return estimate_tokens(messages) + (
        estimate_tokens([{"tools": json.dumps(tools)}]) if tools else 0)


def check_prompt_size(messages: list[dict[str, str]], max_bytes: int, role: str) -> None:
    """Refuse a prompt larger than ``max_prompt_bytes`` with what to do about it."""
    size = sum(len(str(m.get("content", "")).encode("utf-8")) for m in messages)
    if size > max_bytes:
        raise PromptTooLarge(
            f"the {role} prompt is {size} bytes, over max_prompt_bytes={max_bytes}; nothing "
            "was sent. Name fewer or smaller files in the task, lower repo_map_bytes, or "
            "raise max_prompt_bytes in your user config."
        )


def load_replay(events: list[dict[str, Any]]) -> tuple[dict[str, str], set[str], set[str]]:
    """Recorded responses by call key, keys of steps already traced, cut-off call keys."""
    recorded: dict[str, str] = {}
    emitted: set[str] = set()
    cut_off: set[str] = set()
    for event in events:
        key, response = event.get("call_key"), event.get("response_file")
        if event.get("type") == "model.call" and event.get("outcome") == "ok":
            if isinstance(key, str) and isinstance(response, str) and key and response:
                recorded[key] = response
                reasons = event.get(T.FINISH_REASONS)
                if isinstance(reasons, list) and "length" in reasons:
                    cut_off.add(key)
        step = event.get("step")
        if isinstance(step, str) and step:
            emitted.add(step)
    return recorded, emitted, cut_off
