"""Every TODO of every learner notebook is caught: left as generated, a check fails with a hint.

One kernel per lab walks the solution cells in order, in a scratch copy of the lab folder. At
each cell that holds a TODO in labs/, it first runs the learner's version of that cell and the
cells after it up to and including the next check, and expects a labkit error (CheckFailed,
CommandFailed, ...): a NameError, a SyntaxError or no error at all means the TODO can be left
empty unnoticed. Then it runs the solution's version of the same cells and goes on.

A file with TODOs (a Dockerfile, a project file) gets a run of its own: the solution's cells with
that one file as labs/ has it, which a labkit error must stop.
"""

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import KernelManager

import labkit.checks
import labkit.containers
import labkit.image_info
import labkit.web
from labkit import cleanup, names
from labkit.docker_access import client
from labkit.errors import LabError

ROOT = Path(__file__).resolve().parents[2]
LAB_ID = "todo-coverage"  # the lab id every lab runs under here: what it creates carries this label
LAB_IDS = sorted(path.name for path in (ROOT / "labs").iterdir() if (path / "lab.ipynb").is_file())
CELL_TIMEOUT = 900
TODO = re.compile(r"^\s*# TODO:", re.MULTILINE)
FILE_TODO = re.compile(r"^\s*(#|//|<!--) TODO:", re.MULTILINE)
CHECK = re.compile(r"\bchecks\.\w+\(")
DEFINES = re.compile(r"^def ", re.MULTILINE)
# The commands run() recorded in the kernel (what checks.ran reads): forget the learner window's.
MARK_COMMANDS = "import labkit.shell as _shell; _commands_before = len(_shell.RAN)"
FORGET_COMMANDS = "del _shell.RAN[_commands_before:]"
_LABKIT_MODULES = (labkit.checks, labkit.containers, labkit.image_info, labkit.web)  # their errors count


def _subclasses(cls: type) -> set[str]:
    subclasses: list[type] = cls.__subclasses__()
    return {cls.__name__} | {name for sub in subclasses for name in _subclasses(sub)}


LAB_ERRORS = _subclasses(LabError)


class Kernel:
    """A Python kernel running in `cwd`; `execute` returns the error's class name, or None."""

    def __init__(self, cwd: Path) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(cwd), env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.last_output: list[str] = []

    def execute(self, source: str) -> tuple[str, str] | None:
        self.last_output = []
        reply = self.client.execute_interactive(
            source, timeout=CELL_TIMEOUT, output_hook=self._keep, store_history=False
        )
        content = reply["content"]
        return (content["ename"], content["evalue"]) if content["status"] == "error" else None

    def _keep(self, message: dict[str, Any]) -> None:
        content = message["content"]
        self.last_output.append(str(content.get("text") or content.get("evalue") or content.get("data", "")))

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _code_sources(notebook: Path) -> list[str]:
    """The sources of all cells (markdown as ""), so that indices match between labs/ and solutions/."""
    return [cell.source if cell.cell_type == "code" else "" for cell in nbformat.read(notebook, as_version=4).cells]


def _check_cell_after(learner: list[str], index: int) -> int | None:
    """The first cell after `index` that runs a check (else the TODO cell itself, when it checks);
    a cell that defines a function for a later check does not count."""
    after = (i for i in range(index + 1, len(learner)) if CHECK.search(learner[i]) and not DEFINES.search(learner[i]))
    return next(after, index if CHECK.search(learner[index]) else None)


