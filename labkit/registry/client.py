"""The one registry client: every tool of the course that talks to a registry's HTTP API uses it.

Its rules are the ones Docker follows, in one place:
- a loopback registry (`labkit.names.is_loopback`, a parsed host) speaks plain HTTP and is asked
  directly, past a learner's proxy; any other host speaks HTTPS, through the proxy the machine
  sets, unless the caller says it is plain HTTP (a classroom registry on the room's network);
- a CA in /etc/docker/certs.d/<host>/ca.crt is trusted for that host, as Docker trusts it;
- a registry that answers 401 with a Bearer challenge (Docker Hub) gets an anonymous token for
  the repository from the challenge's realm, and the request is sent again with it;
- a manifest request accepts the four manifest kinds: a registry answers a request that does not
  accept the stored kind with 404, as if the tag did not exist;
- the artifacts that refer to a manifest (an SBOM, a signature) come from the OCI referrers API, or,
  from a registry without it (distribution 2.8, `registry:2`), from the index that clients such as
  oras keep under the tag `sha256-<hex of the digest>` (the OCI distribution spec's fallback).
"""

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin
from urllib.request import parse_http_list, parse_keqv_list

import requests

from labkit import refs
from labkit.errors import LabError
from labkit.names import is_loopback

USER_AGENT = "labkit-classroom"  # lets `classroom status` tell its own requests from learners' pulls
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
IMAGE_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join((*INDEX_TYPES, *IMAGE_TYPES))
CERTS_D = Path("/etc/docker/certs.d")
TIMEOUT = 60.0
PAGE_SIZE = 1000  # tags a page; Docker Hub lists at most this many at once
_API_HOSTS = {refs.DOCKER_HUB: "registry-1.docker.io"}  # where Docker sends docker.io's API calls


class Readable(Protocol):
    def read(self, amount: int | None = ..., /) -> bytes: ...


class Blob(Readable, Protocol):
    """What an upload sends: bytes to read, and their length (sent as Content-Length, not chunked)."""

    def __len__(self) -> int: ...


class RegistryError(LabError):
    """A registry refused or did not answer; the message names the URL and what happened."""


@dataclass(frozen=True)
class Manifest:
    body: bytes
    media_type: str

    @property
    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def digest(self) -> str:
        """Computed from the bytes, so it holds whatever header the registry sent."""
        return "sha256:" + hashlib.sha256(self.body).hexdigest()

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def api_host(registry: str) -> str:
    """The host a registry's API calls go to: docker.io's go to registry-1.docker.io."""
    return _API_HOSTS.get(registry, registry)


def api_url(registry: str, plain_http: bool | None = None) -> str:
    """The registry API root; unless told, a loopback registry is plain HTTP, as Docker treats 127.0.0.0/8
    as insecure."""
    plain = is_loopback(registry) if plain_http is None else plain_http
    return f"{'http' if plain else 'https'}://{api_host(registry)}/v2/"


