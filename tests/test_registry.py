"""labkit.registry: where an image comes from, and whether that registry answers."""

from http.server import BaseHTTPRequestHandler

import pytest

from labkit import registry
from labkit.names import LOOPBACK, free_port
from tests.helpers import http_server


def test_api_url() -> None:
    assert registry.api_url("mcr.microsoft.com") == "https://mcr.microsoft.com/v2/"
    assert registry.api_url("docker.io") == "https://registry-1.docker.io/v2/"
    assert registry.api_url("127.0.0.1:5000") == "http://127.0.0.1:5000/v2/"
    assert registry.api_url("localhost:5000") == "http://localhost:5000/v2/"


@pytest.mark.parametrize("address", ["localhost.example.com:5000", "127.0.0.1.nip.io", "192.168.1.10:5000"])
def test_only_a_loopback_registry_is_plain_http(address: str) -> None:
    """A name that only starts like a local one is another machine: its registry is asked over HTTPS."""
    assert registry.api_url(address) == f"https://{address}/v2/"


def test_probe_counts_any_http_status_as_an_answer() -> None:
    def unauthorized(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 401, {}, b"{}"

    with http_server(unauthorized) as base:
        answers, detail = registry.probe(base.removeprefix("http://"))
    assert answers and "HTTP 401" in detail


def test_probe_reports_a_registry_that_does_not_answer() -> None:
    answers, detail = registry.probe(f"{LOOPBACK}:{free_port()}", timeout=1)
    assert not answers and "refused" in detail.lower()


def test_manifest_digest_accepts_an_oci_index() -> None:
    """The containerd image store pushes an OCI index: a request that does not accept it gets 404."""
    digest = "sha256:" + "c" * 64

    def registry_holding_an_index(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if request.path != "/v2/team/app/manifests/1":
            return 404, {}, b"{}"
        if "application/vnd.oci.image.index.v1+json" not in request.headers.get("Accept", ""):
            return 404, {}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'
        return 200, {"Docker-Content-Digest": digest}, b"{}"

    with http_server(registry_holding_an_index) as base:
        address = base.removeprefix("http://")
        assert registry.manifest_digest(address, "team/app", "1") == digest
        assert registry.manifest_digest(address, "team/app", "2") is None
