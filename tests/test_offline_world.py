"""The offline world, end to end: the stand-ins answer under their real names (offline_world/).

Needs the world up (`COURSE_OFFLINE_WORLD=1 python -m offline_world up`, which .ci/run does);
skips with the reason when it is switched off. The builds use the Debian client with BuildKit.
"""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from labkit import names, run, tags
from labkit.errors import CommandFailed
from labkit.names import LOOPBACK, free_port
from labkit.web import get, wait_for_http
from offline_world.commands import status
from offline_world.engine import DOCKER, engine_predates
from offline_world.hosts import ca_file
from offline_world.machine import MCR
from offline_world.preflight import find_dotnet, registry_answers
from offline_world.registry import TLS_DIR
from offline_world.standins import extra_ca, postgres_tags
from tests.helpers import LABEL_FLAGS, TEST_LAB, WORLD_SWITCHED_ON, started

SMOKE = Path(__file__).resolve().parent / "smoke"
WORLD_DOCKER = f"DOCKER_BUILDKIT=1 {DOCKER}"  # Debian's client, whatever else PATH has
SDK = f"{MCR}/dotnet/sdk:10.0"

pytestmark = [
    pytest.mark.docker,
    pytest.mark.offline_world,
    WORLD_SWITCHED_ON,
    pytest.mark.usefixtures("world_up"),
]


@pytest.fixture(scope="module")
def world_up() -> None:
    missing = [what for what, present in status().items() if not present]
    assert not missing, f"the offline world is not up ({', '.join(missing)}): run `python -m offline_world up`"


def test_docker_pull_sdk_and_run_dotnet_version() -> None:
    run(f"{WORLD_DOCKER} pull {SDK}", quiet=True)
    found = find_dotnet(os.environ["PATH"])
    assert found is not None
    version = run(f"{WORLD_DOCKER} run --rm {LABEL_FLAGS} --network none {SDK} dotnet --version", quiet=True)
    assert version.strip() == found.sdk


def test_the_registry_lists_tags_as_mcr_does() -> None:
    def tags(repository: str) -> tuple[str, set[str]]:
        answer = get(f"https://{MCR}/v2/{repository}/tags/list", timeout=10, cafile=str(TLS_DIR / "ca.crt"))
        assert answer.status == 200, answer.body
        listed = json.loads(answer.body)
        return listed["name"], set(listed["tags"])

    found = find_dotnet(os.environ["PATH"])
    assert found is not None
    name, sdk = tags("dotnet/sdk")
    assert name == "dotnet/sdk"
    assert {"10.0", found.sdk, "latest", "10.0-noble", f"{found.sdk}-noble-amd64", "10.0-noble-aot"} <= sdk
    name, aspnet = tags("dotnet/aspnet")
    assert name == "dotnet/aspnet"
    assert {"10.0", found.runtime, "latest", "10.0-noble-chiseled", f"{found.runtime}-noble-chiseled"} <= aspnet


