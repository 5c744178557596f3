"""Course-wide pytest hooks: Docker gating, skips that CI refuses, nbval settings, cleanup by label.

Hooks rather than fixtures, because nbval's notebook cells are plain pytest Items that
fixtures do not reach.
"""

import datetime
import os
import re
from collections import defaultdict
from collections.abc import Generator
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

from labkit import releases
from labkit.docker_access import client, reachable
from labkit.engine import cleanup, store
from labkit.tools.maintain import measurements
from tests import kernels
from tests.locks import EDITS_ITS_FOLDER, folder_lock_path, lock_path, take_lock

DOCKER_MARKERS = ("docker", "offline_world")
# Each case of these runs a whole lab on its own (the TODO-coverage runs, whose ids start with the
# lab's id, e.g. `14-aot:Dockerfile`): under `-n 2` they spread over the workers instead of queueing on one.
SPLIT_BY_CASE = ("tests/labs/test_todo_coverage.py",)
# Labs whose checks read the build cache's state (Lab 3: the rebuild took its restore from the cache,
# which the step's creation time shows). Two runs of one such lab at once (its notebook and its
# TODO-coverage run) build the same steps, and BuildKit may hand one run a cache record the other
# made meanwhile: so they run one after another (what the other labs check is theirs alone).
READS_BUILD_CACHE = ("03-dockerfiles",)
NBVAL_OUTPUT_TIMEOUT = 30  # nbval waits only 5 s for each further output message by default

EXPECTED_SKIPS_ENV = "COURSE_EXPECTED_SKIPS"  # the skip keys a CI job expects, comma-separated
_SKIP_KEY = re.compile(r"\[skip: ([a-z-]+)\]$")

# Tests marked engine_wide change what every test on the engine sees (they untag the course images,
# say); they hold the engine lock (tests/locks.py) alone, every other test (a notebook: all its cells)
# holds it shared.
ENGINE_HELD_ENV = "COURSE_ENGINE_LOCK_HELD"  # set for what an engine-wide test starts (a nested pytest)

_lab_seconds: defaultdict[str, float] = defaultdict(float)
_cell_seconds: defaultdict[str, defaultdict[int, float]] = defaultdict(lambda: defaultdict(float))  # by lab id
_failed_labs: set[str] = set()
_anonymous_at_start: set[str] | None = None  # the engine's unused anonymous volumes as the run began
ANONYMOUS_VOLUME_LABEL = "com.docker.volume.anonymous"  # Docker 24+ labels the volumes a VOLUME line makes
_held: dict[str, int] = {}  # the engine lock's file descriptor, by the test (a notebook: its file) holding it
_held_by_file: dict[Path, int] = {}  # what a `holds` mark took, by the test file
_cache_held: dict[str, int] = {}  # the build cache of a lab of READS_BUILD_CACHE, by its lab id
_folder_held: dict[str, int] = {}  # the folder of a lab of EDITS_ITS_FOLDER, by its lab id
_folder_at_start: dict[Path, dict[str, int]] = {}  # a running notebook's folder_stamps, by the notebook

# Every test, notebook and `python -m labkit` run below reads the shipped release snapshot: results
# must not depend on the network (the live file is what `labkit tags` and the learner read).
os.environ.setdefault(releases.SOURCE_ENV, "snapshot")


def docker_required() -> bool:
    """In CI (CI=true) or when COURSE_REQUIRE_DOCKER=1, a lab that cannot run is a failure."""
    return os.environ.get("CI") == "true" or os.environ.get("COURSE_REQUIRE_DOCKER") == "1"


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _needs_docker(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(m) for m in DOCKER_MARKERS)


def pytest_itemcollected(item: pytest.Item) -> None:
    """A notebook's cells run against the engine: marked `docker`, so that `-m` selects them as it
    selects any engine test (CI runs the engine-free half while the offline world comes up)."""
    if _is_notebook(item):
        item.add_marker(pytest.mark.docker)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reverse",
        action="store_true",
        help="run the test files, and the tests in each, in reverse order (a notebook's cells stay in order)",
    )


