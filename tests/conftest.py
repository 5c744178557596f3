"""Fixtures for labkit's own tests: tiny images made here, with no registry and no network.

The base image is the host's static busybox (Debian package busybox-static) imported as a
one-layer image: a shell, `sleep` and `httpd` in 2 MB, so containers can run and serve HTTP.
Everything is labelled org.containerizing-dotnet.lab=labkit-tests, tagged per session, and
removed at the end of the session by id (never by label: other sessions may run meanwhile).

Every test under tests/ sees these fixtures (this is the conftest.py of the whole tree); test
modules take plain helpers, and the repository's ROOT, from tests.helpers. Course-wide hooks that
must reach the solution notebooks too are in the repository's conftest.py, not here.
"""

import secrets
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import ContainerError

from labkit import names
from labkit.docker_access import client, reachable
from tests.helpers import LABELS, TEST_LAB, BuildImage, Made, MakeLabResources, StartContainer, output_of

BUSYBOX_APPLETS = ("sh", "sleep", "httpd", "true", "false", "cat", "echo", "ls", "wget")


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    reason = reachable()
    if reason is not None:
        pytest.skip(f"no Docker engine: {reason}")
    return client()


@pytest.fixture(scope="session")
def run_tag() -> str:
    """Makes this session's tags and names unique."""
    return secrets.token_hex(3)


@pytest.fixture(scope="session")
def made(docker_client: docker.DockerClient, run_tag: str) -> Iterator[Made]:
    found = Made(run_tag)
    yield found
    found.remove_all(docker_client)


@pytest.fixture(scope="session")
def busybox(
    docker_client: docker.DockerClient, made: Made, run_tag: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A one-layer base image with a shell, sleep and httpd: labkit-tests/busybox:<run>."""
    source = Path(shutil.which("busybox") or "/bin/busybox")
    if not source.is_file():
        pytest.skip("busybox is not installed: `apt-get install busybox-static`")
    archive = tmp_path_factory.mktemp("busybox") / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    ref = f"{TEST_LAB}/busybox:{run_tag}"
    changes = [f"LABEL {names.LABEL_KEY}={TEST_LAB}", 'CMD ["/bin/sh"]']
    docker_client.api.import_image(src=str(archive), repository=ref.split(":")[0], tag=run_tag, changes=changes)
    made.images.append(ref)
    try:
        output_of(ref, ["true"])
    except ContainerError:
        pytest.skip(f"{source} does not run in an empty image (not static): `apt-get install busybox-static`")
    return ref


@pytest.fixture(scope="session")
def build_image(
    docker_client: docker.DockerClient, made: Made, run_tag: str, busybox: str, tmp_path_factory: pytest.TempPathFactory
) -> BuildImage:
    """build_image(name, dockerfile, files={}, labels=LABELS) -> "labkit-tests/<name>:<run>".

    `{base}` in the Dockerfile stands for the busybox image. Built once per name and session,
    without the cache: under the containerd store a step image that two builds share (the
    legacy builder's cache) outlives both images once they are removed.
    """
    built: dict[str, str] = {}

    def build(
        name: str, dockerfile: str, files: dict[str, str] | None = None, labels: dict[str, str] | None = None
    ) -> str:
        if name in built:
            return built[name]
        context = tmp_path_factory.mktemp(f"context-{name}")
        (context / "Dockerfile").write_text(dockerfile.replace("{base}", busybox))
        for path, text in (files or {}).items():
            (context / path).parent.mkdir(parents=True, exist_ok=True)
            (context / path).write_text(text)
        ref = f"{TEST_LAB}/{name}:{run_tag}"
        docker_client.images.build(
            path=str(context), tag=ref, labels=LABELS if labels is None else labels, rm=True, forcerm=True, nocache=True
        )
        made.images.append(ref)
        built[name] = ref
        return ref

    return build


@pytest.fixture(scope="session")
def start_container(docker_client: docker.DockerClient, made: Made, run_tag: str) -> StartContainer:
    """start_container(image, command, what=..., **run_options) -> a detached, labelled container."""

    def start(image: str, command: list[str] | None = None, what: str = "c", **options: Any) -> Any:
        options.setdefault("labels", LABELS)
        options.setdefault("network_mode", "none")  # sleeping test containers need no network
        name = f"{TEST_LAB}-{what}-{run_tag}-{secrets.token_hex(2)}"
        container = docker_client.containers.run(image, command, name=name, detach=True, **options)
        made.containers.append(container.id)
        return container

    return start


@pytest.fixture(scope="session")
def lab_resources(docker_client: docker.DockerClient, made: Made, build_image: BuildImage) -> MakeLabResources:
    """lab_resources(lab_id) -> {kind: id}: a container, image, network and volume labelled lab_id."""

    def create(lab_id: str) -> dict[str, str]:
        labels = names.labels(lab_id)
        image = docker_client.images.get(build_image(lab_id, "FROM {base}\n", labels=labels))
        container = docker_client.containers.create(image.id, ["sleep", "300"], name=lab_id, labels=labels)
        network = docker_client.networks.create(lab_id, labels=labels)
        volume = docker_client.volumes.create(lab_id, labels=labels)
        made.containers.append(container.id)
        made.networks.append(network.id)
        made.volumes.append(volume.id)
        return {"container": container.id, "image": image.id, "network": network.id, "volume": volume.id}

    return create
