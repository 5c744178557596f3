"""The offline world, end to end: the stand-ins answer under their real names (offline_world/).

Needs the world up (`COURSE_OFFLINE_WORLD=1 python -m offline_world up`, which .ci/run does);
skips with the reason when it is switched off. The builds use the Debian client with BuildKit.
"""

import base64
import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest

from labkit import catalog, run
from labkit.engine import image_info
from labkit.errors import CommandFailed
from labkit.names import LOOPBACK, free_port
from labkit.registry.client import Registry
from labkit.tools.maintain import tags
from labkit.web import HttpAnswer, get, wait_for_http
from offline_world.commands import status
from offline_world.engine import DOCKER, engine_predates
from offline_world.hosts import ca_file
from offline_world.hub import header
from offline_world.machine import ADDRESSES, DOCKER_HUB, DOCKER_HUB_AUTH, MCR
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


def test_the_catalog_tag_check_asks_every_registry_docker_hub_with_a_token() -> None:
    """`python -m labkit tags` asks each image's registry (here the world's, trusted through certs.d as
    Docker trusts it) for every tag; the Hub stand-in, like Docker Hub, lists tags only with a token."""
    reports = {report.ref: report for report in tags.check_catalog()}
    assert all(report.ok and report.in_registry for report in reports.values()), reports
    for key in ("registry", "postgres"):
        assert reports[catalog.image(key)].published == "listed by docker.io"
    hub = Registry("docker.io")
    assert catalog.image("postgres").split(":")[1] in hub.tags("library/postgres")
    assert list(hub.tokens) == ["library/postgres"]  # it asked for one, and got it


def test_the_probe_counts_the_local_registry_as_an_answer() -> None:
    assert registry_answers(MCR, [LOOPBACK])
    assert registry_answers(DOCKER_HUB, [ADDRESSES[DOCKER_HUB]])  # a 401 is an answer too
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
    """The smoke app built with tests/offline_world/smoke/Dockerfile on `runtime_tag`, running on a loopback port."""
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
    tag = f"{TEST_LAB}/offline-nuget:{os.getpid()}"  # a tag to remove it by: an untagged image stays behind
    run(f"{WORLD_DOCKER} build --no-cache {LABEL_FLAGS} -t {tag} {tmp_path}", quiet=True)
    run(f"{WORLD_DOCKER} rmi {tag}", quiet=True)


# ---------------------------------------------------------------- Docker Hub asks for a token, MCR does not

CA = str(TLS_DIR / "ca.crt")
HUB_CHALLENGE = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'


def challenge(answer: HttpAnswer) -> dict[str, str]:
    """The parameters of a Bearer challenge: realm, service, scope, error."""
    value = header(answer, "WWW-Authenticate")
    assert value.startswith("Bearer "), value
    return dict(re.findall(r'(\w+)="([^"]*)"', value))


def token_for(answer: HttpAnswer) -> str:
    """What a client does with the challenge: GET its realm with its service and scope."""
    asked = challenge(answer)
    query: dict[str, str] = {key: asked[key] for key in ("service", "scope") if key in asked}
    given = get(f"{asked['realm']}?{urlencode(query)}", timeout=10, cafile=CA)
    assert given.status == 200, given.body
    body = json.loads(given.body)
    assert body["token"] == body["access_token"] and body["expires_in"] == 300 and body["issued_at"]
    return str(body["token"])


def hub(path: str, token: str | None = None) -> HttpAnswer:
    bearer = {"Authorization": f"Bearer {token}"} if token is not None else None
    return get(f"https://{DOCKER_HUB}{path}", timeout=10, headers=bearer, cafile=CA)


def test_each_name_resolves_to_its_own_server() -> None:
    for name, address in ADDRESSES.items():
        assert socket.gethostbyname(name) == address


