"""Every TODO of every learner notebook is caught: left as generated, the step's own check fails with its hint.

One kernel per lab walks the solution cells in order, in a scratch copy of the lab folder. At
each cell that holds a TODO in labs/, it first runs the learner's version of that cell and the
cells after it up to and including the next check, and expects that check to fail: CheckFailed,
raised by a cell that runs a check. Then it runs the solution's version of the same cells and
goes on.

A file with TODOs (a Dockerfile, a project file) gets a run of its own: the solution's cells with
that one file as labs/ has it, which a failing check must stop.

Each of these runs is a case of the test, under a lab id of its own: under `-n` the runs of one
lab go side by side on the workers, and the longest (lab 14's, with three .NET publishes each)
does not hold one worker for the length of all of them.

Any other outcome (a NameError, a command that fails, no error at all) fails the test, unless
OTHER_ERRORS names that error for that TODO and says why it is the right answer (a Dockerfile left
with its TODOs stops `docker build`, not a check); the TODO's own check failing first is fine too.
An entry that no TODO of the run matches fails the test, so the table cannot outlive its TODOs.
"""

import os
import re
import shutil
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import nbformat
import pytest

import labkit.checks
import labkit.containers
import labkit.engine.image_info
import labkit.web
from labkit import Lab, names
from labkit.docker_access import client
from labkit.engine import cleanup
from labkit.errors import LabError
from tests.helpers import ROOT, copy_solution
from tests.kernels import SocketKernelManager


class Expected(NamedTuple):
    """What stops a TODO's run instead of a failing check, and why that is the right answer."""

    error: str  # the class name of the error
    reason: str


HOST_PORT = "the cell reads the port Docker picked for the container the TODO starts; ContainerGone says to start it"
# Keyed by lab id and the start of the TODO's first line (a notebook cell) or the file's path.
OTHER_ERRORS: dict[tuple[str, str], Expected] = {
    ("01-containers", "with run(...), start the SDK image"): Expected(
        "CommandFailed", "the next cell's `dotnet run` finds no project in HELLO, and says so"
    ),
    ("01-containers", "start a container named WRITER"): Expected(
        "CommandFailed", "`docker diff WRITER`, the step's next command, says there is no such container"
    ),
    ("01-containers", "run the app again (the same {APP}) as a container named LIMITED"): Expected(
        "CheckFailed", "the table of both runs reads LIMITED through checks.container, whose hint says to start it"
    ),
    ("03-dockerfiles", "run API detached as a container named WEB"): Expected("ContainerGone", HOST_PORT),
    ("03-dockerfiles", "Dockerfile"): Expected("CommandFailed", "`docker build` stops at the Dockerfile's TODOs"),
    ("04-dev-vs-prod", "run PROD detached as a container named WEB"): Expected("ContainerGone", HOST_PORT),
    ("04-dev-vs-prod", "with run(..., expect_detached=True), run `dotnet watch"): Expected("ContainerGone", HOST_PORT),
    ("05-registries", "run REGISTRY_IMAGE detached"): Expected("ContainerGone", HOST_PORT),
    ("07-hardening", "run APP detached, named NAME"): Expected("ContainerGone", HOST_PORT),
    ("07-hardening", "run APP like LIMITED (named HALF"): Expected("ContainerGone", HOST_PORT),
    ("07-hardening", "api/Program.cs"): Expected(
        "CommandFailed", "the compiler stops `docker build` at both TODOs: an argument missing, `number` undefined"
    ),
    ("08-publish-container", "run REGISTRY_IMAGE detached"): Expected("ContainerGone", HOST_PORT),
    ("08-publish-container", "`docker pull` APP_SDK, then run it detached"): Expected("ContainerGone", HOST_PORT),
    ("09-multi-container", "compose.yaml"): Expected(
        "CommandFailed", "`up --wait` fails as api exits: without ConnectionStrings__Items, its log says to set it"
    ),
    ("10-data-volumes", "app/Dockerfile"): Expected(
        "CommandFailed", "the app user's write to the new volume is denied: the symptom Step 4 explains"
    ),
    ("11-ship-it", "Dockerfile"): Expected(
        "CommandFailed", "bake's test target builds the stage `test`, which the TODO leaves out: the build says so"
    ),
    ("11-ship-it", "docker-bake.hcl"): Expected(
        "CommandFailed", "`docker buildx bake --print image`, Step 4's first command, says there is no target image"
    ),
    ("11-ship-it", "sign PINNED with cosign.key"): Expected(
        "CommandFailed", "`cosign verify`, the step's next command, finds no signature and says so"
    ),
    ("12-https-secrets", "run FEED_IMAGE detached as FEED"): Expected("ContainerGone", HOST_PORT),
    ("12-https-secrets", "run APP detached as WEB"): Expected("ContainerGone", HOST_PORT),
    ("12-https-secrets", "Dockerfile"): Expected(
        "CommandFailed", "`docker build` stops: without the restore, `dotnet publish --no-restore` finds no assets file"
    ),
    ("13-diagnose", "tools/Dockerfile"): Expected(
        "CommandFailed", "`docker build` stops at `COPY --from=tools /tools`: the tools stage installed nothing there"
    ),
    ("14-aot", "Dockerfile"): Expected(
        "CommandFailed", "`docker build --target trimmed` stops: the Dockerfile has no trimmed stage yet"
    ),
    ("14-aot", 'with publish("aot", ...)'): Expected(
        "CheckFailed", "serve('aot'), the same cell's next line, checks that the image exists and says to build it"
    ),
}

