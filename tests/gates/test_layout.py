"""The house rules the folders stand for: who may import whom.

- `labkit/` is what notebooks import, with `labkit/engine/` (engine facts, cleanup) and
  `labkit/registry/` (the registry client) beneath it; `labkit/tools/` is `python -m labkit`. The
  tools may import everything else; nothing else imports the tools.
- `offline_world/` is infrastructure under the tests: it uses labkit's base (errors, names, waiting,
  the error boundary, HTTP, the command runner), the engine and registry parts, never the notebook
  API (checks, lab, containers, ...) nor the tools; and its own commands stay out of the learner's
  command log (offline_world.machine.run).
"""

import ast
import importlib.util
from pathlib import Path

from labkit import shell
from offline_world import machine
from tests.helpers import ROOT

WORLD_MAY_USE = (
    "labkit.errors",
    "labkit.names",
    "labkit.waiting",
    "labkit.boundary",
    "labkit.web",
    "labkit.shell",
    "labkit.docker_access",
    "labkit.engine",
    "labkit.registry",
)


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every labkit or offline_world module `path` imports (`from a import b` counts a.b when b is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if importlib.util.find_spec(node.module) and _is_module(candidate) else node.module)
    return {name for name in found if name.split(".")[0] in ("labkit", "offline_world")}


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def test_nothing_but_the_tools_imports_the_tools() -> None:
    wrong = {
        module_name(path): sorted(n for n in imported_modules(path) if within(n, "labkit.tools"))
        for path in python_files("labkit") + python_files("offline_world")
        if not within(module_name(path), "labkit.tools") and module_name(path) != "labkit.__main__"  # the tools' door
    }
    assert {module: names for module, names in wrong.items() if names} == {}


def test_the_engine_and_registry_parts_import_no_notebook_helper_above_them() -> None:
    above = ("labkit.checks", "labkit.lab", "labkit.containers", "labkit.compose", "labkit.images", "labkit.notebook")
    wrong = {
        module_name(path): sorted(n for n in imported_modules(path) if n.startswith(above))
        for folder in ("labkit/engine", "labkit/registry")
        for path in python_files(folder)
    }
    assert {module: names for module, names in wrong.items() if names} == {}


def test_the_offline_world_uses_only_labkits_base_engine_and_registry_parts() -> None:
    wrong = {
        module_name(path): sorted(
            n for n in imported_modules(path) if within(n, "labkit") and not any(within(n, p) for p in WORLD_MAY_USE)
        )
        for path in python_files("offline_world")
    }
    assert {module: names for module, names in wrong.items() if names} == {}


def test_the_offline_worlds_commands_stay_out_of_the_learners_command_log() -> None:
    """Only offline_world.machine runs commands through labkit.shell, and it does not record them."""
    runners = {
        module_name(path)
        for path in python_files("offline_world")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and node.module in ("labkit", "labkit.shell")
        and any(alias.name == "run" for alias in node.names)
    }
    assert runners == set()
    before = shell.mark()
    assert machine.run("echo the world runs this", quiet=True).strip() == "the world runs this"
    assert shell.mark() is before
