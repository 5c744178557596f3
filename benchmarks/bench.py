"""Measure what the course claims about speed and size, on this machine, from real runs.

    python benchmarks/bench.py            # after `python -m pytest` (it reads the lab times)
    python benchmarks/bench.py --debug    # an error's traceback, not just its one line

Writes _build/reports/benchmark.md (and prints it): the sizes of the catalog images, the disk
they really take, the cold build and the rebuild after a one-line change of Lab 3's app (which
restores a NuGet package: the ratio of the two is what ordering restore before the sources buys)
and of Lab 4's multi-stage image and its single-stage (sdk) twin, their image sizes, and each
lab's wall time as the test suite measured it. The build runs in a temporary copy of the lab, so the repository is never
touched, and every image it makes carries the course label and is removed at the end.
"""

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from labkit import catalog, images, names, run
from labkit.boundary import guarded
from labkit.engine import cleanup
from labkit.errors import LabError

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "_build" / "reports"
LAB = ROOT / "solutions" / "04-dev-vs-prod"
LAB3 = ROOT / "solutions" / "03-dockerfiles"
BENCH_ID = "benchmark"
OFFICIAL = ("sdk", "aspnet", "runtime", "runtime-deps")


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


def build_times(context: Path) -> dict[str, float]:
    cold, rebuild = cold_and_rebuild(context, names.image_tag(BENCH_ID, "multi-stage"))
    single = timed_build(context, "Dockerfile.sdk", names.image_tag(BENCH_ID, "single-stage"), "--no-cache")
    return {
        "multi-stage, cold (--no-cache)": cold,
        "multi-stage, rebuild after a one-line change": rebuild,
        "single-stage on sdk, cold (--no-cache)": single,
    }


def markdown_table(header: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def lab3_section(cold: float, rebuild: float) -> list[str]:
    rows = [("cold (--no-cache)", f"{cold:.1f}"), ("rebuild after a one-line change", f"{rebuild:.1f}")]
    return [
        "## Lab 3's app (one NuGet package): cold build and rebuild, the faster of two each",
        markdown_table(("build", "seconds"), rows),
        f"Rebuild / cold: {rebuild / cold:.2f} (the restore layer comes from the cache).",
    ]


def report(times: dict[str, float], lab3: tuple[float, float]) -> str:
    refs = [entry.ref for entry in catalog.images() if images.exists(entry.ref)]
    sizes = images.table(refs)
    usage = images.disk_usage([catalog.image(key) for key in OFFICIAL])
    app_sizes = images.table([names.image_tag(BENCH_ID, "single-stage"), names.image_tag(BENCH_ID, "multi-stage")])
    parts = [
        "## Image sizes (uncompressed, as `docker image ls` shows them)",
        markdown_table(("image", "MB", "layers"), [(r.image, r.size_mb, r.layers) for r in sizes.itertuples()]),
        f"sdk + aspnet + runtime + runtime-deps: {usage.sum_of_sizes_mb} MB added up, "
        f"{usage.on_disk_mb} MB on disk (shared layers stored once).",
        *lab3_section(*lab3),
        "## Lab 4's app: build times and image sizes",
        markdown_table(("build", "seconds"), [(what, f"{seconds:.1f}") for what, seconds in times.items()]),
        markdown_table(("image", "MB"), [(r.image, r.size_mb) for r in app_sizes.itertuples()]),
    ]
    lab_times = REPORTS / "lab-times.json"
    if lab_times.exists():
        data = json.loads(lab_times.read_text())
        rows = [(Path(path).parent.name, f"{seconds:.1f}") for path, seconds in sorted(data["seconds"].items())]
        parts += ["## Lab wall times (solution notebooks under nbval)", markdown_table(("lab", "seconds"), rows)]
        parts.append(f"All labs: {data['total']:.0f} s.")
    return "\n\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    summary = (__doc__ or "").split("\n", 1)[0]
    argparse.ArgumentParser(prog="python benchmarks/bench.py", description=summary).parse_args(argv)
    missing = [catalog.image(key) for key in OFFICIAL if not images.exists(catalog.image(key))]
    if missing:
        raise LabError(f"Pull these first (`python -m labkit prepull`): {', '.join(missing)}")
    try:
        with tempfile.TemporaryDirectory() as folder:
            context, lab3 = Path(folder) / LAB.name, Path(folder) / LAB3.name
            for lab, copy in ((LAB, context), (LAB3, lab3)):
                shutil.copytree(lab, copy, ignore=shutil.ignore_patterns("bin", "obj", "*.ipynb"))
            lab3_times = cold_and_rebuild(lab3, names.image_tag(BENCH_ID, "lab3"), rounds=2)
            text = report(build_times(context), lab3_times)
    finally:
        cleanup.remove(BENCH_ID)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "benchmark.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(guarded("bench", main))
