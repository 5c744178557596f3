"""Lab 8's check cells fail, with their hints, on a wrong learner state."""

import json
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container
from docker.models.networks import Network

from labkit import CheckFailed, Lab, catalog, names
from labkit.docker_access import client
from tests.helpers import http_server
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "08-publish-container" / "lab.ipynb"
LAB_ID = "test-lab08"
pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def network() -> Network:
    return client().networks.create(wrong_state.unique(LAB_ID, "net"), labels=names.labels(LAB_ID))


@pytest.fixture(scope="module")
def registry_off_the_network() -> tuple[Container, str]:
    """An empty registry on a loopback port, on the default network only."""
    return wrong_state.registry(LAB_ID)


def _image(tmp_path: Path, dockerfile: str) -> str:
    return wrong_state.build(LAB_ID, tmp_path, dockerfile.format(aspnet=catalog.image("aspnet")))


def test_registry_check_fails_when_the_registry_is_not_on_the_lab_network(
    namespace: dict[str, Any], network: Network, registry_off_the_network: tuple[Container, str]
) -> None:
    container, address = registry_off_the_network
    with pytest.raises(CheckFailed, match=f"--network {network.name}"):
        check_cells.run_check(
            NOTEBOOK,
            1,
            namespace,
            REGISTRY_NAME=container.name,
            HOST_REGISTRY=address,
            NETWORK=network.name,
            LAB_REGISTRY="registry.test:5000",
        )


def test_base_check_fails_when_the_base_was_not_pushed(
    namespace: dict[str, Any], registry_off_the_network: tuple[Container, str]
) -> None:
    _, address = registry_off_the_network
    with pytest.raises(CheckFailed, match="answers HTTP 404"):
        check_cells.run_check(NOTEBOOK, 2, namespace, HOST_REGISTRY=address, BASE_PATH="dotnet/aspnet:10.0")


def test_publish_check_fails_when_nothing_was_pushed(
    namespace: dict[str, Any], registry_off_the_network: tuple[Container, str]
) -> None:
    _, address = registry_off_the_network
    with pytest.raises(CheckFailed, match="set ContainerRepository"):
        check_cells.run_check(NOTEBOOK, 3, namespace, HOST_REGISTRY=address)


def test_label_check_fails_when_the_project_adds_no_label(namespace: dict[str, Any], tmp_path: Path) -> None:
    # The image carries only this test's own label (for clean-up), not the one of the lab the check expects.
    image = _image(tmp_path, "FROM {aspnet}\nUSER $APP_UID\n")
    about = json.dumps({"user": "app"}, separators=(",", ":")).encode()

    def answer(_request: object) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json"}, about

    with http_server(answer) as url:
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(CheckFailed, match="ContainerLabel"):
            check_cells.run_check(NOTEBOOK, 4, namespace, SDK_APP_PORT=port, APP_SDK=image, lab=Lab("test-lab08-app"))


def test_dockerfile_check_fails_when_there_is_no_image(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match="There is no image"):
        check_cells.run_check(NOTEBOOK, 5, namespace, APP_DOCKERFILE=f"containerizing-dotnet/{LAB_ID}-never-built:1")


def test_comparison_check_fails_when_the_dockerfile_image_runs_as_root(
    namespace: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    as_app = _image(tmp_path_factory.mktemp("app"), "FROM {aspnet}\nEXPOSE 8080\nUSER $APP_UID\n")
    as_root = _image(tmp_path_factory.mktemp("root"), "FROM {aspnet}\nEXPOSE 8080\n")
    with pytest.raises(CheckFailed, match="runs as root"):
        check_cells.run_check(NOTEBOOK, 6, namespace, APP_SDK=as_app, APP_DOCKERFILE=as_root)
