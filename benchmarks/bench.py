"""Measure what the course claims about speed and size, on this machine, from real runs.

    python benchmarks/bench.py            # after `python -m pytest` (it reads the lab times it recorded)
    python benchmarks/bench.py --write    # the same, and the figures go into book/measurements.json
    python benchmarks/bench.py --debug    # an error's traceback, not just its one line

Measures the sizes of the catalog images, the disk the .NET stack really takes, the cold build and
the rebuild after a one-line change of Lab 3's app (which restores a NuGet package: the ratio of the
two is what ordering restore before the sources buys), and its floor, the same `dotnet publish` alone
in the image (the rebuild's overhead above it is what a learner can still cut), and of Lab 4's multi-stage image and its
single-stage (sdk) twin, and their image sizes; with the day, the machine and the engine. Writes
_build/reports/benchmark.md (and prints it), with each lab's wall time as the test runs recorded it
(_build/reports/lab-times/). With --write, the figures replace those in book/measurements.json,
which the book renders: the one file every page takes its figures from. The builds run in a
temporary copy of the lab, so the repository is never touched, and every image they make carries
the course label and is removed at the end.
"""

import argparse
import datetime
import shutil
import tempfile
import time
from pathlib import Path

from labkit import catalog, images, names, run
from labkit.boundary import guarded
from labkit.docker_access import client
from labkit.engine import cleanup, store
from labkit.errors import LabError
from labkit.tools.maintain import estimates, lab_sections, measurements

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "_build" / "reports"
LAB = ROOT / "solutions" / "04-dev-vs-prod"
LAB3 = ROOT / "solutions" / "03-dockerfiles"
SOLUTIONS = ROOT / "solutions"
LABS = estimates.lab_ids(SOLUTIONS)
BENCH_ID = "benchmark"
STAND_IN_LABEL = "org.containerizing-dotnet.offline.about"  # offline_world/standins.py marks its stand-ins with it


def timed_build(context: Path, dockerfile: str, tag: str, extra: str = "") -> float:
    started = time.monotonic()
    run(
        f"docker build {names.label_flags(BENCH_ID)} --build-arg DOTNET_TAG={catalog.dotnet_tag()} "
        f"-f {dockerfile} -t {tag} {extra} .",
        cwd=context,
        quiet=True,
    )
    return time.monotonic() - started


def cold_and_rebuild(context: Path, tag: str, rounds: int = 1) -> tuple[float, float]:
    """A build with --no-cache, then one after a one-line change of api/Program.cs; with several
    rounds, the fastest of each kind (a busy machine only ever slows a build down)."""
    colds, rebuilds = [], []
    source = context / "api" / "Program.cs"
    for _ in range(rounds):
        colds.append(timed_build(context, "Dockerfile", tag, "--no-cache"))
        source.write_text(source.read_text() + f"\n// benchmark edit {time.time_ns()}\n")
        rebuilds.append(timed_build(context, "Dockerfile", tag))
    return min(colds), min(rebuilds)


# In the image lab 3 built, back to the state its `RUN dotnet publish` starts from (sources copied,
# packages restored, nothing compiled), then the same publish, timed inside the container.
PUBLISH_ALONE = (
    "cd /source && rm -rf bin obj/Release && started=$(date +%s%N)"
    " && dotnet publish -a {arch} --no-restore -o /tmp/app >/dev/null"
    " && echo $(( $(date +%s%N) - started ))"
)


def publish_alone(tag: str, rounds: int = 2) -> float:
    """The floor under a rebuild: `dotnet publish` of the changed app with nothing around it (no build
    context sent, no cache lookup, no layer written); the fastest of `rounds`."""
    script = PUBLISH_ALONE.format(arch=images.inspect(tag)["Architecture"])
    command = f"docker run --rm {names.label_flags(BENCH_ID)} --entrypoint sh {tag} -c '{script}'"
    return min(int(run(command, quiet=True, record=False).split()[-1]) / 1e9 for _ in range(rounds))


def build_times(context: Path) -> dict[str, float]:
    cold, rebuild = cold_and_rebuild(context, names.image_tag(BENCH_ID, "multi-stage"))
    single = timed_build(context, "Dockerfile.sdk", names.image_tag(BENCH_ID, "single-stage"), "--no-cache")
    return {
        "multi_stage_cold_s": round(cold, 1),
        "multi_stage_rebuild_s": round(rebuild, 1),
        "single_stage_cold_s": round(single, 1),
        "multi_stage_mb": images.size_mb(images.inspect(names.image_tag(BENCH_ID, "multi-stage"))),
        "single_stage_mb": images.size_mb(images.inspect(names.image_tag(BENCH_ID, "single-stage"))),
    }


def image_sizes() -> dict[str, dict[str, object]]:
    """Each catalog image present here: its reference, size (MB, unpacked) and number of layers."""
    found = {}
    for entry in catalog.images():
        if images.exists(entry.ref):
            info = images.inspect(entry.ref)
            found[entry.key] = {"ref": entry.ref, "mb": images.size_mb(info), "layers": len(images.layers(info))}
    return found


