"""Lab 9's check cells fail, with their hints, on a wrong learner state.

The wrong states are containers carrying the labels Compose gives a project's containers, so the
checks find them exactly as they find the learner's (by label, never by name)."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from labkit import CheckFailed, CommandFailed, catalog, compose, names, notebook, shell
from labkit.docker_access import client
from labkit.tools import doctor
from labkit.waiting import wait_until
from tests.helpers import copy_solution
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "09-multi-container" / "lab.ipynb"
LAB_ID = "test-lab09"
SECRET = "not-a-real-password-4711"
ASPNET = catalog.image("aspnet")  # any image with `sleep` stands in for the services' containers
COMPOSE_YAML = NOTEBOOK.parent / "compose.yaml"
WAITS_FOR_DB = "    depends_on:\n      db:\n        condition: service_healthy\n"
# A db whose health check passes and names pg_isready over TCP, as the check reads it (the image has no
# PostgreSQL: `|| true` keeps it healthy); and an api that is healthy at once.
DB_HEALTH = {"test": ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U app -d items || true"], "interval": 500_000_000}
API_HEALTH = {"test": ["CMD", "true"], "interval": 500_000_000}
ON_LOOPBACK = {"network_mode": "bridge", "ports": {"8080/tcp": (names.LOOPBACK, None)}}


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


@pytest.fixture
def compose_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """The lab folder's compose.yaml, less `text`, as the folder the check cells run in (their cwd)."""

    def folder(without: str = "") -> Path:
        text = COMPOSE_YAML.read_text()
        assert without in text
        (tmp_path / "compose.yaml").write_text(text.replace(without, ""))
        copy_solution("09-multi-container/db", tmp_path / "db")
        monkeypatch.chdir(tmp_path)
        return tmp_path

    return folder


def healthy(one: Container) -> Container:
    wait_until(lambda: one.reload() or one.health == "healthy", timeout=60, interval=0.5, what=f"{one.name} healthy")
    return one


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
def test_up_check_fails_when_pg_isready_asks_the_unix_socket(namespace: dict[str, Any], project: str) -> None:
    """Healthy too early: without -h, pg_isready asks the socket, where the initialising server answers."""
    socket_only = {"test": ["CMD", "pg_isready", "-U", "app", "-d", "items"], "interval": 500_000_000}
    db = wrong_state.database_service(LAB_ID, project, "items", healthcheck=socket_only)
    healthy(db)
    with pytest.raises(CheckFailed, match=re.escape("Run `pg_isready -h 127.0.0.1 ...`")):
        check_cells.run_check(NOTEBOOK, 2, namespace, PROJECT=project)


@pytest.mark.docker
def test_up_check_fails_when_compose_yaml_does_not_wait_for_a_healthy_db(
    namespace: dict[str, Any], project: str, compose_folder: Callable[..., Path]
) -> None:
    compose_folder(WAITS_FOR_DB)
    healthy(service(project, "db", ASPNET, healthcheck=DB_HEALTH))
    service(project, "api", ASPNET, labels={compose.DEPENDS_ON_LABEL: "db:service_healthy:false"})
    with pytest.raises(CheckFailed, match=r"does not wait for db to be healthy.*up -d --wait --force-recreate api"):
        check_cells.run_check(NOTEBOOK, 2, namespace, PROJECT=project)


@pytest.mark.docker
def test_up_check_passes_when_compose_yaml_waits_though_api_was_not_recreated(
    namespace: dict[str, Any], project: str, compose_folder: Callable[..., Path]
) -> None:
    """Compose 2.29.3 and later leave depends_on out of the config hash: `up -d` after adding it keeps the
    old api container, whose label still says it waited for nothing. compose.yaml is what the check reads."""
    compose_folder()
    healthy(service(project, "db", ASPNET, healthcheck=DB_HEALTH))
    stale = {compose.DEPENDS_ON_LABEL: "db:service_started:false"}
    healthy(service(project, "api", ASPNET, labels=stale, healthcheck=API_HEALTH, **ON_LOOPBACK))
    check_cells.run_check(NOTEBOOK, 2, namespace, PROJECT=project)


@pytest.mark.docker
def test_up_check_fails_on_a_fixed_host_port(
    namespace: dict[str, Any], project: str, compose_folder: Callable[..., Path]
) -> None:
    compose_folder()
    healthy(service(project, "db", ASPNET, healthcheck=DB_HEALTH))
    fixed = {"network_mode": "bridge", "ports": {"8080/tcp": (names.LOOPBACK, names.free_port())}}
    healthy(service(project, "api", ASPNET, healthcheck=API_HEALTH, **fixed))
    with pytest.raises(CheckFailed, match=re.escape('Leave the host port out, `ports: ["127.0.0.1::8080"]`')):
        check_cells.run_check(NOTEBOOK, 2, namespace, PROJECT=project)


