"""The course's measured figures: one committed file, book/measurements.json, that every page reads.

Who writes it: `python benchmarks/bench.py --write`, with the image sizes and build times it has
just measured (its `benchmark` section) and the lab wall times the test runs recorded (its
`lab_runs` section: conftest.py writes one file per run to _build/reports/lab-times/, named after
the run, "classic" or "containerd" by the image store, or $COURSE_LAB_RUN). Who reads it: the book
(book/_ext/measured.py: the `{measured}` role and the `measured-table` directive), and the lab time
estimates (estimates.py), which take the commands' share from one run.

A figure derived from others (a ratio, a sum, a difference) is computed here as it is read, never
stored, so that no two places can disagree about it.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from labkit import measure
from labkit.errors import LabError

ROOT = Path(__file__).resolve().parents[3]  # the repository: labkit/tools/maintain/measurements.py
FILE = Path("book") / "measurements.json"  # in the repository
MEASUREMENTS = ROOT / FILE
LAB_RUNS = ROOT / "_build" / "reports" / "lab-times"
LAB_FIGURES = ROOT / measure.FIGURES_FOLDER  # what a lab measured for the book (Lab 14), one file a lab
AOT_LAB = "14-aot"
LAB_RUN_ENV = "COURSE_LAB_RUN"  # names a test run's lab times (CI: containerd-1, containerd-2)
SHARED = ("sdk", "aspnet", "runtime", "runtime-deps")  # the stack whose shared layers the book measures

NOT_MEASURED = "not yet"  # a table cell with no measurement yet
Data = dict[str, Any]
Table = tuple[list[str], list[list[str]]]  # a header and rows of Markdown cells
StepsOf = Callable[[str, list[float]], dict[str, float]]  # (lab id, seconds per code cell) -> seconds per section


class MeasurementsError(LabError):
    """The measurements file cannot be read, or has no such run; the message says which."""


# -- reading and writing -----------------------------------------------------------------------------


def load(path: Path = MEASUREMENTS) -> Data:
    try:
        data: Data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MeasurementsError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    except json.JSONDecodeError as exc:
        raise MeasurementsError(f"{path}:{exc.lineno}: not JSON ({exc.msg}); restore it from git.") from exc
    return data


def save(data: Data, path: Path = MEASUREMENTS) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def record_run(name: str, facts: Mapping[str, str], cells: Mapping[str, list[float]], folder: Path = LAB_RUNS) -> Path:
    """Write one test run's lab times: `facts` (date, engine, store, labs at once), each lab's seconds per cell."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"run": name, **facts, "cells": dict(cells)}, indent=2) + "\n", encoding="utf-8")
    return path


def recorded_runs(folder: Path = LAB_RUNS) -> list[Data]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]


def recorded_lab_figures(labs: list[str], folder: Path = LAB_FIGURES) -> Data:
    """What the labs' last runs measured for the book (labkit.measure.record), by lab id."""
    return {
        lab: json.loads((folder / f"{lab}.json").read_text("utf-8"))
        for lab in labs
        if (folder / f"{lab}.json").is_file()
    }


def fold(
    committed: Data,
    benchmark: Data,
    runs: Iterable[Data],
    labs: list[str],
    steps_of: StepsOf,
    lab_figures: Data | None = None,
) -> Data:
    """The measurements file with a new benchmark, new lab runs and the labs' new figures in it; the
    runs and labs not measured again stay."""
    lab_runs: Data = dict(committed.get("lab_runs", {}))
    for run in runs:
        lab_runs[run["run"]] = {
            "date": run["date"],
            "engine": run["engine"],
            "store": run["store"],
            "at_once": int(run.get("at_once", 1)),
            "labs": {lab: _lab_entry(run["cells"][lab], steps_of(lab, run["cells"][lab])) for lab in labs},
        }
    figures = {**committed.get("lab_figures", {}), **(lab_figures or {})}
    return {"benchmark": benchmark, "lab_runs": lab_runs, "lab_figures": figures}


def missing_labs(run: Data, labs: list[str]) -> list[str]:
    """The labs a recorded run did not run, or not to the end: a run with holes makes no table, nor a total."""
    return sorted(set(labs) - set(run["cells"]))


def _lab_entry(cells: list[float], steps: dict[str, float]) -> Data:
    return {"seconds": round(sum(cells), 1), "steps": {key: round(value, 1) for key, value in steps.items()}}


# -- what the pages show -----------------------------------------------------------------------------


def mb(value: float) -> str:
    return f"{value:.1f} MB"


def seconds(value: float) -> str:
    return f"{value:.1f} s"


def lab_seconds(data: Data, run: str) -> dict[str, float]:
    """Each lab's wall time in one run, by lab id."""
    return {lab: float(entry["seconds"]) for lab, entry in _run(data, run)["labs"].items()}


