"""Where an edit's SEARCH text is in a file: exact first, then a few tolerances that stay safe.

See docs/edit-format.md. The steps run in order and the first one that finds anything
decides: one match is applied, several are refused as ambiguous (with line numbers), none
moves on to the next step. Each applied edit reports the tolerance it needed, one of
``TOLERANCES``, so a trace can say how often a model needed one.

1. ``none``: the SEARCH text occurs exactly, starting at the beginning of a line.
2. ``trailing_whitespace``: lines compared without trailing whitespace.
3. ``indentation``: every non-blank SEARCH line is shifted against the file by the same
   run of one character (spaces or tabs); the shift is carried into REPLACE.
4. ``blank_line`` / ``blank_line+indentation``: SEARCH has one extra blank line at its start
   and/or end that the file does not have there; it is dropped (and the same blank line at
   the same end of REPLACE with it), then steps 2 and 3 are tried again.

Lines are compared by their stripped content, as numbers, with a linear-time search, so
each step scans the file once whatever the SEARCH; the "most similar part" hint on a
failure has fixed work bounds.
"""

from __future__ import annotations

import difflib
import heapq
import math
import re
import time
from dataclasses import dataclass

from baton.errors import EditError

TOLERANCES = (
    "none",
    "trailing_whitespace",
    "indentation",
    "blank_line",
    "blank_line+indentation",
)


@dataclass(frozen=True)
class Shift:
    """How SEARCH's indentation relates to the file's, line by line."""

    prefix: str  # the whitespace one side has in front of every non-blank line; "" none
    search_has_more: bool  # True: SEARCH carries ``prefix`` on top of the file's indentation


_NO_SHIFT = Shift("", False)


@dataclass(frozen=True)
class _Region:
    start: int  # index of the first file line
    count: int  # number of file lines
    relation: Shift | str  # a usable shift, or "tabs" / "uneven" when it is not usable


def replace_once(text: str, search: str, replace: str, rel: str) -> tuple[str, str]:
    """``text`` with the one place ``search`` matches replaced, and the tolerance it needed."""
    starts = _anchored_occurrences(text, search)
    if len(starts) == 1:
        return text[: starts[0]] + replace + text[starts[0] + len(search) :], "none"
    if len(starts) > 1:
        # Line numbers of the first few only: counting lines for every one of thousands of
        # starts in a big file took seconds.
        raise _ambiguous(rel, [text.count("\n", 0, s) + 1 for s in starts[:9]], len(starts))
    lines, wanted = split_lines(text), split_lines(search)
    hay = _Lines(lines)
    regions = _content_matches(hay, wanted, rel)
    for kind in ("trailing_whitespace", "indentation"):
        chosen = [r for r in regions if _kind(r) == kind]
        if len(chosen) == 1:
            return _apply(lines, chosen[0], wanted, replace), kind
        if len(chosen) > 1:
            raise _ambiguous(rel, [r.start + 1 for r in chosen])
    found = _blank_line_variant(hay, wanted, replace, rel)
    if found is not None:
        return found
    raise EditError(_not_found_message(rel, lines, wanted, regions))


def _kind(region: _Region) -> str:
    if not isinstance(region.relation, Shift):
        return region.relation
    return "trailing_whitespace" if not region.relation.prefix else "indentation"


def _blank_line_variant(
    hay: _Lines, wanted: list[str], replace: str, rel: str
) -> tuple[str, str] | None:
    """Step 4: drop one extra blank line at the start, the end, then both."""
    if not any(w.strip() for w in wanted):
        return None
    first_blank, last_blank = not wanted[0].strip(), not wanted[-1].strip()
    tries: list[list[tuple[bool, bool]]] = [[], []]
    if first_blank:
        tries[0].append((True, False))
    if last_blank:
        tries[0].append((False, True))
    if first_blank and last_blank:
        tries[1].append((True, True))
    for variants in tries:
        usable: list[tuple[_Region, list[str], str]] = []
        for head, tail in variants:
            trimmed = wanted[int(head) : len(wanted) - int(tail)]
            for region in _content_matches(hay, trimmed, rel):
                if isinstance(region.relation, Shift):
                    usable.append((region, trimmed, _trim_replace(replace, head, tail)))
        starts = sorted({region.start for region, _, _ in usable})
        if len(starts) > 1:
            raise _ambiguous(rel, [s + 1 for s in starts])
        if usable:
            region, trimmed, new_replace = usable[0]
            kind = "blank_line" if _kind(region) == "trailing_whitespace" else (
                "blank_line+indentation"
            )
            return _apply(hay.lines, region, trimmed, new_replace), kind
    return None


