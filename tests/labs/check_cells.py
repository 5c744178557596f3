"""Run one check cell of a solution notebook against a wrong learner state.

Every check cell must fail, with its hint, when the learner's work is wrong. These helpers run
the notebook's setup cells (everything before Step 1), then one step's check cell, in a namespace
where the test has put the wrong state: the tests exercise the very code the learner runs.
"""

import re
from pathlib import Path
from typing import Any

import nbformat

from labkit import Lab
from tests.helpers import ROOT

SOLUTIONS = ROOT / "solutions"
_HEADING = re.compile(r"^## (?:Step (\d+):)?", re.MULTILINE)
_LABKIT_RUN = re.compile(r"(?<![.\w])run\(")

SETUP = 0  # the cells before the first step
OUTSIDE = -1  # cells under a heading that is not a step (Summary, Clean up, ...)


def _code_cells_by_step(notebook: Path) -> list[tuple[int, str]]:
    """(step, source) for each code cell, with the step of the `## Step N:` heading above it."""
    step = SETUP
    found: list[tuple[int, str]] = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        source = cell.source
        if cell["cell_type"] == "markdown":
            for heading in _HEADING.finditer(source):
                step = int(heading[1]) if heading[1] else OUTSIDE
        elif cell["cell_type"] == "code":
            found.append((step, source))
    return found


def is_check_cell(source: str) -> bool:
    """A cell that checks (labkit.checks) and does nothing else: no command, no solution."""
    return "checks." in source and not _LABKIT_RUN.search(source) and "BEGIN SOLUTION" not in source


def code_cells(notebook: Path, step: int) -> list[str]:
    return [source for number, source in _code_cells_by_step(notebook) if number == step]


def setup(notebook: Path, lab_id: str) -> dict[str, Any]:
    """The namespace after the setup cells (imports, catalog look-ups, helpers).

    `lab` becomes a Lab with id `lab_id`, so what the checks create is labelled for the test.
    """
    namespace: dict[str, Any] = {}
    for source in code_cells(notebook, SETUP):
        exec(compile(source, f"{notebook} (setup)", "exec"), namespace)
    namespace["lab"] = Lab(lab_id)
    return namespace


def run_cell(notebook: Path, step: int, index: int, namespace: dict[str, Any]) -> None:
    """Execute code cell number `index` of `step` (e.g. the one that defines a function)."""
    source = code_cells(notebook, step)[index]
    exec(compile(source, f"{notebook} (step {step}, cell {index})", "exec"), namespace)


def run_check(notebook: Path, step: int, namespace: dict[str, Any], **state: Any) -> None:
    """Execute the check cell of `step` with `state` (the wrong learner state) in `namespace`."""
    found = [source for source in code_cells(notebook, step) if is_check_cell(source)]
    assert found, f"Step {step} of {notebook} has no check cell"
    namespace.update(state)
    exec(compile(found[-1], f"{notebook} (step {step} check)", "exec"), namespace)
