"""A container's last stop, read after the engine has forgotten its events (labkit.diagnostics)."""

import pytest

from labkit import diagnostics
from tests.helpers import StartContainer

pytestmark = pytest.mark.docker

EVENTS_THE_ENGINE_REPLAYS = 256  # what Docker keeps for a later `docker events --since`


def test_a_stop_kept_as_it_happened_outlasts_the_engines_memory_of_events(
    start_container: StartContainer, busybox: str
) -> None:
    watched = start_container(busybox, ["sleep", "300"], what="watched")
    unwatched = start_container(busybox, ["sleep", "300"], what="unwatched")
    busy = start_container(busybox, ["sleep", "300"], what="busy")
    with diagnostics.stop_events(watched.name):
        watched.stop(timeout=1)  # sleep, as PID 1, ignores SIGTERM: killed a second later
    unwatched.stop(timeout=1)
    for count in range(EVENTS_THE_ENGINE_REPLAYS + 1):  # an event each, as a busy engine's healthchecks make
        busy.rename(f"{busy.name}-{count}")
    assert diagnostics.last_stop(unwatched.name) is None, "the engine should have forgotten this stop"
    stop = diagnostics.last_stop(watched.name)
    assert stop is not None, "the stop kept as it happened is lost"
    assert stop.signals == [diagnostics.SIGTERM, diagnostics.SIGKILL] and stop.exit_code == 137, stop
    assert 0.5 < stop.seconds < 10, stop  # docker stop waited its second, then killed
