"""``baton init`` writes starting configurations that load and can be priced."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from baton.config import load_config
from baton.llm.budget import check_prices_known


def test_init_writes_a_valid_repo_config_with_priced_routes(baton, tmp_path):
    repo = tmp_path / "proj"
    (repo / "tests").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    proc = baton("init", "--repo", str(repo))
    assert proc.returncode == 0, proc.stderr
    text = (repo / "baton.toml").read_text()
    assert "endpoints" not in text.split("# The routing policy")[1].split("[")[0]
    config = load_config(repo, environ={})
    for name in ("default", "cheap"):
        routes = config.policy_routes(name)
        check_prices_known(config.limits, config.role_limits, routes, config.prices)
    default = config.policy_routes("default")
    assert default["reviewer"].model.split("/")[0] != default["implementer"].model.split("/")[0]
    listed = baton("policies", "--repo", str(repo), "--json")
    assert json.loads(listed.stdout)["active"] == "default"
    again = baton("init", "--repo", str(repo))
    assert again.returncode == 2 and "--force" in again.stderr


def test_init_user_writes_endpoints_without_keys(baton, tmp_path):
    target = tmp_path / "cfg" / "config.toml"
    proc = baton("init", "--user", BATON_CONFIG=str(target))
    assert proc.returncode == 0, proc.stderr
    text = target.read_text()
    assert "api_key_env" in text and "sk-" not in text
    config = load_config(Path(tmp_path), environ={"BATON_CONFIG": str(target)})
    assert config.endpoint("default").base_url.startswith("https://")
    assert oct(target.stat().st_mode & 0o777) == "0o600"
