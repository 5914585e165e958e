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
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from baton.config import Price

CostSource = Literal["gateway", "gateway-body", "gateway-header", "config", "genai-prices",
                     "unknown"]

LITELLM_COST_HEADER = "x-litellm-response-cost"
_MTOK = 1_000_000


@dataclass(frozen=True)
class Cost:
    """The cost of one call in US dollars (``None`` if unknown) and where it came from."""

    usd: float | None
    source: CostSource


@dataclass(frozen=True)
class PriceTier:
    """Rates that apply to every token of a call whose input exceeds ``above_input_tokens``."""

    above_input_tokens: int
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None


@dataclass(frozen=True)
class UnitPrice:
    """A model's price in US dollars per million tokens, and where it came from.

    The three rates are the highest the model charges. A tiered price (the whole call
    billed at a higher rate past an input size) also lists its ``tiers``, lowest first,
    and :meth:`cost` applies the one that fits.
    """

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None
    source: CostSource
    tiers: tuple[PriceTier, ...] = field(default=(), compare=False)

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """Dollars for this many tokens; ``cached_tokens`` is part of ``input_tokens``."""
        rates: UnitPrice | PriceTier = self
        for tier in self.tiers:
            if input_tokens > tier.above_input_tokens or tier is self.tiers[0]:
                rates = tier
        cached = min(max(cached_tokens, 0), max(input_tokens, 0))
        cached_rate = rates.input_per_mtok if rates.cached_input_per_mtok is None \
            else rates.cached_input_per_mtok
        return (
            (input_tokens - cached) * rates.input_per_mtok
            + cached * cached_rate
            + output_tokens * rates.output_per_mtok
        ) / _MTOK


def unit_price(model: str, prices: Mapping[str, Price]) -> UnitPrice | None:
    """The configured price of ``model``, else its genai-prices price, else ``None``."""
    price = prices.get(model)
    return _configured(price) if price is not None else _genai_unit_price(model)


def _configured(price: Price) -> UnitPrice:
    return UnitPrice(price.input_per_mtok, price.output_per_mtok,
                     price.cached_input_per_mtok, "config")


def call_cost(
    model: str,
    *,
    input_tokens: int | None,
    output_tokens: int | None,
    cached_tokens: int | None = 0,
    reported_usd: float | None = None,
    prices: Mapping[str, Price] | None = None,
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


# -- genai-prices (imported lazily: it is slow to import and most commands never price) ---


def _candidates(model: str) -> list[tuple[str, str | None]]:
    """The (model_ref, provider_id) pairs to try for ``model``, most specific first."""
    refs: list[tuple[str, str | None]] = [(model, None)]
    provider, _, name = model.partition("/")
    if provider and name:
        refs.append((name, provider))
        # ``vendor/model`` is OpenRouter's naming; its catalogue prices exactly that id.
        refs.append((model, "openrouter"))
    return refs


@lru_cache(maxsize=4096)
def _genai_ref(model: str) -> tuple[str, str | None] | None:
    """How genai-prices knows ``model`` (model_ref, provider_id), or ``None``."""
    from genai_prices import Usage, calc_price

    for ref, provider in _candidates(model):
        try:
            calc_price(Usage(input_tokens=0, output_tokens=0), ref, provider_id=provider)
        except (LookupError, ValueError):
            continue
        return ref, provider
    return None


@lru_cache(maxsize=4096)
def _genai_unit_price(model: str) -> UnitPrice | None:
    """The genai-prices price of ``model``, with its tiers if it has any."""
    found = _genai_ref(model)
    if found is None:
        return None
    from genai_prices import Usage, calc_price

    ref, provider = found
    price = calc_price(Usage(input_tokens=0, output_tokens=0), ref, provider_id=provider)
    rates = price.model_price
    raw = (rates.input_mtok, rates.output_mtok, rates.cache_read_mtok)
    if raw[0] is None or raw[1] is None:
        return None  # not priced per token (images, audio, ...): refuse to guess
    thresholds = sorted({0, *(t.start for r in raw for t in getattr(r, "tiers", None) or ())})
    tiers = tuple(PriceTier(start, *(_rate_above(r, start) for r in raw)) for start in thresholds)
    worst = tiers[-1]
    return UnitPrice(max(t.input_per_mtok for t in tiers), max(t.output_per_mtok for t in tiers),
                     worst.cached_input_per_mtok, "genai-prices",
                     tiers if len(tiers) > 1 else ())


def _rate_above(rate: Any, start: int) -> Any:
    """The rate, per million tokens, of a call with more than ``start`` input tokens."""
    if rate is None:
        return None
    tiers = getattr(rate, "tiers", None)
    if tiers is None:
        return float(rate)
    applicable = rate.base
    for tier in tiers:  # sorted by start; a tier applies above its start
        if start >= tier.start:
            applicable = tier.price
    return float(applicable)


def _genai_cost(model: str, input_tokens: int, output_tokens: int, cached: int) -> float | None:
    """The exact genai-prices cost of a call (tiers applied), or ``None`` if unpriced."""
    if _genai_unit_price(model) is None:
        return None
    from genai_prices import Usage, calc_price

    ref, provider = _genai_ref(model)  # type: ignore[misc]  # known: unit price exists
    usage = Usage(input_tokens=max(input_tokens, 0), output_tokens=max(output_tokens, 0),
                  cache_read_tokens=min(max(cached, 0), max(input_tokens, 0)))
    return float(calc_price(usage, ref, provider_id=provider).total_price)
