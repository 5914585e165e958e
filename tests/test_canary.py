"""Secrets never leave: canary values planted where issue 10 found leaks, then every file a
run writes, the debug log on stderr and every request the gateway received are scanned."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CANARY_KEY, PLANNER, demo_script, events, fence, response, run_json

from baton.workspace.sandbox import sandbox_available

TASK = "Add a median() function to stats.py, with tests."
URL_PASSWORD = "urlpass-CANARY-4d1e"
LLM_AUTH = "llmauth-CANARY-plain-7c2b91"
PEM_BODY = "MIIEpQIBAAKCAQEA-PEM-CANARY-93ab"
NETRC_PASSWORD = "netrc-CANARY-5e0f"
ENV_FILE_VALUE = "envfile-CANARY-1b7d"
PROTECTED_VALUE = "protected-CANARY-c4a2"


def scan(root: Path, *canaries: str) -> list[str]:
    """Every file under ``root`` holding one of ``canaries``."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            found += [f"{path}: {c}" for c in canaries if c in text]
    return found


def sent(gateway) -> str:
    """Everything the gateway received as messages."""
    return json.dumps([r.get("messages") for r in gateway.requests()])


def commit_all(repo: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm",
                    message], cwd=repo, check=True)


def plan_naming(script: dict, *paths: str) -> dict:
    text = response(script, PLANNER, 0)
    plan = json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])
    plan["affected_files"] += [{"path": p, "change": "read it"} for p in paths]
    script["models"][PLANNER][0]["content"] = fence(plan)
    return script


def test_url_userinfo_and_a_key_variable_of_any_name_are_in_no_artifact(baton, sample_repo):
    script = demo_script()
    script["models"][PLANNER][0]["faults"] = ["503"]  # an error message names the endpoint
    gateway = baton.serve(script, keep_bodies=True)
    url = gateway.base_url.replace("http://", f"http://alice:{URL_PASSWORD}@")
    check = (f"env; echo auth=$LLM_AUTH; {shlex.quote(sys.executable)} -c "
             f"\"import os; print('seen', os.environ.get('LLM_AUTH'))\"")
    user = baton.tmp / "user-config.toml"
    user.write_text(f"verify_commands = [{json.dumps(check)}]\n"
                    f'[endpoints.default]\nbase_url = "{url}"\napi_key_env = "LLM_AUTH"\n'
                    "[retry]\nbackoff_base_s = 0.01\nbackoff_max_s = 0.05\n")
    proc = baton("--log-level", "debug", "run", TASK, "--repo", str(sample_repo), "--json",
                 LLM_AUTH=LLM_AUTH)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = Path(run_json(proc)["run_dir"])
    assert "HTTP Request" in proc.stderr or "DEBUG" in proc.stderr  # the debug log ran
    assert any(r["status"] == 503 for r in gateway.requests())
    errors = [e for e in events(run_dir) if e["type"] == "model.call" and e["outcome"] == "error"]
    assert errors and "503" in errors[0]["error"]

    canaries = (URL_PASSWORD, LLM_AUTH, CANARY_KEY)
    assert scan(sample_repo / ".baton", *canaries) == []
    for c in canaries:
        assert c not in proc.stdout and c not in proc.stderr, c
        assert c not in sent(gateway)
    (ran,) = [e for e in events(run_dir) if e["type"] == "command" and "auth=" in e["command"]]
    log = (run_dir / ran["evidence_file"]).read_text()
    assert "seen None" in log  # the key variable was not in the command's environment
    assert "LLM_AUTH=" not in log


def test_a_key_in_a_repository_file_is_masked_in_what_is_sent_as_in_packets(baton,
                                                                            sample_repo):
    stats = sample_repo / "stats.py"
    stats.write_text(f"# deploy token, committed by mistake: {CANARY_KEY}\n" + stats.read_text())
    commit_all(sample_repo, "token")
    gateway = baton.serve(demo_script(), keep_bodies=True)
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    assert CANARY_KEY not in sent(gateway)
    assert "deploy token, committed by mistake: ***" in sent(gateway)
    # packets/ holds exactly the messages that were sent, call by call
    calls = [e for e in events(run_dir) if e["type"] == "model.call" and e["outcome"] == "ok"]
    served = [r for r in gateway.requests() if r["status"] == 200]
    assert len(calls) == len(served)
    for call, request in zip(calls, served, strict=True):
        packet = (run_dir / call["prompt_file"]).read_text()
        for message in request["messages"]:
            assert message["content"].rstrip() in packet, call["prompt_file"]
    assert scan(run_dir, CANARY_KEY) == []


