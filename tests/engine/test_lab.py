"""Lab: one notebook run's labels, names, ports and cleanup."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from docker import DockerClient

from labkit import Lab, web
from labkit.names import LOOPBACK
from tests.helpers import WEB_FILES, WEB_IMAGE, BuildImage


def test_a_lab_names_its_resources() -> None:
    lab = Lab("03-dockerfiles")
    assert lab.labels == {"org.containerizing-dotnet.lab": "03-dockerfiles"}
    assert lab.label_flags == "--label org.containerizing-dotnet.lab=03-dockerfiles"
    assert lab.image("api") == "containerizing-dotnet/03-dockerfiles-api:latest"
    assert lab.name("api") == f"cdn-03-dockerfiles-api-{lab.run_id}"


def test_a_lab_id_must_be_a_plain_name() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        Lab("Lab 3")


@pytest.mark.docker
def test_two_labs_started_at_once_get_different_names_and_ports(
    build_image: BuildImage, run_tag: str, docker_client: DockerClient, capsys: pytest.CaptureFixture[str]
) -> None:
    image = build_image("web", WEB_IMAGE, WEB_FILES)
    labs = [Lab(f"labkit-tests-twins-{run_tag}") for _ in range(2)]  # the same notebook, run twice at once

    def start(lab: Lab) -> tuple[str, int]:
        docker_client.containers.run(  # as `docker run -p 127.0.0.1::8080`: Docker picks the host port
            image, detach=True, name=lab.name("web"), labels=lab.labels, ports={"8080/tcp": (LOOPBACK, None)}
        )
        return lab.name("web"), lab.host_port(lab.name("web"), 8080)

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            (name_a, port_a), (name_b, port_b) = pool.map(start, labs)
        assert name_a != name_b and port_a != port_b
        for port in (port_a, port_b):
            assert "hello labkit" in web.wait_for_http(f"http://{LOOPBACK}:{port}/", timeout=30).body
    finally:
        removed = labs[0].cleanup()
    assert sorted(r.name for r in removed) == sorted(lab.name("web") for lab in labs)
    assert "Removed 2 resource(s)" in capsys.readouterr().out