@pytest.hookimpl(trylast=True)  # after `-m` has deselected: only the engine tests left decide
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("reverse"):
        items[:] = reversed_order(items)
    if hasattr(config, "workerinput"):  # an xdist worker: the controller hands out its order
        items[:] = longest_first(items)
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval offers no public option for it (only the cell timeout)
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT
    docker_items = [item for item in items if _needs_docker(item)]
    if not docker_items:
        return
    reason = reachable()
    if reason is None:
        return
    if docker_required():
        raise pytest.UsageError(f"The labs must run here, but {reason}")
    skip = pytest.mark.skip(reason=f"no Docker engine, lab tests skipped: {reason}")
    for item in docker_items:
        item.add_marker(skip)


class FileScheduling(LoadFileScheduling):  # type: ignore[misc]  # pytest-xdist ships no types
    """`--dist loadfile`: a file's tests on one worker (a notebook's cells in order, a module's fixtures
    made once), except in the files of SPLIT_BY_CASE, whose cases go wherever a worker is free.
    (pytest-xdist's loadgroup would say this with marks, but under pytest 9.2 it silently stops
    grouping: pytest-xdist#1386.)"""

    def _split_scope(self, nodeid: str) -> str:
        return nodeid if nodeid.split("::", 1)[0] in SPLIT_BY_CASE else super()._split_scope(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> FileScheduling | None:
    if config.getvalue("dist") != "loadfile":
        return None
    config.option.loadscopereorder = False  # by default the biggest files go first; longest_first has ordered them
    return FileScheduling(config, log)


def longest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The lab runs by their measured length, longest first (a TODO-coverage run of a lab counted
    as half as long again as its notebook), then every other test in its order: a worker that
    takes a long lab near the end leaves the others idle. Under pytest-xdist the scheduler hands
    out the files in this order."""
    seconds = _measured_lab_seconds()

    def estimate(item: pytest.Item) -> float:
        if _is_notebook(item):
            return seconds.get(lab_id_of(item.path), 0.0)
        case = item.nodeid.split("::", 1)[0] in SPLIT_BY_CASE and getattr(item, "callspec", None)
        return 1.5 * seconds.get(str(case.id).split(":", 1)[0], 0.0) if case else 0.0

    return sorted(items, key=lambda item: -estimate(item))  # stable: a file's tests keep their order


def _measured_lab_seconds() -> dict[str, float]:
    """Each lab's wall time in the committed measurements (classic store); none if the file is unreadable."""
    try:
        return measurements.lab_seconds(measurements.load(), "classic")
    except measurements.MeasurementsError:
        return {}


def reversed_order(items: list[pytest.Item]) -> list[pytest.Item]:
    files = [list(tests) for _, tests in groupby(items, key=lambda item: item.path)]
    return [item for tests in reversed(files) for item in (tests if _is_notebook(tests[0]) else reversed(tests))]


def _is_notebook(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """Parallel runs (pytest -n) share one engine: an engine_wide test waits until it runs alone, and
    the test files that hold one thing (`holds("classroom")`) run one after another."""
    last_of_file = nextitem is None or nextitem.path != item.path
    if _is_notebook(item) and item.path not in _folder_at_start:
        _folder_at_start[item.path] = folder_stamps(item.path.parent)
    _hold_for_the_file(item)
    cache_lab = _build_cache_lab(item)
    if cache_lab is not None and cache_lab not in _cache_held:  # a notebook holds it from its first cell to its last
        _cache_held[cache_lab] = take_lock(lock_path(f".cache-{cache_lab}"), exclusive=True)
    try:
        if os.environ.get(ENGINE_HELD_ENV) == "1" or not _needs_docker(item):
            return (yield)
        exclusive = item.get_closest_marker("engine_wide") is not None
        key = str(item.path) if _is_notebook(item) else item.nodeid
        if key not in _held:
            _held[key] = take_engine_lock(exclusive)
        _hold_the_folder(item)
        if exclusive:
            os.environ[ENGINE_HELD_ENV] = "1"
        try:
            return (yield)
        finally:
            os.environ.pop(ENGINE_HELD_ENV, None)
            if not (_is_notebook(item) and not last_of_file):
                os.close(_held.pop(key))  # closing the file releases the lock
    finally:
        if last_of_file and item.path in _held_by_file:
            os.close(_held_by_file.pop(item.path))
        if cache_lab is not None and (last_of_file or not _is_notebook(item)):
            os.close(_cache_held.pop(cache_lab))
        if last_of_file and _is_notebook(item) and lab_id_of(item.path) in _folder_held:
            os.close(_folder_held.pop(lab_id_of(item.path)))


def _hold_the_folder(item: pytest.Item) -> None:
    """A notebook of EDITS_ITS_FOLDER holds its folder from its first cell to its last. Taken after
    the engine lock, which what copies the folder holds while it waits (a test's body): the notebook
    never waits for a lock while it holds its folder, so nothing waits on it in a circle."""
    lab = lab_id_of(item.path)
    if _is_notebook(item) and lab in EDITS_ITS_FOLDER and lab not in _folder_held:
        _folder_held[lab] = take_lock(folder_lock_path(lab), exclusive=True)


def _hold_for_the_file(item: pytest.Item) -> None:
    """Take what the item's `holds` mark names, for the rest of its file (a module fixture keeps the
    thing between the file's tests: the classroom test's served registry). Taken before the engine
    lock, so that a file waiting for it holds nothing an engine_wide test waits for."""
    held = item.get_closest_marker("holds")
    if held is not None and item.path not in _held_by_file:
        _held_by_file[item.path] = take_lock(lock_path(f".{held.args[0]}"), exclusive=True)


def _build_cache_lab(item: pytest.Item) -> str | None:
    """The lab of READS_BUILD_CACHE whose whole run this item is, or starts (a notebook's first cell)."""
    if _is_notebook(item):
        lab = lab_id_of(item.path)
    else:
        case = item.nodeid.split("::", 1)[0] in SPLIT_BY_CASE and getattr(item, "callspec", None)
        lab = str(case.id) if case else ""  # a notebook's TODO run; a file's run (`03-dockerfiles:...`) is not
    return lab if lab in READS_BUILD_CACHE else None


def take_engine_lock(exclusive: bool) -> int:
    """Every test passes a turnstile first, which an engine_wide test holds while it waits: no test
    starts beside the running ones meanwhile. (Without it, with three workers or more, the shared
    holds could overlap for ever and the engine_wide test never run.)"""
    turnstile = take_lock(lock_path(".turnstile"), exclusive=True)
    try:
        return take_lock(lock_path(), exclusive)
    finally:
        os.close(turnstile)


def pytest_configure(config: pytest.Config) -> None:
    kernels.use_in_nbval()


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Docker CLI notices on stderr must never fail an output comparison."""
    if collector.path is not None and collector.path.suffix == ".ipynb":
        # nbval offers no public option for it: its skip_compare list is fixed when the collector is made.
        collector.skip_compare += ("stderr",)  # type: ignore[attr-defined]


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a notebook's last cell, remove whatever its lab left behind (even after a failure)."""
    if item.path.suffix != ".ipynb":
        return
    if nextitem is not None and nextitem.path == item.path:
        return
    lab = lab_id_of(item.path)
    cleanup.remove_if_reachable(lab)
    changed = {
        path for path, _ in _folder_at_start.pop(item.path, {}).items() ^ folder_stamps(item.path.parent).items()
    }
    if changed and lab not in EDITS_ITS_FOLDER:
        pytest.fail(
            f"{lab}'s notebook changed {', '.join(sorted(changed))} in its own folder: "
            "list the lab in EDITS_ITS_FOLDER (tests/locks.py), so that what copies the folder waits for it",
            pytrace=False,
        )


def folder_stamps(folder: Path) -> dict[str, int]:
    """Each file's modification time (ns) in a lab folder, but for build output (bin/, obj/, as the
    copies of a lab leave it out): a notebook that writes a file and puts it back changes its time."""
    stamps = {}
    for parent, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if name not in ("bin", "obj")]  # not walked into: dotnet writes there
        for name in files:
            path = Path(parent, name)
            stamps[str(path.relative_to(folder))] = path.stat().st_mtime_ns
    return stamps


def lab_id_of(notebook: Path) -> str:
    """A lab's id is its folder name (solutions/03-dockerfiles/lab.ipynb -> 03-dockerfiles)."""
    return notebook.parent.name


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In CI a skip hides a check, so it fails the run with its reason, unless its reason ends with
    a key (`[skip: world-off]`) that this CI job lists in COURSE_EXPECTED_SKIPS."""
    report: pytest.TestReport = yield
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = skip_reason(report)
        key = _SKIP_KEY.search(reason)
        if key is None or key[1] not in expected_skips():
            report.outcome = "failed"
            report.longrepr = f"skipped in CI, where a skip hides a check: {reason}"
    return report


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def expected_skips() -> set[str]:
    return {key.strip() for key in os.environ.get(EXPECTED_SKIPS_ENV, "").split(",") if key.strip()}


def unused_anonymous_volumes() -> set[str]:
    volumes = client().api.volumes(filters={"dangling": True, "label": ANONYMOUS_VOLUME_LABEL})["Volumes"] or []
    return {volume["Name"] for volume in volumes}


def _controller(session: pytest.Session) -> bool:
    """True in the process that sees the whole run (not an xdist worker)."""
    return not hasattr(session.config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    global _anonymous_at_start
    if _controller(session) and reachable() is None:
        _anonymous_at_start = unused_anonymous_volumes()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail a run that leaves anonymous volumes behind. Cleanup finds what the course made by its
    label, and an anonymous volume (postgres's or registry:2's VOLUME) carries none: a container
    removed without `-v` leaves its volume on the learner's disk for good."""
    if _anonymous_at_start is None or reachable() is not None:
        return
    left = sorted(unused_anonymous_volumes() - _anonymous_at_start)
    if left:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"FAILED: the run left {len(left)} anonymous volume(s) behind ({', '.join(v[:12] for v in left)}): "
                "remove containers with their volumes (`docker rm -v`, docker-py `remove(v=True)`, `compose down -v`)"
            )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add up each notebook's cell times: the lab's wall time with its base images present."""
    path, _, cell = report.nodeid.partition("::")
    if not path.endswith(".ipynb"):
        return
    _lab_seconds[path] += report.duration
    if path.startswith("solutions/") and cell.startswith("Cell "):  # nbval numbers the code cells from 0
        lab = lab_id_of(Path(path))
        _cell_seconds[lab][int(cell.removeprefix("Cell "))] += report.duration
        if report.failed:
            _failed_labs.add(lab)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _lab_seconds:
        return
    terminalreporter.section("lab wall times (all cells, setup and teardown)")
    for path, seconds in sorted(_lab_seconds.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
    terminalreporter.write_line(f"{sum(_lab_seconds.values()):7.1f} s  all labs")
    passed = {lab: cells for lab, cells in _cell_seconds.items() if lab not in _failed_labs}
    if passed and reachable() is None:  # the store and the engine's version are part of the record
        written = record_lab_run(passed, terminalreporter.config.getoption("numprocesses", None) or 1)
        terminalreporter.write_line(f"Recorded for `python benchmarks/bench.py --write`: {written}")


def record_lab_run(cells: dict[str, defaultdict[int, float]], at_once: int) -> Path:
    """Write this run's lab times (the labs that passed) for the measurements file, named after the
    image store, or $COURSE_LAB_RUN when one store runs the labs more than once (CI: containerd-1, -2).
    `at_once`: pytest -n's workers (what the workers' PYTEST_XDIST_WORKER_COUNT says; this runs in the
    controller, which has no such variable)."""
    info = client().info()
    kind = "containerd" if store.containerd_store(info) else "classic"
    facts = {
        "date": datetime.date.today().isoformat(),
        "engine": str(client().version()["Version"]),
        "store": kind,
        "at_once": str(at_once),  # labs run side by side
    }
    seconds = {lab: [round(by_cell[index], 2) for index in range(max(by_cell) + 1)] for lab, by_cell in cells.items()}
    return measurements.record_run(os.environ.get(measurements.LAB_RUN_ENV) or kind, facts, seconds)
