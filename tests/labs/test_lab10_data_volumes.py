"""Lab 10's check cells fail, with their hints, on a wrong learner state."""

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from labkit import CheckFailed, Lab, catalog, compose, names
from labkit.docker_access import client
from labkit.engine import cleanup
from labkit.waiting import wait_until
from tests.helpers import copy_solution
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "10-data-volumes" / "lab.ipynb"
LAB_ID = "test-lab10"
INIT_SQL = NOTEBOOK.parent / "db" / "init.sql"
COMPOSE_YAML = NOTEBOOK.parent / "compose.yaml"
LEARNER_COMPOSE_YAML = check_cells.SOLUTIONS.parent / "labs" / "10-data-volumes" / "compose.yaml"
DATA_MOUNT = "      - db-data:/var/lib/postgresql/data\n"
VOLUME_LABELS = "    labels:\n      org.containerizing-dotnet.lab: 10-data-volumes\n# END SOLUTION"
VOLUMES = "volumes:\n  db-data:\n" + VOLUME_LABELS


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, Container]]:
    """A project whose db service is a fresh database: (project, its db container), ready for queries."""
    project = wrong_state.unique(LAB_ID, "project")
    init = {str(INIT_SQL): {"bind": "/docker-entrypoint-initdb.d/init.sql", "mode": "ro"}}
    db = wrong_state.database_service(LAB_ID, project, "notes", volumes=init)
    ready = ["pg_isready", "-h", "127.0.0.1", "-U", "app", "-d", "notes"]
    wait_until(lambda: db.exec_run(ready).exit_code == 0, timeout=120, interval=1.0, what="the test database")
    yield project, db
    db.remove(force=True, v=True)


@pytest.fixture
def compose_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """A lab folder whose compose.yaml has `text` (with the test's lab id in its labels, as the namespace's
    `lab` has), as the folder the cells run in (their cwd)."""

    def folder(text: str) -> Path:
        (tmp_path / "compose.yaml").write_text(text.replace("10-data-volumes", LAB_ID))
        copy_solution("10-data-volumes/db", tmp_path / "db")
        monkeypatch.chdir(tmp_path)
        return tmp_path

    return folder


def run_guard(namespace: dict[str, Any], step: int, **state: Any) -> None:
    """Run what the step's command cell checks before it starts anything (its lines above the solution)."""
    cell = next(source for source in check_cells.code_cells(NOTEBOOK, step) if "# BEGIN SOLUTION" in source)
    namespace.update(state)
    exec(compile(cell.split("# BEGIN SOLUTION")[0], f"{NOTEBOOK} (step {step}, guard)", "exec"), namespace)


def write_as(user: str, folder: Path, command: str) -> None:
    """Run `sh -c command` as `user` in a throwaway container with `folder` at /data."""
    client().containers.run(
        catalog.image("runtime-deps"),
        ["sh", "-c", command],
        user=user,
        volumes={str(folder): {"bind": "/data"}},
        labels=names.labels(LAB_ID),
        remove=True,
        network_mode="none",
    )


# --- Step 1: the container's own layer ---


@pytest.mark.docker
def test_layer_check_fails_when_the_container_wrote_nothing(namespace: dict[str, Any]) -> None:
    idle = wrong_state.sleeper(LAB_ID, namespace["BASE"])
    with pytest.raises(CheckFailed, match=re.escape("/notes.txt'")):
        check_cells.run_check(NOTEBOOK, 1, namespace, LAYER=idle.name)


@pytest.mark.docker
def test_layer_check_fails_when_there_is_no_such_container(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match="without --rm"):
        check_cells.run_check(NOTEBOOK, 1, namespace, LAYER=wrong_state.unique(LAB_ID, "layer"))


@pytest.mark.docker
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


# --- Step 2: a named volume ---


@pytest.mark.docker
def test_volume_check_fails_when_the_volume_is_missing(namespace: dict[str, Any]) -> None:
    missing = wrong_state.unique(LAB_ID, "notes")
    with pytest.raises(CheckFailed, match=re.escape(f"docker volume create {namespace['lab'].label_flags} {missing}")):
        check_cells.run_check(NOTEBOOK, 2, namespace, NOTES=missing, NOTE="x")


@pytest.mark.docker
def test_volume_check_fails_when_the_volume_has_no_label(namespace: dict[str, Any]) -> None:
    unlabelled = client().volumes.create(wrong_state.unique(LAB_ID, "notes"))
    try:
        with pytest.raises(CheckFailed, match="carries the lab's label"):
            check_cells.run_check(NOTEBOOK, 2, namespace, NOTES=unlabelled.name, NOTE="x")
    finally:
        unlabelled.remove(force=True)


