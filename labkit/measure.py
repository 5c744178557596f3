"""What an image costs when it runs: start time to the first answer, memory under load, size as pushed.

For the labs that compare ways to build one app (Lab 14). Start times are taken from the host: from
the moment `docker run -d` is called to the first HTTP 200 of the app, so they include what Docker
does to start a container, as a learner's `docker run` does. Memory is what `docker stats` shows:
the container's cgroup usage less its inactive file cache. The size as pushed is what a registry
stores and a pull downloads: the compressed layers and the config of the image's manifest.

`record` writes a lab's figures where `python benchmarks/bench.py --write` collects them for the book.
"""

import datetime
import json
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labkit import catalog, names, web
from labkit.docker_access import client
from labkit.engine import store
from labkit.engine.image_info import MB
from labkit.errors import LabError
from labkit.registry.client import Manifest, Registry
from labkit.shell import run
from labkit.waiting import TimedOut, wait_until

MIB = 1024 * 1024
# Microsoft's size report for the same three ways of publishing, compressed, in MB (its `releasesapi`
# sample on the real images, November 2025): dotnet/dotnet-docker, documentation/sample-image-size-report.md
OFFICIAL_PUSHED_MB = {"framework-dependent": 52.81, "trimmed": 21.86, "aot": 11.60}
OFFICIAL_REPORT = "https://github.com/dotnet/dotnet-docker/blob/main/documentation/sample-image-size-report.md"
FIGURES_FOLDER = Path("_build") / "reports" / "lab-figures"  # under the course folder: bench.py reads it
STAND_IN_LABEL = "org.containerizing-dotnet.offline.about"  # the offline world marks its stand-in images so


class NeverAnswered(LabError):
    """A container started for a measurement never answered 200; the message says which and why."""


def start_seconds(image: str, lab_id: str, path: str = "/healthz", timeout: float = 60.0) -> float:
    """Seconds from `docker run -d` of `image` (port 8080 on a free port of 127.0.0.1) to its first
    HTTP 200 at `path`; the container is removed again."""
    port = names.free_port()
    name = names.container_name(lab_id, "start", names.run_id())
    url = f"http://{names.LOOPBACK}:{port}{path}"
    started = time.monotonic()
    run(
        f"docker run -d --name {name} {names.label_flags(lab_id)} -p {names.LOOPBACK}:{port}:8080 {image}",
        quiet=True,
        record=False,
    )
    try:
        wait_until(
            lambda: web.get_or_status_0(url, 2.0).status == 200,
            timeout=timeout,
            interval=0.005,
            what=f"an HTTP 200 from {image}",
        )
        return time.monotonic() - started
    except TimedOut as exc:
        logs = client().containers.get(name).logs(tail=5).decode("utf-8", "replace").strip()
        raise NeverAnswered(f"{image} did not answer 200 at {path} within {timeout:g} s. Its log: {logs}") from exc
    finally:
        client().api.remove_container(name, force=True, v=True)


def median_start_seconds(image: str, lab_id: str, starts: int = 5, path: str = "/healthz") -> float:
    """The median of `starts` start times (a busy machine makes single starts noisy)."""
    return statistics.median(start_seconds(image, lab_id, path) for _ in range(starts))


def memory_mib(container: str) -> float:
    """The container's memory in MiB, as `docker stats` computes it: usage less the inactive file cache."""
    memory = client().containers.get(container).stats(stream=False)["memory_stats"]
    detail = memory.get("stats", {})
    cache = int(detail.get("inactive_file", detail.get("total_inactive_file", 0)))
    return round((int(memory["usage"]) - cache) / MIB, 1)


def load(url: str, requests: int) -> None:
    """GET `url` `requests` times, one after the other; every answer must be 200."""
    for number in range(requests):
        answer = web.get(url, timeout=10.0)
        if answer.status != 200:
            raise NeverAnswered(f"{url} answered {answer.status} to request {number + 1}: {answer.body[:200]}")


def pushed_mb(registry: str, repository: str, tag: str) -> float:
    """The image's size in the registry (MB): its compressed layers and config, as a pull downloads them."""
    where = Registry(registry)
    manifest = _image_manifest(where, repository, where.manifest(repository, tag))
    data = manifest.data
    stored = int(data["config"]["size"]) + sum(int(layer["size"]) for layer in data["layers"])
    return round(stored / MB, 1)


def _image_manifest(where: Registry, repository: str, manifest: Manifest) -> Manifest:
    """The image manifest itself; from an index (the containerd image store pushes one), the first
    one for a real platform (an attestation's is "unknown")."""
    if not manifest.is_index:
        return manifest
    for entry in manifest.data["manifests"]:
        if entry.get("platform", {}).get("os") not in (None, "unknown"):
            return where.manifest(repository, entry["digest"])
    raise LabError(f"{repository} in {where.host} lists no image for a platform.")


def record(lab_id: str, figures: Mapping[str, Any]) -> Path:
    """Write a lab's measured `figures`, with the day and the engine, for the book's measurements."""
    info, version = client().info(), client().version()
    sdk = client().images.get(catalog.image("sdk")).labels or {}
    facts = {
        "date": datetime.date.today().isoformat(),
        "engine": str(version["Version"]),
        "store": "containerd" if store.containerd_store(info) else "classic",
        "stand_ins": STAND_IN_LABEL in sdk,
    }
    folder = catalog.catalog_path().parent / FIGURES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lab_id}.json"
    path.write_text(json.dumps({**facts, **figures}, indent=2) + "\n", encoding="utf-8")
    return path
