"""The bad-input table: every entry point answers every bad input with one line, never a traceback.

Entry points: `python -m labkit <command>` and `python benchmarks/bench.py` (as subprocesses, as
a learner runs them) and the notebook hook (an IPython shell in this process, as in Jupyter).
Each row asserts: exactly one ✘ line (in a notebook: the one-line error the hook shows), a
non-zero exit status (in a notebook: the cell failed), no "Traceback", and that what the learner
had before is still there (their files, and containers that are not this course's to remove).
"""

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
from IPython.core.interactiveshell import InteractiveShell

from labkit import names, notebook
from labkit.docker_access import client
from labkit.engine import store
from labkit.tools import cli, doctor
from tests.helpers import ROOT, TEST_LAB, Made, catalog_file, exists

DIGEST = "sha256:" + "0123456789abcdef" * 4
BROKEN_TOML = '[dotnet]\ntag = "10.0"\n[images.sdk\nref = "mcr.microsoft.com/dotnet/sdk:10.0"\n'
NO_REF_TOML = '[dotnet]\ntag = "10.0"\n\n[images.sdk]\nrole = "build"\n'
OFFICIAL = ("sdk", "aspnet", "runtime", "runtime-deps")
ARITHMETIC_DOCKERFILE = """\
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
RUN echo $((1 << 3))
COPY . .
RUN dotnet restore
"""


@dataclass
class Outcome:
    status: int
    output: str  # everything the entry point printed
    message: list[str] = field(default_factory=list)  # its error: the ✘ lines, or what the notebook hook showed


@dataclass
class World:
    """What a row may use: a temp folder, a catalog file, a dead Docker socket, and what the learner had."""

    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    keep: dict[Path, bytes] = field(default_factory=dict)  # the learner's files: the same bytes afterwards

    def write(self, path: Path, content: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        self.keep[path] = content
        return path

    def catalog(self, text: str) -> None:
        self.env["LABKIT_CATALOG"] = str(self.write(self.tmp / "images.toml", text.encode()))

    def catalog_of(self, refs: dict[str, str]) -> None:
        self.env["LABKIT_CATALOG"] = str(catalog_file(self.tmp, refs))

    def docker_down(self) -> None:
        self.env["DOCKER_HOST"] = f"unix://{self.tmp}/no-engine.sock"


def absent_ref(tag: str = "1") -> str:
    """An image on a registry that does not answer (a loopback port nothing listens on)."""
    return f"{names.LOOPBACK}:{names.free_port()}/labkit-tests/absent:{tag}"


# --- the three entry points ---


def labkit(world: World, *args: str) -> Outcome:
    return _subprocess(world, sys.executable, "-m", "labkit", *args)


def bench(world: World) -> Outcome:
    return _subprocess(world, sys.executable, "benchmarks/bench.py")


def _subprocess(world: World, *command: str) -> Outcome:
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **world.env}, capture_output=True, text=True, timeout=300, check=False
    )
    output = done.stdout + done.stderr
    return Outcome(done.returncode, output, [line for line in output.splitlines() if "✘" in line])


class RecordingShell(InteractiveShell):
    """IPython's shell, keeping what it would display as an error (what Jupyter shows under the cell)."""

    shown: list[str]

    def _showtraceback(self, etype: Any, evalue: Any, stb: list[str]) -> None:
        self.shown.extend(stb)


def in_notebook(world: World, code: str) -> Outcome:
    """Run `code` as one cell of an IPython shell with labkit's hook installed."""
    shell = RecordingShell.instance()
    notebook.install(shell)
    shell.shown = []
    printed = io.StringIO()
    with _environment(world.env), contextlib.redirect_stdout(printed):
        result = shell.run_cell(code, store_history=False)  # type: ignore[no-untyped-call]
    text = "\n".join(shell.shown)
    message = [line for line in text.splitlines() if line.strip()]
    return Outcome(0 if result.success else 1, printed.getvalue() + text, message)


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    client.cache_clear()  # the engine is looked up once per process: look again with this environment
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        client.cache_clear()


