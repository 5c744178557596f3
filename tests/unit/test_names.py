"""Labels, names and ports: what lets labs run side by side and be cleaned up precisely."""

import socket

import pytest

from labkit import names


@pytest.mark.parametrize("lab_id", ["03-dockerfiles", "a", "lab-1-x"])
def test_check_lab_id_accepts_lower_case_dashes_and_digits(lab_id: str) -> None:
    assert names.check_lab_id(lab_id) == lab_id


@pytest.mark.parametrize("lab_id", ["", "Lab", "-03", "03_dockerfiles", "03 dockerfiles", "03/x"])
def test_check_lab_id_rejects_anything_else(lab_id: str) -> None:
    with pytest.raises(ValueError, match="lower-case letters"):
        names.check_lab_id(lab_id)


def test_labels_and_their_cli_flags() -> None:
    assert names.labels("03-dockerfiles") == {"org.containerizing-dotnet.lab": "03-dockerfiles"}
    assert names.label_flags("03-dockerfiles") == "--label org.containerizing-dotnet.lab=03-dockerfiles"


def test_names_and_tags() -> None:
    assert names.container_name("03-dockerfiles", "api", "a1b2c3") == "cdn-03-dockerfiles-api-a1b2c3"
    assert names.image_tag("03-dockerfiles", "api") == "containerizing-dotnet/03-dockerfiles-api:latest"
    assert names.image_tag("03-dockerfiles", "api", "v2").endswith(":v2")


def test_run_ids_differ() -> None:
    ids = {names.run_id() for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 6 for i in ids)


def test_free_port_can_be_bound_on_loopback() -> None:
    port = names.free_port()
    assert not names.port_in_use(port)
    with socket.socket() as sock:
        sock.bind((names.LOOPBACK, port))


def test_port_in_use_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind((names.LOOPBACK, 0))
        sock.listen()
        assert names.port_in_use(sock.getsockname()[1])


@pytest.mark.parametrize(
    "address", ["localhost", "LOCALHOST:5000", "127.0.0.1", "127.0.0.2:5000", "127.255.255.254", "::1", "[::1]:5000"]
)
def test_loopback_is_localhost_or_a_loopback_ip(address: str) -> None:
    assert names.is_loopback(address)


@pytest.mark.parametrize(
    "address",
    [
        "localhost.example.com",
        "localhost.example.com:5000",
        "127.0.0.1.nip.io",
        "127.0.0.1.nip.io:5000",
        "localhost-registry:5000",
        "0.0.0.0",
        "192.168.1.10:5000",
        "::",
        "",
    ],
)
def test_a_host_that_only_looks_local_is_not_loopback(address: str) -> None:
    assert not names.is_loopback(address)
