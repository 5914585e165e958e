"""A patch that rewrites what configures baton or the project's checks stops for a person.

``baton.toml``, ``.baton/`` and ``[tool.baton]`` always; CI workflows, ``conftest.py`` at
any depth, ``pytest.ini``, ``tox.ini``, the test sections of ``setup.cfg`` and
``pyproject.toml``, ``noxfile.py``, Makefile test targets, ``package.json``'s test script
and ``jest``/``vitest`` configs through the default approval paths. The same rule in
``baton run`` and ``baton review``: exit 3, each file named with what changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from buggy_project import RIGHT_FIX, _toml, approve, run_task, script
from conftest import events, run_json, snapshot
from test_review import approve as review_approve
from test_review import review, user_state
from test_review import script as review_script

from baton.approvals import fired_rules
from baton.config import Approval
from baton.workspace.git import FileChange

LOOSE_TOML = (_toml().replace("verify_commands = [", 'verify_commands = ["true"]\n# was [')
              + '\n[approval]\nrisk_level = "never"\npaths = []\n')

# Each file a patch adds, and the words its rule must say.
CONFIG_FILES = {
    ".github/workflows/ci.yml": ("on: push\n", "'.github/workflows/ci.yml' (added) matches"),
    "tests/unit/conftest.py": ("collect_ignore = []\n",
                               "gate config 'tests/unit/conftest.py' added"),
    "pytest.ini": ("[pytest]\naddopts = -q\n", "gate config 'pytest.ini' added"),
    "tox.ini": ("[tox]\nenvlist = py\n", "gate config 'tox.ini' added"),
    "noxfile.py": ("import nox\n", "gate config 'noxfile.py' added"),
    "jest.config.js": ("module.exports = {};\n", "gate config 'jest.config.js' added"),
    "web/vitest.config.ts": ("export default {};\n",
                             "gate config 'web/vitest.config.ts' added"),
    "setup.cfg": ("[metadata]\nname = calc\n\n[tool:pytest]\naddopts = -q\n",
                  "gate config 'setup.cfg' [tool:pytest] added"),
    "pyproject.toml": ('[tool.pytest.ini_options]\naddopts = "-q"\n\n'
                       '[tool.coverage.run]\nbranch = true\n',
                       "gate config 'pyproject.toml' [tool.pytest.ini_options] added"),
    "Makefile": ("build:\n\techo build\n\ntest:\n\ttrue\n",
                 "gate config 'Makefile' [test*] added"),
    "package.json": ('{"name": "x", "scripts": {"test": "true"}}\n',
                     "gate config 'package.json' [scripts.test*] added"),
}


def whole_file(path: str, text: str) -> str:
    return f"{path}\n<<<<<<< FILE\n{text}>>>>>>> FILE\n"


def test_a_patch_that_rewrites_baton_toml_stops_for_approval(baton, buggy_repo):
    before = snapshot(buggy_repo)
    baton.serve(script([RIGHT_FIX + "\n" + whole_file("baton.toml", LOOSE_TOML)],
                       [approve()]))
    proc = run_task(baton, buggy_repo)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    message = "\n".join(result["reasons"])
    assert "baton's own configuration 'baton.toml' modified: added `approval.risk_level`, " \
        "added `approval.paths`, changed `verify_commands`" in message, message
    run_dir = Path(result["run_dir"])
    (required,) = [e for e in events(run_dir) if e["type"] == "approval.required"]
    assert any("'baton.toml'" in r for r in required["rules"])
    assert not [e for e in events(run_dir) if e["type"] == "command"]  # before verification
    assert snapshot(buggy_repo) == before
    # the user may still approve: a person decided, and the run goes on with the guards
    proc = baton("approve", result["run_id"], "--json", cwd=buggy_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert run_json(proc)["decision"] == "go"


def test_each_config_file_of_the_checks_stops_a_run(baton, buggy_repo):
    patch = RIGHT_FIX + "".join("\n" + whole_file(p, t) for p, (t, _) in CONFIG_FILES.items())
    baton.serve(script([patch], [approve()]))
    proc = run_task(baton, buggy_repo)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    message = "\n".join(run_json(proc)["reasons"])
    for path, (_, said) in CONFIG_FILES.items():
        assert said in message, (path, message)
    assert "[tool.coverage] added" in message


def test_review_applies_the_same_rule_to_a_change_made_elsewhere(baton, sample_repo):
    repo = sample_repo
    for path, (text, _) in CONFIG_FILES.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    toml = repo / "baton.toml"
    # the working tree's config is read as the repository's: paths = [] cannot remove
    # the user's paths (the union is kept), and the file itself is gated
    toml.write_text(toml.read_text().replace("max_review_rounds = 2", "max_review_rounds = 3")
                    + "\n[approval]\npaths = []\n")
    before = user_state(repo)
    baton.serve(review_script(review_approve()))
    proc = review(baton, repo, "--uncommitted")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    message = "\n".join(result["reasons"])
    assert "baton's own configuration 'baton.toml' modified: added `approval.paths`, " \
        "changed `max_review_rounds`" in message, message
    for path, (_, said) in CONFIG_FILES.items():
        assert said in message, (path, message)
    assert user_state(repo) == before


def _rules(approval: Approval, path: str, old: str | None, new: str | None) -> list[str]:
    status = "A" if old is None else "D" if new is None else "M"
    texts = {"old": old, "new": new}
    return fired_rules(approval, risk_level="low", changes=[FileChange(path, status, 1, 1)],
                       read=lambda _p, side: texts[side])


def test_sections_fire_only_when_the_section_changes():
    approval = Approval(max_diff_lines=None)
    old = '[project]\nname = "x"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    assert not [r for r in _rules(approval, "pyproject.toml", old,
                                  old.replace('"x"', '"y"')) if "gate config" in r]
    rules = _rules(approval, "pyproject.toml", old, old + 'addopts = "-k \'not slow\'"\n')
    assert "gate config 'pyproject.toml' [tool.pytest.ini_options] changed: added " \
        "`addopts`" in rules[0]
    make = "build:\n\tcc x.c\n\ntest:\n\tpytest\n"
    assert not _rules(approval, "Makefile", make, make.replace("cc", "gcc"))
    assert "[test*] changed" in _rules(approval, "Makefile", make,
                                       make.replace("pytest", "true"))[0]
    pkg = '{"scripts": {"build": "tsc", "test": "jest"}}'
    assert not [r for r in _rules(approval, "package.json", pkg, pkg.replace("tsc", "esbuild"))
                if "gate config" in r]
    assert any("[scripts.test*] changed" in r for r in
               _rules(approval, "package.json", pkg, pkg.replace("jest", "true")))
    assert "'.baton/policy.toml' added" in _rules(approval, ".baton/policy.toml", None, "x")[0]
    assert "[tool.baton] changed" in " ".join(_rules(
        approval, "pyproject.toml", "[tool.baton]\nverify_commands = ['pytest']\n",
        "[tool.baton]\nverify_commands = ['true']\n"))
    # the user may drop the check-config paths; baton's own files stay gated
    mine = Approval(paths=[], max_diff_lines=None)
    assert not _rules(mine, "tests/conftest.py", None, "x = 1\n")
    assert _rules(mine, "baton.toml", "a = 1\n", "a = 2\n")


def test_a_repository_may_not_switch_the_gate_config_rule_off(tmp_path):
    from baton.config import load_config
    from baton.errors import ConfigError

    (tmp_path / "baton.toml").write_text("[approval]\ngate_config = false\n")
    environ = {"BATON_CONFIG": str(tmp_path / "none.toml")}
    with pytest.raises(ConfigError, match="approval.gate_config"):
        load_config(tmp_path, environ=environ)
    (tmp_path / "baton.toml").unlink()
    config = load_config(tmp_path, environ=environ,
                         overrides={"approval": {"gate_config": False}})  # the user's flag
    assert config.approval.gate_config is False
