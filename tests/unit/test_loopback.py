"""A learner's proxy carries every request of labkit's HTTP clients except those to loopback
(labkit.names.is_loopback decides); a host that only looks local goes through the proxy like any other."""

import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from labkit import web
from labkit.registry.client import Registry
from tests.helpers import http_server

LOOKALIKE = "localhost.example.com:5000"  # resolves wherever DNS says, never to this machine by its name


def _proxied(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, f"proxy got {request.path}".encode()


def _direct(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, b"direct"


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """http_proxy set as on a company laptop, to a proxy that answers every request itself."""
    with http_server(_proxied) as url:
        monkeypatch.setenv("http_proxy", url)
        for name in ("HTTP_PROXY", "no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(web, "_SYSTEM", urllib.request.build_opener())  # as labkit.web builds it at import
        yield url


def test_web_get_goes_direct_only_to_loopback(proxy: str) -> None:
    with http_server(_direct) as local:
        assert web.get(f"{local}/").body == "direct"
    assert web.get(f"http://{LOOKALIKE}/v2/").body == f"proxy got http://{LOOKALIKE}/v2/"


def _registry_root(address: str) -> bytes:
    """What GET /v2/ of a plain-HTTP registry (a classroom's) at `address` answers."""
    with Registry(address, plain_http=True).request("GET", "/v2/", "repo") as answer:
        return answer.content


def test_a_registry_is_asked_directly_only_on_loopback(proxy: str) -> None:
    with http_server(_direct) as local:
        assert _registry_root(local.removeprefix("http://")) == b"direct"
    assert _registry_root(LOOKALIKE) == f"proxy got http://{LOOKALIKE}/v2/".encode()