def engine_facts() -> dict[str, object]:
    """The day, the machine, the engine and its image store, and whether the images are the offline world's."""
    info, version = client().info(), client().version()
    sdk_labels = images.config(images.inspect(catalog.image("sdk"))).get("Labels") or {}
    return {
        "date": datetime.date.today().isoformat(),
        "machine": f"{info['NCPU']} cores, {round(info['MemTotal'] / 2**30)} GiB",
        "engine": str(version["Version"]),
        "buildx": run("docker buildx version", quiet=True, record=False).split()[1].removeprefix("v"),
        "store": "containerd" if store.containerd_store(info) else "classic",
        "stand_ins": STAND_IN_LABEL in sdk_labels,
    }


def measure(lab3: Path, lab4: Path) -> measurements.Data:
    """The benchmark section of the measurements file, measured now."""
    lab3_tag = names.image_tag(BENCH_ID, "lab3")
    cold, rebuild = cold_and_rebuild(lab3, lab3_tag, rounds=2)
    publish = publish_alone(lab3_tag)
    usage = images.disk_usage([catalog.image(key) for key in measurements.SHARED])
    return {
        **engine_facts(),
        "images": image_sizes(),
        "shared": {
            "images": list(measurements.SHARED),
            "sum_mb": usage.sum_of_sizes_mb,
            "on_disk_mb": usage.on_disk_mb,
        },
        "lab3": {"cold_s": round(cold, 1), "rebuild_s": round(rebuild, 1), "publish_s": round(publish, 1)},
        "lab4": build_times(lab4),
    }


def report(data: measurements.Data) -> str:
    """The measured figures as the book's tables show them, in Markdown."""
    titles = {
        "image-sizes": "Image sizes (unpacked, MB)",
        "lab3-builds": "Lab 3's app (one NuGet package): cold build and rebuild, the faster of two each",
        "lab4-builds": "Lab 4's app: build times",
        "lab4-images": "Lab 4's app: image sizes",
        "lab-runs": "Lab wall times (solution notebooks under nbval), s",
        "aot-variants": "Lab 14's app published three ways (its last recorded run)",
    }
    figures = measurements.figures(data)
    notes = {
        "image-sizes": f"sdk + aspnet + runtime + runtime-deps: {figures['shared.sum_mb']} added up, "
        f"{figures['shared.on_disk_mb']} on disk (shared layers stored once).",
        "lab3-builds": f"Rebuild / cold: {figures['lab3.ratio']} (the restore layer comes from the cache). "
        f"Rebuild / publish alone: {figures['lab3.floor_ratio']} (what the build adds around the publish).",
    }
    runs = "; ".join(
        f"{name}: {figures[f'runs.{name}.date']}, Docker Engine {figures[f'runs.{name}.engine']}"
        for name in data["lab_runs"]
    )
    parts = [
        f"Measured on {figures['date']}: {figures['machine']}, Docker Engine {figures['engine']}, "
        f"buildx {figures['buildx']}, {figures['store']} image store, {figures['images']}. Lab runs: {runs}."
    ]
    for name, table in measurements.tables(data, link=str).items():
        parts += [f"## {titles[name]}", measurements.markdown(table), notes.get(name, "")]
    return "\n\n".join(part for part in parts if part) + "\n"


def recorded(write: bool) -> tuple[list[measurements.Data], list[str]]:
    """The complete lab runs the tests recorded, and a note for each run left out; when writing, a run
    with holes is an error instead (before any build), so that no table gets one."""
    runs = measurements.recorded_runs()
    partial = {run["run"]: missing for run in runs if (missing := measurements.missing_labs(run, LABS))}
    notes = [
        f"The test run {name!r} is left out: it did not run {', '.join(missing)} to the end "
        f"(run every solution notebook: `python -m pytest solutions`)."
        for name, missing in partial.items()
    ]
    if partial and write:
        raise LabError(" ".join(notes) + f" Or delete its file under {measurements.LAB_RUNS}.")
    return [run for run in runs if run["run"] not in partial], notes


def steps_of(lab: str, cells: list[float]) -> dict[str, float]:
    return lab_sections.seconds_by_section(lab_sections.read(SOLUTIONS / lab / "lab.ipynb"), cells)


def main(argv: list[str]) -> int:
    summary = (__doc__ or "").split("\n", 1)[0]
    parser = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=summary)
    parser.add_argument("--write", action="store_true", help=f"also write the figures into {measurements.FILE}")
    args = parser.parse_args(argv)
    missing = [catalog.image(key) for key in measurements.SHARED if not images.exists(catalog.image(key))]
    if missing:
        raise LabError(f"Pull these first (`python -m labkit prepull`): {', '.join(missing)}")
    runs, notes = recorded(args.write)
    try:
        with tempfile.TemporaryDirectory() as folder:
            lab4, lab3 = Path(folder) / LAB.name, Path(folder) / LAB3.name
            for lab, copy in ((LAB, lab4), (LAB3, lab3)):
                shutil.copytree(lab, copy, ignore=shutil.ignore_patterns("bin", "obj", "*.ipynb"))
            benchmark = measure(lab3, lab4)
    finally:
        cleanup.remove(BENCH_ID)
    figures = measurements.recorded_lab_figures(LABS)
    data = measurements.fold(measurements.load(), benchmark, runs, LABS, steps_of, figures)
    text = report(data) + "".join(f"\n{note}\n" for note in notes)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "benchmark.md").write_text(text)
    print(text)
    if args.write:
        measurements.save(data)
        print(f"Wrote {measurements.FILE}. Now run `python -m labkit generate`: the labs' time estimates read it.")
    return 0


if __name__ == "__main__":
    raise SystemExit(guarded("bench", main))
