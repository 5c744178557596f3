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
    "lab3": {"cold_s": 20.0, "rebuild_s": 5.0, "publish_s": 4.0},
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
AOT: dict[str, Any] = {
    "date": "2026-12-05",
    "engine": "26.1.5",
    "store": "classic",
    "starts": 5,
    "load_requests": 300,
    "variants": {
        "framework-dependent": {
            "base": "mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled",
            "image_mb": 120.0,
            "pushed_mb": 50.0,
            "start_s": 0.5,
            "memory_mib": 30.0,
            "build_s": 5.0,
        },
        "trimmed": {
            "base": "mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled",
            "image_mb": 40.0,
            "pushed_mb": 20.0,
            "start_s": 0.8,
            "memory_mib": 25.0,
            "build_s": 15.0,
        },
        "aot": {
            "base": "mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled",
            "image_mb": 20.0,
            "pushed_mb": 10.0,
            "start_s": 0.25,
            "memory_mib": 10.0,
            "build_s": 25.0,
        },
    },
}
DATA: dict[str, Any] = {"benchmark": BENCHMARK, "lab_runs": {"classic": RUN}, "lab_figures": {"14-aot": AOT}}


def test_derived_figures_are_computed_from_the_measured_ones() -> None:
    found = measurements.figures(DATA)
    assert found["image.sdk.mb"] == "900.0 MB"
    assert found["sdk_over_aspnet"] == "4.5 times"
    assert found["shared.saved_mb"] == "200.0 MB"
    assert (found["lab3.ratio"], found["lab3.saved"]) == ("0.25", "15.0 s")
    assert (found["lab3.floor_ratio"], found["lab3.overhead"]) == ("1.25", "1.0 s")
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
    facts = {"date": "2026-12-05", "engine": "27.0", "store": "classic", "at_once": "2"}
    run = {"run": "classic", **facts, "cells": {"01-a": [1.0, 2.5]}}
    folded = measurements.fold(
        committed, {**BENCHMARK, "date": "2026-12-05"}, [run], ["01-a"], lambda lab, cells: {"Step 1": cells[1]}
    )
    assert folded["benchmark"]["date"] == "2026-12-05"
    assert folded["lab_runs"]["containerd-1"] == RUN
    assert folded["lab_runs"]["classic"] == {
        "date": "2026-12-05",
        "engine": "27.0",
        "store": "classic",
        "at_once": 2,
        "labs": {"01-a": {"seconds": 3.5, "steps": {"Step 1": 2.5}}},
    }
    assert measurements.figures({**DATA, **folded})["runs.classic.at_once"] == "2"


def test_folding_replaces_a_labs_figures_measured_again_and_keeps_the_others() -> None:
    committed = {"benchmark": BENCHMARK, "lab_runs": {}, "lab_figures": {"14-aot": AOT, "99-x": {"a": 1}}}
    newer = {**AOT, "date": "2026-12-06"}
    folded = measurements.fold(committed, BENCHMARK, [], [], lambda lab, cells: {}, {"14-aot": newer})
    assert folded["lab_figures"] == {"14-aot": newer, "99-x": {"a": 1}}


def test_lab_14s_figures_and_table_carry_microsofts_sizes_beside_ours() -> None:
    found = measurements.figures(DATA)
    assert (found["aot.aot.pushed_mb"], found["aot.framework-dependent.memory_mib"]) == ("10.0 MB", "30.0 MiB")
    assert (found["aot.pushed_ratio"], found["aot.build_ratio"]) == ("5.0 times", "5.0 times")
    header, rows = measurements.tables(DATA)["aot-variants"]
    assert header[4] == "Microsoft's report, MB"
    assert [row[4] for row in rows] == ["52.81", "21.86", "11.60"]


def test_a_lab_a_run_has_not_measured_shows_a_dash_and_leaves_that_run_without_a_total() -> None:
    runs = {"classic": {**RUN, "labs": {**RUN["labs"], "02-b": {"seconds": 2.0}}}, "containerd-1": RUN}
    table = measurements.tables({**DATA, "lab_runs": runs}, link=str)["lab-runs"]
    assert table[1] == [["01-a", "30.4", "30.4"], ["02-b", "2.0", "not yet"], ["**all 2 labs**", "**32**", "not yet"]]


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