def step_seconds(data: Data, run: str, lab: str) -> dict[str, float]:
    """The seconds of one lab's commands in one run, by section ("Step 2", "Challenge", ...); empty if not split."""
    entry = _run(data, run)["labs"].get(lab, {})
    return {key: float(value) for key, value in entry.get("steps", {}).items()}


def _run(data: Data, run: str) -> Data:
    runs: Data = data.get("lab_runs", {})
    if run not in runs:
        raise MeasurementsError(f"{MEASUREMENTS.name} has no lab run {run!r} (it has: {', '.join(runs) or 'none'}).")
    found: Data = runs[run]
    return found


def run_title(name: str) -> str:
    """The column title of a run: "classic store", "containerd store, run 2"."""
    store, _, number = name.partition("-")
    return f"{store} store" + (f", run {number}" if number else "")


def figures(data: Data) -> dict[str, str]:
    """Every figure a page may show, by key, formatted with its unit; the derived ones computed."""
    bench = data["benchmark"]
    found = {key: str(bench[key]) for key in ("date", "machine", "engine", "buildx", "store")}
    found["images"] = "the course's stand-in images" if bench["stand_ins"] else "the images from their registries"
    for key, image in bench["images"].items():
        found[f"image.{key}.mb"] = mb(image["mb"])
        found[f"image.{key}.layers"] = str(image["layers"])
    found |= _shared(bench)
    found |= _lab3(bench["lab3"]) | _lab4(bench["lab4"])
    for name, run in data["lab_runs"].items():
        found[f"runs.{name}.date"] = run["date"]
        found[f"runs.{name}.engine"] = run["engine"]
        found[f"runs.{name}.at_once"] = str(run.get("at_once", 1))
        for lab, entry in run["labs"].items():
            found[f"runs.{name}.{lab}"] = seconds(entry["seconds"])
        found[f"runs.{name}.total"] = f"{sum(e['seconds'] for e in run['labs'].values()):.0f} s"
    aot = data.get("lab_figures", {}).get(AOT_LAB)
    return found | (_aot(aot) if aot else {})


def _aot(aot: Data) -> dict[str, str]:
    """Lab 14's figures: `aot.date`, `aot.aot.pushed_mb`, `aot.pushed_ratio` (framework-dependent over AOT)..."""
    found = {f"aot.{key}": str(aot[key]) for key in ("date", "engine", "store", "starts", "load_requests")}
    units = {"image_mb": mb, "pushed_mb": mb, "start_s": seconds, "build_s": seconds, "memory_mib": _mib}
    for variant, entry in aot["variants"].items():
        found |= {f"aot.{variant}.{key}": unit(entry[key]) for key, unit in units.items()}
    variants = aot["variants"]
    found["aot.pushed_ratio"] = (
        f"{variants['framework-dependent']['pushed_mb'] / variants['aot']['pushed_mb']:.1f} times"
    )
    found["aot.build_ratio"] = f"{variants['aot']['build_s'] / variants['framework-dependent']['build_s']:.1f} times"
    return found


def _mib(value: float) -> str:
    return f"{value:.1f} MiB"


def _shared(bench: Data) -> dict[str, str]:
    shared, images = bench["shared"], bench["images"]
    return {
        "shared.sum_mb": mb(shared["sum_mb"]),
        "shared.on_disk_mb": mb(shared["on_disk_mb"]),
        "shared.saved_mb": mb(shared["sum_mb"] - shared["on_disk_mb"]),
        "sdk_over_aspnet": f"{images['sdk']['mb'] / images['aspnet']['mb']:.1f} times",
    }


def _lab3(lab3: Data) -> dict[str, str]:
    return {
        "lab3.cold": seconds(lab3["cold_s"]),
        "lab3.rebuild": seconds(lab3["rebuild_s"]),
        "lab3.ratio": f"{lab3['rebuild_s'] / lab3['cold_s']:.2f}",
        "lab3.saved": seconds(lab3["cold_s"] - lab3["rebuild_s"]),
        "lab3.publish": seconds(lab3["publish_s"]),
        "lab3.floor_ratio": f"{lab3['rebuild_s'] / lab3['publish_s']:.2f}",
        "lab3.overhead": seconds(lab3["rebuild_s"] - lab3["publish_s"]),
    }


def _lab4(lab4: Data) -> dict[str, str]:
    difference = lab4["multi_stage_cold_s"] - lab4["single_stage_cold_s"]
    return {
        "lab4.multi_cold": seconds(lab4["multi_stage_cold_s"]),
        "lab4.multi_rebuild": seconds(lab4["multi_stage_rebuild_s"]),
        "lab4.single_cold": seconds(lab4["single_stage_cold_s"]),
        "lab4.multi_mb": mb(lab4["multi_stage_mb"]),
        "lab4.single_mb": mb(lab4["single_stage_mb"]),
        "lab4.build_difference": f"{seconds(abs(difference))} {'more' if difference >= 0 else 'less'}",
        "lab4.image_share": f"{100 * lab4['multi_stage_mb'] / lab4['single_stage_mb']:.0f} %",
    }


