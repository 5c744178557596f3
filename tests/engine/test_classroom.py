"""`labkit classroom` and `labkit open`: addresses, engine settings, pull counts, bad input as one line."""

import hashlib
import json
import re
import socket
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from docker import DockerClient

from labkit import catalog, refs
from labkit.docker_access import client
from labkit.registry.client import IMAGE_TYPES, INDEX_TYPES, USER_AGENT, Registry
from labkit.registry.copy import plan
from labkit.tools import open_lab
from labkit.tools.classroom import join as classroom_join
from labkit.tools.classroom import room
from labkit.tools.classroom import status as classroom_status
from tests.helpers import TEST_LAB, catalog_file, engine_tags, http_server, labkit
from tests.labs import wrong_state

FINGERPRINT = "4f2a-91c0-7be3-0d5a"  # what no fake registry here serves

LEARNER_LOG = (
    '172.17.0.1 - - [02/Dec/2026:00:31:36 +0000] "GET /v2/dotnet/sdk/manifests/10.0 HTTP/1.1" 200 1365 "" '
    '"docker/26.1.5 go/go1.22 git-commit/411e817 kernel/6.1 os/linux arch/amd64 UpstreamClient(Docker-Client/26.1.5)"'
)


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0, output
    assert len(output.splitlines()) == 1 and "Traceback" not in output, output
    return output


@pytest.mark.parametrize(
    ("text", "expected"),
    [("192.168.1.10", ("192.168.1.10", 5000)), ("127.0.0.2:5001", ("127.0.0.2", 5001)), ("host:80", ("host", 80))],
)
def test_an_address_takes_port_5000_unless_given(text: str, expected: tuple[str, int]) -> None:
    assert room.split_address(text) == expected


@pytest.mark.parametrize("text", ["", "192.168.1.10:http", "host:0", "host:70000", "http://host/"])
def test_a_bad_address_is_refused(text: str) -> None:
    with pytest.raises(room.ClassroomError, match="ADDRESS:PORT"):
        room.split_address(text)


def test_catalog_images_keep_their_path_in_the_classroom() -> None:
    assert room.served_ref("mcr.microsoft.com/dotnet/sdk:10.0", "h:5000") == "h:5000/dotnet/sdk:10.0"
    assert room.served_ref("registry:2", "h:5000") == "h:5000/library/registry:2"


def test_pulls_are_image_manifest_requests_from_clients_other_than_labkit() -> None:
    image, platform = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    by_digest = LEARNER_LOG.replace("manifests/10.0", f"manifests/{image}")  # as `join` pulls
    its_platform = LEARNER_LOG.replace("manifests/10.0", f"manifests/{platform}")  # the same pull, under an index
    ours = LEARNER_LOG.rsplit('"', 2)[0] + f'"{USER_AGENT}"'
    refused = LEARNER_LOG.replace('" 200 ', '" 404 ')
    other = LEARNER_LOG.replace("172.17.0.1", "192.168.1.23")
    lines = [LEARNER_LOG, by_digest, its_platform, ours, refused, other, "time=... level=info msg=started"]
    assert classroom_status.count_pulls("\n".join(lines), {image}) == {"172.17.0.1": 2, "192.168.1.23": 1}


def test_the_engine_settings_decide_plain_http() -> None:
    info = {
        "RegistryConfig": {
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {"docker.io": {"Secure": True}, "192.168.1.10:5000": {"Secure": False}},
        }
    }
    assert classroom_join.engine_allows("127.0.0.2:5000", info)
    assert classroom_join.engine_allows("192.168.1.10:5000", info)
    assert not classroom_join.engine_allows("192.168.1.11:5000", info)
    assert not classroom_join.engine_allows("192.168.1.11:5000", {})


def test_the_advice_names_the_exact_entry_for_each_platform() -> None:
    advice = classroom_join.insecure_advice("192.168.1.10:5000")
    assert '"insecure-registries": ["192.168.1.10:5000"]' in advice
    assert "Settings > Docker Engine" in advice and "/etc/docker/daemon.json" in advice
    assert "systemctl restart docker" in advice and "never edits" in advice


def test_the_lan_address_is_never_a_wildcard() -> None:
    found = room.lan_address()
    assert found != "0.0.0.0"
    socket.inet_aton(found)