def _trim_replace(replace: str, head: bool, tail: bool) -> str:
    """REPLACE without the blank line SEARCH had in excess, when REPLACE has it too."""
    lines = split_lines(replace)
    if head and lines and not lines[0].strip():
        lines = lines[1:]
    if tail and lines and not lines[-1].strip():
        lines = lines[:-1]
    return "".join(lines)


class _Lines:
    """A file's lines, each also as a number standing for its stripped content."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.ids: dict[str, int] = {}
        self.numbers = [self.ids.setdefault(line.strip(), len(self.ids)) for line in lines]


# Comparing SEARCH with a region costs one step per line; a periodic SEARCH in a periodic
# file (the same few lines over and over) could ask for billions. Past this many steps the
# SEARCH is refused as ambiguous, which it is many times over by then.
MAX_COMPARE_STEPS = 4_000_000


def _content_matches(hay: _Lines, wanted: list[str], rel: str) -> list[_Region]:
    """Every region whose lines equal ``wanted`` once leading and trailing space is ignored.

    Lines are compared as numbers, and regions found with Knuth-Morris-Pratt, so this is
    linear in the file whatever the SEARCH.
    """
    want = [w.strip() for w in wanted]
    if not any(want):
        return []
    needle = [hay.ids.get(w, -1) for w in want]
    if -1 in needle:
        return []  # some SEARCH line is nowhere in the file
    starts = _find_all(hay.numbers, needle)
    if len(starts) * len(needle) > MAX_COMPARE_STEPS:
        raise _ambiguous(rel, [s + 1 for s in starts])
    k = len(needle)
    return [_Region(s, k, _relation(hay.lines[s : s + k], wanted)) for s in starts]


def _find_all(hay: list[int], needle: list[int]) -> list[int]:
    """Every start (overlapping ones too) of ``needle`` in ``hay``."""
    k = len(needle)
    fail = [0] * k
    j = 0
    for i in range(1, k):
        while j and needle[i] != needle[j]:
            j = fail[j - 1]
        if needle[i] == needle[j]:
            j += 1
        fail[i] = j
    found: list[int] = []
    j = 0
    for i, x in enumerate(hay):
        while j and x != needle[j]:
            j = fail[j - 1]
        if x == needle[j]:
            j += 1
            if j == k:
                found.append(i - k + 1)
                j = fail[j - 1]
    return found


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _relation(have: list[str], want: list[str]) -> Shift | str:
    """The one shift from ``want``'s indentation to ``have``'s, or why there is none."""
    shifts: set[Shift] = set()
    chars: set[str] = set()
    for h, w in zip(have, want, strict=True):
        if not w.strip():
            continue
        hi, wi = _indent(h), _indent(w)
        chars.update(hi, wi)
        if hi.endswith(wi):
            shifts.add(Shift(hi[: len(hi) - len(wi)], False))
        elif wi.endswith(hi):
            shifts.add(Shift(wi[: len(wi) - len(hi)], True))
        else:
            return "tabs" if {" ", "\t"} <= chars else "uneven"
    if shifts == {_NO_SHIFT}:
        return _NO_SHIFT
    if not chars <= {" ", "\t"}:
        return "uneven"  # other white space (form feeds, no-break spaces): no tolerance
    if len(shifts) != 1:
        return "tabs" if {" ", "\t"} <= chars else "uneven"
    shift = shifts.pop()
    if len(set(shift.prefix)) > 1:
        return "tabs"
    return shift


def _apply(lines: list[str], region: _Region, wanted: list[str], replace: str) -> str:
    shift = region.relation if isinstance(region.relation, Shift) else _NO_SHIFT
    new = _shift_replace(replace, shift, wanted)
    return _splice_lines(lines, region.start, region.count, new)


def describe(prefix: str) -> str:
    """'4 spaces', '1 tab'."""
    name = "tab" if prefix[:1] == "\t" else "space"
    return f"{len(prefix)} {name}{'' if len(prefix) == 1 else 's'}"


def _shift_replace(replace: str, shift: Shift, wanted: list[str]) -> str:
    """REPLACE with SEARCH's indentation shift carried over, or EditError if it cannot be."""
    if not shift.prefix:
        return replace
    allowed = {shift.prefix[0]}
    for w in wanted:
        if w.strip():
            allowed.update(_indent(w))
    out: list[str] = []
    for number, line in enumerate(split_lines(replace), 1):
        if not line.strip():
            out.append(line)
        elif shift.search_has_more:
            if not line.startswith(shift.prefix):
                raise EditError(
                    f"SEARCH matches with {describe(shift.prefix)} more indentation than the "
                    f"file, but line {number} of REPLACE ({line.strip()[:60]!r}) does not start "
                    "with that much, so it would lose indentation it does not have. Copy the "
                    "SEARCH and REPLACE indentation exactly from the current file"
                )
            out.append(line[len(shift.prefix) :])
        else:
            if set(_indent(line)) - allowed:
                raise EditError(
                    f"SEARCH matches with {describe(shift.prefix)} less indentation than the "
                    f"file, but line {number} of REPLACE ({line.strip()[:60]!r}) is indented "
                    "with a different character, so carrying the file's indentation over would "
                    "mix tabs and spaces. Indent REPLACE the way the file is indented"
                )
            out.append(shift.prefix + line)
    return "".join(out)


