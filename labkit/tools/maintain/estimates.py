"""How long each lab takes, counted rather than guessed: one source for the notebooks and the guide.

The count, as the instructor guide states it ("Timings"): the lab's text read at `words_per_minute`;
each TODO at the mean of `todo_minutes`, whether it is in the notebook or in a file the lab has
you edit (solutions/estimates.toml names the step that asks for each such file); the extra minutes
the TOML gives a step, with the reason; and the commands at the time one measured run of the
solution took (book/measurements.json, the run the TOML names). A step's share is its part of
that, in whole minutes rounded up; the lab's estimate is the whole, rounded up to five minutes.
The challenge is counted apart: its text, and `open_task_minutes` for each of its TODOs (one at
least: a challenge without a cell to write is still an open task).

`python -m labkit generate` writes the header's `**Time**` line and each step's `*About N min*`
line into the solution notebooks (and from there into labs/); the instructor guide's table reads
the same estimates while the book builds, and a test holds the notebooks to them.
"""

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from labkit.errors import LabError
from labkit.tools.maintain import lab_sections, measurements
from labkit.tools.maintain.lab_sections import CHALLENGE, Section

INPUTS = "estimates.toml"  # in solutions/
ROUND_LAB_TO = 5  # minutes: a lab's estimate is not more precise than that
SHOWN_COMMANDS = 30  # seconds: a step names its commands when they take this long


class EstimatesError(LabError):
    """The estimates cannot be counted: the TOML and the notebooks disagree; the message says where."""


@dataclass(frozen=True)
class Method:
    words_per_minute: int
    todo_minutes: tuple[int, int]  # the range the guide quotes; a TODO counts at its mean
    open_task_minutes: int
    run: str  # the measured lab run whose command times count

    @property
    def per_todo(self) -> float:
        return sum(self.todo_minutes) / 2


@dataclass(frozen=True)
class Extra:
    minutes: int
    why: str  # follows "1 TODO: " in the step's line


@dataclass(frozen=True)
class Share:
    """One step's (or the challenge's) part of a lab's time."""

    key: str
    words: int
    todos: int
    command_seconds: float
    extra: Extra | None
    method: Method

    @property
    def minutes(self) -> int:
        work: float
        if self.key == CHALLENGE:  # an open task, with a cell to write or without
            work = max(1, self.todos) * self.method.open_task_minutes
        else:
            work = self.todos * self.method.per_todo
        total = self.words / self.method.words_per_minute + work + self.command_seconds / 60
        return max(1, _up(total + (self.extra.minutes if self.extra else 0)))

    def line(self) -> str:
        if self.key == CHALLENGE:
            return f"*About {self.minutes} min: an open task, for whoever finishes early.*"
        parts = ["reading"]
        if self.todos:
            why = f": {self.extra.why}" if self.extra else ""
            parts.append(f"{_todos(self.todos)}{why}")
        if self.command_seconds >= SHOWN_COMMANDS:
            parts.append(f"{max(1, round(self.command_seconds / 60))} min of commands")
        return f"*About {self.minutes} min ({', '.join(parts)}).*"


@dataclass(frozen=True)
class LabEstimate:
    lab: str
    words: int  # everything but the challenge
    todos: int  # everything but the challenge's
    extras: tuple[tuple[str, Extra], ...]  # (step, extra)
    command_seconds: float | None  # None: the lab has not been measured yet
    shares: tuple[Share, ...]
    method: Method

    @property
    def reading(self) -> int:
        return _up(self.words / self.method.words_per_minute)

    @property
    def commands(self) -> int:
        return _up(self.command_seconds / 60) if self.command_seconds else 0

    @property
    def minutes(self) -> int:
        extra = sum(extra.minutes for _, extra in self.extras)
        total = self.reading + self.todos * self.method.per_todo + extra + self.commands
        return ROUND_LAB_TO * _up(total / ROUND_LAB_TO)

    @property
    def challenge(self) -> Share | None:
        return next((share for share in self.shares if share.key == CHALLENGE), None)

    def header_line(self) -> str:
        low, high = self.method.todo_minutes
        extras = "".join(f" ({step}'s, {extra.why}, takes {extra.minutes} more)" for step, extra in self.extras)
        commands = (
            f"about {self.commands} min of commands with the images present"
            if self.command_seconds
            else "the commands (not measured yet)"
        )
        line = (
            f"**Time**: about {self.minutes} minutes: reading about {self.reading}, {_todos(self.todos)} at "
            f"{low} to {high} minutes each{extras}, and {commands} (each step says its share)."
        )
        return line + (f" The challenge at the end adds about {self.challenge.minutes}." if self.challenge else "")


