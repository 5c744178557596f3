"""A registry's API address, and whether that registry answers (labkit.refs says which registry an image is from)."""

import ssl
import urllib.error

from labkit import web
from labkit.names import is_loopback
from labkit.refs import DOCKER_HUB

PROBE_TIMEOUT = 3.0
# Every manifest kind a registry may hold for a tag. Docker's containerd image store pushes what it
# builds as an OCI index (the image plus its build attestations), and a registry answers a request
# that does not accept the stored kind with 404, as if the tag did not exist.
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_API_URLS = {DOCKER_HUB: "https://registry-1.docker.io/v2/"}


def api_url(registry: str) -> str:
    """The registry API root; a loopback registry is plain HTTP, as Docker treats 127.0.0.0/8 as insecure."""
    if registry in _API_URLS:
        return _API_URLS[registry]
    scheme = "http" if is_loopback(registry) else "https"
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


def manifest_digest(registry: str, repository: str, reference: str) -> str | None:
    """The digest the registry gives `repository:reference` now (GET /v2/<repository>/manifests/<reference>),
    whichever manifest kind it stores; None when it has no such tag."""
    answer = web.get(f"{api_url(registry)}{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES})
    if answer.status != 200:
        return None
    return {name.lower(): value for name, value in answer.headers.items()}.get("docker-content-digest")
