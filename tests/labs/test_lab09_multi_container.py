"""Lab 9's check cells fail, with their hints, on a wrong learner state.

The wrong states are containers carrying the labels Compose gives a project's containers, so the
checks find them exactly as they find the learner's (by label, never by name)."""

import re
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from labkit import CheckFailed, CommandFailed, catalog, compose, names, notebook, shell

from labkit.tools import doctor
from labkit.docker_access import client
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "09-multi-container" / "lab.ipynb"
LAB_ID = "test-lab09"
SECRET = "not-a-real-password-4711"
ASPNET = catalog.image("aspnet")  # any image with `sleep` stands in for the services' containers


def service(project: str, name: str, image: str, **options: Any) -> Container:
    """A running container that Compose would list as service `name` of `project`."""
    labels = {**names.labels(LAB_ID), compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: name}
    labels.update(options.pop("labels", {}))
    options.setdefault("network_mode", "none")
    return client().containers.run(
        image, ["sleep", "infinity"], name=wrong_state.unique(LAB_ID, name), labels=labels, detach=True, **options
    )


@pytest.fixture
def project() -> str:
    return wrong_state.unique(LAB_ID, "project")


@pytest.mark.docker
def test_build_check_fails_when_the_api_image_runs_as_root(
    namespace: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_root = wrong_state.build(LAB_ID, tmp_path, f"FROM {ASPNET}\nLABEL user=root\n")
    monkeypatch.chdir(NOTEBOOK.parent)  # the check reads ./Dockerfile, as in the notebook
    with pytest.raises(CheckFailed, match=re.escape("USER $APP_UID")):
        check_cells.run_check(NOTEBOOK, 1, namespace, API=as_root)


@pytest.mark.docker
def test_up_check_fails_when_the_db_has_no_health_check(namespace: dict[str, Any], project: str) -> None:
    service(project, "db", ASPNET)
    with pytest.raises(CheckFailed, match=re.escape("Give the db service a `healthcheck:`")):
        check_cells.run_check(NOTEBOOK, 2, namespace, PROJECT=project)


@pytest.mark.docker
def test_up_check_fails_when_the_api_does_not_wait_for_a_healthy_db(namespace: dict[str, Any], project: str) -> None:
    healthy = {"test": ["CMD", "true"], "interval": 500_000_000, "retries": 3}
    service(project, "db", ASPNET, healthcheck=healthy)
    service(project, "api", ASPNET, labels={compose.DEPENDS_ON_LABEL: "db:service_started:false"})
    with pytest.raises(CheckFailed, match="does not wait for db to be healthy"):
        check_cells.run_check(NOTEBOOK, 2, namespace, PROJECT=project)


@pytest.mark.docker
def test_name_check_fails_when_db_resolves_elsewhere(namespace: dict[str, Any], project: str) -> None:
    service(project, "db", ASPNET, network_mode="bridge")
    with pytest.raises(CheckFailed, match="`db` resolves to the db container's address"):
        check_cells.run_check(NOTEBOOK, 3, namespace, PROJECT=project, RESOLVED="10.255.255.1  db\n")


@pytest.mark.docker
def test_port_check_fails_when_the_db_is_published(namespace: dict[str, Any], project: str) -> None:
    service(project, "db", ASPNET, network_mode="bridge", ports={"5432/tcp": (names.LOOPBACK, None)})
    with pytest.raises(CheckFailed, match=re.escape("Remove the `ports:` of the db service")):
        check_cells.run_check(NOTEBOOK, 4, namespace, PROJECT=project)


@pytest.mark.docker
def test_port_check_fails_when_the_api_is_not_published(namespace: dict[str, Any], project: str) -> None:
    service(project, "db", ASPNET)
    service(project, "api", ASPNET)
    with pytest.raises(CheckFailed, match=re.escape('`ports: ["127.0.0.1::8080"]`')):
        check_cells.run_check(NOTEBOOK, 4, namespace, PROJECT=project)


@pytest.mark.docker
def test_port_check_fails_when_compose_was_not_asked_for_the_port(namespace: dict[str, Any], project: str) -> None:
    service(project, "db", ASPNET)
    service(project, "api", ASPNET, network_mode="bridge", ports={"8080/tcp": (names.LOOPBACK, None)})
    with pytest.raises(CheckFailed, match=re.escape("port api 8080` through `run`")):
        check_cells.run_check(NOTEBOOK, 4, namespace, PROJECT=project)


@pytest.mark.docker
@pytest.mark.parametrize(
    ("instruction", "where"),
    [(f"ENV POSTGRES_PASSWORD={SECRET}", "its environment"), (f"ARG PASSWORD={SECRET}\nRUN echo $PASSWORD", "history")],
)
def test_secret_check_fails_when_the_password_is_baked_in(
    namespace: dict[str, Any], tmp_path: Path, instruction: str, where: str
) -> None:
    baked = wrong_state.build(LAB_ID, tmp_path, f"FROM {ASPNET}\n{instruction}\n")
    with pytest.raises(CheckFailed, match=f"The secret is in the image .*{where}"):
        check_cells.run_check(NOTEBOOK, 5, namespace, API=baked, PASSWORD=SECRET)


@pytest.mark.docker
@pytest.mark.parametrize(("read", "missing"), [(False, "docker history --no-trunc"), (True, "json .Config.Env")])
def test_secret_check_fails_until_the_image_was_read(
    namespace: dict[str, Any], tmp_path: Path, read: bool, missing: str
) -> None:
    clean = wrong_state.build(LAB_ID, tmp_path, f"FROM {ASPNET}\n")
    if read:
        wrong_state.ran(f"docker history --no-trunc {clean}")
    with pytest.raises(CheckFailed, match=re.escape(missing)):
        check_cells.run_check(NOTEBOOK, 5, namespace, API=clean, PASSWORD=SECRET)


@pytest.mark.docker
def test_secret_check_fails_when_the_history_was_only_echoed(namespace: dict[str, Any], tmp_path: Path) -> None:
    clean = wrong_state.build(LAB_ID, tmp_path, f"FROM {ASPNET}\n")
    wrong_state.echoed(f"docker history --no-trunc {clean}")
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker history --no-trunc {clean}`")):
        check_cells.run_check(NOTEBOOK, 5, namespace, API=clean, PASSWORD=SECRET)


def test_logs_check_fails_when_the_item_is_not_in_the_logs(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match="logs --no-color api"):
        check_cells.run_check(NOTEBOOK, 6, namespace, LOGS="api-1  | Now listening on: http://[::]:8080\n", ITEM="x")


@pytest.mark.docker
def test_scale_check_fails_with_one_replica(namespace: dict[str, Any], project: str) -> None:
    service(project, "api", ASPNET)
    with pytest.raises(CheckFailed, match=re.escape("--scale api=2")):
        check_cells.run_check(NOTEBOOK, 7, namespace, PROJECT=project, ITEM="x")


@pytest.mark.docker
def test_down_check_fails_while_a_container_is_left(namespace: dict[str, Any], project: str) -> None:
    service(project, "db", ASPNET)
    with pytest.raises(CheckFailed, match="down` in the lab folder"):
        check_cells.run_check(NOTEBOOK, 8, namespace, PROJECT=project)


def test_a_restore_that_cannot_reach_nuget_fails_with_one_line_saying_what_to_check() -> None:
    log = "error NU1301: Unable to load the service index for source https://api.nuget.org/v3/index.json."
    with pytest.raises(CommandFailed) as failed:
        shell.run(f"echo '{log}'; echo 'ERROR: failed to solve'; exit 1", quiet=True)
    assert failed.value.advice == shell.NUGET_ADVICE
    assert notebook.short_message(failed.value).endswith(shell.NUGET_ADVICE)


def test_doctor_says_how_to_get_compose_when_it_is_missing() -> None:
    assert doctor.compose_row(None).status == "warn"
    assert "docker-compose-plugin" in doctor.compose_row(None).detail
    assert doctor.compose_row("Docker Compose version 2.26.1\n").detail == "2.26.1"
