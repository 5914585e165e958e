"""The settings and environment every git command of baton's runs with (a leaf: the
repository discovery and the ``Git`` runner both use it).

``SAFE_CONFIG`` turns off everything in git that could run a program or reach the network
on baton's behalf (hooks, fsmonitor, pagers, editors, external diff, signing, protocols);
``git_env`` drops every ``GIT_*`` variable of the caller and passes the settings through
``GIT_CONFIG_COUNT`` so no configuration file can override them.
"""

from __future__ import annotations

import os

SAFE_CONFIG: list[tuple[str, str]] = [
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.pager", "cat"),
    ("core.attributesFile", "/dev/null"),
    ("core.sshCommand", "false"),
    ("core.askPass", "true"),
    ("core.editor", "true"),
    ("core.untrackedCache", "false"),
    ("diff.external", ""),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("protocol.allow", "never"),
    ("advice.detachedHead", "false"),
    ("core.quotePath", "false"),
]


def git_env(config: list[tuple[str, str]], extra: dict[str, str] | None = None
            ) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", PAGER="cat", GIT_EDITOR="true",
        GIT_CONFIG_NOSYSTEM="1", GIT_ASKPASS="true", SSH_ASKPASS="true",
        GIT_OPTIONAL_LOCKS="0", LC_ALL="C",
    )
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for number, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    env.update(extra or {})
    return env
