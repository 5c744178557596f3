"""Lab 7's check cells fail, with their hints, on a wrong learner state."""

import re
from typing import Any

import pytest

from labkit import CheckFailed, catalog
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "07-hardening" / "lab.ipynb"
LAB_ID = "test-lab07"
pytestmark = pytest.mark.docker


def _app_image(tmp_path_factory: pytest.TempPathFactory, base_key: str, last_line: str = "") -> str:
    """An image with an /app/Api file on a catalog base: what a learner's stage could produce."""
    base = catalog.image(base_key)
    dockerfile = f"FROM {base}\nWORKDIR /app\nCOPY Api .\n{last_line}\n"
    return wrong_state.build(LAB_ID, tmp_path_factory.mktemp(base_key), dockerfile, {"Api": "not a real app\n"})


@pytest.fixture(scope="module")
def on_aspnet(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The app on the ordinary aspnet image (a shell, ICU): a last stage that is not chiseled."""
    return _app_image(tmp_path_factory, "aspnet", "USER $APP_UID")


@pytest.fixture(scope="module")
def on_chiseled_as_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _app_image(tmp_path_factory, "aspnet-chiseled", "USER root")


@pytest.fixture(scope="module")
def shell_container() -> str:
    """A running container, started without --read-only, with a shell, PID 1 `sleep` as root."""
    return str(wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps")).name)


def test_image_check_fails_when_the_last_stage_is_not_chiseled(namespace: dict[str, Any], on_aspnet: str) -> None:
    with pytest.raises(CheckFailed, match="noble-chiseled"):
        check_cells.run_check(NOTEBOOK, 1, namespace, APP=on_aspnet)


def test_image_check_fails_when_the_chiseled_stage_runs_as_root(
    namespace: dict[str, Any], on_chiseled_as_root: str
) -> None:
    with pytest.raises(CheckFailed, match="runs as root"):
        check_cells.run_check(NOTEBOOK, 1, namespace, APP=on_chiseled_as_root)


def test_run_check_fails_without_a_read_only_root_filesystem(namespace: dict[str, Any], shell_container: str) -> None:
    with pytest.raises(CheckFailed, match="--read-only"):
        check_cells.run_check(NOTEBOOK, 2, namespace, NAME=shell_container, URL="http://127.0.0.1:9")


def test_no_shell_check_fails_when_the_container_has_a_shell(namespace: dict[str, Any], shell_container: str) -> None:
    with pytest.raises(CheckFailed, match="still has a shell"):
        check_cells.run_check(NOTEBOOK, 3, namespace, NAME=shell_container)


def test_debug_check_fails_when_pid_1_is_not_the_app_user(namespace: dict[str, Any], shell_container: str) -> None:
    with pytest.raises(CheckFailed, match="should run the Api as user 1654"):
        check_cells.run_check(NOTEBOOK, 4, namespace, NAME=shell_container)


def test_memory_check_fails_without_a_memory_limit(namespace: dict[str, Any], shell_container: str) -> None:
    with pytest.raises(CheckFailed, match="--memory 256m"):
        check_cells.run_check(NOTEBOOK, 5, namespace, HALF=shell_container, HALF_URL="http://127.0.0.1:9")


def test_globalization_check_fails_on_an_image_with_icu(namespace: dict[str, Any], on_aspnet: str) -> None:
    with pytest.raises(CheckFailed, match="does not set DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"):
        check_cells.run_check(NOTEBOOK, 6, namespace, APP=on_aspnet)


def test_culture_check_fails_when_the_requests_were_only_echoed(namespace: dict[str, Any]) -> None:
    """The URL holds the word "culture": only the app's JSON answer ("culture": ...) shows the request was made."""
    url = "http://127.0.0.1:9"
    wrong_state.echoed(f"curl -s '{url}/culture?name=de-DE'")
    with pytest.raises(CheckFailed, match=re.escape(f"Run `curl -s '{url}/culture?name=de-DE'`")):
        check_cells.run_check(NOTEBOOK, 6, namespace, APP=catalog.image("aspnet-chiseled"), URL=url, ASPNET_URL=url)


def test_size_check_fails_when_the_hardened_image_is_the_bigger_one(
    namespace: dict[str, Any], on_aspnet: str, on_chiseled_as_root: str
) -> None:
    with pytest.raises(CheckFailed, match="chiseled aspnet image"):
        check_cells.run_check(NOTEBOOK, 7, namespace, APP=on_aspnet, APP_ASPNET=on_chiseled_as_root)


@pytest.mark.docker
def test_challenge_check_fails_with_capabilities_left(namespace: dict[str, Any]) -> None:
    read_only = wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps"), read_only=True)
    with pytest.raises(CheckFailed, match=re.escape("--cap-drop ALL --security-opt no-new-privileges")):
        check_cells.run_check(NOTEBOOK, check_cells.OUTSIDE, namespace, CHALLENGE=read_only.name)