# -- the tables the pages show -----------------------------------------------------------------------


def lab_link(lab: str) -> str:
    """A lab, as a book page links it."""
    return f"{{doc}}`/labs/{lab}/lab`"


def tables(data: Data, link: Callable[[str], str] = lab_link) -> dict[str, Table]:
    """Every table a page may show (the `measured-table` directive), by name: (header, rows) of Markdown
    cells; `link` writes a lab's id as the book links it."""
    bench, by_lab = data["benchmark"], data.get("lab_figures", {})
    return {
        "image-sizes": _image_sizes(bench["images"]),
        "lab3-builds": _lab3_builds(bench["lab3"]),
        "lab4-builds": _lab4_builds(bench["lab4"]),
        "lab4-images": _lab4_images(bench["lab4"]),
        "lab-runs": _lab_runs(data["lab_runs"], link),
        **({"aot-variants": _aot_variants(by_lab[AOT_LAB])} if AOT_LAB in by_lab else {}),
    }


def _aot_variants(aot: Data) -> Table:
    """Lab 14's three ways side by side, with Microsoft's compressed size for each beside ours."""
    names = {"framework-dependent": "framework-dependent", "trimmed": "self-contained, trimmed", "aot": "Native AOT"}
    rows = [
        [
            names[variant],
            f"`{entry['base'].rsplit('/', 1)[-1]}`",
            f"{entry['image_mb']:.1f}",
            f"{entry['pushed_mb']:.1f}",
            f"{measure.OFFICIAL_PUSHED_MB[variant]:.2f}",
            f"{entry['start_s']:.2f}",
            f"{entry['memory_mib']:.1f}",
            f"{entry['build_s']:.1f}",
        ]
        for variant, entry in aot["variants"].items()
    ]
    header = [
        "published",
        "on",
        "unpacked, MB",
        "pushed, MB",
        "Microsoft's report, MB",
        "start, s",
        "memory, MiB",
        "build, s",
    ]
    return header, rows


def _image_sizes(images: Data) -> Table:
    rows = [[f"`{image['ref']}`", f"{image['mb']:.1f}", str(image["layers"])] for image in images.values()]
    return ["image", "MB", "layers"], rows


def _lab3_builds(lab3: Data) -> Table:
    rows = [
        ["cold (`--no-cache`): restore and publish", f"{lab3['cold_s']:.1f}"],
        ["rebuilt after a one-line change to `Program.cs`: publish only", f"{lab3['rebuild_s']:.1f}"],
        ["`dotnet publish` alone in the built image, packages restored (the floor)", f"{lab3['publish_s']:.1f}"],
    ]
    return ["build of Lab 3's Dockerfile", "seconds"], rows


def _lab4_builds(lab4: Data) -> Table:
    rows = [
        ["multi-stage (sdk to build, aspnet to run), cold (`--no-cache`)", f"{lab4['multi_stage_cold_s']:.1f}"],
        ["the same, rebuilt after a one-line change to `Program.cs`", f"{lab4['multi_stage_rebuild_s']:.1f}"],
        ["single stage on sdk, cold (`--no-cache`)", f"{lab4['single_stage_cold_s']:.1f}"],
    ]
    return ["build", "seconds"], rows


def _lab4_images(lab4: Data) -> Table:
    rows = [
        ["single stage, on sdk", f"{lab4['single_stage_mb']:.1f}"],
        ["multi-stage, on aspnet", f"{lab4['multi_stage_mb']:.1f}"],
    ]
    return ["resulting image", "MB"], rows


def _lab_runs(runs: Data, link: Callable[[str], str]) -> Table:
    """Each lab's seconds in each run; a lab a run has not measured yet (a new lab, until the next run
    under that store) shows NOT_MEASURED, and so does that run's total."""
    names = list(runs)
    labs = sorted({lab for name in names for lab in runs[name]["labs"]})
    rows = [[link(lab)] + [_lab_cell(runs[name]["labs"].get(lab)) for name in names] for lab in labs]
    totals = [_total(runs[name]["labs"], labs) for name in names]
    rows.append([f"**all {len(labs)} labs**", *totals])
    return ["lab", *(f"{run_title(name)}, s" for name in names)], rows


def _lab_cell(entry: Data | None) -> str:
    return NOT_MEASURED if entry is None else f"{entry['seconds']:.1f}"


def _total(measured: Data, labs: list[str]) -> str:
    if any(lab not in measured for lab in labs):
        return NOT_MEASURED
    return f"**{sum(entry['seconds'] for entry in measured.values()):.0f}**"


def markdown(table: Table) -> str:
    header, rows = table
    numeric = [all(_is_number(row[column]) for row in rows) for column in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _is_number(cell: str) -> bool:
    return cell == NOT_MEASURED or cell.strip("*").replace(".", "", 1).isdigit()