def test_docker_hub_answers_a_call_without_a_token_with_its_bearer_challenge() -> None:
    base = hub("/v2/")
    assert base.status == 401 and header(base, "WWW-Authenticate") == HUB_CHALLENGE
    listing = hub("/v2/library/postgres/tags/list")
    assert listing.status == 401
    assert challenge(listing) == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/postgres:pull",
    }


@pytest.mark.parametrize(("repository", "tag"), [("library/postgres", "17"), ("library/registry", "2")])
def test_docker_hub_lists_tags_once_the_client_has_the_token_its_challenge_asks_for(repository: str, tag: str) -> None:
    anonymous = hub(f"/v2/{repository}/tags/list")
    assert anonymous.status == 401
    answered = hub(f"/v2/{repository}/tags/list", token_for(anonymous))
    assert answered.status == 200, answered.body
    listed = json.loads(answered.body)
    assert listed["name"] == repository and tag in listed["tags"]
    assert hub("/v2/", token_for(hub("/v2/"))).status == 200


def test_docker_hub_takes_only_a_token_issued_for_the_call() -> None:
    """A token for another repository, one altered after signing, one that is not a token: all 401, as
    Docker Hub answers; and the Hub serves no MCR repository, though both share one storage."""
    postgres = token_for(hub("/v2/library/postgres/tags/list"))
    elsewhere = hub("/v2/library/registry/tags/list", postgres)
    assert elsewhere.status == 401 and challenge(elsewhere)["error"] == "insufficient_scope"
    signed_header, claims, signature = postgres.split(".")
    widened = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    widened["access"] = [{"type": "repository", "name": "library/registry", "actions": ["pull"]}]
    forged_claims = base64.urlsafe_b64encode(json.dumps(widened).encode()).rstrip(b"=").decode()
    forged = hub("/v2/library/registry/tags/list", f"{signed_header}.{forged_claims}.{signature}")
    assert forged.status == 401 and challenge(forged)["error"] == "invalid_token"
    assert hub("/v2/", "not-a-token").status == 401
    sdk = hub("/v2/dotnet/sdk/tags/list")
    assert hub("/v2/dotnet/sdk/tags/list", token_for(sdk)).status == 401


def test_mcr_asks_for_no_token() -> None:
    base = get(f"https://{MCR}/v2/", timeout=10, cafile=CA)
    assert base.status == 200 and not header(base, "WWW-Authenticate")


def test_the_token_service_refuses_a_request_without_the_service() -> None:
    refused = get(f"https://{DOCKER_HUB_AUTH}/token?scope=repository:library/postgres:pull", timeout=10, cafile=CA)
    assert refused.status == 400


# A frontend tag no other build names: taking it away leaves the image under its other tags, for them.
FRONTEND_OF_THIS_TEST = "docker/dockerfile:1.7"


def test_buildkit_gets_docker_hub_tokens_for_its_frontend_and_its_from_line(tmp_path: Path) -> None:
    """BuildKit's client fetches them itself (its default), trusting the machine's CAs, as it trusts
    the real auth.docker.io. `--pull` and the frontend's tag taken away first make both come from
    the registry, not from the local image store (a token the engine still holds may be reused)."""
    (tmp_path / "Dockerfile").write_text(
        f"# syntax={FRONTEND_OF_THIS_TEST}\nFROM postgres:17\nRUN --mount=type=tmpfs,target=/scratch touch /scratch/x\n"
    )
    tag = f"{TEST_LAB}/offline-hub-token:{os.getpid()}"
    if image_info.exists(FRONTEND_OF_THIS_TEST):  # under the containerd store only a pull or a build puts it there
        run(f"{WORLD_DOCKER} rmi {FRONTEND_OF_THIS_TEST}", quiet=True)
    try:
        run(f"{WORLD_DOCKER} build --pull --no-cache {LABEL_FLAGS} -t {tag} {tmp_path}", quiet=True)
    finally:
        run(f"{WORLD_DOCKER} pull -q {FRONTEND_OF_THIS_TEST}", quiet=True)
    run(f"{WORLD_DOCKER} rmi {tag}", quiet=True)
