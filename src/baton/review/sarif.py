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
             decision: str | None, tree: str | None, reviewer_model: str) -> dict[str, Any]:
    """One SARIF log with one run: a result per finding, located when the file is known."""
    from importlib.metadata import version

    results = []
    for finding in findings:
        result: dict[str, Any] = {
            "ruleId": RULE_ID, "level": LEVELS[finding.severity],
            "message": {"text": finding.message},
            "properties": {"severity": finding.severity},
        }
        if finding.file:
            location: dict[str, Any] = {"artifactLocation": {
                "uri": quote(finding.file, safe="/"), "uriBaseId": "%SRCROOT%"}}
            if finding.line_start:
                location["region"] = {"startLine": finding.line_start,
                                      "endLine": finding.line_end or finding.line_start}
            result["locations"] = [{"physicalLocation": location}]
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


def write_sarif(path: Path, log: dict[str, Any]) -> Path:
    """Write the SARIF log (atomically) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(log, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return path
