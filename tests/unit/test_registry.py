"""labkit.registry: the one registry client (plain HTTP only on loopback, Docker Hub's token flow,
every manifest kind), whether a registry answers, and the digest it gives a tag."""

import hashlib
import json
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pytest

from labkit import registry
from labkit.names import LOOPBACK, free_port
from labkit.registry.client import INDEX_TYPES, Registry, RegistryError, api_url
from tests.helpers import http_server


def test_api_url() -> None:
    assert api_url("mcr.microsoft.com") == "https://mcr.microsoft.com/v2/"
    assert api_url("docker.io") == "https://registry-1.docker.io/v2/"
    assert api_url("127.0.0.1:5000") == "http://127.0.0.1:5000/v2/"
    assert api_url("localhost:5000") == "http://localhost:5000/v2/"


@pytest.mark.parametrize("address", ["localhost.example.com:5000", "127.0.0.1.nip.io", "192.168.1.10:5000"])
def test_only_a_loopback_registry_is_plain_http(address: str) -> None:
    """A name that only starts like a local one is another machine: its registry is asked over HTTPS."""
    assert api_url(address) == f"https://{address}/v2/"


def test_probe_counts_any_http_status_as_an_answer() -> None:
    def unauthorized(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 401, {}, b"{}"

    with http_server(unauthorized) as base:
        answers, detail = registry.probe(base.removeprefix("http://"))
    assert answers and "HTTP 401" in detail


def test_probe_reports_a_registry_that_does_not_answer() -> None:
    answers, detail = registry.probe(f"{LOOPBACK}:{free_port()}", timeout=1)
    assert not answers and "refused" in detail.lower()


INDEX = b'{"schemaVersion": 2, "manifests": []}'


def test_manifest_digest_accepts_an_oci_index_and_is_computed_from_its_bytes() -> None:
    """The containerd image store pushes an OCI index: a request that does not accept it gets 404.
    The digest is the manifest's own, whatever digest header a registry sends with it."""

    def registry_holding_an_index(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if request.path != "/v2/team/app/manifests/1":
            return 404, {}, b"{}"
        if "application/vnd.oci.image.index.v1+json" not in request.headers.get("Accept", ""):
            return 404, {}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'
        return 200, {"Docker-Content-Digest": "sha256:" + "c" * 64, "Content-Type": INDEX_TYPES[0]}, INDEX

    with http_server(registry_holding_an_index) as base:
        address = base.removeprefix("http://")
        assert registry.manifest_digest(address, "team/app", "1") == "sha256:" + hashlib.sha256(INDEX).hexdigest()
        assert registry.manifest_digest(address, "team/app", "2") is None


class TokenRegistry:
    """A registry that wants Docker Hub's anonymous token: 401 with a Bearer challenge without one,
    tag pages (one tag each, linked by `Link: rel="next"`) with it; its realm counts the tokens given."""

    def __init__(self) -> None:
        self.tokens_given: list[str] = []  # the scope of each token

    def answer(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        url = urllib.parse.urlsplit(request.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/token":
            self.tokens_given += query["scope"]
            return 200, {}, json.dumps({"token": "t0ken", "expires_in": 300}).encode()
        if request.headers.get("Authorization") != "Bearer t0ken":
            realm = f"http://{request.headers['Host']}/token"
            challenge = f'Bearer realm="{realm}",service="test.registry",scope="repository:team/app:pull"'
            return 401, {"WWW-Authenticate": challenge}, b'{"errors":[{"code":"UNAUTHORIZED"}]}'
        tags, last = ["1.0", "2.0"], query.get("last", [""])[0]
        page = tags[tags.index(last) + 1 :] if last else tags
        headers = {"Link": f'</v2/team/app/tags/list?n=1&last={page[0]}>; rel="next"'} if len(page) > 1 else {}
        return 200, headers, json.dumps({"name": "team/app", "tags": page[:1]}).encode()


def test_a_registry_that_wants_a_token_gets_one_and_every_page_is_read() -> None:
    fake = TokenRegistry()
    with http_server(fake.answer) as base:
        asked = Registry(base.removeprefix("http://"))
        assert asked.tags("team/app", page_size=1) == ["1.0", "2.0"]
    assert fake.tokens_given == ["repository:team/app:pull"]  # one token, reused for the second page


def test_a_realm_that_gives_no_token_is_an_error_that_names_it() -> None:
    def stingy(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if request.path.startswith("/token"):
            return 403, {}, b"{}"
        return 401, {"WWW-Authenticate": f'Bearer realm="http://{request.headers["Host"]}/token"'}, b"{}"

    with (
        http_server(stingy) as base,
        pytest.raises(RegistryError, match=r"/token gave no token for team/app \(HTTP 403\)"),
    ):
        Registry(base.removeprefix("http://")).tags("team/app")


def test_a_manifest_asked_for_by_digest_must_have_that_digest() -> None:
    asked = "sha256:" + hashlib.sha256(b"{}").hexdigest()

    def swapping(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": INDEX_TYPES[0]}, INDEX  # whatever was asked for

    with (
        http_server(swapping) as base,
        pytest.raises(RegistryError, match=rf"@{asked} answered a manifest with the digest sha256:"),
    ):
        Registry(base.removeprefix("http://")).manifest("team/app", asked)


SBOM_TYPE = "application/vnd.cyclonedx+json"
SUBJECT = "sha256:" + "a" * 64


def _referrer(artifact_type: str, digest: str) -> dict[str, str]:
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "artifactType": artifact_type}


def test_referrers_come_from_the_referrers_api_when_the_registry_has_it() -> None:
    listed = [_referrer(SBOM_TYPE, "sha256:" + "b" * 64), _referrer("application/vnd.dev.cosign", "sha256:" + "c" * 64)]

    def with_the_api(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if request.path == f"/v2/team/app/referrers/{SUBJECT}":
            return 200, {"Content-Type": INDEX_TYPES[0]}, json.dumps({"manifests": listed}).encode()
        return 404, {}, b"{}"

    with http_server(with_the_api) as base:
        found = Registry(base.removeprefix("http://")).referrers("team/app", SUBJECT, SBOM_TYPE)
    assert [entry["digest"] for entry in found] == ["sha256:" + "b" * 64]


def test_referrers_come_from_the_fallback_tag_on_a_registry_without_the_api() -> None:
    """distribution 2.8 (registry:2) answers 404 to the referrers API: oras keeps an index under sha256-<hex>."""
    index = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPES[0], "manifests": [_referrer(SBOM_TYPE, SUBJECT)]})

    def without_the_api(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if request.path == f"/v2/team/app/manifests/sha256-{'a' * 64}":
            return 200, {"Content-Type": INDEX_TYPES[0]}, index.encode()
        return 404, {}, b"404 page not found\n"

    with http_server(without_the_api) as base:
        where = Registry(base.removeprefix("http://"))
        assert [entry["artifactType"] for entry in where.referrers("team/app", SUBJECT)] == [SBOM_TYPE]
        assert where.referrers("team/app", "sha256:" + "f" * 64) == []
