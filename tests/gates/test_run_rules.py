"""The rules of a test run itself (conftest.py): CI refuses the skips it does not expect, `--reverse`
keeps a notebook's cells in order, and an engine_wide test runs alone beside a parallel one."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import nbformat
import pytest

import conftest
from conftest import (
    ANONYMOUS_VOLUME_LABEL,
    EXPECTED_SKIPS_ENV,
    SPLIT_BY_CASE,
    longest_first,
    reversed_order,
    take_engine_lock,
)
from labkit.docker_access import client
from tests.helpers import LABELS, ROOT, TEST_LAB
from tests.locks import EDITS_ITS_FOLDER, ENGINE_LOCK_ENV

SKIPS = """\
import pytest

def test_hidden():
    pytest.skip("no engine here")

def test_expected():
    pytest.skip("the world is off [skip: world-off]")
"""


def probe_run(folder: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """pytest on the files in `folder` with this repository's conftest.py as a plugin."""
    environ = {key: value for key, value in os.environ.items() if key not in ("CI", EXPECTED_SKIPS_ENV)}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q", "-rA", *args],
        cwd=folder,
        env={**environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(run: subprocess.Popen[str]) -> str:
    output, _ = run.communicate(timeout=120)
    return output


@pytest.mark.parametrize(
    ("env", "summary"),
    [
        ({}, "2 skipped"),
        ({"CI": "true"}, "2 failed"),
        ({"CI": "true", EXPECTED_SKIPS_ENV: "world-off"}, "1 failed, 1 skipped"),
        ({"CI": "true", EXPECTED_SKIPS_ENV: "not-root"}, "2 failed"),
    ],
)
def test_in_ci_a_skip_fails_unless_the_job_expects_its_kind(tmp_path: Path, env: dict[str, str], summary: str) -> None:
    (tmp_path / "test_skips.py").write_text(SKIPS)
    output = finished(probe_run(tmp_path, **env))
    assert output.strip().splitlines()[-1].startswith(summary), output
    if "failed" in summary:
        assert "skipped in CI, where a skip hides a check: no engine here" in output


def test_reverse_turns_files_and_tests_around_but_not_a_notebooks_cells() -> None:
    def item(path: str, name: str) -> pytest.Item:
        return cast(pytest.Item, SimpleNamespace(path=Path(path), name=name))

    items = [item("a.py", "a1"), item("a.py", "a2"), item("lab.ipynb", "cell 0"), item("lab.ipynb", "cell 1")]
    assert [i.name for i in reversed_order(items)] == ["cell 0", "cell 1", "a2", "a1"]


def test_under_xdist_the_longest_lab_runs_go_first_and_a_notebooks_cells_stay_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conftest, "_measured_lab_seconds", lambda: {"01-a": 10.0, "02-b": 30.0})

    def item(path: str, name: str, case: str | None = None) -> pytest.Item:
        callspec = SimpleNamespace(id=case) if case else None
        return cast(pytest.Item, SimpleNamespace(path=Path(path), nodeid=f"{path}::{name}", callspec=callspec))

    items = [
        item("tests/unit/test_x.py", "test_x"),
        item(SPLIT_BY_CASE[0], "test_todo[01-a]", "01-a"),
        item(SPLIT_BY_CASE[0], "test_todo[01-a:Dockerfile]", "01-a:Dockerfile"),
        item("solutions/01-a/lab.ipynb", "Cell 0"),
        item("solutions/01-a/lab.ipynb", "Cell 1"),
        item("solutions/02-b/lab.ipynb", "Cell 0"),
    ]
    assert [i.nodeid for i in longest_first(items)] == [
        "solutions/02-b/lab.ipynb::Cell 0",  # 30 s
        f"{SPLIT_BY_CASE[0]}::test_todo[01-a]",  # 1.5 x 10 s
        f"{SPLIT_BY_CASE[0]}::test_todo[01-a:Dockerfile]",  # the same lab's run of one file
        "solutions/01-a/lab.ipynb::Cell 0",  # 10 s
        "solutions/01-a/lab.ipynb::Cell 1",
        "tests/unit/test_x.py::test_x",  # not measured: after the labs, in its order
    ]


def test_a_test_that_starts_while_an_engine_wide_one_waits_queues_behind_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else, with three workers, two tests that hold the lock shared in turn could keep it for ever."""
    monkeypatch.setenv(ENGINE_LOCK_ENV, str(tmp_path / "engine.lock"))
    took: list[str] = []

    def take(name: str, exclusive: bool) -> threading.Thread:
        def run() -> None:
            held = take_engine_lock(exclusive)
            took.append(name)
            os.close(held)

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.5)
        return thread

    running = take_engine_lock(False)
    waiting = [take("engine-wide", True), take("later", False)]
    assert took == [], "the engine-wide test waits for the running one, the later test behind it"
    os.close(running)
    for thread in waiting:
        thread.join(timeout=10)
    assert took == ["engine-wide", "later"]


RECORD_WORKER = """\
import os
from pathlib import Path

import pytest

