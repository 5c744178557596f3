"""Course-wide pytest hooks: Docker gating, nbval settings, and cleanup by label.

Hooks rather than fixtures, because nbval's notebook cells are plain pytest Items that
fixtures do not reach.
"""

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from labkit import cleanup
from labkit.docker_access import reachable

DOCKER_MARKERS = ("docker", "offline_world")
NBVAL_OUTPUT_TIMEOUT = 30  # nbval waits only 5 s for each further output message by default
LAB_TIMES_REPORT = Path(__file__).resolve().parent / "_build" / "reports" / "lab-times.json"

_lab_seconds: defaultdict[str, float] = defaultdict(float)


def docker_required() -> bool:
    """In CI (CI=true) or when COURSE_REQUIRE_DOCKER=1, a lab that cannot run is a failure."""
    return os.environ.get("CI") == "true" or os.environ.get("COURSE_REQUIRE_DOCKER") == "1"


def _needs_docker(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb" or any(item.get_closest_marker(m) for m in DOCKER_MARKERS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if hasattr(item, "output_timeout"):
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


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Docker CLI notices on stderr must never fail an output comparison."""
    if collector.path is not None and collector.path.suffix == ".ipynb":
        collector.skip_compare += ("stderr",)  # type: ignore[attr-defined]


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a notebook's last cell, remove whatever its lab left behind (even after a failure)."""
    if item.path.suffix != ".ipynb":
        return
    if nextitem is not None and nextitem.path == item.path:
        return
    cleanup.remove_if_reachable(lab_id_of(item.path))


def lab_id_of(notebook: Path) -> str:
    """A lab's id is its folder name (solutions/03-dockerfiles/lab.ipynb -> 03-dockerfiles)."""
    return notebook.parent.name


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add up each notebook's cell times: the lab's wall time with its base images present."""
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _lab_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _lab_seconds:
        return
    terminalreporter.section("lab wall times (all cells, setup and teardown)")
    for path, seconds in sorted(_lab_seconds.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
    total = sum(_lab_seconds.values())
    terminalreporter.write_line(f"{total:7.1f} s  all labs")
    LAB_TIMES_REPORT.parent.mkdir(parents=True, exist_ok=True)
    LAB_TIMES_REPORT.write_text(json.dumps({"seconds": dict(_lab_seconds), "total": total}, indent=2))