def in_process(world: World, main: Callable[[], int], capsys: pytest.CaptureFixture[str]) -> Outcome:
    with _environment(world.env):
        status = main()
    captured = capsys.readouterr()
    output = captured.out + captured.err
    return Outcome(status, output, [line for line in output.splitlines() if "✘" in line])


# --- the table ---

Row = Callable[[World, Any], Outcome]  # (world, request) -> outcome


def _generate(world: World, content: bytes) -> Outcome:
    world.write(world.tmp / "solutions" / "01-x" / "lab.ipynb", content)
    world.write(world.tmp / "labs" / "01-x" / "lab.ipynb", b"the learner's work\n")
    return labkit(world, "generate", "--root", str(world.tmp))


def _disk_nearly_full(world: World, request: Any) -> Outcome:
    world.catalog_of({"absent": absent_ref()})
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(store, "free_disk", lambda info, used: (500_000_000, "at /var/lib/docker"))
    return in_process(world, lambda: cli.main(["prepull"]), request.getfixturevalue("capsys"))


def _port_taken(world: World, request: Any) -> Outcome:
    busybox: str = request.getfixturevalue("busybox")
    made: Made = request.getfixturevalue("made")
    name = f"{TEST_LAB}-porttaken-{request.getfixturevalue('run_tag')}"
    holder = request.getfixturevalue("port_holder")
    try:
        return in_notebook(
            world,
            f"from labkit import run\nrun('docker run -d --name {name} --label {names.LABEL_KEY}={TEST_LAB} "
            f"-p {names.LOOPBACK}:{holder}:8080 {busybox} sleep 60')",
        )
    finally:
        made.containers += [c.id for c in client().containers.list(all=True, filters={"name": name})]


def _arithmetic_dockerfile(world: World, request: Any) -> Outcome:
    path = world.write(world.tmp / "Dockerfile", ARITHMETIC_DOCKERFILE.encode())
    outcome = in_notebook(world, f"from labkit import checks\nchecks.dockerfile_restores_before_sources({str(path)!r})")
    assert "copies . before `dotnet restore` (line 4)" in outcome.output  # the lines after $((...)) were read
    return outcome


def _cli_missing_catalog_image(world: World, request: Any) -> Outcome:
    world.catalog_of({"absent": absent_ref()})
    return labkit(world, "prepull")


def _bench_missing_images(world: World, request: Any) -> Outcome:
    world.catalog_of({key: absent_ref(key) for key in OFFICIAL})
    return bench(world)


@dataclass(frozen=True)
class Case:
    entry: str
    bad_input: str
    run: Row
    says: str  # what the one line must contain
    docker: bool = False  # needs a Docker engine

    @property
    def id(self) -> str:
        return f"{self.entry}: {self.bad_input}"


def _with(setup: Callable[[World], None], then: Callable[[World], Outcome]) -> Row:
    def row(world: World, request: Any) -> Outcome:
        setup(world)
        return then(world)

    return row


def _broken(world: World) -> None:
    world.catalog(BROKEN_TOML)


def _no_ref(world: World) -> None:
    world.catalog(NO_REF_TOML)


def _cli(*args: str) -> Callable[[World], Outcome]:
    return lambda world: labkit(world, *args)


def _cell(code: str) -> Callable[[World], Outcome]:
    return lambda world: in_notebook(world, code)


def _as_is(then: Callable[[World], Outcome]) -> Row:
    return _with(lambda world: None, then)


def _catalog_of(refs: dict[str, str]) -> Callable[[World], None]:
    return lambda world: world.catalog_of(refs)


