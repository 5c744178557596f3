"""Build the course book, optionally with the solution notebooks executed against real images.

A plain build shows every notebook as committed (`execute_notebooks: "off"` in _config.yml).
The publishing workflow runs an executed build instead. Jupyter Book 1 takes its settings only
from a config file, so the executed build writes a copy of _config.yml with execution forced to
_build/_config.executed.yml and passes it with --config. The learner notebooks under labs/ are
never executed: their TODO cells would fail by design.
"""

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from labkit.errors import CommandFailed, LabError
from labkit.shell import run

BOOK_ROOT = Path(__file__).resolve().parents[3]  # the repository: labkit/tools/maintain/book.py
EXECUTED_CONFIG = Path("_build") / "_config.executed.yml"
CELL_TIMEOUT = 1800  # seconds per cell: a cold image build or pull can take minutes
BUILD_TIMEOUT = 4 * 3600  # the whole build, with all eight labs executed one after another
LEARNER_NOTEBOOKS = "labs/*/*.ipynb"


def build(execute: bool = False, labs: Sequence[str] | None = None, root: Path = BOOK_ROOT) -> int:
    """Build the book into <root>/_build/html and return jupyter-book's exit code.

    With `execute`, the solution notebooks run while the book builds (a Docker engine with the
    course images is needed); `labs` narrows that to some solution folders, e.g.
    ["03-dockerfiles"], and the others are shown as committed. Warnings fail the build (-W).
    """
    if labs and not execute:
        raise LabError("Choosing labs only makes sense with execute: a plain build runs no notebook.")
    command = [jupyter_book_command(), "build", ".", "-W", "--keep-going"]
    if execute:
        command += ["--config", str(write_executed_config(root, labs))]
    try:
        run(shlex.join(command), cwd=root, timeout=BUILD_TIMEOUT)
    except CommandFailed as failure:
        return 1 if failure.returncode is None else failure.returncode
    return 0


def jupyter_book_command() -> str:
    """The jupyter-book next to this Python, so the build uses the course's environment."""
    beside = Path(sys.executable).with_name("jupyter-book")
    return str(beside) if beside.exists() else "jupyter-book"


def solution_labs(root: Path = BOOK_ROOT) -> list[str]:
    """The lab folder names that have a solution notebook, e.g. ["01-containers", ...]."""
    return sorted(notebook.parent.name for notebook in root.glob("solutions/*/lab.ipynb"))


def write_executed_config(root: Path, labs: Sequence[str] | None) -> Path:
    """Write the executed-build config next to the build output and return its path."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    executed = executed_config(config, root, solution_labs(root), labs)
    target = root / EXECUTED_CONFIG
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(executed, sort_keys=False), encoding="utf-8")
    return target


def executed_config(
    config: dict[str, Any], root: Path, available: Sequence[str], labs: Sequence[str] | None
) -> dict[str, Any]:
    """`config` with execution forced for the chosen solution notebooks (all when `labs` is None).

    Local extension paths become absolute, because Jupyter Book resolves them against the folder
    of the config file, which is _build/ for this copy.
    """
    unknown = sorted(set(labs or ()) - set(available))
    if unknown:
        raise LabError(f"No solution notebook for {', '.join(unknown)}; labs: {', '.join(available)}.")
    skipped = [f"solutions/{name}/*.ipynb" for name in available if labs and name not in labs]
    execute = dict(config.get("execute") or {})
    excluded = [*execute.get("exclude_patterns", []), LEARNER_NOTEBOOKS, *skipped]
    execute.update(
        execute_notebooks="force",
        timeout=CELL_TIMEOUT,
        exclude_patterns=list(dict.fromkeys(excluded)),
    )
    sphinx = dict(config.get("sphinx") or {})
    extensions = sphinx.get("local_extensions") or {}
    sphinx["local_extensions"] = {name: str((root / path).resolve()) for name, path in extensions.items()}
    return {**config, "execute": execute, "sphinx": sphinx}