class Registry:
    """One registry's API (`host` as image names give it: docker.io, mcr.microsoft.com, 127.0.0.1:5000)."""

    def __init__(self, host: str, *, plain_http: bool | None = None, cafile: Path | None = None) -> None:
        self.host = host
        self.base = api_url(host, plain_http).removesuffix("/v2/")
        self.tokens: dict[str, str] = {}  # repository -> token
        self.holds: dict[str, str] = {}  # blob digest -> a repository here that has it (copy mounts from it)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.trust_env = not is_loopback(host)  # a learner's proxy never sees loopback traffic
        trusted = cafile or CERTS_D / api_host(host) / "ca.crt"
        if trusted.is_file():
            self.session.verify = str(trusted)

    def request(self, method: str, path: str, repo: str, **options: Any) -> requests.Response:
        """Send one request (with a token once the registry asked for one); any status is returned.

        `path` is relative to the registry (/v2/...) or a whole URL (an upload's Location)."""
        response = self._send(method, path, repo, **options)
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code == 401 and challenge.lower().startswith("bearer") and repo not in self.tokens:
            response.close()
            self.tokens[repo] = self._token(challenge, repo)
            response = self._send(method, path, repo, **options)
        return response

    def _send(self, method: str, path: str, repo: str, **options: Any) -> requests.Response:
        url = path if path.startswith("http") else self.base + path
        headers = {**options.pop("headers", {})}
        if repo in self.tokens:  # requests drops it when a redirect leaves this host (a blob's CDN)
            headers["Authorization"] = f"Bearer {self.tokens[repo]}"
        try:
            return self.session.request(
                method, url, headers=headers, timeout=options.pop("timeout", TIMEOUT), **options
            )
        except requests.RequestException as exc:
            raise RegistryError(f"{url}: {_reason(exc)}") from exc

    def _token(self, challenge: str, repo: str) -> str:
        """An anonymous pull token from the challenge's realm, as `docker pull` gets one from Docker Hub."""
        params = parse_keqv_list(parse_http_list(challenge.split(" ", 1)[1]))
        realm = params.get("realm")
        if not realm:
            raise RegistryError(f"{self.base} asks for a token but names no realm to get it from ({challenge})")
        query = {"service": params.get("service") or "", "scope": f"repository:{repo}:pull"}
        try:
            answer = self.session.get(realm, params=query, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise RegistryError(f"token from {realm}: {_reason(exc)}") from exc
        grant = answer.json() if answer.status_code == 200 else {}
        token = grant.get("token") or grant.get("access_token")
        if not token:
            raise RegistryError(f"{realm} gave no token for {repo} (HTTP {answer.status_code})")
        return str(token)

    def ping(self, timeout: float = TIMEOUT) -> requests.Response:
        """GET /v2/ once, asking for no token: whatever answers there, as it answered."""
        return self._send("GET", "/v2/", "", timeout=timeout)

    def find_manifest(self, repo: str, reference: str) -> Manifest | None:
        """The manifest of repo:reference (a tag or a digest), whichever kind it is; None when there is none."""
        answer = self.request("GET", f"/v2/{repo}/manifests/{reference}", repo, headers={"Accept": ACCEPT})
        if answer.status_code == 404:
            return None
        _expect(answer, 200, f"{self.host}/{repo}:{reference}")
        found = Manifest(answer.content, answer.headers.get("Content-Type", "").split(";")[0].strip())
        if reference.startswith("sha256:") and found.digest != reference:
            raise RegistryError(f"{self.host}/{repo}@{reference} answered a manifest with the digest {found.digest}")
        return found

    def manifest(self, repo: str, reference: str) -> Manifest:
        found = self.find_manifest(repo, reference)
        if found is None:
            raise RegistryError(f"{self.host} has no {repo}:{reference}")
        return found

    def tags(self, repo: str, page_size: int = PAGE_SIZE) -> list[str]:
        """Every tag of the repository, following the registry's pages; none when it does not know it."""
        path: str | None = f"/v2/{repo}/tags/list?n={page_size}"
        found: list[str] = []
        while path is not None:
            answer = self.request("GET", path, repo)
            if answer.status_code == 404:
                return found
            _expect(answer, 200, f"{self.host}/{repo} tags")
            found += answer.json().get("tags") or []
            following = answer.links.get("next", {}).get("url")
            path = urljoin(answer.url, following) if following else None
        return found

    def image_ids(self, repo: str, tag: str) -> set[str]:
        """The ids a local copy of repo:tag may have: under the classic store the config digest of its
        manifest (each platform's, for an index), under the containerd store the manifest's own digest."""
        top = self.find_manifest(repo, tag)
        if top is None:
            return set()
        manifests = [self.manifest(repo, e["digest"]) for e in top.data["manifests"]] if top.is_index else [top]
        ids = {top.digest, *(str(m.data.get("config", {}).get("digest", "")) for m in manifests)}
        if top.is_index:
            ids |= {str(entry["digest"]) for entry in top.data["manifests"]}
        return ids - {""}

    def referrers(self, repo: str, digest: str, artifact_type: str | None = None) -> list[dict[str, Any]]:
        """The descriptors of the manifests whose `subject` is `digest` (of `artifact_type`, when given)."""
        answer = self.request("GET", f"/v2/{repo}/referrers/{digest}", repo, headers={"Accept": INDEX_TYPES[0]})
        if answer.status_code == 200 and answer.headers.get("Content-Type", "").startswith(INDEX_TYPES[0]):
            found: list[dict[str, Any]] = answer.json().get("manifests") or []
        elif answer.status_code in (200, 404):
            index = self.find_manifest(repo, referrers_tag(digest))
            found = index.data.get("manifests") or [] if index is not None else []
        else:
            _expect(answer, 200, f"{self.host}/{repo} referrers of {digest}")
        return [entry for entry in found if artifact_type in (None, entry.get("artifactType"))]

    def blob_bytes(self, repo: str, digest: str) -> bytes:
        """A (small) blob's whole content: a manifest's config, an SBOM."""
        with self.blob(repo, digest) as content:
            return content.read()

    def has_blob(self, repo: str, digest: str) -> bool:
        answer = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", repo)
        if answer.status_code == 404:
            return False
        _expect(answer, 200, f"{self.host}/{repo} blob {digest}")
        return True

    @contextmanager
    def blob(self, repo: str, digest: str) -> Iterator[Readable]:
        """A blob's bytes as they come (a redirect to a CDN is followed)."""
        with self.request("GET", f"/v2/{repo}/blobs/{digest}", repo, stream=True) as answer:
            _expect(answer, 200, f"{self.host}/{repo} blob {digest}")
            yield answer.raw

    def put_manifest(self, repo: str, reference: str, manifest: Manifest) -> None:
        headers = {"Content-Type": manifest.media_type}
        answer = self.request("PUT", f"/v2/{repo}/manifests/{reference}", repo, headers=headers, data=manifest.body)
        _expect(answer, 201, f"PUT {self.host}/{repo}:{reference}")

    def mount(self, repo: str, digest: str) -> bool:
        """Link a blob another repository here already holds; True when the registry did."""
        source = self.holds.get(digest)
        if source is None:
            return False
        query = {"mount": digest, "from": source}
        return self.request("POST", f"/v2/{repo}/blobs/uploads/", repo, params=query).status_code == 201

    def upload(self, repo: str, digest: str, content: Blob) -> None:
        """A monolithic upload: POST for a session, then PUT the whole blob with its digest."""
        started = self.request("POST", f"/v2/{repo}/blobs/uploads/", repo)
        _expect(started, 202, f"POST {self.host}/{repo} upload")
        location = urljoin(self.base + "/", started.headers["Location"])
        headers = {"Content-Type": "application/octet-stream"}
        answer = self.request("PUT", location, repo, headers=headers, params={"digest": digest}, data=content)
        _expect(answer, 201, f"PUT {self.host}/{repo} blob {digest}")


def referrers_tag(digest: str) -> str:
    """The tag under which a registry without the referrers API keeps the index of `digest`'s referrers."""
    return digest.replace(":", "-", 1)


def _expect(answer: requests.Response, status: int, what: str) -> None:
    if answer.status_code != status:
        detail = answer.text.strip()[:200]
        raise RegistryError(f"{what}: HTTP {answer.status_code} {answer.reason} {detail}".rstrip())


def _reason(exc: BaseException) -> str:
    """The innermost reason (refused, name not known, certificate not trusted), not requests' and
    urllib3's wrappings of it."""
    while True:
        reason = getattr(exc, "reason", None)
        wrapped = exc.args[0] if exc.args else None
        inner = next(
            (e for e in (reason, wrapped, exc.__cause__, exc.__context__) if isinstance(e, BaseException)), None
        )
        if inner is None:
            return str(exc) or type(exc).__name__
        exc = inner
