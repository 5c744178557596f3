"""Copy whole images from registry to registry through the registry HTTP API.

`docker push` sends only the platform the engine pulled. A room that mixes Intel and Apple
silicon laptops needs each multi-platform image whole: its index (manifest list), each Linux
platform's manifest and their blobs. That is a handful of GET/HEAD/POST/PUT calls of the
distribution API, done here with urllib so the instructor needs no extra tool (skopeo, crane).
Windows entries of an index are left out: the labs run Linux containers, and Windows layers are
gigabytes. A blob the destination has (in any repository copied to in this run) is not sent again.
"""

import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import IO, Any

from labkit import refs, registry
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
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')

Progress = Callable[[int], None]  # called with each chunk's size in bytes


class RegistryError(LabError):
    """A registry refused or did not answer; the message names the URL and the status."""


@dataclass(frozen=True)
class Manifest:
    body: bytes
    media_type: str

    @property
    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass
class Registry:
    """One registry's API: anonymous bearer tokens when it asks, TLS trust as Docker's certs.d gives it."""

    host: str
    plain_http: bool = False  # a classroom registry on a LAN address speaks HTTP, not HTTPS
    tokens: dict[str, str] = field(default_factory=dict)  # repo -> token
    holds: dict[str, str] = field(default_factory=dict)  # blob digest -> a repo here that has it

    @property
    def base(self) -> str:
        return f"http://{self.host}" if self.plain_http else registry.api_url(self.host).removesuffix("/v2/")

    def open(
        self,
        method: str,
        path: str,
        repo: str,
        headers: dict[str, str] | None = None,
        data: Any = None,
        timeout: float = TIMEOUT,
    ) -> Any:
        """Send one request (with a token once the registry asked for one); HTTP errors are raised."""
        try:
            return self._send_once(self._request(method, path, repo, headers, data), timeout)
        except urllib.error.HTTPError as exc:
            challenge = exc.headers.get("WWW-Authenticate", "")
            if exc.code == 401 and challenge.startswith("Bearer") and repo not in self.tokens and data is None:
                self.tokens[repo] = self._token(challenge, repo)
                return self.open(method, path, repo, headers, data, timeout)
            raise

    def ping(self, timeout: float = TIMEOUT) -> tuple[int, Message]:
        """GET /v2/ once, asking for no token: the status and headers of whatever answers there."""
        try:
            with self._send_once(self._request("GET", "/v2/", ""), timeout) as answer:
                return int(answer.status), answer.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers

    def _request(
        self, method: str, path: str, repo: str, headers: dict[str, str] | None = None, data: Any = None
    ) -> urllib.request.Request:
        url = path if path.startswith("http") else self.base + path
        request = urllib.request.Request(url, data=data, method=method, headers={"User-Agent": USER_AGENT})
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        if repo in self.tokens:  # never sent on to the CDN a blob GET redirects to
            request.add_unredirected_header("Authorization", f"Bearer {self.tokens[repo]}")
        return request

    def _send_once(self, request: urllib.request.Request, timeout: float) -> Any:
        """The answer, or the HTTPError it was; RegistryError when nothing answered."""
        try:
            return _opener(self.host).open(request, timeout=timeout)
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"{request.full_url}: {reason}") from exc

    def _token(self, challenge: str, repo: str) -> str:
        params = dict(_CHALLENGE.findall(challenge))
        query = urllib.parse.urlencode({"service": params.get("service", ""), "scope": f"repository:{repo}:pull"})
        with self._send_once(urllib.request.Request(f"{params['realm']}?{query}"), TIMEOUT) as answer:
            grant = json.load(answer)
        return str(grant.get("token") or grant.get("access_token"))

    def manifest(self, repo: str, reference: str) -> Manifest:
        try:
            with self.open("GET", f"/v2/{repo}/manifests/{reference}", repo, {"Accept": ACCEPT}) as answer:
                return Manifest(answer.read(), answer.headers.get_content_type())
        except urllib.error.HTTPError as exc:
            raise RegistryError(f"{self.host}/{repo}:{reference}: HTTP {exc.code} {exc.reason}") from exc

    def has_blob(self, repo: str, digest: str) -> bool:
        try:
            with self.open("HEAD", f"/v2/{repo}/blobs/{digest}", repo):
                return True
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise RegistryError(f"{self.host}/{repo} blob {digest}: HTTP {exc.code}") from exc

    def tags(self, repo: str) -> list[str]:
        """The repository's tags; none when the registry does not know it."""
        try:
            with self.open("GET", f"/v2/{repo}/tags/list", repo) as answer:
                return list(json.load(answer).get("tags") or [])
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise RegistryError(f"{self.host}/{repo} tags: HTTP {exc.code} {exc.reason}") from exc

    def put_manifest(self, repo: str, reference: str, manifest: Manifest) -> None:
        headers = {"Content-Type": manifest.media_type}
        self._send("PUT", f"/v2/{repo}/manifests/{reference}", repo, headers, manifest.body)

    def _send(self, method: str, path: str, repo: str, headers: dict[str, str], data: Any) -> Any:
        try:
            with self.open(method, path, repo, headers, data) as answer:
                return answer.headers
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace").strip()[:200]
            raise RegistryError(f"{method} {self.host}{path.split('?')[0]}: HTTP {exc.code} {detail}") from exc

    def mount(self, repo: str, digest: str) -> bool:
        """Link a blob another repository here already holds; True when the registry did."""
        source = self.holds.get(digest)
        if source is None:
            return False
        query = urllib.parse.urlencode({"mount": digest, "from": source})
        try:
            with self.open("POST", f"/v2/{repo}/blobs/uploads/?{query}", repo, data=b"") as answer:
                return int(answer.status) == 201
        except urllib.error.HTTPError:
            return False

    def upload(self, repo: str, digest: str, size: int, content: IO[bytes]) -> None:
        """A monolithic upload: POST for a session, then PUT the whole blob with its digest."""
        location = self._send("POST", f"/v2/{repo}/blobs/uploads/", repo, {}, b"")["Location"]
        url = urllib.parse.urljoin(self.base + "/", location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        self._send("PUT", url, repo, headers, content)


def _opener(host: str) -> urllib.request.OpenerDirector:
    """Loopback registries bypass a learner's proxy; a certs.d CA is trusted as Docker trusts it."""
    context = ssl.create_default_context()
    name = "registry-1.docker.io" if host == refs.DOCKER_HUB else host
    ca = CERTS_D / name / "ca.crt"
    if ca.is_file():
        context.load_verify_locations(cafile=str(ca))
    handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=context)]
    if is_loopback(host):
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


