"""Put every NuGet package the labs restore into BuildKit's NuGet cache, so their builds need no network.

A lab whose Dockerfile restores with `RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages`
(lab 9's) reads BuildKit's NuGet cache: a folder BuildKit keeps on the engine between builds,
outside every image. One build here restores each lab's project into it; such a lab's build then
finds every package it needs there (NuGet takes a version from its packages folder before it asks a
feed) and never reaches for nuget.org. The projects come from `solutions/`, where they are
complete. (Lab 3 restores without a cache mount, as Microsoft's samples do, and times cold builds
with `--no-cache`, which in BuildKit also starts cache mounts empty: it needs nuget.org.)

In a classroom the packages come from the room's registry instead (`feed`): `classroom serve`
publishes them once as an image, a NuGet feed folder, so thirty laptops do not each download them.
"""

import hashlib
import shutil
import tempfile
import time
from pathlib import Path

from labkit import catalog, names, run
from labkit.engine import image_info
from labkit.errors import CommandFailed, LabError
from labkit.shell import NUGET_CACHE_MOUNT

LAB = "prepull"  # the label of the builds and images made here
FEED_REPOSITORY = "containerizing-dotnet/nuget-feed"
FEED_FOLDER = "/feed"  # inside a feed image: the packages, laid out as a NuGet folder feed
FEED_ARCHITECTURES = ("x64", "arm64")  # a room mixes Intel and Apple or ARM laptops
RESTORE = 'for project in */*.csproj; do dotnet restore "$project" {options} || exit 1; done'


class PackagesFailed(LabError):
    """The labs' packages could not be restored; the message says why and what to do."""


def projects() -> list[Path]:
    """The project file of every lab solution of the course the catalog belongs to, sorted; except a
    project with a nuget.config of its own, which restores from the feed it names (lab 12's app, from the
    lab's private feed, which runs only during the lab): nuget.org does not have its packages."""
    found = (catalog.catalog_path().parent / "solutions").glob("*/*/*.csproj")
    return sorted(project for project in found if not (project.parent / "nuget.config").exists())


def fill(feed: str | None = None) -> int:
    """Restore every lab project into the NuGet cache mount: from nuget.org, or from `feed`, a feed
    image (`classroom join` passes the room's). The number of projects restored."""
    if feed is None:
        steps = [f"RUN {NUGET_CACHE_MOUNT} {RESTORE.format(options='-a $TARGETARCH')}"]
    else:
        feed_mount = f"--mount=type=bind,from={feed},source={FEED_FOLDER},target={FEED_FOLDER}"
        from_feed = f"-a $TARGETARCH --source {FEED_FOLDER}"
        steps = [f"RUN {NUGET_CACHE_MOUNT} {feed_mount} {RESTORE.format(options=from_feed)}"]
    # FILLED makes the restore run again however often prepull runs; --no-cache would do that too, but
    # BuildKit (Docker 26) also gives a --no-cache build new, empty cache mounts, dropping the old ones.
    # From a feed, the restore needs no network at all: without one, it cannot ask nuget.org either.
    options = f"--build-arg FILLED={time.time_ns()} --output type=cacheonly" + (" --network none" if feed else "")
    _build(["ARG FILLED", *steps], options, feed)
    return len(projects())


def feed_ref() -> str | None:
    """The name of the feed image for these lab projects (its tag follows their contents); None when
    the course has none."""
    found = projects()
    if not found:
        return None
    digest = hashlib.sha256()
    for project in found:
        digest.update(f"{project.parent.parent.name}/{project.name}\0".encode() + project.read_bytes() + b"\0")
    return f"{FEED_REPOSITORY}:{digest.hexdigest()[:16]}"


def build_feed() -> str:
    """The feed image, built unless it is here: every package the labs restore, for the
    architectures of FEED_ARCHITECTURES, as a NuGet folder feed, on an empty base."""
    ref = feed_ref()
    if ref is None:
        raise PackagesFailed(
            "This course has no lab projects (solutions/*/*/*.csproj): there are no packages to serve."
        )
    if not image_info.exists(ref):
        restores = " && ".join(
            RESTORE.format(options=f"-a {arch} --packages {FEED_FOLDER}") for arch in FEED_ARCHITECTURES
        )
        _build([f"RUN {restores}", "FROM scratch", f"COPY --from=0 {FEED_FOLDER} {FEED_FOLDER}"], f"-t {ref}", None)
    return ref


def _build(steps: list[str], options: str, feed: str | None) -> None:
    """Build the lab projects (copied into a temporary context, one folder per lab) with `steps`
    after the sdk stage that holds them."""
    with tempfile.TemporaryDirectory(prefix="cdn-packages-") as folder:
        context = Path(folder)
        for project in projects():
            lab = context / project.parent.parent.name
            lab.mkdir(exist_ok=True)
            shutil.copy2(project, lab / project.name)
        stage = [f"FROM {catalog.image('sdk')}", "ARG TARGETARCH", "WORKDIR /projects", "COPY . ."]
        (context / "Dockerfile").write_text("\n".join(stage + steps) + "\n")
        try:
            run(f"docker build {names.label_flags(LAB)} {options} .", cwd=context, quiet=True, record=False)
        except CommandFailed as exc:
            raise PackagesFailed(_why(exc, feed)) from exc


def _why(failed: CommandFailed, feed: str | None) -> str:
    where = f"the room's feed image {feed}" if feed else "nuget.org"
    last = failed.tail.strip().splitlines()[-1] if failed.tail.strip() else "no output"
    again = "the room's registry" if feed else "https://api.nuget.org (network, proxy, firewall)"
    return (
        f"Could not restore the labs' NuGet packages from {where} ({last}). The images are here; the labs that "
        f"use packages will download them when they build. Run this again once this machine reaches {again}."
    )
