"""The cost of every model call, and where that figure came from.

A call's cost is resolved in this order, and the first answer wins:

1. ``gateway-body`` / ``gateway-header``: the figure the gateway reported, in the response
   body (OpenRouter's ``usage.cost``) or in a header (the LiteLLM proxy's
   ``x-litellm-response-cost``). It is what the user is billed. (``gateway`` when the
   caller does not say where the figure came from.)
2. ``config``: a per-model price from ``[prices."MODEL"]`` (0 for local models).
3. ``genai-prices``: the offline price data bundled with the ``genai-prices`` package.
   Only the bundled snapshot is read: baton never starts its ``UpdatePrices`` fetcher.
4. ``unknown``: ``usd`` is ``None``. baton never guesses a price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from baton.config.prices import (  # re-exported: the price table lives in config/
    CostSource,
    PriceTier,
    Rates,
    UnitPrice,
    _configured,
    _genai_cost,
    _genai_ref,
    _genai_unit_price,
    unit_price,
)

LITELLM_COST_HEADER = "x-litellm-response-cost"


@dataclass(frozen=True)
class Cost:
    """The cost of one call in US dollars (``None`` if unknown) and where it came from."""

    usd: float | None
    source: CostSource


def call_cost(
    model: str,
    *,
    input_tokens: int | None,
    output_tokens: int | None,
    cached_tokens: int | None = 0,
    reported_usd: float | None = None,
    prices: Mapping[str, Rates] | None = None,
    reported_in: Literal["body", "header"] | None = None,
) -> Cost:
    """The cost of one call: the gateway's figure, else a known price, else unknown.

    ``reported_in`` says where the gateway's figure was found (see :func:`reported_cost_in`).
    """
    reported = _dollars(reported_usd)
    if reported is not None:
        where: CostSource = {"body": "gateway-body", "header": "gateway-header"}.get(
            reported_in or "", "gateway")  # type: ignore[assignment]
        return Cost(reported, where)
    if input_tokens is None or output_tokens is None:
        return Cost(None, "unknown")
    cached = cached_tokens or 0
    price = (prices or {}).get(model)
    if price is not None:
        return Cost(_configured(price).cost(input_tokens, output_tokens, cached), "config")
    usd = _genai_cost(model, input_tokens, output_tokens, cached)
    return Cost(usd, "genai-prices") if usd is not None else Cost(None, "unknown")


def reported_cost(usage: Mapping[str, Any] | None,
                  headers: Mapping[str, str] | None) -> float | None:
    """The cost a gateway reported for a call, if any (OpenRouter body, LiteLLM header)."""
    if usage is not None:
        value = _dollars(usage.get("cost"))
        if value is not None:
            return value
    if headers:
        for name, raw in headers.items():
            if name.lower() == LITELLM_COST_HEADER:
                return _dollars(raw)
    return None


def reported_cost_in(usage: Mapping[str, Any] | None, headers: Mapping[str, str] | None
                     ) -> tuple[float | None, Literal["body", "header"] | None]:
    """The gateway's figure for a call and where it was: the body wins over a header."""
    if usage is not None and _dollars(usage.get("cost")) is not None:
        return _dollars(usage.get("cost")), "body"
    value = reported_cost(None, headers)
    return (value, "header") if value is not None else (None, None)


def _dollars(value: Any) -> float | None:
    """A finite, non-negative amount, or ``None`` for anything else."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return None
    return amount if math.isfinite(amount) and amount >= 0 else None


__all__ = ["LITELLM_COST_HEADER", "Cost", "CostSource", "PriceTier", "UnitPrice", "call_cost",
           "reported_cost", "reported_cost_in", "unit_price", "_genai_ref", "_genai_unit_price"]