def test_the_catalog_tag_check_passes_against_the_served_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m labkit tags` asks the registry (here the world's, trusted through its CA) for every tag."""
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS_DIR / "ca.crt"))
    reports = tags.check_catalog()
    assert [report.in_registry for report in reports] == [True] * len(reports)
    assert all(report.ok for report in reports)


def test_the_probe_counts_the_local_registry_as_an_answer() -> None:
    assert registry_answers(MCR, [LOOPBACK])
    assert not registry_answers(MCR, ["127.0.0.2"], timeout=1)


def test_docker_hub_registry_2_pulls_and_serves() -> None:
    run(f"{WORLD_DOCKER} pull registry:2", quiet=True)
    port = free_port()
    with started(f"-p {LOOPBACK}:{port}:5000 registry:2"):
        assert wait_for_http(f"http://{LOOPBACK}:{port}/v2/").status == 200


def test_the_smoke_app_builds_on_sdk_and_answers_on_aspnet_as_app() -> None:
    with smoke_app("10.0") as (container, base):
        assert json.loads(wait_for_http(base).body)["user"] == "app"
        assert run(f"{WORLD_DOCKER} top {container} -o pid,uid", quiet=True).split()[-1] == "1654"
        assert run(f"{WORLD_DOCKER} exec {container} id -u", quiet=True).strip() == "1654"


def test_the_smoke_app_answers_on_chiseled_which_has_no_shell() -> None:
    with smoke_app("10.0-noble-chiseled") as (container, base):
        assert json.loads(wait_for_http(base).body)["user"] == "app"
        with pytest.raises(CommandFailed):
            run(f"{WORLD_DOCKER} exec {container} sh -c true", quiet=True)


def test_buildkit_resolves_from_lines_through_the_registry(tmp_path: Path) -> None:
    """`--pull` makes BuildKit ask the registry even though the images are in the local store."""
    assert not engine_predates(ca_file(MCR)), "`up` restarts a dockerd that started before the world's CA"
    (tmp_path / "Dockerfile").write_text(
        f"FROM --platform=$BUILDPLATFORM {MCR}/dotnet/runtime-deps:10.0 AS build\n"
        "ARG TARGETARCH\nRUN echo $TARGETARCH > /arch\n"
        "FROM registry:2\nCOPY --from=build /arch /arch\n"
    )
    tag = f"{TEST_LAB}/offline-buildkit:{os.getpid()}"
    run(f"{WORLD_DOCKER} build --pull {LABEL_FLAGS} -t {tag} {tmp_path}", quiet=True)
    try:
        arch = run(f"{WORLD_DOCKER} run --rm {LABEL_FLAGS} --network none --entrypoint cat {tag} /arch", quiet=True)
        assert arch.strip() in ("amd64", "arm64")
    finally:
        run(f"{WORLD_DOCKER} rmi {tag}", quiet=True)


@contextmanager
def smoke_app(runtime_tag: str) -> Iterator[tuple[str, str]]:
    """The smoke app built with tests/smoke/Dockerfile on `runtime_tag`, running on a loopback port."""
    tag = f"{TEST_LAB}/offline-smoke:{runtime_tag}-{os.getpid()}"
    run(
        f"{WORLD_DOCKER} build {LABEL_FLAGS} --build-arg DOTNET_TAG=10.0 --build-arg RUNTIME_TAG={runtime_tag}"
        f" -t {tag} {SMOKE}",
        quiet=True,
        timeout=600,
    )
    port = free_port()
    try:
        with started(f"-p {LOOPBACK}:{port}:8080 {tag}", WORLD_DOCKER) as container:
            yield container, f"http://{LOOPBACK}:{port}/"
    finally:
        run(f"{WORLD_DOCKER} rmi {tag}", quiet=True)


def test_the_postgres_standin_carries_docker_hubs_tags_for_debians_version() -> None:
    assert postgres_tags("17.12-0+deb13u1") == ("17", "17.12")


def test_the_standin_base_gets_every_extra_ca_of_the_machine(tmp_path: Path) -> None:
    (tmp_path / "proxy.crt").write_text("x")
    (tmp_path / "corp").mkdir()
    (tmp_path / "corp" / "root.crt").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    assert [target for _, target in extra_ca(tmp_path)] == ["extra-ca/root.crt", "extra-ca/proxy.crt"]
    assert extra_ca(tmp_path / "missing") == ()


def test_a_build_on_the_sdk_reaches_nuget_as_the_machine_does(tmp_path: Path) -> None:
    """The stand-in base trusts the machine's extra CAs: `dotnet restore` works inside `docker build`."""
    (tmp_path / "Dockerfile").write_text(
        f"FROM {MCR}/dotnet/sdk:10.0\nRUN curl -sSf -o /dev/null https://api.nuget.org/v3/index.json\n"
    )
    run(f"{WORLD_DOCKER} build --no-cache --label {names.LABEL_KEY}={TEST_LAB} {tmp_path}", quiet=True)