def blob(content: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(content).hexdigest(), content


def test_the_plan_of_an_index_keeps_linux_platforms_and_their_blobs() -> None:
    config, layer = blob(b"{}"), blob(b"layer")
    image = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": IMAGE_TYPES[0],
            "config": {"digest": config[0], "size": 2},
            "layers": [{"digest": layer[0], "size": 5}, {"digest": "sha256:f", "size": 9, "urls": ["http://x"]}],
        }
    ).encode()
    linux = blob(image)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {"digest": linux[0], "size": len(image), "platform": {"os": "linux", "architecture": "arm64"}},
                {"digest": "sha256:w", "size": 1, "platform": {"os": "windows", "architecture": "amd64"}},
            ],
        }
    ).encode()
    served = {
        "/v2/r/manifests/1": (INDEX_TYPES[0], index),
        f"/v2/r/manifests/{linux[0]}": (IMAGE_TYPES[0], image),
    }

    def answer(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        media_type, body = served.get(request.path, ("text/plain", b"unknown"))
        return (200 if request.path in served else 404), {"Content-Type": media_type}, body

    with http_server(answer) as url:
        found = plan(Registry(url.removeprefix("http://")), "r", "1")
    assert [reference for reference, _ in found.manifests] == [linux[0], "1"]  # children before the index
    assert found.blobs == {config[0]: 2, layer[0]: 5}  # the foreign layer stays out
    assert [m["platform"]["os"] for m in found.manifests[-1][1].data["manifests"]] == ["linux"]


def test_a_lab_opens_by_number_or_folder_name() -> None:
    assert open_lab.notebook("01") == open_lab.LABS / "01-containers" / "lab.ipynb"
    assert open_lab.notebook("1") == open_lab.notebook("01-containers")
    with pytest.raises(open_lab.NoSuchLab, match="01-containers"):
        open_lab.notebook("99")


def test_without_jupyterlab_open_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(open_lab, "jupyterlab_installed", lambda: False)
    assert open_lab.open_lab("01") == 1
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and 'pip install -e ".[lab]"' in message and "labs/01-containers" in message


def test_open_fails_with_one_line_where_jupyterlab_is_missing(tmp_path: Path) -> None:
    """Wherever JupyterLab is installed too: a `None` in sys.modules makes an import (and find_spec) miss it."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['jupyterlab'] = None\n")
    assert "JupyterLab is not installed" in one_line_failure(labkit("open", "01-containers", PYTHONPATH=str(tmp_path)))


@pytest.mark.parametrize(
    "command", [["classroom"], *(["classroom", a] for a in ("serve", "join", "status", "stop")), ["open"]]
)
def test_every_new_command_has_help(command: list[str]) -> None:
    result = labkit(*command, "--help")
    assert result.returncode == 0 and result.stdout.startswith(f"usage: python -m labkit {' '.join(command)}")


# ---------------------------------------------------------------- bad input, against the engine


@pytest.mark.docker
def test_this_engine_allows_loopback_but_not_a_lan_address_it_was_not_told_about() -> None:
    info = client().info()
    assert classroom_join.engine_allows("127.0.0.2:5000", info)
    assert not classroom_join.engine_allows("192.0.2.10:5000", info)


@pytest.mark.docker
def test_join_an_address_that_does_not_answer() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.3", 0))
        port = probe.getsockname()[1]  # bound, never listening: nothing answers there
        result = labkit("classroom", "join", f"127.0.0.3:{port}", "--expect", FINGERPRINT)
        assert "Nothing answers at 127.0.0.3" in one_line_failure(result)


@pytest.mark.docker
def test_join_a_registry_that_lacks_an_image(tmp_path: Path) -> None:
    def answer(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if request.path == "/v2/":
            return 200, {classroom_join.API_VERSION_HEADER: "registry/2.0"}, b"{}"
        if request.path == "/v2/dotnet/sdk/manifests/10.0":
            return 200, {"Content-Type": IMAGE_TYPES[0]}, b'{"schemaVersion": 2}'
        return 404, {}, b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}'

    refs = {"sdk": "mcr.microsoft.com/dotnet/sdk:10.0", "gone": "mcr.microsoft.com/dotnet/gone:10.0"}
    with http_server(answer) as url:
        result = labkit(
            "classroom",
            "join",
            url.removeprefix("http://"),
            "--expect",
            FINGERPRINT,
            LABKIT_CATALOG=str(catalog_file(tmp_path, refs)),
        )
    message = one_line_failure(result)
    assert "lacks mcr.microsoft.com/dotnet/gone:10.0:" in message and "dotnet/sdk" not in message


BEARER = 'Bearer realm="https://auth.example.invalid/token",service="registry.example.invalid"'


@pytest.mark.parametrize(
    ("status", "headers", "says"),
    [
        (401, {"WWW-Authenticate": BEARER}, f"wants a token ({BEARER}): a classroom registry needs none"),
        (404, {}, "answered HTTP 404 at /v2/: it is not a registry"),
        (200, {"Content-Type": "text/html"}, f"answered /v2/ without the {classroom_join.API_VERSION_HEADER} header"),
    ],
    ids=["a registry that wants a token", "a web server", "a web server that answers everything"],
)
def test_join_says_which_address_answered_what(status: int, headers: dict[str, str], says: str) -> None:
    with http_server(lambda request: (status, headers, b"<html></html>")) as url:
        address = url.removeprefix("http://")
        message = one_line_failure(labkit("classroom", "join", address, "--expect", FINGERPRINT))
    assert f"✘ labkit: {address} {says}" in message and "check the address" in message


@pytest.mark.docker
@pytest.mark.holds("classroom")  # a room served meanwhile on another address would be refused first
def test_serve_on_a_port_that_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.2", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = one_line_failure(labkit("classroom", "serve", "--address", "127.0.0.2", "--port", str(port)))
    assert f"127.0.0.2:{port} is taken" in message and "--port" in message


@pytest.mark.parametrize("host", ["192.168.1.10", "localhost.example.com", "127.0.0.1.nip.io"])
def test_a_room_address_is_served_on_loopback_too_and_reached_there(host: str) -> None:
    """The instructor's engine pushes over loopback, which it accepts over plain HTTP, even when the
    room's address only looks local."""
    assert room.own_address(host, 5001) == "127.0.0.1:5001"
    assert room.bindings(host, 5001) == [(host, 5001), ("127.0.0.1", 5001)]


@pytest.mark.parametrize("host", ["127.0.0.2", "localhost"])
def test_a_loopback_address_is_served_and_reached_only_there(host: str) -> None:
    assert room.own_address(host, 5001) == f"{host}:5001"
    assert room.bindings(host, 5001) == [(host, 5001)]


def test_the_fingerprint_covers_every_name_and_digest_and_is_read_however_typed() -> None:
    digests: dict[str, str | None] = {"a:1": "sha256:" + "1" * 64, "b:1": "sha256:" + "2" * 64}
    printed = room.fingerprint(digests)
    assert re.fullmatch(r"[0-9a-f]{4}(-[0-9a-f]{4}){3}", printed)
    assert room.fingerprint(dict(reversed(digests.items()))) == printed  # the order of images.toml aside
    assert room.fingerprint({**digests, "b:1": "sha256:" + "3" * 64}) != printed
    assert room.fingerprint({"a:1": digests["a:1"], "c:1": digests["b:1"]}) != printed
    assert classroom_join._fingerprint_given(f" {printed.upper().replace('-', '')} ") == printed


def test_join_refuses_a_fingerprint_that_is_not_one() -> None:
    message = one_line_failure(labkit("classroom", "join", "127.0.0.2:5000", "--expect", "4f2a91"))
    assert "--expect '4f2a91' is not a fingerprint: give the 16 digits `serve` printed" in message


@pytest.mark.docker
def test_join_refuses_a_registry_serving_a_tampered_image_and_renames_nothing(
    busybox: str, tmp_path: Path, docker_client: DockerClient
) -> None:
    """A rogue registry (writable, as the classroom's is not) serves registry:2 with other content:
    the fingerprint of the honest one does not match, and join stops before it pulls anything."""
    ref = catalog.image("registry")
    image = refs.parse(ref)
    here_before = docker_client.images.get(ref).id
    container, address = wrong_state.registry(TEST_LAB)
    rogue = f"{address}/{image.repository}:{image.tag_or_latest}"
    try:
        for content in (ref, busybox):  # the honest image first, then the tampered one over it
            docker_client.images.get(content).tag(rogue)
            docker_client.images.push(rogue)
            docker_client.images.remove(rogue)
            if content == ref:
                honest = Registry(address).manifest(image.repository, image.tag_or_latest).digest
        expect = room.fingerprint({ref: honest})
        catalog_path = str(catalog_file(tmp_path, {"registry": ref}))
        message = one_line_failure(
            labkit("classroom", "join", address, "--expect", expect, LABKIT_CATALOG=catalog_path)
        )
    finally:
        container.remove(force=True, v=True)
    assert f"The registry at {address} does not serve what the instructor served" in message
    assert f"not {expect}. Nothing was pulled or renamed" in message
    assert docker_client.images.get(ref).id == here_before
    assert not [tag for tag in engine_tags() if tag.startswith(address)]
