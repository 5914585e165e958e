"""The public API is exactly what ``__all__`` says, and quick commands stay light."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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


def _modules() -> list[str]:
    root = Path(baton.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        if "demo_data" in path.parts or path.name == "__main__.py":
            continue
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def test_every_module_imports_alone_with_no_cycle():
    """Each module imported first, in a fresh interpreter: a cycle would fail one of them."""
    modules = _modules()
    assert len(modules) > 40
    code = ("import importlib, sys\n"
            "for name in sys.argv[1:]:\n"
            "    for m in [m for m in sys.modules if m == 'baton' or m.startswith('baton.')]:\n"
            "        del sys.modules[m]\n"
            "    importlib.import_module(name)\n"
            "print('OK', len(sys.argv) - 1)")
    proc = subprocess.run([sys.executable, "-c", code, *modules], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and f"OK {len(modules)}" in proc.stdout, proc.stderr


def test_top_level_is_a_handful_of_modules_and_subpackages():
    root = Path(baton.__file__).parent
    modules = sorted(p.name for p in root.glob("*.py"))
    packages = sorted(p.name for p in root.iterdir() if (p / "__init__.py").exists())
    assert len(modules) <= 14, modules
    assert {"cli", "gateway", "llm", "workspace", "runs", "config"} <= set(packages)
    documented = (root.parent.parent / "docs" / "architecture.md").read_text()
    for name in packages:
        assert f"{name}/" in documented, f"docs/architecture.md does not describe {name}/"


def import_graph() -> dict[str, dict[str, int]]:
    """Module -> the baton modules it imports (and a line that does), counting every import:
    at module level, inside functions and under ``TYPE_CHECKING`` alike (all are a
    dependency for a reader)."""
    import ast

    root = Path(baton.__file__).parent
    modules = set(_modules())
    graph: dict[str, dict[str, int]] = {}
    for name in modules:
        rel = Path(*name.split(".")[1:])
        path = root / rel / "__init__.py" if (root / rel).is_dir() else root / f"{rel}.py"
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    module = ".".join([*parts, *([module] if module else [])])
                targets = [module] + [f"{module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                if target in modules and target not in (name, "baton"):
                    deps.setdefault(target, node.lineno)
        graph[name] = deps
    return graph


def test_no_import_cycles_between_modules():
    """The import graph, function-level imports included, is a DAG: imports go down only."""
    graph = import_graph()
    assert "baton.workspace.git" in graph["baton.workspace.snapshot"]  # the walk sees imports
    assert "baton.review.workflow" in graph["baton.pipeline"]  # ... also inside functions
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep, line in graph[node].items():
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack, node, dep])
                                     + f" ({node} line {line})")
            if dep not in state:
                visit(dep, [*stack, node])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


# The layers of docs/architecture.md, top to bottom: a module imports only from its own
# line or the lines below (gateway/ stands apart: it imports only errors).
LAYERS = [["cli"], ["integrations"], ["compare"], ["report"], ["demo", "packets"], ["pipeline"],
          ["review"], ["gate"],
          ["roles", "approvals", "evidence"], ["backends"], ["agents"], ["editing"],
          ["run_context"],
          ["export"],
          ["runs"], ["llm"], ["config"], ["workspace"],
          ["prompts", "parsing", "models", "secrets", "errors"]]


def test_imports_go_down_the_documented_layers_only():
    place = {name: i for i, line in enumerate(LAYERS) for name in line}
    graph = import_graph()
    upward = []
    for module, deps in sorted(graph.items()):
        if module == "baton":  # the package's lazy facade names modules only as strings
            continue
        top = module.split(".")[1]
        if top == "gateway":
            assert set(deps) <= {"baton.errors"} | {d for d in deps if ".gateway" in d}, deps
            continue
        assert top in place, f"{module} is on no layer of docs/architecture.md"
        for dep, line in deps.items():
            if dep.split(".")[1] != "gateway" and place[dep.split(".")[1]] < place[top]:
                upward.append(f"{module}:{line} -> {dep}")
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)
    drawing = (Path(baton.__file__).parents[2] / "docs" / "architecture.md").read_text()
    block = drawing[drawing.index("```\ncli/"):]
    block = block[:block.index("```", 4)]
    starts = [re.search(rf"^{line[0]}/?\s", block, re.M) for line in LAYERS]
    assert all(starts), "docs/architecture.md does not draw every layer"
    offsets = [m.start() for m in starts if m]
    assert offsets == sorted(offsets), "docs/architecture.md draws the layers in another order"
