"""A conservative estimate of a request's input tokens, with nothing to download.

BPE tokenizers (OpenAI's o200k/cl100k, Anthropic's, Llama's, Qwen's) average about four
characters per token on English text and code, and one token never covers less than one
byte of UTF-8 that needed its own token. Counting one token per three UTF-8 bytes therefore
over-estimates typical prompts by about a third, and it charges non-Latin text (two to four
bytes a character) more, where tokenizers also spend more tokens. Per-message overhead
covers the role markers and separators of the chat template. An over-estimate is what a
budget wants: it reserves a little too much rather than letting a call cross a limit.
``tiktoken`` would be exact for OpenAI models only, and it fetches its tables at run time.
"""

from __future__ import annotations

from typing import Any

BYTES_PER_TOKEN = 3
"""Divisor of the UTF-8 byte count; real tokenizers average nearer four."""
PER_MESSAGE_TOKENS = 8
"""Role markers and separators of one message in a chat template."""
PER_REQUEST_TOKENS = 16
"""Start of the assistant's answer and the template's own framing."""


def _text_bytes(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return sum(_text_bytes(part) for part in value)
    if isinstance(value, dict):
        return sum(_text_bytes(v) for v in value.values())
    return 0 if value is None else len(str(value).encode("utf-8"))


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """An over-estimate of the input tokens ``messages`` will cost."""
    total = PER_REQUEST_TOKENS
    for message in messages:
        size = sum(_text_bytes(value) for value in message.values())
        total += -(-size // BYTES_PER_TOKEN) + PER_MESSAGE_TOKENS
    return total


IMPLAUSIBLE_RATIO = 10
"""Reported input tokens below the estimate divided by this are not believed: the estimate
is at most about 1.5x a real tokenizer's count, so a tenth of it is no real prompt's size."""
_MIN_CHECKED = 200
"""Below this estimate the per-message overheads dominate and no count is doubted."""


def text_tokens(text: str) -> int:
    """An over-estimate of the tokens of a model's answer ``text``."""
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)


def implausible_usage(input_tokens: int | None, cached_tokens: int | None,
                      output_tokens: int | None, text: str, estimate: int
                      ) -> tuple[bool, bool, list[str]]:
    """Whether reported input and output counts are too low to be true, and why.

    A gateway reporting ``prompt_tokens = 0`` for a 40 KB prompt, or ``completion_tokens =
    0`` for a page of answer, would make a token or cost limit stop holding; such counts
    are kept in the trace as reported but not believed by the budget.
    """
    why: list[str] = []
    low_in = (input_tokens is not None and estimate >= _MIN_CHECKED
              and (input_tokens + (cached_tokens or 0)) * IMPLAUSIBLE_RATIO < estimate)
    if low_in:
        why.append(f"prompt_tokens={input_tokens} for a prompt estimated at {estimate}")
    answer = text_tokens(text)
    low_out = (output_tokens is not None and answer >= _MIN_CHECKED // 4
               and output_tokens * IMPLAUSIBLE_RATIO < answer)
    if low_out:
        why.append(f"completion_tokens={output_tokens} for an answer of {len(text)} "
                   "characters")
    return low_in, low_out, why
