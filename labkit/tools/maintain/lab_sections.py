"""A solution notebook read, and read as its sections: the opening, each step, the challenge, the rest.

`read_notebook` reads one through nbformat, with an error that names the file and line. A section
starts at a `## ` heading line in a markdown cell (a cell may hold the end of one section and the
start of the next) and runs to the next one. For each section: the words of its markdown,
the TODOs of its code cells (solution regions, which become `# TODO` lines in labs/) and its code
cells, numbered as nbval numbers them (`Cell 0` is the first code cell). The time estimates count
these, and the measured lab runs are split into steps by them.

The generated lines (the header's `**Time**` line and each step's `*About N min ...*` line) are
not counted as words: writing them must not change what they say.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from labkit.errors import LabError

HEADING = re.compile(r"^## +(.+?)\s*$")
STEP = re.compile(r"^(Step \d+)\b")
CHALLENGE = "Challenge"
OPENING = "(opening)"
TIME_LINE = re.compile(r"^\*\*Time\*\*: about \d+ minutes\b.*$")
SHARE_LINE = re.compile(r"^\*About \d+ min\b.*\*$")
REGION = re.compile(r"\bBEGIN SOLUTION\b")
SKIPPED_PARTS = {"bin", "obj", ".ipynb_checkpoints", "__pycache__"}  # build output and editor files, never lab files


class NotebookError(LabError):
    """A solution notebook that is not valid notebook JSON, or not UTF-8."""


@dataclass
class Section:
    """One part of a notebook; `key` is "Step 3", "Challenge", the heading of another part, or OPENING."""

    key: str
    words: int = 0
    todos: int = 0
    code_cells: list[int] = field(default_factory=list)

    @property
    def has_share(self) -> bool:
        """Steps and the challenge say their share of the time; the opening, summary and clean-up do not."""
        return self.key == CHALLENGE or STEP.match(self.key) is not None


def section_key(heading: str) -> str:
    step = STEP.match(heading)
    if step:
        return step[1]
    return CHALLENGE if heading.startswith(CHALLENGE) else heading


def generated(line: str) -> bool:
    return TIME_LINE.match(line) is not None or SHARE_LINE.match(line) is not None


def sections(notebook: nbformat.NotebookNode) -> list[Section]:
    """The notebook's sections in order, the opening first."""
    found = [Section(OPENING)]
    code_number = 0
    for cell in notebook.cells:
        if cell.cell_type == "code":
            found[-1].code_cells.append(code_number)
            found[-1].todos += len(REGION.findall(cell.source))
            code_number += 1
        elif cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                heading = HEADING.match(line)
                if heading:
                    found.append(Section(section_key(heading[1])))
                if not generated(line):
                    found[-1].words += len(line.split())
    return found


def read_notebook(text: str, where: str) -> nbformat.NotebookNode:
    """A notebook through nbformat; NotebookError naming the file and line when it is not one."""
    try:
        notebook: nbformat.NotebookNode = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
        nbformat.validate(notebook)
    except nbformat.reader.NotJSONError as exc:
        cause = exc.__cause__
        line = f":{cause.lineno}" if isinstance(cause, json.JSONDecodeError) else ""
        why = cause.msg if isinstance(cause, json.JSONDecodeError) else "not JSON"
        raise NotebookError(f"{where}{line}: not a notebook ({why}); open it in Jupyter or restore it.") from exc
    except nbformat.ValidationError as exc:
        why = exc.message
        raise NotebookError(f"{where}: not a valid notebook ({why}); open it in Jupyter or restore it.") from exc
    return notebook


def seconds_by_section(notebook: nbformat.NotebookNode, cells: list[float]) -> dict[str, float]:
    """A measured run's seconds per code cell, added up for each step and the challenge."""
    return {
        section.key: sum(cells[index] for index in section.code_cells if index < len(cells))
        for section in sections(notebook)
        if section.has_share
    }


def read(path: Path) -> nbformat.NotebookNode:
    return read_notebook(path.read_text(encoding="utf-8"), str(path))


def file_todos(lab: Path) -> dict[str, int]:
    """The solution regions of each file of a lab other than its notebook, by path relative to the lab."""
    counts = {}
    for path in sorted(lab.rglob("*")):
        relative = path.relative_to(lab)
        if not path.is_file() or path.suffix == ".ipynb" or SKIPPED_PARTS.intersection(relative.parts):
            continue
        try:
            regions = len(REGION.findall(path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue  # a binary file holds no region
        if regions:
            counts[relative.as_posix()] = regions
    return counts