@pytest.fixture
def lab_folder(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    lab_id: str = request.param
    yield lab_id, tmp_path
    cleanup.remove_if_reachable(LAB_ID)


def _copy_lab(lab_id: str, folder: Path, learner_file: Path | None = None) -> Path:
    """The solution's lab folder in `folder`, under the test's lab id (e.g. the image name and label
    in lab 8's project); with `learner_file` (relative) as labs/ has it, TODOs and all."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "solutions" / lab_id, folder, ignore=shutil.ignore_patterns("bin", "obj", "lab.ipynb"))
    if learner_file is not None:
        shutil.copyfile(ROOT / "labs" / lab_id / learner_file, folder / learner_file)
    for path in (p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text("utf-8")
        if lab_id in text:
            path.write_text(text.replace(lab_id, LAB_ID), "utf-8")
    return folder


def _learner_files(lab_id: str) -> list[Path]:
    """The files besides the notebook in which labs/ has TODOs (Dockerfiles, projects, code)."""
    lab = ROOT / "labs" / lab_id
    return sorted(
        path.relative_to(lab)
        for path in lab.rglob("*")
        if path.is_file() and path.name != "lab.ipynb" and FILE_TODO.search(path.read_text("utf-8", "replace"))
    )


def _solution(lab_id: str) -> list[str]:
    sources = _code_sources(ROOT / "solutions" / lab_id / "lab.ipynb")
    return [source.replace(f'Lab("{lab_id}")', f'Lab("{LAB_ID}")') for source in sources]


def walk_file(lab_id: str, folder: Path, learner_file: Path, say: Callable[[str], None]) -> str | None:
    """Run the solution's cells with `learner_file` left as generated: a labkit error must stop them."""
    solution = _solution(lab_id)
    kernel = Kernel(_copy_lab(lab_id, folder, learner_file))
    error, stopped = None, len(solution)
    try:
        for index, source in enumerate(solution):
            error = kernel.execute(source) if source else None
            if error is not None:
                stopped = index
                break
    finally:
        kernel.stop()
        cleanup.remove_if_reachable(LAB_ID)
    verdict = _verdict(error)
    say(f"  {learner_file} (stopped at cell {stopped}): {verdict}")
    return None if verdict.startswith("caught") else f"{learner_file}: {verdict}"


def walk(lab_id: str, folder: Path, say: Callable[[str], None]) -> tuple[int, list[str]]:
    """Run the lab as described above; returns the number of TODO cells and what went unproven."""
    solution = _solution(lab_id)
    folder = _copy_lab(lab_id, folder)
    learner = _code_sources(ROOT / "labs" / lab_id / "lab.ipynb")
    todos = [i for i, source in enumerate(learner) if TODO.search(source)]
    unproven: list[str] = []
    kernel = Kernel(folder)
    try:
        done = 0
        for index, next_todo in zip(todos, [*todos[1:], len(solution)], strict=True):
            _run_solution(kernel, solution, range(done, index))
            last = _check_cell_after(learner, index)
            if last is None:
                unproven.append(f"cell {index}: no check after it")
                last = index
            else:
                verdict = _learner_window(kernel, [learner[index], *solution[index + 1 : last + 1]])
                say(f"  cell {index} (check in cell {last}): {verdict}")
                if not verdict.startswith("caught"):
                    unproven.append(f"cell {index}: {verdict}")
            done = min(last + 1, next_todo)  # the next TODO's own window runs the cells after it
            _run_solution(kernel, solution, range(index, done))
        _run_solution(kernel, solution, range(done, len(solution)))
    finally:
        kernel.stop()
    return len(todos), unproven


def _containers_and_networks() -> set[tuple[str, str]]:
    labelled = {"label": f"{names.LABEL_KEY}={LAB_ID}"}
    docker = client()
    return {("container", c.id) for c in docker.containers.list(all=True, filters=labelled)} | {
        ("network", n.id) for n in docker.networks.list(filters=labelled)
    }


def _remove_new(before: set[tuple[str, str]]) -> None:
    """Containers first: a network goes only once nothing is attached to it."""
    for kind, resource_id in sorted(_containers_and_networks() - before):
        if kind == "container":
            client().api.remove_container(resource_id, force=True, v=True)
        else:
            client().api.remove_network(resource_id)


def _learner_window(kernel: Kernel, sources: list[str]) -> str:
    """Run the learner's cell and the cells up to its check, then undo what would stop the
    solution's cells from running again: the containers and networks they made, the commands they ran."""
    before = _containers_and_networks()
    kernel.execute(MARK_COMMANDS)
    verdict = _verdict(_first_error(kernel, sources))
    kernel.execute(FORGET_COMMANDS)
    _remove_new(before)
    return verdict


def _first_error(kernel: Kernel, sources: list[str]) -> tuple[str, str] | None:
    for source in sources:
        error = kernel.execute(source)
        if error is not None:
            return error
    return None


def _verdict(error: tuple[str, str] | None) -> str:
    if error is None:
        return "NOT caught: every cell up to the check passed"
    name, value = error
    first_line = value.strip().splitlines()[0] if value.strip() else ""
    if name in LAB_ERRORS:
        return f"caught by {name}: {first_line[:110]}"
    return f"NOT caught: {name} instead of a labkit error ({first_line[:110]})"


def _run_solution(kernel: Kernel, solution: list[str], indices: range) -> None:
    for index in indices:
        if solution[index]:
            error = kernel.execute(solution[index])
            assert error is None, f"solution cell {index} failed: {error}\n{''.join(kernel.last_output)[-2000:]}"


@pytest.mark.docker
@pytest.mark.offline_world
@pytest.mark.parametrize("lab_folder", LAB_IDS, indirect=True)
def test_every_todo_left_empty_fails_a_check(lab_folder: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    lab_id, folder = lab_folder
    lines: list[str] = []
    count, unproven = walk(lab_id, folder / "notebook", lines.append)
    files = _learner_files(lab_id)
    unproven += [found for file in files if (found := walk_file(lab_id, folder / "file", file, lines.append))]
    with capsys.disabled():
        total = count + len(files)
        print(f"\n{lab_id}: {count} TODO cells and {len(files)} files with TODOs, {total - len(unproven)} proven")
        print("\n".join(lines))
    assert not unproven, f"{lab_id}: TODOs no check catches:\n" + "\n".join(unproven)