LAB_IDS = sorted(path.name for path in (ROOT / "labs").iterdir() if (path / "lab.ipynb").is_file())
CELL_TIMEOUT = 900


TODO = re.compile(r"^\s*# TODO: *(.*)$", re.MULTILINE)
FILE_TODO = re.compile(r"^\s*(#|//|<!--) TODO:", re.MULTILINE)
CHECK = re.compile(r"\bchecks\.\w+\(")
DEFINES = re.compile(r"^def ", re.MULTILINE)
CHECK_FAILED = "CheckFailed"
# The commands run() recorded in the kernel (what checks.ran reads): forget the learner window's.
MARK_COMMANDS = "import labkit.shell as _shell; _commands_before = _shell.mark()"
FORGET_COMMANDS = "_shell.forget(after=_commands_before)"
# Their errors are in LAB_ERRORS.
_LABKIT_MODULES = (labkit.checks, labkit.containers, labkit.engine.image_info, labkit.web)


def _subclasses(cls: type) -> set[str]:
    subclasses: list[type] = cls.__subclasses__()
    return {cls.__name__} | {name for sub in subclasses for name in _subclasses(sub)}


LAB_ERRORS = _subclasses(LabError)


class Stop(NamedTuple):
    """Where one TODO's run stopped: the error (class name, message), if any, and whether a check cell raised it."""

    key: str  # the TODO's first line, or the file's path: what OTHER_ERRORS is keyed by
    where: str  # for the report: the cell and its check, or the cell the file's run stopped at
    error: tuple[str, str] | None
    in_check: bool
    seconds: float  # how long the run took until it stopped: a slow check shows up in the report


class Kernel:
    """A Python kernel running in `cwd`; `execute` returns the error's class name and message, or None."""

    def __init__(self, cwd: Path) -> None:
        self.manager = SocketKernelManager(kernel_name="python3")
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


def _is_check(source: str) -> bool:
    """The cell runs a check (a cell that only defines a function for a later check does not)."""
    return bool(CHECK.search(source)) and not DEFINES.search(source)


def _check_cell_after(learner: list[str], index: int) -> int | None:
    """The first cell after `index` that runs a check (else the TODO cell itself, when it checks)."""
    after = (i for i in range(index + 1, len(learner)) if _is_check(learner[i]))
    return next(after, index if _is_check(learner[index]) else None)


def _todo_line(source: str) -> str:
    """The text of the cell's first TODO line: what names the TODO in OTHER_ERRORS and in the report."""
    found = TODO.search(source)
    return found.group(1).strip() if found else ""


class Case(NamedTuple):
    """One run of a lab: its notebook's TODO cells (`file` None), or one file with TODOs."""

    lab_id: str
    file: Path | None = None

    @property
    def run_id(self) -> str:
        """The lab id the run goes under, its own (what it creates carries it as its label): the
        runs of one lab, and of two labs, go side by side on the workers."""
        file = "" if self.file is None else "-" + re.sub(r"[^a-z0-9]+", "-", str(self.file).lower()).strip("-")
        return f"todo-{self.lab_id}{file}"

    @property
    def id(self) -> str:
        return self.lab_id if self.file is None else f"{self.lab_id}:{self.file}"


@pytest.fixture
def todo_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Case, Path]]:
    """Also before the run: an image an interrupted earlier run left under the case's id (a CI machine
    keeps the containerd store's images between runs) would pass the check of a TODO left empty."""
    case: Case = request.param
    _remove_run(case)
    yield case, tmp_path
    _remove_run(case)


def _remove_run(case: Case) -> None:
    cleanup.remove_if_reachable(case.run_id)
    Lab(case.run_id).remove_folders()  # a file's run stops before the lab's own cleanup cell


