"""Raising the log level never prints a key."""

from __future__ import annotations

from conftest import CANARY_KEY, demo_script


def test_debug_logging_masks_the_key(baton, sample_repo):
    baton.serve(demo_script())
    proc = baton("--log-level", "debug", "run", "Add median()", "--repo", str(sample_repo),
                 "--json", OPENAI_LOG="debug")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DEBUG" in proc.stderr and "chat/completions" in proc.stderr
    assert CANARY_KEY not in proc.stderr and CANARY_KEY not in proc.stdout


def test_any_logger_that_prints_a_key_is_masked(monkeypatch, capsys):
    import logging

    from baton.cli.logs import setup_logging

    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-0123456789-very-secret")
    setup_logging("debug")
    try:
        logging.getLogger("openai").debug("Authorization: Bearer %s", CANARY_KEY)
        logging.getLogger("baton").info("token is %s", "tok-0123456789-very-secret")
    finally:
        logging.getLogger().handlers[:] = []
    err = capsys.readouterr().err
    assert "Authorization" in err and "token is" in err
    assert CANARY_KEY not in err and "tok-0123456789-very-secret" not in err
