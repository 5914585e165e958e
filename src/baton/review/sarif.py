"""Findings as SARIF 2.1.0, so code-hosting tools annotate the lines a reviewer named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from baton.models import Finding

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
RULE_ID = "baton.review.finding"


def to_sarif(findings: list[Finding], *, run_id: str, verdict: str | None,
             decision: str | None, tree: str | None, reviewer_model: str,
             anchor: str | None = None) -> dict[str, Any]:
    """One SARIF log with one run: a result per finding, located at its file and lines.

    A finding that names no file (about the change as a whole) is located at ``anchor``,
    line 1 (the first file the change keeps), marked ``anchored`` in its properties:
    GitHub code scanning refuses a whole upload when any result has no location. With no
    anchor (a plan reviewed before any code exists) such a result stays unlocated.
    """
    from importlib.metadata import version

    results = []
    for finding in findings:
        result: dict[str, Any] = {
            "ruleId": RULE_ID, "level": LEVELS[finding.severity],
            "message": {"text": finding.message},
            "properties": {"severity": finding.severity},
        }
        if finding.file:
            location = _location(finding.file, finding.line_start, finding.line_end)
            result["locations"] = [{"physicalLocation": location}]
        elif anchor:
            result["locations"] = [{"physicalLocation": _location(anchor, 1, 1)}]
            result["properties"]["anchored"] = True
        results.append(result)
    return {
        "$schema": SCHEMA_URI, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "baton", "version": version("baton"),
                "rules": [{"id": RULE_ID, "name": "AdversarialReviewFinding",
                           "shortDescription": {"text": "A change the adversarial reviewer "
                                                "requires"},
                           "defaultConfiguration": {"level": "warning"}}],
            }},
            "automationDetails": {"id": f"baton/review/{run_id}"},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {
                "text": "The root of the reviewed repository"}}},
            "results": results,
            "properties": {"verdict": verdict, "decision": decision, "tree": tree,
                           "reviewerModel": reviewer_model},
        }],
    }


def _location(path: str, start: int | None, end: int | None) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {
        "uri": quote(path, safe="/"), "uriBaseId": "%SRCROOT%"}}
    if start:
        location["region"] = {"startLine": start, "endLine": end or start}
    return location


def write_sarif(path: Path, log: dict[str, Any]) -> Path:
    """Write the SARIF log (atomically) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(log, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return path
