"""The postgres image keeps the contract of Docker Hub's official one, as far as the labs rely on it.

Facts from the image's documentation (docker-library/docs, postgres/content.md) and its
Dockerfile and docker-entrypoint.sh (docker-library/postgres, 17/trixie). The image is pulled by
its catalog name, so the same test checks the offline world's stand-in in CI and Docker Hub's
image on a machine that reaches it:

    COURSE_OFFLINE_WORLD= python -m pytest tests/offline_world/test_standin_contract_postgres.py

Exact versions differ (Debian's postgresql-17 vs the PostgreSQL project's packages): only the
major version is compared.
"""

import io
import os
import tarfile
from collections.abc import Iterator

import pytest
from docker.models.containers import Container
from docker.models.images import Image

from labkit import catalog
from labkit.docker_access import client
from labkit.engine import image_info
from labkit.waiting import wait_until
from tests.helpers import LABELS, output_of

pytestmark = pytest.mark.docker

POSTGRES_ENV = {"PGDATA": "/var/lib/postgresql/data", "PG_MAJOR": "17", "LANG": "en_US.utf8"}
BIN = "/usr/lib/postgresql/17/bin"
FIRST_START = {"POSTGRES_USER": "course", "POSTGRES_DB": "coursedb", "POSTGRES_PASSWORD": "contract-test"}
INIT_SCRIPTS = {
    "10-table.sql": (0o644, "CREATE TABLE from_init (x int); INSERT INTO from_init VALUES (1);\n"),
    "20-mark.sh": (0o755, '#!/bin/sh\ntouch "$PGDATA/sh-ran"\n'),
}


@pytest.fixture(scope="module")
def image() -> Image:
    repository, tag = catalog.image("postgres").rsplit(":", 1)
    return client().images.pull(repository, tag=tag)


def sh(script: str) -> str:
    """Output of `sh -c script` in a throwaway container (the entrypoint runs any other command as is)."""
    return output_of(catalog.image("postgres"), ["sh", "-c", script]).strip()


def psql(container: Container, *arguments: str) -> tuple[int, str]:
    found = container.exec_run(["psql", "-v", "ON_ERROR_STOP=1", "-tA", *arguments])
    return found.exit_code, found.output.decode().strip()


def _tar(files: dict[str, tuple[int, str]]) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, (mode, text) in files.items():
            info = tarfile.TarInfo(name)
            info.mode, info.size = mode, len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return data.getvalue()


@pytest.fixture(scope="module")
def network() -> Iterator[str]:
    """A network of its own: logins over it come from another container, as the labs' API does."""
    made = client().networks.create(f"cdn-contract-postgres-{os.getpid()}", labels=LABELS)
    yield made.name
    made.remove()


@pytest.fixture(scope="module")
def first_start(image: Image, network: str) -> Iterator[Container]:
    """A container started once with FIRST_START and INIT_SCRIPTS, once it accepts TCP connections."""
    container = client().containers.create(image.id, environment=FIRST_START, labels=LABELS, network=network)
    container.put_archive("/docker-entrypoint-initdb.d", _tar(INIT_SCRIPTS))
    container.start()
    ready = ["pg_isready", "-h", "127.0.0.1", "-U", "course", "-d", "coursedb"]
    try:
        wait_until(lambda: container.exec_run(ready).exit_code == 0, timeout=120, interval=1.0, what="postgres")
        yield container
    finally:
        container.remove(force=True, v=True)


def test_postgres_declares_its_data_volume_port_stop_signal_and_entrypoint(image: Image) -> None:
    config, found = image.attrs["Config"], image_info.env(image.attrs)
    assert {name: found.get(name) for name in POSTGRES_ENV} == POSTGRES_ENV
    assert BIN in found["PATH"].split(":")
    assert found["PG_VERSION"].startswith("17.")
    assert list(config.get("Volumes") or {}) == ["/var/lib/postgresql/data"]
    assert list(config.get("ExposedPorts") or {}) == ["5432/tcp"]
    assert config.get("StopSignal") == "SIGINT"
    assert (config.get("Entrypoint"), config.get("Cmd")) == (["docker-entrypoint.sh"], ["postgres"])
    assert not config.get("User")


def test_postgres_has_its_user_tools_and_an_empty_init_folder(image: Image) -> None:
    assert sh("id -u postgres; id -g postgres") == "999\n999"
    assert sh("ls -A /docker-entrypoint-initdb.d") == ""
    versions = sh("pg_isready --version; psql --version").splitlines()
    assert [line.split(".")[0] for line in versions] == ["pg_isready (PostgreSQL) 17", "psql (PostgreSQL) 17"]


def test_postgres_refuses_a_first_start_without_a_password(image: Image) -> None:
    container = client().containers.run(image.id, detach=True, labels=LABELS, network_mode="none")
    try:
        assert container.wait(timeout=60)["StatusCode"] != 0
        assert "POSTGRES_PASSWORD" in container.logs().decode()
    finally:
        container.remove(force=True, v=True)


def test_first_start_creates_the_user_and_database_and_runs_the_init_scripts(first_start: Container) -> None:
    code, answer = psql(
        first_start,
        "-U",
        "course",
        "-d",
        "coursedb",
        "-c",
        "SELECT current_user, current_database(), (SELECT count(*) FROM from_init)",
    )
    assert (code, answer) == (0, "course|coursedb|1")
    assert first_start.exec_run(["sh", "-c", 'test -f "$PGDATA/sh-ran"']).exit_code == 0
    assert first_start.exec_run(["stat", "-c", "%U %a", "/var/lib/postgresql/data"]).output.decode().strip() == (
        "postgres 700"
    )


def test_logins_from_another_container_need_the_password(first_start: Container, network: str) -> None:
    def login(password: str) -> int:
        url = f"postgresql://course:{password}@{first_start.name}/coursedb"
        script = f"psql '{url}' -tAc 'SELECT 1' >/dev/null 2>&1; echo $?"
        return int(output_of(catalog.image("postgres"), ["sh", "-c", script], network=network).strip())

    assert login(FIRST_START["POSTGRES_PASSWORD"]) == 0
    assert login("wrong") != 0
