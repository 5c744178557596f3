"""labkit.web and labkit.containers: HTTP answers (errors included), waiting for a server, web containers."""

from http.server import BaseHTTPRequestHandler

import pytest

from labkit import containers, web
from labkit.docker_access import client
from labkit.errors import CheckFailed, LabError
from labkit.names import LOOPBACK, free_port
from tests.helpers import LABELS, WEB_FILES, WEB_IMAGE, BuildImage, StartContainer, http_server


def _answer(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    if request.path == "/missing":
        return 404, {}, b"no such page"
    return 200, {}, "héllo".encode()


def test_get_returns_status_and_body_also_for_an_http_error() -> None:
    with http_server(_answer) as base:
        assert web.get(base + "/") == web.HttpAnswer(200, "héllo")
        assert web.get(base + "/missing") == web.HttpAnswer(404, "no such page")
        assert web.get(base + "/").headers["Content-Length"] == "6"  # the registry API pages with a header


def test_get_raises_when_nothing_listens() -> None:
    with pytest.raises(OSError):
        web.get(f"http://{LOOPBACK}:{free_port()}/", timeout=1)


def test_wait_for_http_returns_the_first_answer() -> None:
    with http_server(_answer) as base:
        assert web.wait_for_http(base + "/missing", timeout=5).status == 404


def test_wait_for_http_gives_up_after_its_timeout() -> None:
    with pytest.raises(web.NoAnswer, match="nothing answered within 1 s"):
        web.wait_for_http(f"http://{LOOPBACK}:{free_port()}/", timeout=1)


def test_wait_for_http_stops_when_told_to() -> None:
    with pytest.raises(web.NoAnswer, match="the server went away"):
        web.wait_for_http(f"http://{LOOPBACK}:{free_port()}/", timeout=30, stop=lambda: "the server went away")


@pytest.mark.docker
def test_run_web_publishes_on_loopback_and_waits(build_image: BuildImage, run_tag: str) -> None:
    image = build_image("web", WEB_IMAGE, WEB_FILES)
    container, base = containers.run_web(image, name=f"labkit-tests-runweb-{run_tag}", labels=LABELS, timeout=30)
    try:
        assert base.startswith(f"http://{LOOPBACK}:")
        assert "hello labkit" in web.get(base + "/").body
        container.reload()
        asked = container.attrs["HostConfig"]["PortBindings"]["8080/tcp"][0]
        assert asked == {"HostIp": LOOPBACK, "HostPort": ""}  # `-p 127.0.0.1::8080`: Docker picks the port
        bound = container.ports["8080/tcp"][0]
        assert bound["HostIp"] == LOOPBACK and base.endswith(f":{bound['HostPort']}")
        assert container.labels == LABELS
    finally:
        container.remove(force=True)


@pytest.mark.docker
def test_run_web_reports_a_container_that_exits(busybox: str, run_tag: str) -> None:
    name = f"labkit-tests-exits-{run_tag}"
    try:
        with pytest.raises(CheckFailed, match=r"exited[\s\S]*port 8080 is not here"):
            containers.run_web(
                busybox, name=name, labels=LABELS, timeout=30, command=["sh", "-c", "echo port 8080 is not here"]
            )
    finally:
        client().containers.get(name).remove(force=True)


@pytest.mark.docker
def test_host_port_reads_the_port_docker_picked(busybox: str, run_tag: str) -> None:
    name = f"labkit-tests-hostport-{run_tag}"
    client().containers.run(
        busybox, ["sleep", "60"], detach=True, name=name, labels=LABELS, ports={"8080/tcp": (LOOPBACK, None)}
    )
    try:
        port = containers.host_port(name, 8080)
        published = client().api.port(name, 8080)
        assert published[0]["HostIp"] == LOOPBACK and int(published[0]["HostPort"]) == port
        with pytest.raises(LabError, match="does not publish port 5000"):
            containers.host_port(name, 5000)
    finally:
        client().containers.get(name).remove(force=True)
    with pytest.raises(containers.ContainerGone, match=f"There is no container named {name}"):
        containers.host_port(name, 8080)


@pytest.mark.docker
def test_host_port_refuses_a_port_published_on_every_interface(busybox: str, start_container: StartContainer) -> None:
    """As `docker run -p 8080` publishes it: reachable from the whole (workshop) network, so never used."""
    container = start_container(
        busybox, ["sleep", "300"], what="everywhere", network_mode="bridge", ports={"8080/tcp": ("0.0.0.0", None)}
    )
    with pytest.raises(LabError, match=r"not publish port 8080 on 127\.0\.0\.1: .*`-p 127\.0\.0\.1::8080`"):
        containers.host_port(container.name, 8080)
