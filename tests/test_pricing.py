"""Cost of a call, and where the figure came from."""

from __future__ import annotations

import socket

import pytest
from genai_prices import Usage, calc_price

from baton.config import Price
from baton.llm.pricing import Cost, call_cost, reported_cost, unit_price
from baton.llm.tokens import estimate_tokens


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Pricing must never fetch anything: any connection attempt fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("pricing tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def direct(model_ref: str, provider_id: str | None, i: int, o: int, cached: int = 0) -> float:
    usage = Usage(input_tokens=i, output_tokens=o, cache_read_tokens=cached)
    return float(calc_price(usage, model_ref, provider_id=provider_id).total_price)


def test_gateway_figure_wins_over_every_price():
    prices = {"gpt-4o": Price(input_per_mtok=100, output_per_mtok=100)}
    cost = call_cost("gpt-4o", input_tokens=1000, output_tokens=10, reported_usd=0.0123,
                     prices=prices)
    assert cost == Cost(0.0123, "gateway")


def test_gateway_figure_counts_even_without_token_usage():
    assert call_cost("x", input_tokens=None, output_tokens=None, reported_usd=0.5) == \
        Cost(0.5, "gateway")


@pytest.mark.parametrize(("usage", "headers", "expected"), [
    ({"prompt_tokens": 10, "cost": 0.00042}, None, 0.00042),
    ({"cost": 0}, None, 0.0),
    ({"cost": "0.25"}, None, 0.25),
    (None, {"x-litellm-response-cost": "0.0031"}, 0.0031),
    (None, {"X-LiteLLM-Response-Cost": "1e-3"}, 0.001),
    ({"prompt_tokens": 10}, {"x-litellm-response-cost": "0.2"}, 0.2),
    ({"cost": 0.1}, {"x-litellm-response-cost": "0.2"}, 0.1),
    ({"cost": -1}, None, None),
    ({"cost": "n/a"}, None, None),
    ({"cost": float("nan")}, None, None),
    ({"cost": True}, None, None),
    ({"cost": None}, {"x-litellm-response-cost": "None"}, None),
    (None, {"x-litellm-response-cost": "-0.5"}, None),
    (None, {"content-type": "application/json"}, None),
    (None, None, None),
])
def test_reported_cost(usage, headers, expected):
    assert reported_cost(usage, headers) == expected


def test_config_price_with_cached_tokens():
    prices = {"acme/coder": Price(input_per_mtok=2, output_per_mtok=8, cached_input_per_mtok=0.5)}
    cost = call_cost("acme/coder", input_tokens=1_000_000, output_tokens=500_000,
                     cached_tokens=400_000, prices=prices)
    assert cost.source == "config"
    assert cost.usd == pytest.approx(0.6 * 2 + 0.4 * 0.5 + 0.5 * 8)


def test_config_price_without_cached_rate_charges_cached_tokens_as_input():
    prices = {"m": Price(input_per_mtok=2, output_per_mtok=8)}
    cost = call_cost("m", input_tokens=1_000_000, output_tokens=0, cached_tokens=400_000,
                     prices=prices)
    assert cost.usd == pytest.approx(2.0)


def test_config_price_zero_for_a_local_model():
    prices = {"llama3.1:8b": Price(input_per_mtok=0, output_per_mtok=0)}
    cost = call_cost("llama3.1:8b", input_tokens=50_000, output_tokens=2_000, prices=prices)
    assert cost == Cost(0.0, "config")
    assert unit_price("llama3.1:8b", prices).source == "config"


def test_config_price_overrides_genai_prices():
    prices = {"gpt-4o": Price(input_per_mtok=1, output_per_mtok=1)}
    cost = call_cost("gpt-4o", input_tokens=1_000_000, output_tokens=0, prices=prices)
    assert cost == Cost(1.0, "config")


@pytest.mark.parametrize("model", ["gpt-4o", "openai/gpt-4o"])
def test_genai_prices_for_a_well_known_model(model):
    cost = call_cost(model, input_tokens=12_000, output_tokens=800, cached_tokens=2_000)
    expected = direct("gpt-4o", "openai", 12_000, 800, 2_000)
    assert cost.source == "genai-prices"
    assert expected > 0
    assert cost.usd == pytest.approx(expected)


def test_genai_unit_price_matches_its_data():
    price = unit_price("openai/gpt-4o", {})
    assert price is not None and price.source == "genai-prices"
    assert price.input_per_mtok == pytest.approx(direct("gpt-4o", "openai", 1_000_000, 0))
    assert price.output_per_mtok == pytest.approx(direct("gpt-4o", "openai", 0, 1_000_000))
    assert price.cost(1_000_000, 1_000_000) == pytest.approx(
        direct("gpt-4o", "openai", 1_000_000, 1_000_000))


def test_openrouter_style_id_priced_from_openrouter_catalogue():
    cost = call_cost("qwen/qwen3-coder", input_tokens=10_000, output_tokens=1_000)
    assert cost.source == "genai-prices"
    assert cost.usd == pytest.approx(direct("qwen/qwen3-coder", "openrouter", 10_000, 1_000))


@pytest.mark.parametrize("model", ["gemini-2.5-pro", "anthropic/claude-sonnet-4.5"])
def test_tiered_price_applies_the_tier_that_fits(model):
    """Past 200k input tokens the whole call is billed at a higher rate."""
    ref, provider = ("gemini-2.5-pro", None) if "/" not in model else ("claude-sonnet-4.5",
                                                                        "anthropic")
    price = unit_price(model, {})
    assert price is not None and price.tiers
    highest = direct(ref, provider, 1_000_000, 0)  # a million input tokens: the top tier
    assert price.input_per_mtok == pytest.approx(highest)
    for tokens in (1_000, 200_000, 200_001, 500_000):
        assert price.cost(tokens, 2_000, 100) == pytest.approx(
            direct(ref, provider, tokens, 2_000, 100))
        assert call_cost(model, input_tokens=tokens, output_tokens=2_000,
                         cached_tokens=100).usd == pytest.approx(
            direct(ref, provider, tokens, 2_000, 100))
    assert price.cost(1_000, 0) * 300 < price.cost(300_000, 0)  # the rate itself rose


def test_unknown_model_is_unknown_never_guessed():
    assert unit_price("acme/unknown-model-xyz", {}) is None
    cost = call_cost("acme/unknown-model-xyz", input_tokens=1000, output_tokens=100)
    assert cost == Cost(None, "unknown")


def test_missing_token_counts_make_cost_unknown():
    prices = {"m": Price(input_per_mtok=1, output_per_mtok=1)}
    assert call_cost("m", input_tokens=None, output_tokens=10, prices=prices) == \
        Cost(None, "unknown")
    assert call_cost("gpt-4o", input_tokens=10, output_tokens=None) == Cost(None, "unknown")


def test_lookups_are_cheap_when_repeated():
    """Repeated lookups are answered from the cache: genai-prices is searched once per model
    (speed itself is measured in benchmarks/, not asserted here)."""
    from baton.llm import pricing

    call_cost("openai/gpt-4o", input_tokens=1, output_tokens=1)
    call_cost("acme/unknown-model-xyz", input_tokens=1, output_tokens=1)
    misses = (pricing._genai_ref.cache_info().misses,
              pricing._genai_unit_price.cache_info().misses)
    hits = pricing._genai_unit_price.cache_info().hits
    for i in range(2000):
        unit_price("openai/gpt-4o", {})
        unit_price("acme/unknown-model-xyz", {})
        call_cost("openai/gpt-4o", input_tokens=1000 + i, output_tokens=i)
        call_cost("acme/unknown-model-xyz", input_tokens=1000 + i, output_tokens=i)
    assert (pricing._genai_ref.cache_info().misses,
            pricing._genai_unit_price.cache_info().misses) == misses
    assert pricing._genai_unit_price.cache_info().hits - hits >= 2 * 2000


def test_token_estimate_over_counts():
    text = "def add(a, b):\n    return a + b\n" * 6000  # ~200 KB of code
    messages = [{"role": "system", "content": "You are a coder."},
                {"role": "user", "content": text}]
    estimate = estimate_tokens(messages)
    assert estimate >= len(text) / 3
    assert estimate_tokens([]) > 0
    assert estimate_tokens([{"role": "user", "content": "héllo wörld ✓"}]) > 5
    parts = [{"role": "user", "content": [{"type": "text", "text": "x" * 300}]}]
    assert estimate_tokens(parts) >= 100


def test_invalid_reported_figure_falls_back_to_a_price():
    prices = {"m": Price(input_per_mtok=1, output_per_mtok=1)}
    cost = call_cost("m", input_tokens=1_000_000, output_tokens=0, reported_usd=-3.0,
                     prices=prices)
    assert cost == Cost(1.0, "config")


def test_genai_prices_is_imported_only_when_pricing():
    import subprocess
    import sys

    code = ("import sys, baton.llm.budget, baton.llm.pricing, baton.approvals, baton.llm.tokens; "
            "print('genai_prices' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