def test_secret_files_and_protected_paths_are_withheld_from_prompts(baton, sample_repo):
    (sample_repo / ".env").write_text(f"DB_PASSWORD={ENV_FILE_VALUE}\n")
    (sample_repo / "deploy").mkdir()
    (sample_repo / "deploy" / "id_rsa").write_text(
        f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\n")
    (sample_repo / "deploy" / "server.pem").write_text(f"cert {PEM_BODY}\n")
    (sample_repo / "vault").mkdir()
    (sample_repo / "vault" / "prod.txt").write_text(f"{PROTECTED_VALUE}\n")
    toml = sample_repo / "baton.toml"
    toml.write_text('protected_paths = ["vault/**"]\n' + toml.read_text())
    commit_all(sample_repo, "secret files")
    script = plan_naming(demo_script(), ".env", "deploy/id_rsa", "deploy/server.pem",
                         "vault/prod.txt")
    gateway = baton.serve(script, keep_bodies=True)
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    for value in (ENV_FILE_VALUE, PEM_BODY, PROTECTED_VALUE):
        assert value not in sent(gateway), value
    assert scan(run_dir, ENV_FILE_VALUE, PEM_BODY, PROTECTED_VALUE) == []
    prompt = sorted((run_dir / "packets").glob("*-implementer.md"))[0].read_text()
    assert "## .env\n(not shown: withheld: the name matches the secret-file pattern '.env'" \
        in prompt
    assert "secret-file pattern 'id_rsa'" in prompt and "secret-file pattern '*.pem'" in prompt
    assert "## vault/prod.txt\n(not shown: withheld:" in prompt and "protected_paths" in prompt
    assert "def mean" in prompt  # the files that are not secret are still sent


def _home_with_secrets(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----\n")
    (home / ".netrc").write_text(f"machine api.example.com login me password {NETRC_PASSWORD}\n")
    return home


def _cat_home_config(baton, sandbox: str) -> None:
    user = baton.tmp / "user-config.toml"
    user.write_text(f'sandbox = "{sandbox}"\n'
                    'max_fix_rounds = 0\n'  # the failing cat ends the run, not fix rounds
                    'verify_commands = ["ls -a ~; cat ~/.ssh/id_rsa ~/.netrc"]\n'
                    + user.read_text())


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap is not usable here")
def test_under_the_sandbox_commands_do_not_see_the_home_directory(baton, sample_repo,
                                                                  tmp_path):
    home = _home_with_secrets(tmp_path)
    baton.serve(demo_script())
    _cat_home_config(baton, "bwrap")
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", HOME=str(home))
    assert proc.returncode == 1, proc.stderr  # cat fails: the files are not there
    run_dir = Path(run_json(proc)["run_dir"])
    (cat,) = [e for e in events(run_dir) if e["type"] == "command" and "cat ~" in e["command"]]
    assert cat["sandbox"] == "bwrap" and cat["exit_code"] != 0
    log = (run_dir / cat["evidence_file"]).read_text()
    assert "No such file or directory" in log
    assert ".ssh" not in log.splitlines() and ".netrc" not in log.splitlines()
    assert scan(sample_repo / ".baton", PEM_BODY, NETRC_PASSWORD) == []


def test_without_the_sandbox_private_keys_and_netrc_passwords_are_masked(baton, sample_repo,
                                                                        tmp_path):
    home = _home_with_secrets(tmp_path)
    baton.serve(demo_script())
    _cat_home_config(baton, "none")
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", HOME=str(home))
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    (cat,) = [e for e in events(run_dir) if e["type"] == "command" and "cat ~" in e["command"]]
    log = (run_dir / cat["evidence_file"]).read_text()
    assert "login me password ***" in log and "***" in log
    assert scan(sample_repo / ".baton", PEM_BODY, NETRC_PASSWORD) == []
    assert PEM_BODY not in proc.stdout + proc.stderr


def test_masker_knows_url_userinfo_private_keys_and_netrc_but_leaves_prose():
    from baton.secrets import SecretMasker, secret_file_pattern

    mask = SecretMasker({}).mask
    assert mask("GET https://alice:pw-123@host/v1 ok") == "GET https://***@host/v1 ok"
    assert mask('url = "http://TOKEN@gitlab.local/x"') == 'url = "http://***@gitlab.local/x"'
    assert mask("see https://example.com/a@b") == "see https://example.com/a@b"  # no userinfo
    key = f"-----BEGIN EC PRIVATE KEY-----\n{PEM_BODY}\n-----END EC PRIVATE KEY-----"
    assert mask(f"a\n{key}\nb") == "a\n***\nb"
    assert mask(f"tail cut: -----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}") == "tail cut: ***"
    assert mask(f"machine h login me password {NETRC_PASSWORD}") == \
        "machine h login me password ***"
    assert mask(f"machine h\n  login me\n  password {NETRC_PASSWORD}\n") == \
        "machine h\n  login me\n  password ***\n"
    prose = "Hash the password before storing it; password = input()"
    assert mask(prose) == prose
    assert secret_file_pattern("config/.env.production") == ".env.*"
    assert secret_file_pattern("deploy/.ssh/config") == ".ssh/"
    assert secret_file_pattern("keys/Server.PEM") == "*.pem"
    assert secret_file_pattern("src/environment.py") is None
