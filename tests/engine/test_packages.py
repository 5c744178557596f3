"""Offline after prepull: the labs that restore through BuildKit's NuGet cache build with no
network once `python -m labkit prepull` has filled it (labkit/tools/packages.py).

`--network none` takes the network from every RUN, so `dotnet restore` cannot reach nuget.org. A
comment added to the project file makes the restore run again rather than come from an earlier
build's layer (`--no-cache` would too, but BuildKit starts a --no-cache build's cache mounts empty).
The control builds the same Dockerfile with a cache of its own, empty: without the packages it fails.
"""

import io
import json
import tarfile
import time
from pathlib import Path
from xml.etree import ElementTree

import docker
import pytest

from labkit import catalog, names, run, shell
from labkit.errors import CommandFailed
from labkit.tools import packages
from tests.helpers import LABEL_FLAGS, LABELS, TEST_LAB, Made, copy_solution

pytestmark = pytest.mark.docker

# Lab 9 references a package and restores through the cache; lab 4 references none (restoring needs
# no feed at all). Lab 3 restores from nuget.org by design: see labkit/tools/packages.py.
OFFLINE_LABS = ("04-dev-vs-prod", "09-multi-container")


@pytest.fixture(scope="module")
def filled() -> int:
    return packages.fill()


def copy_of(lab: str, folder: Path) -> Path:
    """A copy of the lab's solution whose project file differs (by a comment) from every earlier build's."""
    copy = copy_solution(lab, folder / lab, "bin", "obj")
    project = next(copy.glob("api/*.csproj"))
    project.write_text(project.read_text() + f"<!-- {time.time_ns()} -->\n")
    return copy


def offline_build(context: Path, tag: str, made: Made) -> None:
    """Build with no network; the session removes `tag` at its end, whether or not the build ends well."""
    made.images.append(tag)
    run(
        f"docker build --network none {LABEL_FLAGS} --build-arg DOTNET_TAG={catalog.dotnet_tag()} -t {tag} .",
        cwd=context,
        quiet=True,
        record=False,
    )


def test_prepull_restores_every_lab_project(filled: int) -> None:
    assert filled == len(packages.projects()) >= len(OFFLINE_LABS)


@pytest.mark.parametrize("lab", OFFLINE_LABS)
def test_after_prepull_a_lab_builds_with_nuget_unreachable(
    lab: str, filled: int, tmp_path: Path, docker_client: docker.DockerClient, made: Made, run_tag: str
) -> None:
    tag = f"{TEST_LAB}/offline-{lab}:{run_tag}"
    offline_build(copy_of(lab, tmp_path), tag, made)
    assert docker_client.images.get(tag).labels.get(names.LABEL_KEY) == TEST_LAB


def test_after_prepull_the_diagnostics_tools_install_with_nuget_unreachable(
    filled: int, tmp_path: Path, docker_client: docker.DockerClient, made: Made, run_tag: str
) -> None:
    """Lab 13's tools image restores Tools.csproj from the cache, then installs each tool from it."""
    tools = copy_solution("13-diagnose/tools", tmp_path / "tools")
    project = tools / "Tools.csproj"
    project.write_text(project.read_text() + f"<!-- {time.time_ns()} -->\n")
    tag = f"{TEST_LAB}/offline-13-diagnose-tools:{run_tag}"
    offline_build(tools, tag, made)
    assert docker_client.images.get(tag).labels.get(names.LABEL_KEY) == TEST_LAB


def test_after_prepull_lab_11s_sbom_stage_runs_with_nuget_unreachable(filled: int, tmp_path: Path) -> None:
    """Lab 11's sbom stage installs the CycloneDX tool and reads every package's metadata from the cache."""
    context = copy_of("11-ship-it", tmp_path)
    out = tmp_path / "out"
    run(
        f"docker build --network none {LABEL_FLAGS} --target sbom --output type=local,dest={out} .",
        cwd=context,
        quiet=True,
        record=False,
    )
    components = json.loads((out / "app.cdx.json").read_text())["components"]
    assert {"Microsoft.AspNetCore.OpenApi", "Microsoft.OpenApi"} <= {component["name"] for component in components}


def test_without_the_packages_the_same_build_cannot_restore(tmp_path: Path, made: Made, run_tag: str) -> None:
    context = copy_of("09-multi-container", tmp_path)
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("id=nuget,", f"id=nuget-empty-{run_tag},"))
    with pytest.raises(CommandFailed) as failed:
        offline_build(context, f"{TEST_LAB}/offline-control:{run_tag}", made)
    assert failed.value.advice == shell.NUGET_ADVICE, failed.value.tail


def package_references() -> set[str]:
    """Every `id/version` the lab projects reference, as NuGet's folder feed lays it out (lower case)."""
    found = set()
    for project in packages.projects():
        for reference in ElementTree.parse(project).iter("PackageReference"):
            found.add(f"{reference.get('Include', '').lower()}/{reference.get('Version', '').lower()}")
    return found


@pytest.fixture(scope="module")
def feed() -> str:
    """The feed image: a course image like those prepull pulls (`labkit clean` removes it), kept here
    because the classroom test may be serving it at the same time."""
    return packages.build_feed()


def test_the_feed_image_holds_every_referenced_package_for_the_folder_feed(
    feed: str, docker_client: docker.DockerClient
) -> None:
    container = docker_client.containers.create(feed, ["none"], labels=LABELS)  # an empty base: never started
    try:
        archive = b"".join(container.get_archive(packages.FEED_FOLDER)[0])
    finally:
        container.remove(v=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        held = set(tar.getnames())
    assert package_references(), "the labs reference no package: nothing to test"
    for package in package_references():
        package_id, version = package.split("/")
        assert f"feed/{package}/{package_id}.{version}.nupkg" in held, sorted(held)[:20]


def test_a_classroom_fill_restores_from_the_feed_alone(feed: str, tmp_path: Path, made: Made, run_tag: str) -> None:
    """From the feed, the fill runs with no network: every package must come from the feed image."""
    assert packages.fill(feed) == len(packages.projects())
    offline_build(copy_of("09-multi-container", tmp_path), f"{TEST_LAB}/offline-after-feed:{run_tag}", made)
