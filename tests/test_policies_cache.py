"""``baton policies`` reads a cache of the last successful load of identical inputs.

Driven through the CLI. Whether the typed models were imported is read from Python's own
``-X importtime`` report, so the tests check what was done, not how long it took.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import run_json


def _policies(baton, repo, *extra: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "baton", "policies",
                           "--json", "--repo", str(repo), *extra], capture_output=True,
                          text=True, env=baton.env(**env), cwd=baton.tmp, timeout=60)


def _loaded_models(proc: subprocess.CompletedProcess) -> bool:
    return any(line.rstrip().endswith("| baton.config.settings")
               for line in proc.stderr.splitlines())


def _listing(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run_json(proc)


def test_the_second_listing_comes_from_the_cache_and_equals_the_first(baton, sample_repo):
    (baton.tmp / "user-config.toml").write_text(
        '[policies.cheap.reviewer]\nmodel = "google/gemini-2.5-flash"\n')
    first = _policies(baton, sample_repo)
    assert _loaded_models(first)
    second = _policies(baton, sample_repo)
    assert not _loaded_models(second), "the cached listing still imported the models"
    assert _listing(second) == _listing(first)
    assert _listing(first)["policies"]["cheap"]["reviewer"]["model"] == \
        "google/gemini-2.5-flash"
    assert list((baton.tmp / "cache" / "baton" / "config").glob("policies-*.json"))


def test_any_changed_input_means_a_full_load(baton, sample_repo, tmp_path):
    _listing(_policies(baton, sample_repo))
    (sample_repo / "baton.toml").write_text(
        '[policies.strict.reviewer]\nmodel = "openai/gpt-5"\n')
    changed = _policies(baton, sample_repo)
    assert _loaded_models(changed)
    assert "strict" in _listing(changed)["policies"]
    by_env = _policies(baton, sample_repo, BATON_POLICY="strict")
    assert _loaded_models(by_env) and _listing(by_env)["active"] == "strict"
    extra = tmp_path / "extra.toml"
    extra.write_text('[routes.planner]\nmodel = "anthropic/claude-opus-4.1"\n')
    flagged = _policies(baton, sample_repo, "--config", str(extra))
    assert _loaded_models(flagged)
    assert _listing(flagged)["policies"]["default"]["planner"]["model"] == \
        "anthropic/claude-opus-4.1"
    extra.write_text('[routes.planner]\nmodel = "openai/gpt-5-mini"\n')  # same path
    assert _listing(_policies(baton, sample_repo, "--config", str(extra)))[
        "policies"]["default"]["planner"]["model"] == "openai/gpt-5-mini"


def test_a_config_error_is_reported_even_after_a_good_listing(baton, sample_repo):
    _listing(_policies(baton, sample_repo))
    (sample_repo / "baton.toml").write_text('[routes.planner]\nmodle = "x"\n')
    failed = _policies(baton, sample_repo)
    assert failed.returncode == 2, failed.stdout
    assert "modle" in failed.stderr


def test_a_damaged_or_foreign_cache_file_is_ignored(baton, sample_repo):
    good = _listing(_policies(baton, sample_repo))
    (cached,) = (baton.tmp / "cache" / "baton" / "config").glob("policies-*.json")
    for damage in ("{not json", json.dumps({"format": 1, "key": "other", "listing": {}}),
                   json.dumps({"format": 1, "key": cached.stem.split("-", 1)[1],
                               "listing": {"active": 3}})):
        cached.write_text(damage)
        again = _policies(baton, sample_repo)
        assert _loaded_models(again)
        assert _listing(again) == good
