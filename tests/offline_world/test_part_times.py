"""`up` says how long each of its parts took, as each ends, and the total at the end
(offline_world/machine.py, PartTimes): on a bare machine it takes minutes, and this shows where."""

import re

import pytest

from offline_world.machine import PartTimes


def test_each_part_is_said_as_it_ends_and_counted_in_the_total(capsys: pytest.CaptureFixture[str]) -> None:
    times = PartTimes()
    with times.part("engine"):
        pass
    with times.part("stand-ins"):
        pass
    said = capsys.readouterr().out.splitlines()
    assert [re.sub(r"\d+ s", "N s", line) for line in said] == [
        "offline world: engine: N s",
        "offline world: stand-ins: N s",
    ]
    assert list(times.seconds) == ["engine", "stand-ins"]
    assert times.total() == f"{sum(times.seconds.values()):.0f} s"


def test_a_part_that_fails_is_still_timed() -> None:
    times = PartTimes()
    with pytest.raises(RuntimeError), times.part("debootstrap"):
        raise RuntimeError("no mirror")
    assert list(times.seconds) == ["debootstrap"]