def _splice_lines(lines: list[str], start: int, count: int, replace: str) -> str:
    end = start + count
    if end == len(lines) and not lines[-1].endswith("\n") and replace.endswith("\n"):
        replace = replace[:-1]  # the file had no final newline; keep it that way
    return "".join(lines[:start]) + replace + "".join(lines[end:])


def _anchored_occurrences(text: str, search: str) -> list[int]:
    """Offsets where ``search`` occurs starting at the beginning of a line, overlapping
    occurrences included (SEARCH "x\nx\n" in "x\nx\nx\n" matches twice)."""
    found: list[int] = []
    if text.startswith(search):
        found.append(0)
    needle = "\n" + search
    at = text.find(needle)
    while at != -1:
        found.append(at + 1)
        at = text.find(needle, at + 1)
    return found


def split_lines(text: str) -> list[str]:
    """Lines with their "\n"; unlike str.splitlines, only "\n" ends a line."""
    pieces = text.split("\n")
    lines = [p + "\n" for p in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def _ambiguous(rel: str, line_numbers: list[int], total: int | None = None) -> EditError:
    total = len(line_numbers) if total is None else total
    where = ", ".join(map(str, line_numbers[:8])) + (", ..." if total > 8 else "")
    return EditError(
        f"the SEARCH text occurs {total} times in {rel} (at lines {where}); "
        "add more surrounding lines to SEARCH so it matches exactly one place"
    )


# --- the hint on a failed match ------------------------------------------------------------

SHOW_LINES = 12


def _not_found_message(
    rel: str, lines: list[str], wanted: list[str], regions: list[_Region]
) -> str:
    spans = ", ".join(f"{r.start + 1}-{r.start + r.count}" for r in regions[:8])
    if any(r.relation == "tabs" for r in regions):
        return (
            f"the SEARCH text matches {rel} (lines {spans}) except for indentation: the file "
            "and SEARCH indent with different characters (tabs against spaces). Copy the "
            "indentation exactly from the current file; baton does not convert between tabs "
            "and spaces"
        )
    head = _show(wanted[:SHOW_LINES], 1, numbered=False)
    message = f"the SEARCH text was not found in {rel}. It begins:\n{head}"
    if regions:
        message += (
            f"\nIts lines match {rel} (lines {spans}) except that the indentation differs by "
            "different amounts from line to line; baton only tolerates a shift that is the "
            "same on every line."
        )
    start = most_similar(lines, wanted)
    if start is not None:
        shown = lines[start : start + min(len(wanted), SHOW_LINES)]
        message += f"\nThe most similar part of {rel} (from line {start + 1}):\n" + _show(
            shown, start + 1, numbered=True
        )
    return message + "\nCopy the SEARCH lines exactly from the current file, indentation included."


def _show(lines: list[str], first: int, *, numbered: bool) -> str:
    out = []
    for n, line in enumerate(lines, first):
        prefix = f"{n:>5} | " if numbered else "    | "
        text = line.rstrip("\n")
        if len(text) > HINT_LINE_CHARS:
            text = text[:HINT_LINE_CHARS] + f"  [cut here: the line has {len(text)} characters]"
        out.append(prefix + text)
    return "\n".join(out)


# Work bounds of the hint, whatever the file: each line is compared on its first
# HINT_LINE_CHARS characters; of every SEARCH line (at most HINT_PROBES), its HINT_TOKENS
# rarest words pick the HINT_CANDIDATES file lines sharing most of them, and only those
# are scored with difflib, word by word; a word on more than HINT_COMMON_LINES lines picks
# nothing. So the hint costs one pass over the file plus at most HINT_PROBES *
# HINT_CANDIDATES comparisons of short word lists; HINT_CPU_SECONDS of this thread's CPU
# time stops it in any case, keeping what it found so far.
MAX_HINT_LINES = 20_000
HINT_LINE_CHARS = 160
HINT_PROBES = 12
HINT_TOKENS = 8
HINT_CANDIDATES = 16
HINT_COMMON_LINES = 1_000
HINT_CPU_SECONDS = 1.0
MIN_SIMILARITY = 0.6
_TOKEN = re.compile(r"\w+|[^\w\s]+")


def most_similar(lines: list[str], wanted: list[str]) -> int | None:
    """Start of the region of ``lines`` most like ``wanted``: lines vote for an offset."""
    if not lines or len(lines) > MAX_HINT_LINES:
        return None
    deadline = time.thread_time() + HINT_CPU_SECONDS
    have = [h.strip()[:HINT_LINE_CHARS] for h in lines]
    probes = [(i, w.strip()[:HINT_LINE_CHARS]) for i, w in enumerate(wanted)]
    probes = [(i, p) for i, p in probes if len(p) > 2][:HINT_PROBES]
    probe_words = [_TOKEN.findall(p) for _, p in probes]
    wanted_tokens = set().union(*probe_words)
    have_words = [_TOKEN.findall(h) for h in have]
    postings: dict[str, list[int]] = {t: [] for t in wanted_tokens}
    for index, words in enumerate(have_words):
        for token in wanted_tokens.intersection(words):
            postings[token].append(index)
    votes: dict[int, float] = {}
    matcher: difflib.SequenceMatcher[str] = difflib.SequenceMatcher(autojunk=False)
    total = len(have)
    for (offset, _), probe in zip(probes, probe_words, strict=True):
        if time.thread_time() > deadline:
            break
        useful = [t for t in set(probe) if 0 < len(postings[t]) <= HINT_COMMON_LINES]
        rarest = sorted(useful, key=lambda t: (len(postings[t]), t))[:HINT_TOKENS]
        scores: dict[int, float] = {}
        for token in rarest:
            weight = math.log(1 + total / len(postings[token]))
            for index in postings[token]:
                scores[index] = scores.get(index, 0.0) + weight
        matcher.set_seq2(probe)  # lines are compared word by word: short, and never quadratic
        for index in heapq.nlargest(HINT_CANDIDATES, scores, key=lambda i: (scores[i], -i)):
            matcher.set_seq1(have_words[index])
            if (
                matcher.real_quick_ratio() >= MIN_SIMILARITY
                and matcher.quick_ratio() >= MIN_SIMILARITY
                and (score := matcher.ratio()) >= MIN_SIMILARITY
            ):
                start = max(0, index - offset)
                votes[start] = votes.get(start, 0.0) + score
    if not votes:
        return None
    return max(votes, key=lambda s: (votes[s], -s))
