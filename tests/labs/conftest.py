"""Fixtures every lab's wrong-state tests share; each test module names its NOTEBOOK and LAB_ID."""

from collections.abc import Iterator
from typing import Any

import pytest

from labkit import shell
from labkit.engine import cleanup
from tests.labs import check_cells


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The notebook's setup cells, run with the test's own lab id, and no command run yet."""
    shell.forget()
    return check_cells.setup(request.module.NOTEBOOK, request.module.LAB_ID)


@pytest.fixture(scope="module", autouse=True)
def remove_test_resources(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a module's tests created carries its LAB_ID label; remove it all at the start (what an
    interrupted earlier run left must not pass a check) and at the end. Only when this run uses the
    engine here: a run of the engine-free tests (`-m "not docker"`) must not remove what another
    session's run of the same module is using right now. A module without a LAB_ID (the TODO
    coverage, each of whose cases runs a lab under its own id) cleans up case by case."""
    lab_id: str | None = getattr(request.module, "LAB_ID", None)
    here = [item for item in request.session.items if getattr(item, "module", None) is request.module]
    ours = lab_id if lab_id is not None and any(item.get_closest_marker("docker") for item in here) else None
    if ours:
        cleanup.remove_if_reachable(ours)
    yield
    if ours:
        cleanup.remove_if_reachable(ours)