@pytest.mark.docker
def test_up_check_fails_when_the_api_stopped(
    namespace: dict[str, Any], project: str, compose_folder: Callable[..., Path]
) -> None:
    """As without ConnectionStrings__Items: the app throws at start, after `up` saw it running."""
    compose_folder()
    healthy(service(project, "db", ASPNET, healthcheck=DB_HEALTH))
    api = service(project, "api", ASPNET)
    api.stop(timeout=0)
    with pytest.raises(CheckFailed, match=re.escape(f"docker compose -p {project} logs api` says why")):
        check_cells.run_check(NOTEBOOK, 2, namespace, PROJECT=project)


def test_up_wait_that_fails_says_where_to_look() -> None:
    said = {
        "container cdn-x-api-1 exited (134)": "`docker logs cdn-x-api-1` says why",
        "container cdn-x-db-1 is unhealthy": "json .State.Health}}' cdn-x-db-1` shows what its health check said",
    }
    for line, advice in said.items():
        with pytest.raises(CommandFailed) as failed:
            shell.run(f"echo 'dependency failed to start: {line}'; exit 1", quiet=True)
        assert advice in failed.value.advice


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
def test_port_check_fails_on_a_fixed_host_port(namespace: dict[str, Any], project: str) -> None:
    service(project, "db", ASPNET)
    service(project, "api", ASPNET, network_mode="bridge", ports={"8080/tcp": (names.LOOPBACK, names.free_port())})
    with pytest.raises(CheckFailed, match="publishes port 8080 on the fixed host port"):
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
def test_secret_check_says_how_to_keep_the_braces_of_a_format_in_an_f_string(
    namespace: dict[str, Any], tmp_path: Path
) -> None:
    """`--format '{{json .Config.Env}}'` pasted into an f-string becomes '{json .Config.Env}', which Docker
    prints as it is, with exit code 0."""
    clean = wrong_state.build(LAB_ID, tmp_path, f"FROM {ASPNET}\n")
    wrong_state.ran(
        f"docker history --no-trunc {clean}", f"docker image inspect --format '{{json .Config.Env}}' {clean}"
    )
    with pytest.raises(CheckFailed, match=re.escape("double each brace: `f\"... --format '{{{{json .Config.Env}}}}'")):
        check_cells.run_check(NOTEBOOK, 5, namespace, API=clean, PASSWORD=SECRET)


@pytest.mark.docker
def test_secret_check_fails_when_the_history_was_only_echoed(namespace: dict[str, Any], tmp_path: Path) -> None:
    clean = wrong_state.build(LAB_ID, tmp_path, f"FROM {ASPNET}\n")
    wrong_state.echoed(f"docker history --no-trunc {clean}")
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker history --no-trunc {clean}`")):
        check_cells.run_check(NOTEBOOK, 5, namespace, API=clean, PASSWORD=SECRET)


def test_logs_keep_no_erase_line_codes() -> None:
    """Compose 2.26 writes ESC[2K before each log line, even with --no-color and no terminal."""
    logs = shell.run("printf '\\033[2Kapi-1  | Stored item 1: x\\n'", quiet=True)
    assert logs == "api-1  | Stored item 1: x\n"


def test_logs_check_fails_when_the_item_is_not_in_the_logs(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match="logs --no-color api"):
        check_cells.run_check(NOTEBOOK, 6, namespace, LOGS="api-1  | Now listening on: http://[::]:8080\n", ITEM="x")


@pytest.mark.docker
def test_scale_check_fails_with_one_replica(namespace: dict[str, Any], project: str) -> None:
    service(project, "api", ASPNET, **ON_LOOPBACK)
    with pytest.raises(CheckFailed, match=re.escape("--scale api=2")):
        check_cells.run_check(NOTEBOOK, 7, namespace, PROJECT=project, ITEM="x")


@pytest.mark.docker
def test_scale_check_blames_a_fixed_host_port_not_the_logs(namespace: dict[str, Any], project: str) -> None:
    """With a fixed host port, the second replica cannot bind it: the hint says so, not `logs api`."""
    service(project, "api", ASPNET, network_mode="bridge", ports={"8080/tcp": (names.LOOPBACK, names.free_port())})
    with pytest.raises(CheckFailed, match=re.escape('Leave the host port out, `ports: ["127.0.0.1::8080"]`')):
        check_cells.run_check(NOTEBOOK, 7, namespace, PROJECT=project, ITEM="x")


def test_a_port_already_allocated_says_to_let_docker_pick_one() -> None:
    said = "Bind for 127.0.0.1:8080 failed: port is already allocated"
    with pytest.raises(CommandFailed) as failed:
        shell.run(f"echo '{said}'; exit 1", quiet=True)
    assert '"127.0.0.1::8080"' in failed.value.advice


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