@pytest.mark.parametrize("case", ["a", "b", "c", "d"])
def test_case(case):
    with (Path(__file__).parents[2] / "workers.txt").open("a") as record:
        record.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""


@pytest.mark.parametrize(("path", "workers"), [("tests/labs/one_file.py", 1), (SPLIT_BY_CASE[0], 2)])
def test_under_loadfile_a_files_tests_share_a_worker_unless_its_cases_are_split(
    tmp_path: Path, path: str, workers: int
) -> None:
    """What lets CI run two labs at once: a notebook's cells never split over two workers, while each
    lab's TODO-coverage run (a case of a file in SPLIT_BY_CASE) can go to either. Two idle workers
    each get a unit of work first, so the split cases reach both."""
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_text(RECORD_WORKER)
    output = finished(probe_run(tmp_path, "-n", "2", "--dist", "loadfile", path))
    assert "4 passed" in output, output
    assert len(set((tmp_path / "workers.txt").read_text().split())) == workers, output


ENGINE_WIDE = """\
import time
import pytest

@pytest.mark.docker
@pytest.mark.engine_wide
def test_alone():
    time.sleep(2)
    print("alone", time.monotonic())
"""
BESIDE = """\
import time
import pytest

@pytest.mark.docker
def test_beside():
    print("beside", time.monotonic())
"""


@pytest.mark.docker  # the probe's tests are Docker tests (only those take the lock), which skip without an engine
def test_a_test_started_beside_an_engine_wide_one_waits_until_it_is_done(tmp_path: Path) -> None:
    for name, text in {"alone": ENGINE_WIDE, "beside": BESIDE}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / f"test_{name}.py").write_text(text)
    lock = {ENGINE_LOCK_ENV: str(tmp_path / "engine.lock")}  # not the lock of the run this test is part of
    alone = probe_run(tmp_path / "alone", "-s", "-p", "no:warnings", **lock)
    time.sleep(1.5)  # the engine-wide test holds the lock by now (its session starts in well under a second)
    beside = probe_run(tmp_path / "beside", "-s", "-p", "no:warnings", **lock)
    outputs = finished(alone) + finished(beside)
    ended, started = (float(line.split()[-1]) for line in outputs.splitlines() if line.startswith(("alone", "beside")))
    assert started >= ended, outputs


HOLDS = """\
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.holds("room")]


def record(what):
    with (Path(__file__).parent / "times.txt").open("a") as times:
        times.write(f"{__name__} {what} {time.monotonic()}\\n")


def test_first():
    record("starts")
    time.sleep(1)


def test_second():
    time.sleep(1)
    record("ends")
"""


@pytest.mark.docker  # only Docker tests take the locks (the probe's skip without an engine)
def test_two_files_that_hold_the_same_thing_run_one_after_the_other(tmp_path: Path) -> None:
    """Each from its first test to its last: the classroom test's room stays served between its tests."""
    for name in ("test_a", "test_b"):
        (tmp_path / f"{name}.py").write_text(HOLDS)
    lock = {ENGINE_LOCK_ENV: str(tmp_path / "engine.lock")}
    output = finished(probe_run(tmp_path, "-n", "2", "--dist", "loadfile", "-p", "no:warnings", **lock))
    assert "4 passed" in output, output
    records = [line.split() for line in (tmp_path / "times.txt").read_text().splitlines()]
    times = {(module, what): float(at) for module, what, at in records}
    first, second = sorted(("test_a", "test_b"), key=lambda name: times[name, "starts"])
    assert times[second, "starts"] >= times[first, "ends"], times


RECORD = """\
import time
from pathlib import Path
with Path("{times}").open("a") as times:
    times.write(f"{who} {what} {{time.monotonic()}}\\n")
time.sleep({sleep})
"""


def lab_notebook(folder: Path, cells: list[str]) -> Path:
    """A lab folder whose notebook (lab.ipynb) has these code cells."""
    folder.mkdir(parents=True)
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell) for cell in cells]), folder / "lab.ipynb"
    )
    return folder


CASES = """\
import pytest

@pytest.mark.parametrize("case", ["lab"], ids=["{lab}"])
def test_case(case):
{body}
"""


@pytest.mark.docker  # a probe of the locks of Docker tests, as the others here
def test_a_labs_notebook_and_its_todo_run_never_build_at_once_when_it_reads_the_build_cache(tmp_path: Path) -> None:
    """READS_BUILD_CACHE: Lab 3's notebook and its TODO-coverage run, each whole, one after the other."""
    lab = conftest.READS_BUILD_CACHE[0]
    times = tmp_path / "times.txt"
    lab_notebook(
        tmp_path / "solutions" / lab,
        [RECORD.format(times=times, who="notebook", what=what, sleep=1) for what in ("starts", "ends")],
    )
    body = "".join(
        f"    exec({RECORD.format(times=times, who='todo', what=what, sleep=1)!r})\n" for what in ("starts", "ends")
    )
    (tmp_path / SPLIT_BY_CASE[0]).parent.mkdir(parents=True)
    (tmp_path / SPLIT_BY_CASE[0]).write_text(CASES.format(lab=lab, body=body))
    lock = {ENGINE_LOCK_ENV: str(tmp_path / "engine.lock")}
    output = finished(probe_run(tmp_path, "-n", "2", "--dist", "loadfile", "--nbval-lax", "-p", "no:warnings", **lock))
    assert "3 passed" in output, output
    records = [line.split() for line in times.read_text().splitlines()]
    at = {(who, what): float(when) for who, what, when in records}
    first, second = sorted(("notebook", "todo"), key=lambda who: at[who, "starts"])
    assert at[second, "starts"] >= at[first, "ends"], at


