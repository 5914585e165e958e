"""The public API is exactly what ``__all__`` says, and quick commands stay light."""

from __future__ import annotations

import subprocess
import sys

import baton


def test_all_names_resolve():
    for name in baton.__all__:
        assert getattr(baton, name) is not None, name


def test_help_lists_commands_without_importing_heavy_modules():
    code = ("import sys, runpy; sys.argv = ['baton', '--help']\n"
            "try:\n    runpy.run_module('baton', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "heavy = [m for m in ('openai', 'httpx2', 'genai_prices', 'jinja2', 'rich', "
            "'pydantic') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr
    for command in ("run", "demo", "packets", "record", "trace", "runs", "resume", "approve",
                    "reject", "policies", "init", "fake-gateway"):
        assert command in proc.stdout


def test_errors_form_one_tree():
    from baton import errors

    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj is not errors.BatonError:
            if obj.__module__ == "baton.errors":
                assert issubclass(obj, errors.BatonError), name
