"""Dockerfiles in the style of Microsoft's samples build unmodified and run as on the real images.

tests/offline_world/fidelity/ holds them, written for the course: `# syntax=docker/dockerfile:1` (BuildKit pulls
its Dockerfile frontend from Docker Hub), `COPY --link`, a NuGet cache mount and the -noble tags.
In the offline world every name resolves to a stand-in; on a machine that reaches MCR and Docker
Hub the same test checks the real images.
"""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from labkit import run
from labkit.errors import CommandFailed
from labkit.names import LOOPBACK, free_port
from labkit.web import wait_for_http
from tests.facts import APP_UID, APP_USER, HTTP_PORT, POWERSHELL_CHANNEL, POWERSHELL_MAJOR
from tests.helpers import BUILDKIT_DOCKER, LABEL_FLAGS, TEST_LAB, started

SAMPLE = Path(__file__).resolve().parent / "fidelity"
FRONTEND = "docker/dockerfile:1"
FRONTEND_LABELS = ("moby.buildkit.frontend.network.none", "moby.buildkit.frontend.caps")

pytestmark = [pytest.mark.docker]


@contextmanager
def built(dockerfile: str, *build_args: str) -> Iterator[tuple[str, str]]:
    """The image `dockerfile` of fidelity/ (SAMPLE) builds, and BuildKit's log of the build; removed afterwards."""
    tag = f"{TEST_LAB}/fidelity:{dockerfile.lower().replace('.', '-')}-{os.getpid()}"
    flags = " ".join(f"--build-arg {arg}" for arg in build_args)
    log = run(
        f"{BUILDKIT_DOCKER} build --progress=plain {LABEL_FLAGS} {flags} -f {SAMPLE / dockerfile} -t {tag} {SAMPLE}",
        quiet=True,
        timeout=900,
    )
    try:
        yield tag, log
    finally:
        run(f"{BUILDKIT_DOCKER} rmi {tag}", quiet=True)


@contextmanager
def serving(runtime: str) -> Iterator[tuple[str, dict[str, str | None]]]:
    """The sample app built on aspnet:`runtime`, running: its container and its answer on port 8080."""
    with built("Dockerfile", f"RUNTIME={runtime}") as (tag, _):
        port = free_port()
        with started(f"-p {LOOPBACK}:{port}:{HTTP_PORT} {tag}") as container:
            yield container, json.loads(wait_for_http(f"http://{LOOPBACK}:{port}/").body)


def process_uid(container: str) -> str:
    return run(f"{BUILDKIT_DOCKER} top {container} -o pid,uid", quiet=True).split()[-1]


def test_the_syntax_line_runs_docker_hubs_dockerfile_frontend() -> None:
    with built("Dockerfile.pwsh") as (_, log):
        assert f"docker.io/{FRONTEND}" in log
    run(f"{BUILDKIT_DOCKER} pull {FRONTEND}", quiet=True)
    inspect = f"{BUILDKIT_DOCKER} image inspect --format '{{{{json .Config.Labels}}}}' {FRONTEND}"
    labels = json.loads(run(inspect, quiet=True))
    assert [label for label in FRONTEND_LABELS if label not in labels] == []


def test_the_noble_sample_answers_on_8080_as_app_with_icu_and_time_zones() -> None:
    with serving("10.0-noble") as (container, answer):
        assert answer == {"user": APP_USER, "month": "janvier", "zone": "Europe/Paris"}
        assert process_uid(container) == APP_UID
        assert run(f"{BUILDKIT_DOCKER} exec {container} id -u", quiet=True).strip() == APP_UID


@pytest.mark.parametrize(
    ("variant", "world"),
    [("chiseled", False), ("chiseled-extra", True), ("chiseled-composite", False)],
)
def test_chiseled_samples_run_as_app_without_a_shell(variant: str, world: bool) -> None:
    """Only -extra has ICU and tzdata (world: the app sees the world's cultures and zones)."""
    with serving(f"10.0-noble-{variant}") as (container, answer):
        expected = {"month": "janvier", "zone": "Europe/Paris"} if world else {"month": None, "zone": None}
        assert answer == {"user": APP_USER, **expected}
        assert process_uid(container) == APP_UID
        with pytest.raises(CommandFailed):
            run(f"{BUILDKIT_DOCKER} exec {container} sh -c true", quiet=True)


def test_a_powershell_build_step_runs_in_the_sdk() -> None:
    with built("Dockerfile.pwsh") as (tag, _):
        command = f"{BUILDKIT_DOCKER} run --rm {LABEL_FLAGS} --network none {tag} cat /pwsh-version /pwsh-channel"
        found = run(command, quiet=True)
    version, channel = found.split()
    assert version.split(".")[0] == POWERSHELL_MAJOR
    assert channel == POWERSHELL_CHANNEL
