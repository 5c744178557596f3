"""A registry's API address, and whether that registry answers (labkit.refs says which registry an image is from)."""

import ssl
import urllib.error

from labkit import web
from labkit.refs import DOCKER_HUB

PROBE_TIMEOUT = 3.0
_API_URLS = {DOCKER_HUB: "https://registry-1.docker.io/v2/"}
_LOOPBACK = ("127.", "localhost")


def api_url(registry: str) -> str:
    """The registry API root; a loopback registry is plain HTTP, as Docker treats 127.0.0.0/8 as insecure."""
    if registry in _API_URLS:
        return _API_URLS[registry]
    scheme = "http" if registry.startswith(_LOOPBACK) else "https"
    return f"{scheme}://{registry}/v2/"


def probe(registry: str, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """(answers, detail): any HTTP status from GET /v2/ means the registry is reachable."""
    url = api_url(registry)
    try:
        answer = web.get(url, timeout=timeout)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ssl.SSLCertVerificationError):
            return True, f"{url} answers, but Python does not trust its TLS certificate (Docker has its own)"
        return False, f"{url}: {exc.reason}"
    except OSError as exc:
        return False, f"{url}: {exc}"
    return True, f"{url} answers (HTTP {answer.status})"
