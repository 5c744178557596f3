"""The Docker Hub stand-in's parts on their own, with no world and no Docker: the token service's
answers and tokens (offline_world/token_service.py), the Hub registry's config (offline_world/hub.py)
and the restart rule of the world's servers (machine.Daemon).

test_offline_world.py checks the whole flow against the running world.
"""

import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from labkit.names import LOOPBACK, free_port, port_in_use
from labkit.waiting import wait_until
from labkit.web import get
from offline_world import hub, registry
from offline_world.machine import Daemon
from offline_world.token_service import Settings, TokenServer, answer, grants, openssl_signer

SERVED = ("docker/dockerfile", "library/postgres", "library/registry")
NOW = datetime(2026, 12, 5, 4, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Signing:
    settings: Settings
    folder: Path


def _openssl(*arguments: str, cwd: Path) -> bytes:
    return subprocess.run(["openssl", *arguments], cwd=cwd, check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> Signing:
    """A signing key and certificate, and a TLS certificate for 127.0.0.1, as `up` makes them."""
    folder = tmp_path_factory.mktemp("token-service")
    for name, extra in [("signing", []), ("tls", ["-addext", f"subjectAltName=IP:{LOOPBACK}"])]:
        request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}", *extra]
        _openssl(*request, "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=folder)
    settings = Settings(
        address=LOOPBACK,
        port=0,
        certificate=str(folder / "tls.crt"),
        key=str(folder / "tls.key"),
        signing_key=str(folder / "signing.key"),
        signing_certificate=str(folder / "signing.crt"),
        issuer=hub.ISSUER,
        service=hub.SERVICE,
        repositories=SERVED,
    )
    return Signing(settings, folder)


def _decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def issue(signing: Signing, target: str) -> tuple[int, dict[str, object]]:
    return answer(signing.settings, target, NOW, openssl_signer(signing.settings.signing_key))


# ---------------------------------------------------------------- the token service


def test_a_token_request_names_the_service_docker_hub_is() -> None:
    settings = Settings("", 0, "", "", "", "", hub.ISSUER, hub.SERVICE, SERVED)
    refuse = openssl_signer("/nonexistent")  # never reached: nothing is signed for a refused request
    assert answer(settings, "/token?scope=repository:library/postgres:pull", NOW, refuse)[0] == 400
    assert answer(settings, "/token?service=", NOW, refuse)[0] == 400
    assert answer(settings, "/token?service=ghcr.io", NOW, refuse)[0] == 400
    assert answer(settings, "/v2/token?service=registry.docker.io", NOW, refuse)[0] == 404


def test_an_anonymous_token_grants_pull_of_a_served_repository_and_nothing_else() -> None:
    scopes = ["repository:library/postgres:pull,push", "repository:dotnet/sdk:pull", "registry:catalog:*"]
    assert grants(scopes, SERVED) == [
        {"type": "repository", "name": "library/postgres", "actions": ["pull"]},
        {"type": "repository", "name": "dotnet/sdk", "actions": []},
    ]
    both = grants(["repository:library/postgres:pull repository:library/registry:pull"], SERVED)
    assert [grant["name"] for grant in both] == ["library/postgres", "library/registry"]
    assert grants(["repository:library/registry:push"], SERVED) == [
        {"type": "repository", "name": "library/registry", "actions": []}
    ]
    assert grants([], SERVED) == []


def test_the_answer_is_docker_hubs_json_with_a_jwt_its_certificate_verifies(signing: Signing) -> None:
    """What Distribution's token auth checks: RS256 by the key of the x5c certificate, issuer,
    audience, a lifetime of expires_in and the granted scope."""
    status, body = issue(signing, "/token?service=registry.docker.io&scope=repository:library/postgres:pull")
    assert status == 200
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    assert body["issued_at"] == "2026-12-05T04:30:00Z"
    header_part, claims_part, signature_part = str(body["token"]).split(".")
    header, claims = json.loads(_decode(header_part)), json.loads(_decode(claims_part))
    certificate_der = _openssl("x509", "-in", "signing.crt", "-outform", "DER", cwd=signing.folder)
    assert header == {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(certificate_der).decode()]}
    assert (claims["iss"], claims["aud"]) == ("auth.docker.io", "registry.docker.io")
    assert claims["exp"] - claims["nbf"] == 300 and claims["iat"] == int(NOW.timestamp())
    assert claims["access"] == [{"type": "repository", "name": "library/postgres", "actions": ["pull"]}]
    (signing.folder / "signed").write_bytes(f"{header_part}.{claims_part}".encode())
    (signing.folder / "signature").write_bytes(_decode(signature_part))
    public_key = _openssl("x509", "-in", "signing.crt", "-pubkey", "-noout", cwd=signing.folder)
    (signing.folder / "public.pem").write_bytes(public_key)
    verify = ["dgst", "-sha256", "-verify", "public.pem", "-signature", "signature", "signed"]
    assert b"Verified OK" in _openssl(*verify, cwd=signing.folder)


def test_the_service_answers_over_https(signing: Signing) -> None:
    with token_server(signing.settings) as port:
        base = f"https://{LOOPBACK}:{port}/token"
        ca = signing.settings.certificate
        answered = get(f"{base}?service=registry.docker.io&scope=repository:library/registry:pull", cafile=ca)
        assert answered.status == 200 and answered.headers["Content-Type"] == "application/json"
        assert json.loads(answered.body)["expires_in"] == 300
        assert get(base, cafile=ca).status == 400
        with pytest.raises(OSError):  # a client that does not trust its certificate gets no token
            get(f"{base}?service=registry.docker.io")


@contextmanager
def token_server(settings: Settings) -> Iterator[int]:
    """The service in a thread, on a free port; yields the port."""
    server = TokenServer(replace(settings, port=free_port()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------- the Hub registry's config


def test_the_hub_registry_serves_the_same_storage_read_only_and_asks_for_a_token() -> None:
    mcr, hub_config = registry.registry_config(), hub.hub_registry_config()
    assert "auth" not in mcr
    assert hub_config["auth"] == {
        "token": {
            "realm": "https://auth.docker.io/token",
            "service": "registry.docker.io",
            "issuer": "auth.docker.io",
            "rootcertbundle": str(hub.SIGNING_CERT),
        }
    }
    storage = hub_config["storage"]
    assert isinstance(storage, dict) and isinstance(mcr["storage"], dict)
    assert storage["filesystem"] == mcr["storage"]["filesystem"]
    assert storage["maintenance"] == {"readonly": {"enabled": True}, "uploadpurging": {"enabled": False}}
    assert "delete" not in storage and "cache" not in storage


# ---------------------------------------------------------------- restarting only what changed


def test_a_server_restarts_only_when_its_config_or_an_input_changed(tmp_path: Path) -> None:
    """`up` twice in a row restarts nothing; a changed config or certificate restarts that server."""
    port = free_port()
    server = Daemon(
        "a test server", "http.server", LOOPBACK, tmp_path / "config", tmp_path / "pid", tmp_path / "log", port
    )
    command = [sys.executable, "-m", "http.server", "--bind", LOOPBACK, str(port)]
    certificate = tmp_path / "server.crt"
    certificate.write_text("one")

    def ensure(config: str) -> bool:
        return server.ensure(config, command, lambda: port_in_use(port, LOOPBACK), inputs=(certificate,))

    try:
        assert ensure("a")
        first = server.pid()
        assert first is not None
        assert not ensure("a") and server.pid() == first
        assert ensure("b") and server.pid() not in (None, first)
        second = server.pid()
        time.sleep(0.01)
        certificate.write_text("two")
        assert ensure("b") and server.pid() not in (None, second)
        assert not ensure("b")
    finally:
        assert server.stop()
    assert server.pid() is None and not server.stop() and not port_in_use(port, LOOPBACK)


def test_the_token_service_another_checkout_started_is_known_as_the_worlds(tmp_path: Path) -> None:
    """A second clone of the course runs `up` (CI's rehearsal does): the running service is found by its
    program's file name, not mistaken for another program holding the token service's address."""
    elsewhere = tmp_path / "other-checkout" / "token_service.py"
    elsewhere.parent.mkdir()
    elsewhere.write_text("import time\ntime.sleep(60)\n")
    process = subprocess.Popen([sys.executable, str(elsewhere)])
    try:
        pid_file = tmp_path / "pid"
        pid_file.write_text(f"{process.pid}\n")
        found = replace(hub.token_daemon(), pid_file=pid_file)
        assert found.program == "token_service.py"
        # /proc/<pid>/cmdline shows the program once the new process has read its arguments in
        wait_until(lambda: found.pid() == process.pid, timeout=10, what="the service found by its pid file")
    finally:
        process.kill()
        process.wait()
