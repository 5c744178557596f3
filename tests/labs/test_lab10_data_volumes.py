"""Lab 10's check cells fail, with their hints, on a wrong learner state."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from labkit import CheckFailed, catalog, compose, names
from labkit.docker_access import client
from labkit.waiting import wait_until
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "10-data-volumes" / "lab.ipynb"
LAB_ID = "test-lab10"
INIT_SQL = NOTEBOOK.parent / "db" / "init.sql"

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, Container]]:
    """A project whose db service is a fresh database: (project, its db container), ready for queries."""
    project = wrong_state.unique(LAB_ID, "project")
    labels = {**names.labels(LAB_ID), compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: "db"}
    db = client().containers.run(
        catalog.image("postgres"),
        name=wrong_state.unique(LAB_ID, "db"),
        labels=labels,
        detach=True,
        network_mode="none",
        environment={"POSTGRES_USER": "app", "POSTGRES_DB": "notes", "POSTGRES_PASSWORD": "test"},
        volumes={str(INIT_SQL): {"bind": "/docker-entrypoint-initdb.d/init.sql", "mode": "ro"}},
    )
    ready = ["pg_isready", "-h", "127.0.0.1", "-U", "app", "-d", "notes"]
    wait_until(lambda: db.exec_run(ready).exit_code == 0, timeout=120, interval=1.0, what="the test database")
    yield project, db
    db.remove(force=True, v=True)


def test_layer_check_fails_when_the_container_wrote_nothing(namespace: dict[str, Any]) -> None:
    idle = wrong_state.sleeper(LAB_ID, namespace["BASE"])
    with pytest.raises(CheckFailed, match=re.escape("/notes.txt'")):
        check_cells.run_check(NOTEBOOK, 1, namespace, LAYER=idle.name)


def test_layer_check_fails_when_there_is_no_such_container(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match="without --rm"):
        check_cells.run_check(NOTEBOOK, 1, namespace, LAYER=wrong_state.unique(LAB_ID, "layer"))


def test_layer_check_fails_until_the_diff_was_shown(namespace: dict[str, Any]) -> None:
    writer = client().containers.run(
        namespace["BASE"],
        ["sh", "-c", "echo x > /notes.txt"],
        name=wrong_state.unique(LAB_ID, "layer"),
        labels=names.labels(LAB_ID),
        detach=True,
        network_mode="none",
    )
    writer.wait()
    with pytest.raises(CheckFailed, match=re.escape(f"docker diff {writer.name}")):
        check_cells.run_check(NOTEBOOK, 1, namespace, LAYER=writer.name)


def test_volume_check_fails_when_the_volume_is_missing(namespace: dict[str, Any]) -> None:
    missing = wrong_state.unique(LAB_ID, "notes")
    with pytest.raises(CheckFailed, match=re.escape(f"docker volume create {namespace['lab'].label_flags} {missing}")):
        check_cells.run_check(NOTEBOOK, 2, namespace, NOTES=missing, NOTE="x")


def test_volume_check_fails_when_the_volume_has_no_label(namespace: dict[str, Any]) -> None:
    unlabelled = client().volumes.create(wrong_state.unique(LAB_ID, "notes"))
    try:
        with pytest.raises(CheckFailed, match="carries the lab's label"):
            check_cells.run_check(NOTEBOOK, 2, namespace, NOTES=unlabelled.name, NOTE="x")
    finally:
        unlabelled.remove(force=True)


def test_bind_mount_check_fails_when_the_folder_is_empty(namespace: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match=re.escape(f"-v {tmp_path}:/data")):
        check_cells.run_check(NOTEBOOK, 3, namespace, HOST_DIR=tmp_path)


def test_owner_check_fails_when_root_owns_the_file(namespace: dict[str, Any], tmp_path: Path) -> None:
    non_root = wrong_state.build(LAB_ID, tmp_path, f"FROM {namespace['BASE']}\nUSER 1654\n")
    volume = client().volumes.create(wrong_state.unique(LAB_ID, "app-data"), labels=names.labels(LAB_ID))
    namespace["in_volume"](volume.name, "echo ok > /data/by-app.txt")  # as root, as without the chown
    with pytest.raises(CheckFailed, match=re.escape('chown "$APP_UID:$APP_UID" /data')):
        check_cells.run_check(NOTEBOOK, 4, namespace, APP=non_root, APP_DATA=volume.name)


def test_survival_check_fails_when_the_data_is_gone(namespace: dict[str, Any], database: tuple[str, Container]) -> None:
    project, _ = database
    with pytest.raises(CheckFailed, match=re.escape("- db-data:/var/lib/postgresql/data")):
        check_cells.run_check(NOTEBOOK, 5, namespace, PROJECT=project, NOTE=wrong_state.unique(LAB_ID, "lost"))


def test_backup_check_fails_without_an_archive(namespace: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match=re.escape("tar -czf /backup/db-data.tar.gz -C /data .")):
        check_cells.run_check(NOTEBOOK, 6, namespace, BACKUP_DIR=tmp_path)


def test_down_v_check_fails_while_the_data_is_still_there(
    namespace: dict[str, Any], database: tuple[str, Container]
) -> None:
    project, db = database
    note = wrong_state.unique(LAB_ID, "kept")
    db.exec_run(["psql", "-U", "app", "-d", "notes", "-c", f"INSERT INTO notes (text) VALUES ('{note}')"])
    with pytest.raises(CheckFailed, match=re.escape("down -v")):
        check_cells.run_check(NOTEBOOK, 7, namespace, PROJECT=project, NOTE=note)
