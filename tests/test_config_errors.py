"""Configuration errors name the file at fault, in plain words, with a did-you-mean."""

from __future__ import annotations

import subprocess

import pytest
from conftest import demo_script

from baton.config import load_config
from baton.errors import ConfigError


@pytest.fixture
def repo(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "r")], check=True)
    return tmp_path / "r"


def error_lines(repo, user_text: str, repo_text: str, overrides=None) -> list[str]:
    user = repo.parent / "user.toml"
    user.write_text(user_text)
    (repo / "baton.toml").write_text(repo_text)
    with pytest.raises(ConfigError) as info:
        load_config(repo, environ={"BATON_CONFIG": str(user)}, overrides=overrides)
    return str(info.value).splitlines()


def test_each_problem_names_the_file_that_set_it(repo):
    lines = error_lines(
        repo, "",
        'max_review_rounds = 0\n[approval]\nmax_diff_lines = "many"\n[routes.planner]\n'
        'modle = "x"\n')
    repo_file = str(repo / "baton.toml")
    assert f"  {repo_file}: max_review_rounds: must be at least 1, not 0" in lines
    assert f"  {repo_file}: approval.max_diff_lines: must be a whole number, not 'many'" \
        in lines
    assert f"  {repo_file}: routes.planner.modle: unknown setting (did you mean 'model'?)" \
        in lines
    assert f"  {repo_file}: routes.planner.model: is required" in lines
    assert not any("Input should be" in line for line in lines)  # not pydantic's words
    lines = error_lines(repo, "[retry]\nmax_atempts = 3\n", "")
    user_file = str(repo.parent / "user.toml")
    assert f"  {user_file}: retry.max_atempts: unknown setting (did you mean " \
        "'max_attempts'?)" in lines
    assert not any(str(repo / "baton.toml") in line for line in lines)
    lines = error_lines(repo, "", "", overrides={"sandbox": "nope"})
    assert "  flags: sandbox: must be one of 'auto', 'bwrap' or 'none', not 'nope'" in lines


def test_the_higher_layer_is_at_fault_when_both_set_a_key(repo):
    lines = error_lines(repo, "max_packets = 0\n", "max_packets = 3\n")
    assert f"  {repo.parent / 'user.toml'}: max_packets: must be at least 1, not 0" in lines


def test_a_typo_in_the_repo_file_through_the_cli(baton, sample_repo):
    baton.serve(demo_script())
    toml = sample_repo / "baton.toml"
    original = toml.read_text()
    toml.write_text("verify_comands = []\n" + original)
    proc = baton("run", "x", "--repo", str(sample_repo))
    assert proc.returncode == 2
    assert (f"{toml}: verify_comands: unknown setting (did you mean 'verify_commands'?)"
            in proc.stderr), proc.stderr
    assert "user-config.toml" not in proc.stderr  # only the file at fault
    # the same key written below a [table] header: said so
    toml.write_text(original + "\nverify_commands = []\n")
    proc = baton("run", "x", "--repo", str(sample_repo))
    assert "routes.verifier.verify_commands: unknown setting (did you mean the top-level " \
        "'verify_commands'?" in proc.stderr, proc.stderr