def _todos(count: int) -> str:
    return f"{count} TODO{'' if count == 1 else 's'}"


def _up(value: float) -> int:
    """Whole units, rounded up (an estimate that errs should err long); float noise is not a minute."""
    return math.ceil(round(value, 6))


# -- the inputs ----------------------------------------------------------------------------------------


def load_inputs(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EstimatesError(f"{path}: {exc}") from exc


def method_of(inputs: dict[str, Any]) -> Method:
    method = inputs["method"]
    low, high = method["todo_minutes"]
    return Method(method["words_per_minute"], (low, high), method["open_task_minutes"], method["run"])


def method_figures(method: Method) -> dict[str, str]:
    """The method's figures as the guide quotes them."""
    low, high = method.todo_minutes
    return {
        "words_per_minute": str(method.words_per_minute),
        "todo_minutes": f"{low} to {high}",
        "per_todo": f"{method.per_todo:g}",
        "open_task_minutes": str(method.open_task_minutes),
        "run": measurements.run_title(method.run),
    }


def pending(inputs: dict[str, Any]) -> set[str]:
    """Labs whose steps carry no share lines yet: estimated for the guide, not written into them."""
    return set(inputs.get("pending", {}))


def lab_ids(solutions: Path) -> list[str]:
    return sorted(path.name for path in solutions.iterdir() if (path / "lab.ipynb").is_file())


# -- counting ------------------------------------------------------------------------------------------


def estimate(lab: str, inputs: dict[str, Any], measured: measurements.Data, solutions: Path) -> LabEstimate:
    method = method_of(inputs)
    found = lab_sections.sections(lab_sections.read(solutions / lab / "lab.ipynb"))
    _add_file_todos(lab, found, inputs.get("files", {}).get(lab, {}), solutions / lab)
    extras = _extras(lab, found, inputs.get("extra", {}).get(lab, {}))
    steps = measurements.step_seconds(measured, method.run, lab)
    shares = tuple(
        Share(s.key, s.words, s.todos, steps.get(s.key, 0.0), extras.get(s.key), method) for s in found if s.has_share
    )
    counted = [s for s in found if s.key != CHALLENGE]
    return LabEstimate(
        lab=lab,
        words=sum(s.words for s in counted),
        todos=sum(s.todos for s in counted),
        extras=tuple(extras.items()),
        command_seconds=measurements.lab_seconds(measured, method.run).get(lab),
        shares=shares,
        method=method,
    )


def _add_file_todos(lab: str, found: list[Section], steps: dict[str, str], folder: Path) -> None:
    """Count each file's TODOs in the step the TOML names for it; every file with TODOs needs one."""
    by_key = {section.key: section for section in found}
    for path, regions in lab_sections.file_todos(folder).items():
        step = steps.get(path)
        if step is None:
            raise EstimatesError(
                f"solutions/{lab}/{path} has {regions} TODO(s): name the step that asks for them in "
                f'{INPUTS}, [files."{lab}"] "{path}" = "Step N".'
            )
        _section(by_key, step, lab).todos += regions
    stale = sorted(set(steps) - set(lab_sections.file_todos(folder)))
    if stale:
        raise EstimatesError(f"{INPUTS} names solutions/{lab}/{stale[0]}, which has no TODO: remove that line.")


def _extras(lab: str, found: list[Section], given: dict[str, Any]) -> dict[str, Extra]:
    by_key = {section.key: section for section in found}
    for step in given:
        _section(by_key, step, lab)
    return {step: Extra(extra["minutes"], extra["why"]) for step, extra in given.items()}


def _section(by_key: dict[str, Section], key: str, lab: str) -> Section:
    if key not in by_key:
        raise EstimatesError(f"{INPUTS} names {key!r} of {lab}, which has no such section.")
    return by_key[key]


def all_estimates(root: Path = measurements.ROOT) -> list[LabEstimate]:
    """Every lab's estimate, from the repository at `root`."""
    solutions, inputs, measured = _sources(root)
    return [estimate(lab, inputs, measured, solutions) for lab in lab_ids(solutions)]


def _sources(root: Path) -> tuple[Path, dict[str, Any], measurements.Data]:
    solutions = root / "solutions"
    return solutions, load_inputs(solutions / INPUTS), measurements.load(root / measurements.FILE)


# -- writing them into a notebook ----------------------------------------------------------------------


def stamp(notebook: nbformat.NotebookNode, lab: LabEstimate) -> nbformat.NotebookNode:
    """The notebook with its header's time line and one share line under each step's heading."""
    shares = {share.key: share.line() for share in lab.shares}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            cell.source = _stamped(cell.source, shares, lab.header_line() if index == 0 else None)
    return notebook


def _stamped(text: str, shares: dict[str, str], header: str | None) -> str:
    lines, out = text.split("\n"), []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if lab_sections.SHARE_LINE.match(line):
            if index < len(lines) and lines[index] == "":
                index += 1  # the blank line after it goes too
            continue
        if header is not None and lab_sections.TIME_LINE.match(line):
            line = header
        out.append(line)
        heading = lab_sections.HEADING.match(line)
        share = shares.get(lab_sections.section_key(heading[1])) if heading else None
        if share is not None:
            out += ["", share] + ([""] if index < len(lines) and lines[index] != "" else [])
    return "\n".join(out)


def stamped_notebooks(root: Path = measurements.ROOT) -> dict[Path, str]:
    """Every solution notebook (but the pending ones) as it should read, with the current estimates.

    Nothing without solutions/estimates.toml: a tree of labs that is not the course has nothing to count."""
    if not (root / "solutions" / INPUTS).is_file():
        return {}
    solutions, inputs, measured = _sources(root)
    wanted = {}
    for lab in lab_ids(solutions):
        if lab in pending(inputs):
            continue
        path = solutions / lab / "lab.ipynb"
        notebook = stamp(lab_sections.read(path), estimate(lab, inputs, measured, solutions))
        wanted[path] = nbformat.writes(notebook) + "\n"
    return wanted


def _differing(root: Path) -> dict[Path, str]:
    return {path: text for path, text in stamped_notebooks(root).items() if path.read_text(encoding="utf-8") != text}


def unstamped(root: Path) -> list[Path]:
    """The solution notebooks whose time lines differ from the estimates."""
    return sorted(_differing(root))


def write(root: Path) -> list[Path]:
    """Write the estimates into the solution notebooks that differ; returns those."""
    changed = _differing(root)
    for path, text in changed.items():
        path.write_text(text, encoding="utf-8")
    return sorted(changed)


# -- what the instructor guide shows -------------------------------------------------------------------


def duration(minutes: int) -> str:
    """Minutes as a schedule says them: "50 min", "2 h 45 min"."""
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"


def table(labs: list[LabEstimate]) -> measurements.Table:
    """The guide's Timings table: one row per lab, then the sums."""
    run_time = sum(lab.command_seconds or 0 for lab in labs)
    challenges = sum(lab.challenge.minutes for lab in labs if lab.challenge)
    total = duration(sum(lab.minutes for lab in labs))
    todos = sum(lab.todos for lab in labs)
    sums = [f"**All {len(labs)} labs**", "", f"**{todos}**", "", f"**{total}**", f"**+{challenges} min**"]
    rows = [*map(_row, labs), [*sums, f"**{run_time:.0f} s**"]]
    header = ["Lab", "Reading", "TODOs", "Commands", "Estimate", "Challenge", "Solution run time, images present"]
    return header, rows


def _row(lab: LabEstimate) -> list[str]:
    measured = f"{lab.command_seconds:.0f} s" if lab.command_seconds else "not measured yet"
    return [
        measurements.lab_link(lab.lab),
        f"{lab.reading} min",
        str(lab.todos),
        f"{lab.commands} min",
        f"{lab.minutes} min",
        f"+{lab.challenge.minutes} min" if lab.challenge else "",
        measured,
    ]