COPIER = """\
import time
from pathlib import Path

import pytest

from tests.locks import solutions_at_rest

TIMES = Path("{times}")


def record(what):
    with TIMES.open("a") as times:
        times.write(f"copier {{what}} {{time.monotonic()}}\\n")


@pytest.mark.docker  # as a test's body does, it waits for the folder holding the engine lock shared
def test_copies():
    deadline = time.monotonic() + 60
    while "notebook starts" not in (TIMES.read_text() if TIMES.exists() else ""):
        assert time.monotonic() < deadline, "the notebook never started"
        time.sleep(0.1)
    record("asks")
    with solutions_at_rest("{lab}"):
        record("copies")
"""


@pytest.mark.docker  # a probe of the locks of Docker tests, as the others here
def test_what_copies_a_lab_folder_waits_while_a_notebook_that_edits_it_runs(tmp_path: Path) -> None:
    """EDITS_ITS_FOLDER: a copy asked for while the notebook runs is taken once its last cell is done."""
    lab = EDITS_ITS_FOLDER[-1]
    times = tmp_path / "times.txt"
    cells = (("starts", 2), ("ends", 0))
    lab_notebook(
        tmp_path / "solutions" / lab,
        [RECORD.format(times=times, who="notebook", what=what, sleep=sleep) for what, sleep in cells],
    )
    (tmp_path / "test_copier.py").write_text(COPIER.format(times=times, lab=lab))
    lock = {ENGINE_LOCK_ENV: str(tmp_path / "engine.lock")}
    output = finished(probe_run(tmp_path, "-n", "2", "--dist", "loadfile", "--nbval-lax", "-p", "no:warnings", **lock))
    assert "3 passed" in output, output
    at = {(who, what): float(when) for who, what, when in (line.split() for line in times.read_text().splitlines())}
    assert at["notebook", "starts"] < at["copier", "asks"] < at["notebook", "ends"] <= at["copier", "copies"], at


EDITS = """\
from pathlib import Path
Path("bin").mkdir()
Path("bin/out.txt").write_text("build output")
Path("Program.cs").write_text(Path("Program.cs").read_text())  # put back as it was: its time has changed
"""


@pytest.mark.docker
def test_a_notebook_that_changes_a_file_of_its_folder_fails_unless_its_lab_is_listed(tmp_path: Path) -> None:
    """Its build output (bin/, obj/) aside: what copies a lab leaves that out."""
    folder = lab_notebook(tmp_path / "solutions" / "01-probe", [EDITS])
    (folder / "Program.cs").write_text("// as it was\n")
    run = probe_run(tmp_path, "--nbval-lax", "-p", "no:warnings", ENGINE_LOCK_ENV=str(tmp_path / "engine.lock"))
    output = finished(run)
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "01-probe's notebook changed Program.cs in its own folder" in output, output


LEAKS = """\
import docker

def test_leaks():
    docker.from_env().volumes.create("{name}", labels={labels})

def test_keeps_nothing():
    pass
"""


@pytest.mark.docker
def test_a_run_that_leaves_an_anonymous_volume_behind_fails(tmp_path: Path) -> None:
    """A volume labelled as Docker labels those a VOLUME line makes, unused: what a container
    removed without `-v` leaves. (It also carries the test lab's label, so this test removes it.)"""
    name = f"{TEST_LAB}-anonymous-{os.getpid()}"
    labels = {**LABELS, ANONYMOUS_VOLUME_LABEL: ""}
    (tmp_path / "test_leaks.py").write_text(LEAKS.format(name=name, labels=labels))
    try:
        run = probe_run(tmp_path)
        output = finished(run)
        assert run.returncode == pytest.ExitCode.TESTS_FAILED, output
        assert "2 passed" in output and f"left 1 anonymous volume(s) behind ({name[:12]})" in output, output
    finally:
        client().volumes.get(name).remove()


KERNEL_TRANSPORT = """\
import json
import ipykernel.connect
info = json.loads(ipykernel.connect.get_connection_info())
assert info["transport"] == "ipc" and info["ip"].startswith("/"), info
"""


def test_nbvals_kernels_talk_over_socket_files_not_ports(tmp_path: Path) -> None:
    """tests/kernels.py: no other process can take a kernel's socket before it binds it."""
    lab_notebook(tmp_path / "solutions" / "00-probe", [KERNEL_TRANSPORT])
    output = finished(probe_run(tmp_path, "--nbval-lax", "-p", "no:warnings"))
    assert "1 passed" in output, output
