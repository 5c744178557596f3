"""A workshop in the offline world: 127.0.0.2 plays the instructor's laptop, this engine a learner's.

Serve every catalog image, push to it as someone in the room would (refused: it is read-only), take
the course images' real names away (the tags only: other work on this engine keeps its layers),
join with the fingerprint `serve` printed, and run lab 01's solution notebook on the joined images.
Whatever happens, the real names come back and the classroom registry is removed.
"""

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker.errors import NotFound

from labkit import catalog, refs
from labkit.docker_access import client
from labkit.registry.client import Registry
from labkit.tools import packages
from labkit.tools.classroom import room
from tests import helpers
from tests.helpers import ROOT, TEST_LAB, catalog_file

pytestmark = [pytest.mark.offline_world, pytest.mark.docker, pytest.mark.holds("classroom")]

INSTRUCTOR = "127.0.0.2"


def labkit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = helpers.labkit(*args, env=env, timeout=1200)
    print(result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def classroom_serving() -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    """What the one classroom registry serves now ("catalog" when every catalog image): a test that
    serves something else clears it. Removed before the first test and after the last."""
    labkit("classroom", "stop")
    serving: dict[str, subprocess.CompletedProcess[str]] = {}
    try:
        yield serving
    finally:
        labkit("classroom", "stop")


@pytest.fixture
def served(classroom_serving: dict[str, subprocess.CompletedProcess[str]]) -> subprocess.CompletedProcess[str]:
    """Every catalog image served on the instructor's address, whatever a test before this one served."""
    if "catalog" not in classroom_serving:
        labkit("classroom", "stop")
        classroom_serving["catalog"] = labkit("classroom", "serve", "--address", INSTRUCTOR)
    return classroom_serving["catalog"]


@pytest.fixture
def names_taken_away(run_tag: str) -> Iterator[dict[str, str]]:
    """Untag every catalog image's real name (a held tag keeps each image); put them all back at the end."""
    docker = client().api
    ids = {entry.ref: str(docker.inspect_image(entry.ref)["Id"]) for entry in catalog.images()}
    held = {ref: f"{TEST_LAB}/held:{index}-{run_tag}" for index, ref in enumerate(ids)}
    try:
        for ref, image_id in ids.items():
            docker.tag(image_id, *held[ref].split(":"))
            docker.remove_image(ref)
        yield ids
    finally:
        for ref, image_id in ids.items():
            docker.tag(image_id, ref.removesuffix(f":{refs.tag(ref)}"), refs.tag(ref))
            with contextlib.suppress(NotFound):
                docker.remove_image(held[ref])


def fingerprint(served: subprocess.CompletedProcess[str]) -> str:
    """The fingerprint in the line `serve` printed for learners."""
    found = re.search(rf"python -m labkit classroom join {INSTRUCTOR}:5000 --expect ([0-9a-f-]{{19}})\n", served.stdout)
    assert found, served.stdout
    return found[1]


def test_serve_prints_the_learners_line_and_what_it_copied(served: subprocess.CompletedProcess[str]) -> None:
    assert served.returncode == 0, served.stdout + served.stderr
    assert fingerprint(served)
    served_line = (
        r"\d+ images from images.toml and the labs' NuGet packages served read-only on 127.0.0.2:5000: "
        r"\d+ MB copied in \d+ s"
    )
    assert re.search(served_line, served.stdout)


def test_a_push_from_the_room_is_refused(served: subprocess.CompletedProcess[str], busybox: str) -> None:
    """Someone in the room pushes their own dotnet/sdk:10.0 to the served registry: it keeps serving the real one."""
    classroom_sdk = room.served_ref(catalog.image("sdk"), f"{INSTRUCTOR}:5000")
    image = refs.parse(classroom_sdk)
    served_here = Registry(f"{INSTRUCTOR}:5000")
    before = served_here.manifest(image.repository, image.tag_or_latest).digest
    docker = client()
    docker.images.get(busybox).tag(classroom_sdk)
    try:
        pushed = subprocess.run(["docker", "push", classroom_sdk], capture_output=True, text=True, timeout=300)
    finally:
        docker.images.remove(classroom_sdk)
    print(pushed.stdout, pushed.stderr)
    assert pushed.returncode != 0 and "not allowed" in (pushed.stdout + pushed.stderr).lower()
    assert served_here.manifest(image.repository, image.tag_or_latest).digest == before
    status = labkit("classroom", "status")
    assert status.returncode == 0 and f"--expect {fingerprint(served)}" in status.stdout


@pytest.mark.engine_wide  # it takes the course images' names away, and lab 01 runs here under its own id
def test_join_names_every_image_and_lab_01_runs(
    served: subprocess.CompletedProcess[str], names_taken_away: dict[str, str]
) -> None:
    assert served.returncode == 0
    joined = labkit("classroom", "join", INSTRUCTOR, "--expect", fingerprint(served))
    assert joined.returncode == 0, joined.stdout + joined.stderr
    assert "Every course image is here." in joined.stdout
    feed = packages.feed_ref()
    assert f"restoring every lab's project from the classroom's feed image {feed}" in joined.stdout
    assert f"the packages of {len(packages.projects())} lab projects are in BuildKit's cache" in joined.stdout
    for ref, image_id in names_taken_away.items():
        assert client().api.inspect_image(ref)["Id"] == image_id  # the real name, on the served image
        assert f"{ref} pulled from the classroom" in joined.stdout
    again = labkit("classroom", "join", INSTRUCTOR, "--expect", fingerprint(served))  # again: nothing to pull
    assert again.returncode == 0 and "pulled from the classroom" not in again.stdout
    # Every layer was here already (the held names keep them), so the engine asked for no manifest by
    # digest and no pull is counted; a learner without the images makes the count (test_classroom.py).
    status = labkit("classroom", "status")
    assert status.returncode == 0 and re.search(r"\d+ image pull\(s\) answered", status.stdout), status.stdout
    assert f"--expect {fingerprint(served)}" in status.stdout
    lab = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "solutions/01-containers/lab.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert lab.returncode == 0, lab.stdout[-3000:]


def test_all_platforms_copies_from_the_images_own_registries(
    classroom_serving: dict[str, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """mcr.microsoft.com here is the offline world's registry, trusted through /etc/docker/certs.d."""
    small = {"chiseled": catalog.image("runtime-deps-chiseled"), "registry": catalog.image("registry")}
    env = {**os.environ, "LABKIT_CATALOG": str(catalog_file(tmp_path, small))}
    classroom_serving.clear()
    labkit("classroom", "stop")  # an empty registry: every blob and manifest must come from the copy
    result = labkit("classroom", "serve", "--address", INSTRUCTOR, "--all-platforms", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"served read-only on 127.0.0.2:5000: [1-9]\d* MB copied", result.stdout), result.stdout
    served_here = Registry(f"{INSTRUCTOR}:5000")
    for ref in small.values():
        image = refs.parse(ref)
        source = Registry(image.registry).manifest(image.repository, image.tag_or_latest)
        assert served_here.manifest(image.repository, image.tag_or_latest).body == source.body  # byte for byte
    assert room.classroom_container() is not None
