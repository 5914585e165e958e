"""The one "another vendor" rule (``baton.llm.vendors``), shared by run and review."""

from __future__ import annotations

import pytest

from baton.config import Config, Endpoint, Route
from baton.errors import ConfigError
from baton.llm.vendors import (
    author_from_model,
    authors_from_trailers,
    check_reviewer,
    same_model,
    vendor_of,
)
from baton.pipeline import check_routes


def test_vendor_is_the_part_before_the_first_slash_else_the_endpoint_setting():
    assert vendor_of("openai/gpt-5") == "openai"
    assert vendor_of("azure/gpt-5") == "azure"
    assert vendor_of("OpenRouter-Provider/meta/llama") == "openrouter-provider"
    assert vendor_of("gpt-5") is None
    assert vendor_of("gpt-5", "OpenAI") == "openai"
    assert vendor_of("anthropic/claude", "openai") == "anthropic"  # the id wins


def test_same_model_across_vendors_is_refused():
    assert same_model("openai/gpt-5", "azure/gpt-5")
    with pytest.raises(ConfigError, match="same model"):
        check_reviewer("azure/gpt-5", author_from_model("openai/gpt-5", "implementer route"))


def test_other_same_and_unknown_vendor():
    author = author_from_model("qwen/qwen3-coder", "--author-model")
    assert check_reviewer("anthropic/claude-sonnet-4.5", author).relation == "other_vendor"
    same = check_reviewer("qwen/qwen3-max", author)
    assert same.relation == "same_vendor" and same.warns and "qwen" in same.message
    unknown = check_reviewer("claude-sonnet", author)
    assert unknown.relation == "unknown_vendor"
    assert "only checked that the reviewer is a different model" in unknown.message
    endpoint = check_reviewer("claude-sonnet", author, reviewer_endpoint_vendor="anthropic")
    assert endpoint.relation == "other_vendor"
    nobody = check_reviewer("anthropic/claude", None)
    assert nobody.relation == "unknown_author" and "--author-model" in nobody.message


def test_require_other_vendor_refuses_what_is_not_proven():
    author = author_from_model("openai/gpt-5", "--author-model")
    with pytest.raises(ConfigError, match="require_other_vendor"):
        check_reviewer("openai/o3", author, require_other_vendor=True)
    with pytest.raises(ConfigError, match="require_other_vendor"):
        check_reviewer("o3", author, require_other_vendor=True)
    assert check_reviewer("anthropic/claude", author,
                          require_other_vendor=True).relation == "other_vendor"


def test_co_authored_by_trailers_name_agents_not_people():
    messages = ("fix\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n"
                "Co-authored-by: Jane Doe <jane@example.org>\n\x00"
                "more\n\nCo-Authored-By: Codex <codex@openai.com>\n")
    authors = authors_from_trailers(messages)
    assert [(a.model, a.vendor) for a in authors] == [("Claude", "anthropic"),
                                                       ("Codex", "openai")]


def test_run_routes_use_the_rule_with_endpoint_vendors():
    config = Config(endpoints={"local": Endpoint(base_url="http://127.0.0.1:1/v1",
                                                 vendor="qwen")})
    routes = {"implementer": Route(model="qwen/qwen3-coder"),
              "reviewer": Route(model="qwen3-max", endpoint="local")}
    [check] = check_routes(routes, config)
    assert check.relation == "same_vendor"
    with pytest.raises(ConfigError, match="require_other_vendor"):
        check_routes(routes, config.model_copy(update={"require_other_vendor": True}))
    routes["reviewer"] = Route(model="anthropic/claude-sonnet-4.5")
    assert [c.relation for c in check_routes(routes, config)] == ["other_vendor"]