class _Counting:
    """A readable stream that reports each chunk it hands on."""

    def __init__(self, stream: IO[bytes], progress: Progress) -> None:
        self.stream, self.progress = stream, progress

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.progress(len(chunk))
        return chunk


@dataclass(frozen=True)
class Plan:
    """What copying one image takes: manifests to put (children first) and the blobs they need."""

    manifests: list[tuple[str, Manifest]]  # (reference, manifest)
    blobs: dict[str, int]  # digest -> size

    @property
    def size(self) -> int:
        return sum(self.blobs.values())


def plan(source: Registry, repo: str, tag: str) -> Plan:
    """Read an image's manifests (every Linux platform of an index) and list their blobs."""
    top = source.manifest(repo, tag)
    if not top.is_index:
        return Plan([(tag, top)], _blobs(top))
    entries = top.data["manifests"]
    kept = [entry for entry in entries if (entry.get("platform") or {}).get("os") != "windows"]
    if len(kept) != len(entries):
        top = Manifest(json.dumps({**top.data, "manifests": kept}, indent=3).encode(), top.media_type)
    manifests: list[tuple[str, Manifest]] = []
    blobs: dict[str, int] = {}
    for entry in kept:
        child = source.manifest(repo, entry["digest"])
        manifests.append((entry["digest"], child))
        blobs |= _blobs(child)
    return Plan([*manifests, (tag, top)], blobs)


def _blobs(manifest: Manifest) -> dict[str, int]:
    data = manifest.data
    descriptors = [data["config"], *data.get("layers", [])]
    return {d["digest"]: int(d["size"]) for d in descriptors if not d.get("urls")}  # foreign layers stay out


def copy(source: Registry, repo: str, needed: Plan, dest: Registry, dest_repo: str, progress: Progress) -> int:
    """Copy what `plan` found in `repo` into `dest_repo`, manifests last; return the bytes uploaded."""
    sent = 0
    for digest, size in needed.blobs.items():
        if dest.has_blob(dest_repo, digest) or dest.mount(dest_repo, digest):
            progress(size)
        else:
            try:
                with source.open("GET", f"/v2/{repo}/blobs/{digest}", repo) as content:
                    dest.upload(dest_repo, digest, size, _Counting(content, progress))  # type: ignore[arg-type]
            except urllib.error.HTTPError as exc:
                raise RegistryError(f"{source.host}/{repo} blob {digest}: HTTP {exc.code}") from exc
            sent += size
        dest.holds[digest] = dest_repo
    for reference, manifest in needed.manifests:
        dest.put_manifest(dest_repo, reference, manifest)
    return sent