NO_ENGINE = World.docker_down
NOT_REACHABLE = "Docker is not reachable"
CATALOG_IMAGE = "from labkit import catalog\ncatalog.image('sdk')"
INSPECT = "from labkit import images\nimages.inspect('{}')"
CASES = [
    Case("labkit tags", "malformed images.toml", _with(_broken, _cli("tags")), "images.toml:3: not valid TOML"),
    Case("labkit prepull", "malformed images.toml", _with(_broken, _cli("prepull")), "images.toml:3: not valid TOML"),
    Case("labkit prepull", "entry without ref", _with(_no_ref, _cli("prepull")), ":4: [images.sdk] has no ref"),
    Case("labkit tags", "entry without ref", _with(_no_ref, _cli("tags")), ":4: [images.sdk] has no ref"),
    Case(
        "labkit generate",
        "broken notebook",
        lambda world, request: _generate(world, b'{"cells": [\n  {"cell_type": '),
        "lab.ipynb:2: not a notebook",
    ),
    Case(
        "labkit generate",
        "non-UTF-8 notebook",
        lambda world, request: _generate(world, b'{"cells": [],\n"x": "caf\xe9"}'),
        "lab.ipynb:2: not UTF-8",
    ),
    Case("labkit doctor", "Docker not running", _with(NO_ENGINE, _cli("doctor")), NOT_REACHABLE),
    Case("labkit prepull", "Docker not running", _with(NO_ENGINE, _cli("prepull")), NOT_REACHABLE),
    Case("labkit clean", "Docker not running", _with(NO_ENGINE, _cli("clean", "--lab", "x")), NOT_REACHABLE),
    Case("labkit prepull", "a missing image", _cli_missing_catalog_image, "cannot reach 127.0.0.1:", docker=True),
    Case("labkit prepull", "disk nearly full", _disk_nearly_full, "Only 0.5 GB free at /var/lib/docker", docker=True),
    Case(
        "labkit tags",
        "image ref with a registry port",
        _with(_catalog_of({"old": "127.0.0.1:9/dotnet/sdk:8.0"}), _cli("tags")),
        "127.0.0.1:9/dotnet/sdk:8.0",
    ),
    Case(
        "labkit prepull",
        "image ref with a digest",
        _with(_catalog_of({"pinned": f"127.0.0.1:9/app@{DIGEST}"}), _cli("prepull")),
        "cannot reach 127.0.0.1:9",
        docker=True,
    ),
    Case("notebook", "malformed images.toml", _with(_broken, _cell(CATALOG_IMAGE)), "CatalogError: "),
    Case("notebook", "entry without ref", _with(_no_ref, _cell(CATALOG_IMAGE)), "[images.sdk] has no ref"),
    Case("notebook", "Docker not running", _with(NO_ENGINE, _cell(INSPECT.format("app:1"))), NOT_REACHABLE),
    Case(
        "notebook",
        "a missing image",
        _as_is(_cell(INSPECT.format(f"{TEST_LAB}/absent:1"))),
        "ImageMissing: There is no image",
        docker=True,
    ),
    Case(
        "notebook",
        "a missing container (docker-py NotFound)",
        _as_is(_cell(f"from labkit.docker_access import client\nclient().containers.get('{TEST_LAB}-absent')")),
        "Docker has no such object (No such container",
        docker=True,
    ),
    Case("notebook", "a port taken", _port_taken, "exited with code 125", docker=True),
    Case("notebook", "Dockerfile with $((...))", _arithmetic_dockerfile, "The check above failed"),
    Case(
        "notebook",
        "image ref with a registry port and a digest",
        _as_is(_cell(f"from labkit import checks\nchecks.tag_supported('localhost:5000/dotnet/sdk:8.0@{DIGEST}')")),
        "The check above failed",
    ),
    Case("bench", "malformed images.toml", _with(_broken, bench), "images.toml:3: not valid TOML"),
    Case("bench", "entry without ref", _with(_no_ref, bench), ":4: [images.sdk] has no ref"),
    Case("bench", "Docker not running", _with(NO_ENGINE, bench), NOT_REACHABLE),
    Case("bench", "a missing image", _bench_missing_images, "Pull these first", docker=True),
]


