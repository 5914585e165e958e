"""The one "another vendor" rule, used by ``baton run`` and ``baton review`` alike.

The vendor of a model is the part of its id before the first ``/`` (``openai/gpt-5`` ->
``openai``, so ``azure/gpt-5`` is another vendor's deployment), or the ``vendor`` setting
of the endpoint that serves it when the gateway's ids carry none (``gpt-5`` on a vLLM or
Azure endpoint). When neither tells, the rule falls back to "a different model" and says
so plainly. A reviewer that is the same model as the author is always refused; one from
the author's vendor is said on screen, in the trace and in ``summary.md``, and refused when
the user sets ``require_other_vendor = true``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from baton.errors import ConfigError

Relation = Literal["other_vendor", "same_vendor", "unknown_vendor", "unknown_author"]

# Co-Authored-By e-mail domains of coding agents, to the vendor they name.
_AGENT_DOMAINS = {
    "anthropic.com": "anthropic",
    "openai.com": "openai",
    "google.com": "google",
    "deepmind.com": "google",
    "mistral.ai": "mistral",
    "x.ai": "xai",
    "deepseek.com": "deepseek",
    "cursor.com": "cursor",
    "cursor.sh": "cursor",
}
_TRAILER = re.compile(r"^\s*co-authored-by:\s*(?P<name>[^<]*?)\s*<(?P<email>[^>]*)>\s*$",
                      re.IGNORECASE | re.MULTILINE)


def vendor_of(model: str, endpoint_vendor: str | None = None) -> str | None:
    """The vendor of ``model``: its id up to the first ``/``, else the endpoint's setting."""
    head, sep, _ = model.strip().partition("/")
    if sep and head.strip():
        return head.strip().lower()
    if endpoint_vendor and endpoint_vendor.strip():
        return endpoint_vendor.strip().lower()
    return None


def model_name(model: str) -> str:
    """The model's own name, without vendor or routing prefixes, for the same-model test."""
    return model.strip().lower().rsplit("/", 1)[-1]


def same_model(a: str, b: str) -> bool:
    """Whether two ids name the same model (``openai/gpt-5`` and ``azure/gpt-5`` do)."""
    return model_name(a) == model_name(b)


@dataclass(frozen=True)
class Author:
    """Who wrote the change under review: a model id and, when known, its vendor."""

    model: str
    vendor: str | None
    source: str
    """Where it came from: ``implementer route``, ``--author-model``, ``Co-Authored-By``."""


def author_from_model(model: str, source: str, endpoint_vendor: str | None = None) -> Author:
    """An author given by a model id (a route or ``--author-model``)."""
    return Author(model=model.strip(), vendor=vendor_of(model, endpoint_vendor), source=source)


def authors_from_trailers(messages: str) -> list[Author]:
    """The coding agents named by ``Co-Authored-By:`` trailers in commit messages.

    Only trailers whose e-mail domain belongs to a model vendor count (people co-author
    commits too); the vendor is that domain's.
    """
    found: dict[str, Author] = {}
    for match in _TRAILER.finditer(messages):
        domain = match["email"].rsplit("@", 1)[-1].strip().lower()
        vendor = next((v for d, v in _AGENT_DOMAINS.items()
                       if domain == d or domain.endswith("." + d)), None)
        if vendor is None:
            continue
        name = match["name"].strip() or vendor
        found.setdefault(name.lower(), Author(model=name, vendor=vendor,
                                              source="Co-Authored-By trailer"))
    return list(found.values())


@dataclass(frozen=True)
class VendorCheck:
    """The outcome of the rule for one reviewer model against one author."""

    reviewer_model: str
    reviewer_vendor: str | None
    author_model: str | None
    author_vendor: str | None
    author_source: str | None
    relation: Relation
    message: str

    @property
    def warns(self) -> bool:
        """Whether this outcome must be said to the user (anything but another vendor)."""
        return self.relation != "other_vendor"

    def to_event(self) -> dict[str, Any]:
        """Fields of the ``reviewer.vendor`` trace event."""
        return asdict(self)


def check_reviewer(reviewer_model: str, author: Author | None, *,
                   reviewer_endpoint_vendor: str | None = None,
                   require_other_vendor: bool = False) -> VendorCheck:
    """Apply the rule; raise ConfigError for the same model, or for a vendor not proven
    different when ``require_other_vendor`` is set."""
    reviewer_vendor = vendor_of(reviewer_model, reviewer_endpoint_vendor)
    if author is None:
        check = VendorCheck(
            reviewer_model, reviewer_vendor, None, None, None, "unknown_author",
            f"the author's model is unknown, so baton cannot check that the reviewer "
            f"({reviewer_model}) is another vendor; pass --author-model MODEL")
    elif same_model(reviewer_model, author.model):
        raise ConfigError(
            f"the reviewer model {reviewer_model!r} is the same model as the "
            f"{'implementer' if author.source == 'implementer route' else 'author'} "
            f"({author.model!r}, from the {author.source}); an adversarial review needs a "
            "different model, ideally from another vendor. Change routes.reviewer.model."
        )
    elif reviewer_vendor is None or author.vendor is None:
        unknown = reviewer_model if reviewer_vendor is None else author.model
        check = VendorCheck(
            reviewer_model, reviewer_vendor, author.model, author.vendor, author.source,
            "unknown_vendor",
            f"the vendor of {unknown!r} is unknown (its id has no 'vendor/' prefix and its "
            "endpoint sets no vendor), so baton only checked that the reviewer is a "
            f"different model from the author ({author.model}), not another vendor")
    elif reviewer_vendor == author.vendor:
        check = VendorCheck(
            reviewer_model, reviewer_vendor, author.model, author.vendor, author.source,
            "same_vendor",
            f"the reviewer ({reviewer_model}) is from the same vendor as the author "
            f"({author.model}, {author.source}): {reviewer_vendor}; a different model of "
            "one vendor is a weaker check than another vendor")
    else:
        check = VendorCheck(
            reviewer_model, reviewer_vendor, author.model, author.vendor, author.source,
            "other_vendor",
            f"the reviewer ({reviewer_model}, {reviewer_vendor}) is another vendor than the "
            f"author ({author.model}, {author.vendor})")
    if require_other_vendor and check.warns:
        raise ConfigError(
            f"require_other_vendor is set and {check.message}. Route the reviewer to "
            "another vendor's model, set the endpoint's `vendor`, or pass --author-model.")
    return check


def check_pairs(reviewer_models: list[str], authors: list[Author], *,
                reviewer_endpoint_vendor: str | None = None,
                require_other_vendor: bool = False) -> list[VendorCheck]:
    """The rule for every reviewer model (primary and fallbacks) against every author."""
    if not authors:
        return [check_reviewer(m, None, reviewer_endpoint_vendor=reviewer_endpoint_vendor,
                               require_other_vendor=require_other_vendor)
                for m in reviewer_models]
    return [check_reviewer(m, a, reviewer_endpoint_vendor=reviewer_endpoint_vendor,
                           require_other_vendor=require_other_vendor)
            for m in reviewer_models for a in authors]
