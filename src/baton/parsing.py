"""Turn a model's text into a checked plan or verdict, with errors a model can act on."""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from baton.models import Plan, Verdict

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)\n\s*```", re.DOTALL)


class OutputInvalid(ValueError):
    """The output did not pass its gate; ``errors`` says why, item by item."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def extract_json(text: str) -> dict:
    """The JSON object in a model answer: a fenced block, or the outermost braces."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    last_error = "no JSON object found in the answer"
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError as exc:
            last_error = f"the JSON is malformed: {exc}"
            continue
        if isinstance(value, dict):
            return value
        last_error = "the JSON is not an object"
    raise OutputInvalid([last_error + "; return one JSON object in a ```json block"])


def _validate(model: type[T], text: str) -> T:
    data = extract_json(text)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(object)"
            errors.append(f"{where}: {err['msg']}")
        raise OutputInvalid(errors) from exc


def parse_plan(text: str, *, max_packets: int) -> Plan:
    """A plan that passed the planner's gate."""
    plan = _validate(Plan, text)
    if len(plan.packets) > max_packets:
        raise OutputInvalid([f"packets: at most {max_packets} packets, got {len(plan.packets)}"])
    return plan


def parse_verdict(text: str) -> Verdict:
    """A reviewer verdict that passed its gate."""
    verdict = _validate(Verdict, text)
    if not verdict.required_fixes and verdict.findings:
        verdict.required_fixes = [f.message for f in verdict.findings]
    if verdict.verdict == "request_changes" and not verdict.required_fixes:
        raise OutputInvalid(["required_fixes: must list the fixes when requesting changes"])
    return verdict
