"""Many runs at once in one process, on one repository, against one gateway."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import demo_script, snapshot

from baton.gateway.server import FakeGateway
from baton.pipeline import start_run


def test_twelve_runs_at_once_in_the_same_repository(sample_repo, tmp_path):
    before = snapshot(sample_repo)
    with FakeGateway(demo_script()) as gateway:
        user = tmp_path / "user.toml"
        user.write_text(f'[endpoints.default]\nbase_url = "{gateway.base_url}"\n')
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("OPENAI_", "BATON_"))}
        environ["BATON_CONFIG"] = str(user)
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(
                lambda i: start_run(f"Add median() #{i}", sample_repo, environ=environ),
                range(12)))
        # each run got its own copy of the script: 5 calls each, none repeated
        keys = [(r["run"], r["call"]) for r in gateway.requests()]
        assert len(keys) == len(set(keys)) == 12 * 5
    assert [r.decision for r in results] == ["go"] * 12
    assert len({r.branch for r in results}) == 12
    for result in results:
        median = subprocess.run(["git", "show", f"{result.branch}:stats.py"], cwd=sample_repo,
                                capture_output=True, text=True).stdout
        assert "ordered = sorted(values)" in median
    exclude = Path(sample_repo / ".git" / "info" / "exclude").read_text()
    assert exclude.split().count(".baton/") == 1
    assert snapshot(sample_repo) == before
