"""Lab 5's check cells fail, with their hints, on a wrong learner state."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from labkit import CheckFailed, catalog, names
from labkit.docker_access import client
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "05-registries" / "lab.ipynb"
LAB_ID = "test-lab05"


@pytest.fixture(scope="module")
def small_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A labelled image on runtime-deps, like the lab's, never pushed anywhere."""
    base = catalog.image("runtime-deps")
    return wrong_state.build(LAB_ID, tmp_path_factory.mktemp("small"), f"FROM {base}\nLABEL release=test\n")


@pytest.fixture(scope="module")
def registry() -> Iterator[tuple[Container, str]]:
    container, address = wrong_state.registry(LAB_ID)
    yield container, address
    container.remove(force=True, v=True)


def _tag(image: str, ref: str) -> str:
    repository, _, tag = ref.rpartition(":")
    client().images.get(image).tag(repository, tag)
    return ref


def test_name_check_fails_when_the_defaults_are_not_applied(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match=re.escape("add docker.io/")):
        check_cells.run_check(
            NOTEBOOK, 1, namespace, REGISTRY_FULL=namespace["REGISTRY_IMAGE"], TEAM_API_FULL="docker.io/team/api"
        )


def test_name_check_fails_when_the_full_name_was_not_pulled(namespace: dict[str, Any]) -> None:
    full = f"docker.io/library/{namespace['REGISTRY_IMAGE']}"
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker pull {full}`")):
        check_cells.run_check(NOTEBOOK, 1, namespace, REGISTRY_FULL=full, TEAM_API_FULL="docker.io/team/api:latest")


def test_name_check_fails_when_the_pull_was_only_echoed(namespace: dict[str, Any]) -> None:
    full = f"docker.io/library/{namespace['REGISTRY_IMAGE']}"
    wrong_state.echoed(f"docker pull {full}")
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker pull {full}`")):
        check_cells.run_check(NOTEBOOK, 1, namespace, REGISTRY_FULL=full, TEAM_API_FULL="docker.io/team/api:latest")


@pytest.mark.docker
def test_registry_check_fails_when_the_registry_is_not_running(namespace: dict[str, Any]) -> None:
    stopped = client().containers.create(
        namespace["REGISTRY_IMAGE"], name=wrong_state.unique(LAB_ID, "registry"), labels=names.labels(LAB_ID)
    )
    with pytest.raises(CheckFailed, match="is created"):
        check_cells.run_check(NOTEBOOK, 2, namespace, REGISTRY_NAME=stopped.name, REGISTRY="127.0.0.1:9")


@pytest.mark.docker
def test_build_check_fails_when_there_is_no_image(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match="There is no image"):
        check_cells.run_check(NOTEBOOK, 3, namespace, LOCAL=f"containerizing-dotnet/{LAB_ID}-never-built:1")


@pytest.mark.docker
def test_push_check_fails_when_the_image_was_only_tagged(
    namespace: dict[str, Any], small_image: str, registry: tuple[Container, str]
) -> None:
    """Under the containerd image store the tag alone gives the name a RepoDigests entry: only the registry knows."""
    _, address = registry
    path = f"containerizing-dotnet/{LAB_ID}-tagged-only"
    remote = _tag(small_image, f"{address}/{path}:1")
    with pytest.raises(CheckFailed, match="tagging is not pushing"):
        check_cells.run_check(
            NOTEBOOK, 4, namespace, REGISTRY=address, REPO_PATH=path, REMOTE=remote, LOCAL=small_image
        )


@pytest.mark.docker
def test_registry_api_check_fails_when_the_tag_holds_another_image(
    namespace: dict[str, Any], small_image: str, registry: tuple[Container, str], tmp_path: Path
) -> None:
    _, address = registry
    path = f"containerizing-dotnet/{LAB_ID}-hello"
    remote = _tag(small_image, f"{address}/{path}:1")
    client().images.push(f"{address}/{path}", tag="1")
    other = wrong_state.build(LAB_ID, tmp_path, f"FROM {catalog.image('runtime-deps')}\nLABEL release=other\n")
    _tag(other, remote)  # the name now means an image that was never pushed
    wrong_state.ran(f"curl -s http://{address}/v2/_catalog", f"curl -s http://{address}/v2/{path}/tags/list")
    with pytest.raises(CheckFailed, match=r"push \S+ again"):
        check_cells.run_check(
            NOTEBOOK, 5, namespace, REGISTRY=address, REPO_PATH=path, REMOTE=remote, REPOSITORY=f"{address}/{path}"
        )


@pytest.mark.docker
def test_registry_api_check_fails_without_asking_the_registry(
    namespace: dict[str, Any], registry: tuple[Container, str]
) -> None:
    _, address = registry
    wrong_state.ran(f"curl -s http://{address}/v2/")
    with pytest.raises(CheckFailed, match=re.escape(f"Run `curl -s http://{address}/v2/_catalog`")):
        check_cells.run_check(NOTEBOOK, 5, namespace, REGISTRY=address, REPO_PATH="anything")


def _pushed(small_image: str, address: str, what: str) -> str:
    """`small_image` pushed to the registry at `address` as `what`:1; returns that name."""
    remote = _tag(small_image, f"{address}/{LAB_ID}-{what}:1")
    client().images.push(remote.rpartition(":")[0], tag="1")
    return remote


@pytest.mark.docker
def test_pull_check_fails_when_the_image_was_never_removed(
    namespace: dict[str, Any], small_image: str, registry: tuple[Container, str]
) -> None:
    remote = _pushed(small_image, registry[1], "kept")
    wrong_state.ran(f"docker pull {remote}")  # "Image is up to date": nothing travelled
    with pytest.raises(CheckFailed, match=re.escape("Remove both names first")):
        check_cells.run_check(NOTEBOOK, 6, namespace, REMOTE=remote, LOCAL=small_image)


@pytest.mark.docker
def test_pull_check_fails_when_the_image_is_another_one(
    namespace: dict[str, Any], small_image: str, registry: tuple[Container, str]
) -> None:
    remote = _pushed(small_image, registry[1], "pulled")
    client().images.remove(remote)
    wrong_state.ran(f"docker pull {remote}")
    with pytest.raises(CheckFailed, match="is another image"):
        check_cells.run_check(
            NOTEBOOK, 6, namespace, REMOTE=remote, LOCAL=small_image, RELEASE_1_ID="sha256:" + "0" * 64
        )


@pytest.mark.docker
def test_digest_check_fails_when_the_tag_did_not_move(namespace: dict[str, Any], small_image: str) -> None:
    same = client().images.get(small_image).id
    with pytest.raises(CheckFailed, match=re.escape("build release 1.1")):
        check_cells.run_check(NOTEBOOK, 7, namespace, PINNED=small_image, REMOTE=small_image, RELEASE_1_ID=same)


@pytest.mark.docker
def test_challenge_check_fails_when_the_mirror_was_not_pushed(
    namespace: dict[str, Any], small_image: str, registry: tuple[Container, str]
) -> None:
    address = registry[1]
    remote = _pushed(small_image, address, "mirrored")
    path = remote.removeprefix(f"{address}/").rpartition(":")[0]
    with pytest.raises(CheckFailed, match=re.escape("is the same manifest")):
        check_cells.run_check(
            NOTEBOOK,
            check_cells.OUTSIDE,
            namespace,
            REGISTRY=address,
            REPO_PATH=path,
            REMOTE=remote,
            MIRROR=f"{address}/mirror/hello:1",
        )