def _copy_lab(case: Case, folder: Path) -> Path:
    """The solution's lab folder in `folder`, under the case's lab id (e.g. the image name and label
    in lab 8's project); with the case's file (if any) as labs/ has it, TODOs and all."""
    shutil.rmtree(folder, ignore_errors=True)
    copy_solution(case.lab_id, folder, "bin", "obj", "lab.ipynb")
    if case.file is not None:
        shutil.copyfile(ROOT / "labs" / case.lab_id / case.file, folder / case.file)
    for path in (p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text("utf-8")
        if case.lab_id in text:
            path.write_text(text.replace(case.lab_id, case.run_id), "utf-8")
    return folder


def _learner_files(lab_id: str) -> list[Path]:
    """The files besides the notebook in which labs/ has TODOs (Dockerfiles, projects, code)."""
    lab = ROOT / "labs" / lab_id
    return sorted(
        path.relative_to(lab)
        for path in lab.rglob("*")
        if path.is_file() and path.name != "lab.ipynb" and FILE_TODO.search(path.read_text("utf-8", "replace"))
    )


def _learner_todos(lab_id: str) -> list[str]:
    """What OTHER_ERRORS may key a TODO of the lab by: each TODO cell's first TODO line, each file's path."""
    cells = [_todo_line(source) for source in _code_sources(ROOT / "labs" / lab_id / "lab.ipynb")]
    return [line for line in cells if line] + [str(path) for path in _learner_files(lab_id)]


CASES = [Case(lab_id) for lab_id in LAB_IDS] + [
    Case(lab_id, file) for lab_id in LAB_IDS for file in _learner_files(lab_id)
]


def _solution(case: Case) -> list[str]:
    sources = _code_sources(ROOT / "solutions" / case.lab_id / "lab.ipynb")
    return [source.replace(f'Lab("{case.lab_id}")', f'Lab("{case.run_id}")') for source in sources]


def walk_file(case: Case, folder: Path) -> Stop:
    """Run the solution's cells with the case's file left as generated, up to the first error."""
    solution = _solution(case)
    kernel = Kernel(_copy_lab(case, folder))
    error, stopped, started = None, len(solution), time.monotonic()
    try:
        for index, source in enumerate(solution):
            error = kernel.execute(source) if source else None
            if error is not None:
                stopped = index
                break
    finally:
        kernel.stop()
        cleanup.remove_if_reachable(case.run_id)
    in_check = error is not None and _is_check(solution[stopped])
    seconds = time.monotonic() - started
    return Stop(str(case.file), f"file, stopped at cell {stopped}", error, in_check, seconds)


def walk(case: Case, folder: Path) -> list[Stop]:
    """Run the lab as described above; returns where each TODO cell's window stopped."""
    solution = _solution(case)
    folder = _copy_lab(case, folder)
    learner = _code_sources(ROOT / "labs" / case.lab_id / "lab.ipynb")
    todos = [i for i, source in enumerate(learner) if TODO.search(source)]
    stops: list[Stop] = []
    kernel = Kernel(folder)
    try:
        done = 0
        for index, next_todo in zip(todos, [*todos[1:], len(solution)], strict=True):
            _run_solution(kernel, solution, range(done, index))
            last = _check_cell_after(learner, index)
            stops.append(_learner_window(kernel, case.run_id, (learner, solution), index, last))
            done = min((index if last is None else last) + 1, next_todo)  # the next TODO's window runs its cells
            _run_solution(kernel, solution, range(index, done))
        _run_solution(kernel, solution, range(done, len(solution)))
    finally:
        kernel.stop()
    return stops


def _containers_and_networks(label: str) -> set[tuple[str, str]]:
    labelled = {"label": f"{names.LABEL_KEY}={label}"}
    docker = client()
    return {("container", c.id) for c in docker.containers.list(all=True, filters=labelled)} | {
        ("network", n.id) for n in docker.networks.list(filters=labelled)
    }


def _remove_new(label: str, before: set[tuple[str, str]]) -> None:
    """Containers first: a network goes only once nothing is attached to it."""
    for kind, resource_id in sorted(_containers_and_networks(label) - before):
        if kind == "container":
            client().api.remove_container(resource_id, force=True, v=True)
        else:
            client().api.remove_network(resource_id)


def _learner_window(
    kernel: Kernel, label: str, cells: tuple[list[str], list[str]], index: int, last: int | None
) -> Stop:
    """Run the learner's cell `index` and the solution's cells up to its check `last`, then undo what
    would stop the solution's cells from running again: the containers and networks they made, the
    commands they ran. `cells`: the learner's and the solution's."""
    learner, solution = cells
    sources = [learner[index], *solution[index + 1 : (index if last is None else last) + 1]]
    before = _containers_and_networks(label)
    kernel.execute(MARK_COMMANDS)
    started = time.monotonic()
    failed, error = _first_error(kernel, sources)
    seconds = time.monotonic() - started
    kernel.execute(FORGET_COMMANDS)
    _remove_new(label, before)
    where = f"cell {index}, {'no check after it' if last is None else f'check in cell {last}'}"
    caught_by_check = error is not None and _is_check(sources[failed])
    return Stop(_todo_line(learner[index]), where, error, caught_by_check, seconds)


def _first_error(kernel: Kernel, sources: list[str]) -> tuple[int, tuple[str, str] | None]:
    """The first of `sources` that fails, and its error (else the count of sources, and None)."""
    for position, source in enumerate(sources):
        error = kernel.execute(source)
        if error is not None:
            return position, error
    return len(sources), None


def _entry(lab_id: str, key: str) -> tuple[str, str] | None:
    """The OTHER_ERRORS entry for this TODO, if any."""
    return next((entry for entry in OTHER_ERRORS if entry[0] == lab_id and key.startswith(entry[1])), None)


def _verdict(stop: Stop, expected: Expected | None) -> tuple[str, str]:
    """How the TODO was caught ("check", "listed") or "missed", and a line saying what happened."""
    if stop.error is None:
        return "missed", "NOT caught: every cell up to the check passed"
    name, value = stop.error
    said = f"{name}: {value.strip().splitlines()[0][:110] if value.strip() else ''}"
    if name == CHECK_FAILED and stop.in_check:
        return "check", f"caught by its check ({said})"
    if expected is not None and expected.error == name:
        return "listed", f"caught as listed, because {expected.reason} ({said})"
    listed = f"; OTHER_ERRORS expects {expected.error}" if expected else " and OTHER_ERRORS lists no other error"
    outside = " outside a check cell" if name == CHECK_FAILED else ""
    return "missed", f"NOT caught: {said}{outside}, not a failing check{listed}"


def _judge(lab_id: str, stops: list[Stop], say: Callable[[str], None]) -> tuple[Counter[str], list[str]]:
    """Report each TODO's verdict; return how many were caught how, and what fails the test: TODOs not
    caught, OTHER_ERRORS entries of the run's TODOs that no TODO used."""
    hows: Counter[str] = Counter()
    problems: list[str] = []
    used: set[tuple[str, str]] = set()
    for stop in stops:
        entry = _entry(lab_id, stop.key)
        how, verdict = _verdict(stop, OTHER_ERRORS[entry] if entry else None)
        hows[how] += 1
        said = f"{stop.key[:60]!r} ({stop.where}, {stop.seconds:.0f} s): {verdict}"
        say(f"  {said}")
        if how == "missed":  # with the whole error: a maintainer reads the cause in the CI log
            problems.append(said if stop.error is None else f"{said}\n{textwrap.indent(stop.error[1], '      ')}")
        if entry:
            used.add(entry)
    keys = [stop.key for stop in stops]
    ours = (entry for entry in OTHER_ERRORS if entry[0] == lab_id and any(key.startswith(entry[1]) for key in keys))
    for entry in sorted(ours):
        # Caught by its own check instead is fine: a race may decide which comes first (lab 9's
        # `up --wait` fails, or the healthcheck check does); a miss is reported above already.
        if entry not in used:
            problems.append(f"stale OTHER_ERRORS entry {entry}: no TODO of the lab starts so")
    return hows, problems


def _run_solution(kernel: Kernel, solution: list[str], indices: range) -> None:
    for index in indices:
        if solution[index]:
            error = kernel.execute(solution[index])
            assert error is None, f"solution cell {index} failed: {error}\n{''.join(kernel.last_output)[-2000:]}"


def test_other_errors_name_one_todo_each_and_a_labkit_error() -> None:
    for (lab_id, key), expected in OTHER_ERRORS.items():
        matches = [todo for todo in _learner_todos(lab_id) if todo.startswith(key)] if lab_id in LAB_IDS else []
        assert len(matches) == 1, f"OTHER_ERRORS[{lab_id!r}, {key!r}] names {len(matches)} TODOs, not one"
        assert expected.error in LAB_ERRORS, f"OTHER_ERRORS[{lab_id!r}, {key!r}]: {expected.error} is no labkit error"


@pytest.mark.docker
@pytest.mark.offline_world
@pytest.mark.parametrize("todo_case", CASES, ids=[case.id for case in CASES], indirect=True)
def test_every_todo_left_empty_fails_a_check(todo_case: tuple[Case, Path], capsys: pytest.CaptureFixture[str]) -> None:
    case, folder = todo_case
    stops = walk(case, folder) if case.file is None else [walk_file(case, folder)]
    lines: list[str] = []
    hows, problems = _judge(case.lab_id, stops, lines.append)
    with capsys.disabled():
        print(
            f"\n{case.id}: {len(stops)} TODO cells or files: {hows['check']} caught by their check, "
            f"{hows['listed']} by the error OTHER_ERRORS lists, {hows['missed']} not caught"
        )
        print("\n".join(lines))
    assert not problems, f"{case.id}: TODOs no check catches, or stale OTHER_ERRORS entries:\n" + "\n".join(problems)