@pytest.mark.docker
def test_volume_check_says_to_write_under_data_when_the_note_is_elsewhere(namespace: dict[str, Any]) -> None:
    """The note written to /notes.txt stays in that container's layer: the volume has no notes.txt."""
    empty = client().volumes.create(wrong_state.unique(LAB_ID, "notes"), labels=names.labels(LAB_ID))
    with pytest.raises(CheckFailed, match="a file outside /data stays in that container's own layer"):
        check_cells.run_check(NOTEBOOK, 2, namespace, NOTES=empty.name, NOTE="a note: x")


# --- Step 3: a bind mount ---


@pytest.mark.docker
def test_bind_mount_check_fails_when_the_folder_is_empty(namespace: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match=re.escape(f"-v {tmp_path}:/data")):
        check_cells.run_check(NOTEBOOK, 3, namespace, HOST_DIR=tmp_path)


# --- Step 4: the app user and a volume ---


@pytest.mark.docker
def test_owner_check_fails_when_root_owns_the_file(namespace: dict[str, Any], tmp_path: Path) -> None:
    non_root = wrong_state.build(LAB_ID, tmp_path, f"FROM {namespace['BASE']}\nUSER 1654\n")
    volume = client().volumes.create(wrong_state.unique(LAB_ID, "app-data"), labels=names.labels(LAB_ID))
    namespace["in_volume"](volume.name, "echo ok > /data/by-app.txt")  # as root, as without the chown
    with pytest.raises(CheckFailed, match=re.escape('chown "$APP_UID:$APP_UID" /data')):
        check_cells.run_check(NOTEBOOK, 4, namespace, APP=non_root, APP_DATA=volume.name)


@pytest.mark.docker
def test_owner_check_gives_the_chown_hint_when_the_app_could_not_write(
    namespace: dict[str, Any], tmp_path: Path
) -> None:
    """Without the chown, the app's write to the volume was denied: no file, and the check says why."""
    non_root = wrong_state.build(LAB_ID, tmp_path, f"FROM {namespace['BASE']}\nUSER 1654\n")
    volume = client().volumes.create(wrong_state.unique(LAB_ID, "app-data"), labels=names.labels(LAB_ID))
    with pytest.raises(CheckFailed, match=re.escape('chown "$APP_UID:$APP_UID" /data')):
        check_cells.run_check(NOTEBOOK, 4, namespace, APP=non_root, APP_DATA=volume.name)


@pytest.mark.docker
def test_owner_check_fails_when_the_volume_was_never_created(namespace: dict[str, Any], tmp_path: Path) -> None:
    non_root = wrong_state.build(LAB_ID, tmp_path, f"FROM {namespace['BASE']}\nUSER 1654\n")
    missing = wrong_state.unique(LAB_ID, "app-data")
    with pytest.raises(CheckFailed, match=re.escape(f"docker volume create {namespace['lab'].label_flags} {missing}")):
        check_cells.run_check(NOTEBOOK, 4, namespace, APP=non_root, APP_DATA=missing)
    assert not client().volumes.list(filters={"name": missing}), "the check created the volume it looked for"


# --- Step 5: the app user and a bind mount ---


@pytest.mark.docker
def test_bind_mount_write_check_fails_when_the_app_wrote_nothing(namespace: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match=re.escape('--user "$(id -u):$(id -g)"')):
        check_cells.run_check(NOTEBOOK, 5, namespace, HOST_DIR=tmp_path)


@pytest.mark.docker
def test_bind_mount_write_check_fails_when_the_app_wrote_as_its_own_user(
    namespace: dict[str, Any], tmp_path: Path
) -> None:
    """As on Docker Desktop for macOS, or after `chmod 777`: UID 1654 wrote the file, not you."""
    tmp_path.chmod(0o777)
    write_as("1654", tmp_path, "id -u > /data/by-app.txt")
    with pytest.raises(CheckFailed, match=re.escape('--user "$(id -u):$(id -g)"')):
        check_cells.run_check(NOTEBOOK, 5, namespace, HOST_DIR=tmp_path)


@pytest.mark.docker
def test_bind_mount_write_check_passes_when_the_app_ran_as_you(namespace: dict[str, Any], tmp_path: Path) -> None:
    write_as(f"{os.getuid()}:{os.getgid()}", tmp_path, "id -u > /data/by-app.txt")
    check_cells.run_check(NOTEBOOK, 5, namespace, HOST_DIR=tmp_path)


# --- Step 6: data that survives `down` ---


