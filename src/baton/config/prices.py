"""What a model costs per token: the user's ``[prices."MODEL"]`` table, else the offline
price data bundled with ``genai-prices`` (only the bundled snapshot is read: baton never
starts its ``UpdatePrices`` fetcher), else unknown.

A leaf below the rest of ``config/``: ``ownership.py`` checks a repository's prices against
the user's with it, and ``llm/pricing.py`` prices each call with it. A price entry is any
object with the three rates (``config.settings.Price``), so nothing here imports settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Protocol

CostSource = Literal["gateway", "gateway-body", "gateway-header", "config", "genai-prices",
                     "unknown"]

_MTOK = 1_000_000


class Rates(Protocol):
    """A configured price (``config.settings.Price``), in US dollars per million tokens."""

    @property
    def input_per_mtok(self) -> float: ...
    @property
    def output_per_mtok(self) -> float: ...
    @property
    def cached_input_per_mtok(self) -> float | None: ...


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


def unit_price(model: str, prices: Mapping[str, Rates]) -> UnitPrice | None:
    """The configured price of ``model``, else its genai-prices price, else ``None``."""
    price = prices.get(model)
    return _configured(price) if price is not None else _genai_unit_price(model)


def _configured(price: Rates) -> UnitPrice:
    return UnitPrice(price.input_per_mtok, price.output_per_mtok,
                     price.cached_input_per_mtok, "config")


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
