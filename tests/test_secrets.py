"""Masking of secret env values and token shapes."""

from __future__ import annotations

import pytest

from baton.secrets import (
    SecretMasker,
    looks_secret_name,
    looks_secret_value,
    secret_env_names,
)

ENV = {
    "OPENAI_API_KEY": "sk-live-abcdefgh12345678",
    "MY_TOKEN": "tok-value-123",
    "db_password": "hunter2-hunter2",
    "SHORT_SECRET": "abc",  # too short to mask: would clobber ordinary text
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/user",
}


@pytest.fixture
def masker() -> SecretMasker:
    return SecretMasker(ENV, extra=["extra-secret-value"])


def test_secret_env_names_match_case_insensitively() -> None:
    assert secret_env_names(ENV) == ["MY_TOKEN", "OPENAI_API_KEY", "SHORT_SECRET", "db_password"]
    assert looks_secret_name("github_token")
    assert not looks_secret_name("PATH")


def test_env_values_and_extras_are_masked(masker: SecretMasker) -> None:
    text = "key=tok-value-123 pw=hunter2-hunter2 x=extra-secret-value path=/usr/bin:/bin"
    assert masker.mask(text) == "key=*** pw=*** x=*** path=/usr/bin:/bin"


def test_short_values_are_not_masked(masker: SecretMasker) -> None:
    assert masker.mask("abc abcdef") == "abc abcdef"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-abcdefgh123", "key ***"),
        ("sk-proj-AbC_dEf-1234567890", "***"),
        ("sk-or-v1-0123456789abcdef", "***"),
        ("sk-ant-api03-xyzxyzxyzxyz", "***"),
        ("aws AKIAABCDEFGHIJKLMNOP end", "aws *** end"),
        ("ghp_" + "a1" * 18, "***"),
        ("gho_" + "B" * 36, "***"),
        ("github_pat_11ABCDEFG0123456789_abcdefghij", "***"),
        ("xoxb-1234567890-abcdef", "***"),
        ("xoxp-1234567890-abcdef", "***"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: ***"),
        ('"authorization": "Basic dXNlcjpwYXNz"', '"authorization": ***'),
        ("curl -H 'X: y' bearer abcdefghij", "curl -H 'X: y' bearer ***"),
    ],
)
def test_token_shapes_are_masked(text: str, expected: str) -> None:
    masker = SecretMasker({})
    assert masker.mask(text) == expected
    assert looks_secret_value(text)


@pytest.mark.parametrize(
    "text",
    ["task-12345678 risk-abcdefghij", "AKIA too short", "ghp_short", "the bearer of news"],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert SecretMasker({}).mask(text) == text


def test_only_the_token_is_masked_on_its_line() -> None:
    out = SecretMasker({}).mask("line one\nuse sk-abcdefgh12345 here\nline three")
    assert out == "line one\nuse *** here\nline three"


def test_mask_obj_recurses_into_containers(masker: SecretMasker) -> None:
    event = {
        "cmd": "echo tok-value-123",
        "nested": [{"k": "hunter2-hunter2"}, ("sk-abcdefgh999",), 42, None],
    }
    assert masker.mask_obj(event) == {
        "cmd": "echo ***",
        "nested": [{"k": "***"}, ("***",), 42, None],
    }


def test_default_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_TEST_API_KEY", "canary-value-42")
    assert SecretMasker().mask("x canary-value-42 y") == "x *** y"


def test_masking_megabytes(masker: SecretMasker) -> None:
    line = "ordinary output with task-1 and some numbers 1234567 high through the Bearer\n"
    text = line * 60_000 + "tok-value-123 sk-abcdefgh12345\n"  # about 4.6 MB
    out = masker.mask(text)
    assert out.endswith("*** ***\n")
