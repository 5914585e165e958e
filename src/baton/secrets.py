"""Mask secrets in text before it reaches any artifact (trace, logs, reports).

Three sources of secrets: the values of environment variables whose names look secret
(``OPENAI_API_KEY``, ``GITHUB_TOKEN``, ...), the values of the variables the configuration
names as key variables (``api_key_env``, whatever the name; see :func:`key_values`), and
well-known shapes (``sk-...``, ``ghp_...``, ``AKIA...``, bearer tokens, ``Authorization:``
headers, Slack tokens, the user-info part of a URL such as ``https://user:pass@host``, and
PEM / OpenSSH private key blocks).
Masking megabytes takes milliseconds: literal values go through ``str.replace`` and each
token shape is one small regex run only when its leading literal occurs in the text.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MASK",
    "SecretMasker",
    "key_values",
    "secret_file_pattern",
    "remember_secret",
    "looks_secret_name",
    "looks_secret_value",
    "secret_env_names",
]

MASK = "***"

# Values shorter than this are too likely to occur by accident ("true", "1234").
MIN_SECRET_LEN = 6

_SECRET_NAME_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")


@dataclass(frozen=True)
class _Rule:
    """A token shape, and substrings without which it cannot occur (a cheap pre-check)."""

    triggers: tuple[str, ...]
    regex: re.Pattern[str]

    def apply(self, text: str) -> str:
        if not any(t in text for t in self.triggers):
            return text
        return self.regex.sub(_replacement, text)


def _rule(triggers: tuple[str, ...], pattern: str) -> _Rule:
    return _Rule(triggers, re.compile(pattern))


# One regex per shape, each led by a literal, behind a substring pre-check: in CPython this
# is an order of magnitude faster than one big alternation with lookbehinds.
_RULES = (
    _rule(("sk-",), r"sk-[A-Za-z0-9_-]{8,}"),
    _rule(("AKIA",), r"AKIA[0-9A-Z]{16}(?![0-9A-Z])"),
    _rule(("gh",), r"gh[pousr]_[A-Za-z0-9]{20,}"),
    _rule(("github_pat_",), r"github_pat_[A-Za-z0-9_]{20,}"),
    _rule(("xox",), r"xox[abprs]-[A-Za-z0-9-]{10,}"),
    # Keep the header or scheme name, mask what follows it.
    _rule(
        ("uthorization", "UTHORIZATION"),
        r"(?P<keep>(?:[Aa]uthorization|AUTHORIZATION)[\"']?\s*[:=]\s*)[^\r\n]+",
    ),
    _rule(("earer", "EARER"), r"(?P<keep>(?:[Bb]earer|BEARER)\s+)[A-Za-z0-9._~+/=-]{6,}"),
    # URL user info (``https://user:password@host``): keep the scheme and the host.
    _rule(("://",), r"(?P<keep>://)[^/\s@\"'<>]+@"),
    # A private key block, PEM or OpenSSH, whole; an unterminated one to the end of text.
    _rule(("PRIVATE KEY",),
          r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?"
          r"(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)"),
    # PuTTY private keys.
    _rule(("PuTTY-User-Key-File",), r"PuTTY-User-Key-File-[\s\S]*?(?:Private-MAC: \S+|\Z)"),
)

# Every leading literal above and the netrc word: text holding none of them needs no rule
# (one scan in C instead of one per rule: most strings masked are short and clean).
_ANY_TRIGGER = re.compile("|".join(sorted(
    {re.escape(t) for rule in _RULES for t in rule.triggers} | {"password"},
    key=len, reverse=True)))
_SHORT = 1024  # longer texts: the per-rule substring checks are the faster pre-check

_NETRC_LINE = re.compile(
    r"(?P<keep>^[ \t]*(?:(?:machine|default)\b.*?[ \t]|.*?\blogin[ \t]+\S+[ \t]+)?"
    r"password[ \t]+)(?P<secret>[^\s=:]\S*)")
_NETRC_MAX_LINE = 4096


def _mask_netrc(text: str) -> str:
    """Mask ``.netrc`` passwords: ``machine h login u password p`` on one line, or a line
    that is only ``password p``. Prose about passwords is left alone. Each line holding
    ``password`` is looked at once, so the work stays linear."""
    pos = text.find("password")
    if pos < 0:
        return text
    out: list[str] = []
    done = 0  # text before this is in ``out``
    scanned = 0  # no line start is searched for before this
    while pos >= 0:
        newline = text.rfind("\n", scanned, pos)
        line_start = newline + 1 if newline >= 0 else scanned
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end < 0 else line_end
        if line_end - line_start <= _NETRC_MAX_LINE:
            line = text[line_start:line_end]
            found = _NETRC_LINE.match(line)
            if found is not None:
                out.append(text[done:line_start])
                out.append(line[: found.start("secret")] + MASK + line[found.end("secret"):])
                done = line_end
        scanned = line_end
        pos = text.find("password", line_end)
    out.append(text[done:])
    return "".join(out)


# Values found at run time (the key of a configured key variable), masked by every masker
# of this process from then on. Adding a value can only mask more, never less.
_REMEMBERED: set[str] = set()


def remember_secret(value: str) -> None:
    """Mask ``value`` in every artifact and log line of this process from now on."""
    if isinstance(value, str) and len(value) >= MIN_SECRET_LEN:
        _REMEMBERED.add(value)


def key_values(config: Any, environ: Mapping[str, str]) -> list[str]:
    """The values of every key variable the configuration's endpoints name (any name)."""
    values = []
    for endpoint in getattr(config, "endpoints", {}).values():
        value = environ.get(endpoint.api_key_env)
        if value:
            values.append(value)
    return values