@pytest.fixture
def port_holder() -> Iterator[int]:
    """A loopback port something of the learner's listens on."""
    import socket

    with socket.socket() as listener:
        listener.bind((names.LOOPBACK, 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.fixture(scope="module")
def learner_had(docker_client: docker.DockerClient, busybox: str, made: Made, run_tag: str) -> dict[str, str]:
    """Containers that are not this course's to remove: one unlabelled, one of another lab."""
    own = docker_client.containers.create(busybox, ["sleep", "1"], name=f"learner-own-bad-input-{run_tag}")
    other = docker_client.containers.create(
        busybox, ["sleep", "1"], name=f"{TEST_LAB}-other-lab-{run_tag}", labels=names.labels(f"{TEST_LAB}-other")
    )
    made.containers += [own.id, other.id]
    return {"own": own.id, "other lab": other.id}


@pytest.mark.parametrize(
    "case", [pytest.param(case, id=case.id, marks=[pytest.mark.docker] if case.docker else []) for case in CASES]
)
def test_bad_input_is_one_line(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    had = request.getfixturevalue("learner_had") if case.docker else {}
    world = World(tmp_path)
    outcome = case.run(world, request)

    assert outcome.status != 0, outcome.output
    assert "Traceback" not in outcome.output
    assert len(outcome.message) == 1, outcome.output
    assert case.says in outcome.message[0], outcome.output
    assert {path: path.read_bytes() for path in world.keep} == world.keep
    for container in had.values():
        assert exists(client(), "container", container)
    print(f"{case.id}: {outcome.message[0]}")  # the table in the test log (`pytest -s`)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.catalog(BROKEN_TOML)
    quiet, loud = labkit(world, "tags"), labkit(world, "--debug", "tags")
    assert "Traceback" not in quiet.output and "Traceback" in loud.output
    assert "tomllib.TOMLDecodeError" in loud.output  # the cause, under the one line's CatalogError
    world.env["LABKIT_DEBUG"] = "1"
    assert "Traceback" in labkit(world, "tags").output


@pytest.mark.parametrize(
    ("setup", "args", "causes"),
    [
        pytest.param(
            NO_ENGINE,
            ("clean", "--lab", "x"),
            ("docker.errors.DockerException: Error while fetching server API version", "FileNotFoundError"),
            id="an engine that is not reachable",
        ),
        pytest.param(
            lambda world: None,
            ("classroom", "join", f"{names.LOOPBACK}:{names.free_port()}", "--expect", "0000-0000-0000-0000"),
            ("requests.exceptions.ConnectionError", "ConnectionRefusedError"),
            id="a registry that does not answer",
        ),
    ],
)
def test_debug_shows_the_cause_under_the_one_line(
    setup: Callable[[World], None], args: tuple[str, ...], causes: tuple[str, ...], tmp_path: Path
) -> None:
    world = World(tmp_path)
    setup(world)
    quiet, loud = labkit(world, *args), labkit(world, "--debug", *args)
    assert quiet.status == loud.status == 2
    assert quiet.output.strip().splitlines() == quiet.message and len(quiet.message) == 1, quiet.output
    assert "Traceback" not in quiet.output
    assert "The above exception was the direct cause of the following exception" in loud.output
    assert all(cause in loud.output for cause in causes), loud.output
    assert loud.output.strip().splitlines()[-1] == quiet.message[0]  # the same one line, last


def test_the_notebook_shows_one_line_of_an_error_that_has_a_cause(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.docker_down()
    code = (
        "from labkit import images\n"
        "try:\n"
        "    images.inspect('app:1')\n"
        "except Exception as error:\n"
        "    caught = error\n"
        "    raise\n"
    )
    outcome = in_notebook(world, code)
    assert outcome.status != 0 and len(outcome.message) == 1 and NOT_REACHABLE in outcome.message[0]
    assert RecordingShell.instance().user_ns["caught"].__cause__ is not None  # the cause is there, not shown


def test_an_unexpected_error_says_how_to_see_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(console: object = None) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(doctor, "main", broken)
    assert cli.main(["doctor"]) == 2
    expected = "✘ labkit: ZeroDivisionError: division by zero (run again with --debug for the traceback)\n"
    assert capsys.readouterr().err == expected


def test_the_notebook_hook_leaves_other_errors_alone(tmp_path: Path) -> None:
    outcome = in_notebook(World(tmp_path), "def f():\n    return 1 / 0\nf()")
    assert outcome.status != 0 and len(outcome.message) > 1 and "ZeroDivisionError" in outcome.output
