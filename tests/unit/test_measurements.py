"""The measurements file's logic: figures derived when read, runs folded in, reports written and read back."""

import copy
from pathlib import Path
from typing import Any

import pytest

from labkit.tools.maintain import measurements
from labkit.tools.maintain.measurements import MeasurementsError

BENCHMARK: dict[str, Any] = {
    "date": "2026-12-05",
    "machine": "2 cores, 24 GiB",
    "engine": "26.1.5",
    "buildx": "0.13.1",
    "store": "classic",
    "stand_ins": True,
    "images": {
        "sdk": {"ref": "mcr.microsoft.com/dotnet/sdk:10.0", "mb": 900.0, "layers": 11},
        "aspnet": {"ref": "mcr.microsoft.com/dotnet/aspnet:10.0", "mb": 200.0, "layers": 6},
    },
    "shared": {"images": ["sdk", "aspnet"], "sum_mb": 1100.0, "on_disk_mb": 900.0},
    "lab3": {"cold_s": 20.0, "rebuild_s": 5.0},
    "lab4": {
        "multi_stage_cold_s": 9.0,
        "multi_stage_rebuild_s": 4.0,
        "single_stage_cold_s": 10.0,
        "multi_stage_mb": 250.0,
        "single_stage_mb": 1000.0,
    },
}
RUN: dict[str, Any] = {
    "date": "2026-12-04",
    "engine": "26.1.5",
    "store": "classic",
    "labs": {"01-a": {"seconds": 30.4, "steps": {}}},
}
DATA: dict[str, Any] = {"benchmark": BENCHMARK, "lab_runs": {"classic": RUN}}


def test_derived_figures_are_computed_from_the_measured_ones() -> None:
    found = measurements.figures(DATA)
    assert found["image.sdk.mb"] == "900.0 MB"
    assert found["sdk_over_aspnet"] == "4.5 times"
    assert found["shared.saved_mb"] == "200.0 MB"
    assert (found["lab3.ratio"], found["lab3.saved"]) == ("0.25", "15.0 s")
    assert (found["lab4.build_difference"], found["lab4.image_share"]) == ("1.0 s less", "25 %")
    assert (found["runs.classic.01-a"], found["runs.classic.total"]) == ("30.4 s", "30 s")


def test_a_new_measurement_changes_every_figure_derived_from_it() -> None:
    changed = copy.deepcopy(DATA)
    changed["benchmark"]["images"]["sdk"]["mb"] = 1000.0
    changed["benchmark"]["lab4"]["multi_stage_cold_s"] = 12.5
    found = measurements.figures(changed)
    assert (found["sdk_over_aspnet"], found["lab4.build_difference"]) == ("5.0 times", "2.5 s more")


def test_folding_replaces_the_runs_measured_again_and_keeps_the_others() -> None:
    committed = {"benchmark": BENCHMARK, "lab_runs": {"classic": RUN, "containerd-1": RUN}}
    run = {"run": "classic", "date": "2026-12-05", "engine": "27.0", "store": "classic", "cells": {"01-a": [1.0, 2.5]}}
    folded = measurements.fold(
        committed, {**BENCHMARK, "date": "2026-12-05"}, [run], ["01-a"], lambda lab, cells: {"Step 1": cells[1]}
    )
    assert folded["benchmark"]["date"] == "2026-12-05"
    assert folded["lab_runs"]["containerd-1"] == RUN
    assert folded["lab_runs"]["classic"] == {
        "date": "2026-12-05",
        "engine": "27.0",
        "store": "classic",
        "labs": {"01-a": {"seconds": 3.5, "steps": {"Step 1": 2.5}}},
    }


def test_a_run_with_holes_says_which_labs_it_misses() -> None:
    run = {"run": "classic", "cells": {"01-a": [1.0]}}
    assert measurements.missing_labs(run, ["01-a", "02-b", "03-c"]) == ["02-b", "03-c"]
    assert measurements.missing_labs(run, ["01-a"]) == []


def test_a_recorded_run_reads_back_as_written(tmp_path: Path) -> None:
    facts = {"date": "2026-12-05", "engine": "26.1.5", "store": "containerd"}
    path = measurements.record_run("containerd-2", facts, {"01-a": [0.5, 3.0]}, folder=tmp_path)
    assert path == tmp_path / "containerd-2.json"
    assert measurements.recorded_runs(tmp_path) == [{"run": "containerd-2", **facts, "cells": {"01-a": [0.5, 3.0]}}]


def test_tables_right_align_their_numbers_and_link_the_labs() -> None:
    tables = measurements.tables(DATA)
    assert measurements.markdown(tables["lab-runs"]).splitlines() == [
        "| lab | classic store, s |",
        "| --- | ---: |",
        "| {doc}`/labs/01-a/lab` | 30.4 |",
        "| **all 1 labs** | **30** |",
    ]
    assert measurements.run_title("containerd-2") == "containerd store, run 2"


def test_a_lab_one_run_has_not_measured_yet_says_so_and_leaves_that_total_out() -> None:
    newer = copy.deepcopy(RUN)
    newer["labs"]["13-b"] = {"seconds": 60.2, "steps": {}}
    data = {"benchmark": BENCHMARK, "lab_runs": {"classic": newer, "containerd-1": RUN}}
    assert measurements.markdown(measurements.tables(data)["lab-runs"]).splitlines()[2:] == [
        "| {doc}`/labs/01-a/lab` | 30.4 | 30.4 |",
        "| {doc}`/labs/13-b/lab` | 60.2 | not yet |",
        "| **all 2 labs** | **91** | not yet |",
    ]


def test_a_broken_file_is_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "measurements.json").write_text('{\n  "benchmark": ,\n}\n')
    with pytest.raises(MeasurementsError, match=r"measurements.json:2: not JSON"):
        measurements.load(tmp_path / "measurements.json")
