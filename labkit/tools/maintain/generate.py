"""Generate labs/ from solutions/: the solution folder is the single source of truth.

In any text file of a lab (notebook code cells, Dockerfiles, C#, ...), the lines a learner writes
are wrapped in markers written as comments of that file's language:

    # BEGIN SOLUTION: copy the project file and restore
    COPY App.csproj .
    RUN dotnet restore
    # END SOLUTION

In labs/ the region becomes one line, `# TODO: copy the project file and restore`, with the same
indentation and comment syntax. Notebooks lose their outputs, and " — solution" is dropped from
their title.

First, the time estimates (labkit.tools.maintain.estimates) are written into the solution notebooks'
header and step lines, so that labs/ gets them too. `--check` reports stale estimates or a stale
labs/ without writing anything.
"""

import argparse
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat

from labkit.errors import LabError
from labkit.tools.maintain import estimates
from labkit.tools.maintain.lab_sections import SKIPPED_PARTS, NotebookError, read_notebook

TITLE_SUFFIX = " — solution"
_BEGIN = re.compile(r"^(?P<indent>\s*)(?P<open>#|//|<!--)\s*BEGIN SOLUTION:?\s*(?P<hint>.*?)\s*(?P<close>-->)?\s*$")
_END = re.compile(r"^\s*(#|//|<!--)\s*END SOLUTION\b")
_MARKER = re.compile(r"\b(BEGIN|END) SOLUTION\b")


class MarkerError(LabError):
    """Unbalanced or nested solution markers."""


def strip_solutions(text: str, where: str = "<text>") -> str:
    """Replace each marked solution region of `text` with a TODO line carrying its hint."""
    out: list[str] = []
    begin_line = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        begin = _BEGIN.match(line.rstrip("\r\n"))
        if begin:
            if begin_line:
                raise MarkerError(f"{where}:{number}: BEGIN SOLUTION inside the region opened at line {begin_line}")
            begin_line = number
            out.append(_todo_line(begin, line))
        elif _END.match(line):
            if not begin_line:
                raise MarkerError(f"{where}:{number}: END SOLUTION without BEGIN SOLUTION")
            begin_line = 0
        elif not begin_line:
            out.append(line)
    if begin_line:
        raise MarkerError(f"{where}:{begin_line}: BEGIN SOLUTION is never closed with END SOLUTION")
    return "".join(out)


def _todo_line(begin: re.Match[str], line: str) -> str:
    hint = begin["hint"] or "write this part"
    close = f" {begin['close']}" if begin["close"] else ""
    newline = "\n" if line.endswith("\n") else ""
    return f"{begin['indent']}{begin['open']} TODO: {hint}{close}{newline}"


def lab_notebook(text: str, where: str) -> str:
    """The learner's version of a solution notebook (nbformat JSON in and out)."""
    notebook = read_notebook(text, where)
    for index, cell in enumerate(notebook.cells):
        source = strip_solutions(cell.source, f"{where} cell {index}")
        if index == 0:
            source = source.replace(TITLE_SUFFIX, "", 1)
        cell.source = source
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    written: str = nbformat.writes(notebook)
    return written + "\n"


def learner_files(solution_lab: Path) -> Iterator[tuple[Path, bytes]]:
    """(relative path, content) of every file the learner's copy of one lab holds."""
    for path in sorted(solution_lab.rglob("*")):
        relative = path.relative_to(solution_lab)
        if path.is_dir() or SKIPPED_PARTS.intersection(relative.parts):
            continue
        data = path.read_bytes()
        if path.suffix == ".ipynb":
            data = lab_notebook(_utf8(data, path), str(path)).encode("utf-8")
        elif _is_text(data):
            data = strip_solutions(data.decode("utf-8"), str(path)).encode("utf-8")
        yield relative, data


def _utf8(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise NotebookError(f"{path}:{line}: not UTF-8 ({exc.reason}); save it as UTF-8.") from exc


def _is_text(data: bytes) -> bool:
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def expected_labs(solutions: Path) -> dict[Path, bytes]:
    """Everything labs/ should contain, keyed by path relative to labs/."""
    expected: dict[Path, bytes] = {}
    for solution_lab in sorted(p for p in solutions.iterdir() if p.is_dir()):
        for relative, data in learner_files(solution_lab):
            expected[solution_lab.name / relative] = data
    return expected


def current_labs(labs: Path) -> dict[Path, bytes]:
    if not labs.is_dir():
        return {}
    return {
        path.relative_to(labs): path.read_bytes()
        for path in sorted(labs.rglob("*"))
        if path.is_file() and not SKIPPED_PARTS.intersection(path.relative_to(labs).parts)
    }


def stale(solutions: Path, labs: Path) -> list[str]:
    """Paths under labs/ that are missing, extra or different from what generation gives."""
    expected, current = expected_labs(solutions), current_labs(labs)
    return sorted(str(path) for path in expected.keys() | current.keys() if expected.get(path) != current.get(path))


def generate(solutions: Path, labs: Path) -> int:
    """Rewrite labs/ from solutions/; returns the number of files written."""
    expected = expected_labs(solutions)
    for lab_dir in (p for p in labs.iterdir() if p.is_dir()) if labs.is_dir() else ():
        _remove_generated(lab_dir)
    for relative, data in expected.items():
        target = labs / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        shutil.copymode(solutions / relative, target)
    return len(expected)


def _remove_generated(lab_dir: Path) -> None:
    """Remove a generated lab folder but keep a learner's build output (bin/, obj/)."""
    for path in sorted(lab_dir.rglob("*"), reverse=True):
        if SKIPPED_PARTS.intersection(path.relative_to(lab_dir).parts):
            continue
        if path.is_file() or path.is_symlink():
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if not any(lab_dir.iterdir()):
        lab_dir.rmdir()


def solution_leaks(labs: Path) -> list[str]:
    """Files under labs/ that still carry a solution marker."""
    return sorted(
        str(path.relative_to(labs))
        for path, data in ((labs / rel, data) for rel, data in current_labs(labs).items())
        if _is_text(data) and _MARKER.search(data.decode("utf-8"))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labkit generate",
        description="Write the time estimates into the solution notebooks, then regenerate labs/ "
        "(learner notebooks and files) from solutions/.",
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: .)")
    parser.add_argument(
        "--check", action="store_true", help="only report whether the estimates or labs/ are stale; exit 1 if so"
    )
    args = parser.parse_args(argv)
    solutions, labs = args.root / "solutions", args.root / "labs"
    if not solutions.is_dir():
        print(f"No solutions/ folder under {args.root}: run this from the course repository.", file=sys.stderr)
        return 2
    if args.check:
        differing = [f"{nb.relative_to(args.root)}: its time estimates" for nb in estimates.unstamped(args.root)]
        differing += [f"labs/{path}" for path in stale(solutions, labs)]
        for what in differing:
            print(f"stale: {what}")
        if differing:
            print("labs/ or the estimates are out of date: run `python -m labkit generate`.", file=sys.stderr)
        return 1 if differing else 0
    for notebook in estimates.write(args.root):
        print(f"Wrote the time estimates into {notebook.relative_to(args.root)}.")
    written = generate(solutions, labs)
    print(f"Wrote {written} files to {labs}.")
    return 0