@pytest.mark.docker
@pytest.mark.parametrize(
    ("compose_yaml", "said"),
    [
        (LEARNER_COMPOSE_YAML.read_text(), "compose.yaml mounts no named volume on /var/lib/postgresql/data"),
        (COMPOSE_YAML.read_text().replace(VOLUME_LABELS, "# END SOLUTION"), "declared without the label"),
        (COMPOSE_YAML.read_text().replace(VOLUMES, "# END SOLUTION"), "refers to undefined volume db-data"),
    ],
    ids=["as-generated", "volume-without-label", "volume-not-declared"],
)
def test_nothing_starts_until_the_data_has_a_named_labelled_volume(
    namespace: dict[str, Any], compose_folder: Callable[[str], Path], compose_yaml: str, said: str
) -> None:
    """Started with an anonymous volume, the project would leave postgres's data behind where the lab's
    cleanup, which goes by label, cannot find it."""
    assert DATA_MOUNT in COMPOSE_YAML.read_text()
    compose_folder(compose_yaml)
    project = wrong_state.unique(LAB_ID, "project")
    with pytest.raises(CheckFailed, match=re.escape(said)):
        run_guard(namespace, 6, PROJECT=project)
    assert not compose.containers(project), "the guard started something"


@pytest.mark.docker
def test_the_solution_compose_yaml_passes_the_check_before_up(
    namespace: dict[str, Any], compose_folder: Callable[[str], Path]
) -> None:
    compose_folder(COMPOSE_YAML.read_text())
    run_guard(namespace, 6, PROJECT=wrong_state.unique(LAB_ID, "project"))


@pytest.mark.docker
def test_survival_check_fails_when_the_data_is_gone(namespace: dict[str, Any], database: tuple[str, Container]) -> None:
    project, _ = database
    with pytest.raises(CheckFailed, match=re.escape("- db-data:/var/lib/postgresql/data")):
        check_cells.run_check(NOTEBOOK, 6, namespace, PROJECT=project, NOTE=wrong_state.unique(LAB_ID, "lost"))


@pytest.mark.docker
def test_survival_check_fails_when_the_volume_has_no_label(
    namespace: dict[str, Any], database: tuple[str, Container]
) -> None:
    project, db = database
    note = wrong_state.unique(LAB_ID, "kept")
    db.exec_run(["psql", "-U", "app", "-d", "notes", "-c", f"INSERT INTO notes (text) VALUES ('{note}')"])
    as_compose_makes_it = {compose.PROJECT_LABEL: project, compose.VOLUME_LABEL: "db-data"}  # no course label
    unlabelled = client().volumes.create(f"{project}_db-data", labels=as_compose_makes_it)
    try:
        with pytest.raises(CheckFailed, match=re.escape("down -v`, then run the cell above again")):
            check_cells.run_check(NOTEBOOK, 6, namespace, PROJECT=project, NOTE=note)
    finally:
        unlabelled.remove(force=True)


# --- Step 7: backup; Step 8: down -v ---


@pytest.mark.docker
def test_backup_check_fails_without_an_archive(namespace: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match=re.escape("tar -czf /backup/db-data.tar.gz -C /data .")):
        check_cells.run_check(NOTEBOOK, 7, namespace, BACKUP_DIR=tmp_path)


@pytest.mark.docker
def test_down_v_check_fails_while_the_data_is_still_there(
    namespace: dict[str, Any], database: tuple[str, Container]
) -> None:
    project, db = database
    note = wrong_state.unique(LAB_ID, "kept")
    db.exec_run(["psql", "-U", "app", "-d", "notes", "-c", f"INSERT INTO notes (text) VALUES ('{note}')"])
    with pytest.raises(CheckFailed, match=re.escape("down -v")):
        check_cells.run_check(NOTEBOOK, 8, namespace, PROJECT=project, NOTE=note)


# --- the lab's folders ---


def test_a_folder_cell_run_again_reuses_its_folder_and_cleanup_removes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Running the bind-mount or backup cell again leaves no second folder behind."""
    monkeypatch.setattr(cleanup, "remove", lambda lab_id, dry_run=False: [])  # no engine: only the folders
    lab = Lab(LAB_ID)
    first = lab.folder("bind")
    (first / "hello.txt").write_text("from a container")
    again = Lab(LAB_ID).folder("bind")  # a new kernel's run of the same lab
    assert again == first and list(again.iterdir()) == []
    assert again.stat().st_mode & 0o777 == 0o700
    backup = lab.folder("backup")
    assert [resource.kind for resource in lab.cleanup()] == ["folder"]
    assert not first.exists() and not backup.exists() and not lab.folders.exists()
