"""labkit.refs: image references read as Docker reads them (registry port, digest, Docker Hub)."""

from http.server import BaseHTTPRequestHandler

import pytest

from labkit import refs
from labkit.errors import InvalidName
from labkit.refs import ImageRef
from labkit.tools.maintain import tags
from tests.helpers import http_server

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("mcr.microsoft.com/dotnet/sdk:10.0", ImageRef("mcr.microsoft.com", "dotnet/sdk", "10.0", None)),
        ("registry:2", ImageRef("docker.io", "library/registry", "2", None)),
        ("library/ubuntu:24.04", ImageRef("docker.io", "library/ubuntu", "24.04", None)),
        ("localhost:5000/app", ImageRef("localhost:5000", "app", None, None)),
        ("localhost/api", ImageRef("localhost", "api", None, None)),
        (
            "127.0.0.1:5000/dotnet/aspnet:10.0-noble-chiseled",
            ImageRef("127.0.0.1:5000", "dotnet/aspnet", "10.0-noble-chiseled", None),
        ),
        (f"app@{DIGEST}", ImageRef("docker.io", "library/app", None, DIGEST)),
        (f"localhost:5000/app:1.2@{DIGEST}", ImageRef("localhost:5000", "app", "1.2", DIGEST)),
    ],
)
def test_parse(ref: str, parsed: ImageRef) -> None:
    assert refs.parse(ref) == parsed


def test_a_registry_port_is_never_a_tag() -> None:
    assert refs.tag("localhost:5000/app") == "latest"
    assert refs.tag(f"mcr.microsoft.com/dotnet/aspnet:10.0@{DIGEST}") == "10.0"
    assert refs.registry("localhost:5000/app") == "localhost:5000"


@pytest.mark.parametrize("ref", ["Dotnet/SDK:10.0", "app:bad tag", "app@sha256:short", "https://example.org/app:1", ""])
def test_a_reference_docker_would_refuse_is_one_clear_error(ref: str) -> None:
    with pytest.raises(InvalidName, match="is not an image reference Docker accepts"):
        refs.parse(ref)


def test_tags_asks_the_registry_of_a_ref_with_a_port_and_looks_a_digest_up() -> None:
    report = tags.check("127.0.0.1:9/dotnet/sdk:10.0")  # port 9 (discard): nothing answers
    assert report.published.startswith("127.0.0.1:9 could not be asked") and report.in_registry is None
    asked: list[str] = []

    def no_manifests(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        asked.append(request.path)
        return 404, {}, b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}'

    with http_server(no_manifests) as base:
        address = base.removeprefix("http://")
        pinned = tags.check(f"{address}/app@{DIGEST}")
    assert asked == [f"/v2/app/manifests/{DIGEST}"]
    assert pinned.in_registry is False and not pinned.ok and pinned.published == f"{address} has no {DIGEST}"
