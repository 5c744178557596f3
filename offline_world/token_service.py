"""Docker Hub's token service as the offline world serves it: https://auth.docker.io/token.

Docker Hub's registry answers a request that carries no token with 401 and
`WWW-Authenticate: Bearer realm="https://auth.docker.io/token",service="registry.docker.io"` (plus
`scope="repository:library/postgres:pull"` on a repository's calls). The client GETs the realm with
that service and scope, gets `{"token", "access_token", "expires_in", "issued_at"}` and sends its
request again with `Authorization: Bearer <token>`. The token is a JWT, which the world's Hub
registry (Distribution's `token` auth) checks as Docker Hub checks its own: issuer, audience,
expiry, a signature by the certificate it trusts, and a grant for every scope the call needs.

Anonymous, as Docker Hub is to a client that has not logged in: a token grants `pull` on the
repositories the Hub stand-in serves and nothing else (no push, no other repository, no catalog).
A request without the service is refused (400).

Standard library only: the world runs it detached as `python token_service.py CONFIG` (JSON, see
`Settings`), and it signs with RS256 through `openssl dgst`, the signing tool the machine has.
"""

import base64
import json
import re
import secrets
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

TOKEN_PATH = "/token"
ALGORITHM = "RS256"
_SCOPE = re.compile(r"^(?P<type>[a-z0-9]+)(?:\((?P<class>[a-z0-9]+)\))?:(?P<name>.+):(?P<actions>[a-z*,]*)$")

Signer = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Settings:
    """What the service is told in its config file."""

    address: str
    port: int
    certificate: str  # the TLS certificate and key it serves HTTPS with
    key: str
    signing_key: str  # the RSA key it signs tokens with, and that key's certificate (sent as x5c)
    signing_certificate: str
    issuer: str  # the token's `iss`, which the registry checks
    service: str  # the only service it issues tokens for: the token's `aud`
    repositories: tuple[str, ...]  # the repositories anyone may pull
    expires_in: int = 300

    @classmethod
    def load(cls, path: Path) -> "Settings":
        fields = json.loads(path.read_text())
        return cls(**{**fields, "repositories": tuple(fields["repositories"])})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def grants(scopes: Sequence[str], repositories: Sequence[str]) -> list[dict[str, object]]:
    """The token's `access` claim for the requested scopes: pull on a served repository, nothing else.

    A scope is `type[(class)]:name:actions` (repository:library/postgres:pull,push); a repository
    that is asked for but not granted is listed with no actions, as Docker Hub lists it."""
    access: list[dict[str, object]] = []
    for scope in (part for value in scopes for part in value.split()):
        match = _SCOPE.match(scope)
        if match is None or match["type"] != "repository":
            continue
        name, wanted = match["name"], match["actions"].split(",")
        allowed = ["pull"] if name in repositories and ("pull" in wanted or "*" in wanted) else []
        access.append({"type": "repository", "name": name, "actions": allowed})
    return access


def certificate_der_b64(pem: str) -> str:
    """A PEM certificate as the x5c header wants it: its DER, in standard base64."""
    body = pem.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END CERTIFICATE-----", 1)[0]
    return "".join(body.split())


def token(settings: Settings, access: list[dict[str, object]], now: datetime, sign: Signer) -> str:
    """A signed JWT (RS256, its certificate in x5c) that Distribution's token auth accepts."""
    header = {
        "typ": "JWT",
        "alg": ALGORITHM,
        "x5c": [certificate_der_b64(Path(settings.signing_certificate).read_text())],
    }
    issued = int(now.timestamp())
    claims = {
        "iss": settings.issuer,
        "sub": "",
        "aud": settings.service,
        "exp": issued + settings.expires_in,
        "nbf": issued,
        "iat": issued,
        "jti": secrets.token_hex(16),
        "access": access,
    }
    signed = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    return f"{signed}.{_b64url(sign(signed.encode('ascii')))}"


def answer(settings: Settings, target: str, now: datetime, sign: Signer) -> tuple[int, dict[str, object]]:
    """The status and JSON body for `GET target` (a path with its query)."""
    url = urlsplit(target)
    if url.path != TOKEN_PATH:
        return 404, {"details": f"no such endpoint: {url.path}"}
    query = parse_qs(url.query)
    service = query.get("service", [""])[0]
    if not service:
        return 400, {"details": "the service parameter is required"}
    if service != settings.service:
        return 400, {"details": f"unknown service {service!r}"}
    issued = token(settings, grants(query.get("scope", []), settings.repositories), now, sign)
    return 200, {
        "token": issued,
        "access_token": issued,
        "expires_in": settings.expires_in,
        "issued_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def openssl_signer(key: str) -> Signer:
    """RS256 (RSASSA-PKCS1-v1_5 with SHA-256) by `openssl dgst -sha256 -sign`."""

    def sign(data: bytes) -> bytes:
        return subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", key], input=data, capture_output=True, check=True
        ).stdout

    return sign


class TokenServer(ThreadingHTTPServer):
    """HTTPS, the TLS handshake done in each connection's own thread (a slow client holds up no other)."""

    daemon_threads = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sign = openssl_signer(settings.signing_key)
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(settings.certificate, settings.key)
        super().__init__((settings.address, settings.port), TokenHandler)

    def finish_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: object) -> None:
        assert isinstance(request, socket.socket)
        request.settimeout(30)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            print(f"TLS handshake with {client_address} failed: {exc}", file=sys.stderr, flush=True)
            return
        TokenHandler(connection, client_address, self)

    def handle_error(self, request: object, client_address: object) -> None:
        print(f"request from {client_address} failed: {sys.exc_info()[1]!r}", file=sys.stderr, flush=True)


class TokenHandler(BaseHTTPRequestHandler):
    server: TokenServer
    server_version = "containerizing-dotnet-offline-auth"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        status, body = answer(self.server.settings, self.path, datetime.now(UTC), self.server.sign)
        self._send(status, body)

    def do_POST(self) -> None:
        """Docker Hub's OAuth2 form needs credentials; 405 sends a client back to GET, as containerd's resolver goes."""
        self.close_connection = True  # its body stays unread
        self._send(405, {"details": "use GET: anonymous tokens only"})

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: token_service.py CONFIG.json", file=sys.stderr)
        return 2
    settings = Settings.load(Path(argv[0]))
    with TokenServer(settings) as server:
        print(f"serving tokens for {settings.service} on https://{settings.address}:{settings.port}", flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