# Files that hold secrets by convention; never sent to a model (matched on the file name,
# or on any folder name for the folders at the end).
SECRET_FILE_PATTERNS = (
    ".env", ".env.*", "*.env", ".envrc", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519",
    "id_*_sk", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx",
    ".netrc", "_netrc", ".git-credentials", ".pgpass", ".pypirc", ".npmrc", ".htpasswd",
    "credentials", "credentials.json", "*.tfstate", "secrets.toml", "secrets.yaml",
    "secrets.yml", "secrets.json",
)
SECRET_DIRS = (".ssh", ".gnupg", ".aws", ".docker", ".kube")


def secret_file_pattern(path: str) -> str | None:
    """The secret-file pattern ``path`` matches (``.env``, ``id_rsa``, ``*.pem``, ...), or None."""
    parts = [p.casefold() for p in path.replace("\\", "/").split("/") if p]
    if not parts:
        return None
    for folder in parts[:-1]:
        if folder in SECRET_DIRS:
            return f"{folder}/"
    for pattern in SECRET_FILE_PATTERNS:
        if fnmatch.fnmatchcase(parts[-1], pattern):
            return pattern
    return None


def looks_secret_name(name: str) -> bool:
    """True if an environment variable's name suggests it holds a secret."""
    upper = name.upper()
    return any(word in upper for word in _SECRET_NAME_WORDS)


def secret_env_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of the variables in ``environ`` (default: os.environ) that look secret."""
    env = os.environ if environ is None else environ
    return sorted(name for name in env if looks_secret_name(name))


def looks_secret_value(value: str) -> bool:
    """True if a value has the shape of a known token (``sk-...``, ``ghp_...``, ...)."""
    return any(rule.apply(value) != value for rule in _RULES)


class SecretMasker:
    """Replaces secret values and token-shaped strings with ``***``."""

    def __init__(self, environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> None:
        env = os.environ if environ is None else environ
        values = {env[name] for name in secret_env_names(env)}
        self._keys = {v for v in extra if isinstance(v, str) and len(v) >= MIN_SECRET_LEN}
        values.update(extra)
        values.update(_REMEMBERED)
        self._base = values
        self.values = sorted(
            (v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LEN),
            key=len,
            reverse=True,  # longest first, so a value containing another is masked whole
        )

    def keys(self) -> set[str]:
        """The API keys this masker knows (given as ``extra``, or remembered at run time)."""
        return self._keys | _REMEMBERED

    def mask(self, text: str) -> str:
        """The text with every secret replaced by ``***``."""
        if not text:
            return text
        if not _REMEMBERED <= self._base:  # a key remembered after this masker was made
            self._base = self._base | _REMEMBERED
            self.values = sorted((v for v in self._base if len(v) >= MIN_SECRET_LEN),
                                 key=len, reverse=True)
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        if len(text) <= _SHORT and _ANY_TRIGGER.search(text) is None:
            return text
        for rule in _RULES:
            text = rule.apply(text)
        return _mask_netrc(text)

    def mask_obj(self, obj: Any) -> Any:
        """A copy of ``obj`` with every string inside dicts, lists and tuples masked."""
        if isinstance(obj, str):
            return self.mask(obj)
        if isinstance(obj, dict):
            return {self.mask_obj(k): self.mask_obj(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.mask_obj(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.mask_obj(v) for v in obj)
        return obj


def _replacement(match: re.Match[str]) -> str:
    start = match.start()
    if start and match.string[start - 1].isalnum() and match.group(0)[:3] != "://":
        return match.group(0)  # inside a word, e.g. "task-12345678" is not a key
    keep = match.groupdict().get("keep")
    if keep == "://":  # URL user info: the scheme before it is kept as it is
        return keep + MASK + "@"
    return keep + MASK if keep else MASK
