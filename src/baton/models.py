"""Typed models for what crosses the edges: plans, verdicts, evidence."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RiskLevel = Literal["low", "medium", "high", "critical"]
RISK_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
VerdictKind = Literal["approve", "request_changes", "block"]


def _non_empty_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


class AffectedFile(BaseModel):
    """A file the plan will change, with the intended change."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(description="Path relative to the repository root.")
    change: str = Field(description="What will change in this file and why.")

    _check = field_validator("path", "change")(_non_empty_text)


class PlanPacket(BaseModel):
    """One scoped unit of work: implemented and reviewed on its own."""

    model_config = ConfigDict(extra="ignore")

    title: str
    goal: str
    files: list[str] = Field(min_length=1)
    acceptance_criteria: list[str] = Field(min_length=1)

    _check = field_validator("title", "goal")(_non_empty_text)


class Plan(BaseModel):
    """The planner's checked output."""

    model_config = ConfigDict(extra="ignore")

    summary: str
    affected_files: list[AffectedFile] = Field(min_length=1)
    risks: list[str] = Field(min_length=1)
    acceptance_criteria: list[str] = Field(min_length=1)
    test_commands: list[str] = Field(min_length=1)
    rollback: str
    risk_level: RiskLevel
    commit_message: str = ""
    packets: list[PlanPacket] = Field(default_factory=list)

    _check = field_validator("summary", "rollback")(_non_empty_text)

    @field_validator("risks", "acceptance_criteria", "test_commands")
    @classmethod
    def _items_non_empty(cls, items: list[str]) -> list[str]:
        cleaned = [i.strip() for i in items if isinstance(i, str) and i.strip()]
        if not cleaned:
            raise ValueError("must list at least one non-empty item")
        return cleaned

    def scoped_packets(self) -> list[PlanPacket]:
        """The packets to implement in order; a plan without a split is one packet."""
        if self.packets:
            return list(self.packets)
        title = (self.commit_message or self.summary).strip().splitlines()[0]
        title = title.split(". ")[0][:80]
        return [
            PlanPacket(
                title=title,
                goal=self.summary,
                files=[f.path for f in self.affected_files],
                acceptance_criteria=self.acceptance_criteria,
            )
        ]

    def files(self) -> list[str]:
        """Every path the plan names."""
        names = [f.path for f in self.affected_files]
        for packet in self.packets:
            names.extend(packet.files)
        return list(dict.fromkeys(names))


Severity = Literal["critical", "high", "medium", "low"]
_SEVERITY_WORDS = {"error": "high", "blocker": "critical", "major": "high",
                   "warning": "medium", "minor": "low", "note": "low", "info": "low"}


# The names models use for a finding's fields besides baton's own, first match wins.
FINDING_ALIASES: dict[str, tuple[str, ...]] = {
    "file": ("path", "filename", "file_path"),
    "line_start": ("line", "start_line", "lineno", "line_number"),
    "line_end": ("end_line", "line_stop"),
    "message": ("description", "issue", "problem", "title", "comment", "text", "body",
                "detail", "details"),
}
# Words for what to do about it: the message when there is no other text, else appended.
FIX_ALIASES = ("fix", "suggestion", "recommendation", "suggested_fix", "remedy")


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _finding_aliases(data: dict[str, object]) -> dict[str, object]:
    out = dict(data)
    for name, aliases in FINDING_ALIASES.items():
        if out.get(name) not in (None, ""):
            continue
        for alias in aliases:
            if out.get(alias) not in (None, ""):
                out[name] = out[alias]
                break
    fix = next((_text(out[a]) for a in FIX_ALIASES if _text(out.get(a))), "")
    if fix:
        said = _text(out.get("message"))
        out["message"] = f"{said} (fix: {fix})" if said and fix not in said else said or fix
    return out


class Finding(BaseModel):
    """One thing the reviewer wants changed: where (when known), how bad, what to change."""

    model_config = ConfigDict(extra="ignore")

    file: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    severity: Severity = "medium"
    message: str

    _check = field_validator("message")(_non_empty_text)

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: object) -> object:
        """Read a finding the way models write it (see FINDING_ALIASES)."""
        return _finding_aliases(data) if isinstance(data, dict) else data

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: object) -> object:
        if isinstance(value, str):
            word = value.strip().lower()
            return _SEVERITY_WORDS.get(word, word)
        return value

    @field_validator("line_start", "line_end", mode="before")
    @classmethod
    def _line(cls, value: object) -> int | None:
        """A line number, or None when the model gave none a tool could use."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value if value >= 1 else None
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip()) or None
        return None

    @field_validator("file", mode="before")
    @classmethod
    def _file(cls, value: object) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return None
        path = value.strip()
        return path[2:] if path.startswith(("a/", "b/")) and len(path) > 2 else path

    @model_validator(mode="after")
    def _order(self) -> Finding:
        if self.line_start is None:
            self.line_end = None
        elif self.line_end is None or self.line_end < self.line_start:
            self.line_end = self.line_start
        return self


class EarlierFinding(BaseModel):
    """A reviewer's answer, on a ``--follow`` round, about a finding of the round before."""

    model_config = ConfigDict(extra="ignore")

    index: int
    addressed: bool
    comment: str = ""


class Verdict(BaseModel):
    """The adversarial reviewer's checked output."""

    model_config = ConfigDict(extra="ignore")

    verdict: VerdictKind
    summary: str = ""
    top_risks: list[str] = Field(default_factory=list)
    required_fixes: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    earlier_findings: list[EarlierFinding] = Field(default_factory=list)
    verification_commands: list[str] = Field(default_factory=list)
    questions_for_owner: list[str] = Field(default_factory=list)

    @field_validator("required_fixes")
    @classmethod
    def _strip(cls, items: list[str]) -> list[str]:
        return [i.strip() for i in items if i.strip()]

    def structured_findings(self) -> list[Finding]:
        """The findings, or one per required fix (file unknown) when the model gave none."""
        if self.findings:
            return list(self.findings)
        return [Finding(message=fix) for fix in self.required_fixes]


class TestCounts(BaseModel):
    """Tests one command collected and how they ended; ``source`` says where it was read."""

    __test__ = False  # not a pytest test class

    source: str
    collected: int | None = None
    ran: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    xfailed: int = 0
    xpassed: int = 0
    deselected: int = 0


class CommandEvidence(BaseModel):
    """What the harness observed when it ran one verification command."""

    command: str
    source: Literal["config", "detected", "plan", "reviewer"]
    ran: bool
    exit_code: int | None = None
    duration_s: float | None = None
    timed_out: bool = False
    output_tail: str = ""
    output_sha256: str | None = None
    output_bytes: int = 0
    reason_not_run: str | None = None
    sandbox: str | None = None
    tests: TestCounts | None = None
    """Test counts read from the output or a JUnit report, when the command printed any."""
    tests_file: str | None = None
    """The tests that ran, one name a line (in the run folder), when baton could read
    them: pytest's node ids from the JUnit report baton asks for, unittest's verbose
    names."""

    @property
    def ok(self) -> bool:
        """Ran and exited 0."""
        return self.ran and self.exit_code == 0
