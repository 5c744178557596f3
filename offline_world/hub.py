"""Docker Hub's stand-in: registry-1.docker.io asks for a token from auth.docker.io, as Docker Hub does.

MCR serves anyone; Docker Hub answers every call without a token with 401 and a Bearer challenge,
and a client must get an anonymous token from the realm it names and ask again (token_service.py
tells the flow). So the world serves three names, each on its own loopback address at port 443
(machine.ADDRESSES), from one certificate and one storage:

- mcr.microsoft.com (and localhost, which `up` pushes to): the registry of registry.py, anonymous;
- registry-1.docker.io: a second docker-registry on the same storage, read-only, with Distribution's
  `token` auth: it accepts only a token the token service signed, for its service, unexpired, and
  granting the scope of the call;
- auth.docker.io: the token service, with its own signing key (the registry trusts its certificate).
"""

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlencode

from labkit import web
from offline_world import token_service
from offline_world.machine import ADDRESSES, DOCKER_HUB, DOCKER_HUB_AUTH, HTTPS_PORT, STATE, Daemon, run, say
from offline_world.registry import REGISTRY_BINARY, TLS_DIR, registry_config, serve

HUB_CONFIG = STATE / "hub-registry.yml"
HUB_PID = STATE / "hub-registry.pid"
HUB_LOG = STATE / "hub-registry.log"
TOKEN_CONFIG = STATE / "token-service.json"
TOKEN_PID = STATE / "token-service.pid"
TOKEN_LOG = STATE / "token-service.log"
SIGNING_KEY = TLS_DIR / "token-signing.key"
SIGNING_CERT = TLS_DIR / "token-signing.crt"
TOKEN_PROGRAM = str(Path(token_service.__file__).resolve())
SERVICE = "registry.docker.io"  # Docker Hub's service name, in its challenge and its tokens' audience
ISSUER = DOCKER_HUB_AUTH  # the `iss` of Docker Hub's tokens
REALM = f"https://{DOCKER_HUB_AUTH}/token"
CHALLENGE = f'Bearer realm="{REALM}",service="{SERVICE}"'  # how Docker Hub's challenge starts


def hub_registry() -> Daemon:
    """The Hub registry (looked up at each call: tests point the paths elsewhere)."""
    return Daemon("the Docker Hub registry", REGISTRY_BINARY, ADDRESSES[DOCKER_HUB], HUB_CONFIG, HUB_PID, HUB_LOG)


def token_daemon() -> Daemon:
    """Known by the program's file name: the service another checkout of the course started is this world's too."""
    program = Path(TOKEN_PROGRAM).name
    return Daemon("the token service", program, ADDRESSES[DOCKER_HUB_AUTH], TOKEN_CONFIG, TOKEN_PID, TOKEN_LOG)


def hub_registry_config() -> dict[str, object]:
    token = {"realm": REALM, "service": SERVICE, "issuer": ISSUER, "rootcertbundle": str(SIGNING_CERT)}
    return registry_config(ADDRESSES[DOCKER_HUB], auth={"token": token})


def token_settings(repositories: Sequence[str]) -> token_service.Settings:
    return token_service.Settings(
        address=ADDRESSES[DOCKER_HUB_AUTH],
        port=HTTPS_PORT,
        certificate=str(TLS_DIR / "server.crt"),
        key=str(TLS_DIR / "server.key"),
        signing_key=str(SIGNING_KEY),
        signing_certificate=str(SIGNING_CERT),
        issuer=ISSUER,
        service=SERVICE,
        repositories=tuple(sorted(repositories)),
    )


def ensure_signing_key() -> None:
    """The token service's RSA key and self-signed certificate (the registry's rootcertbundle); made once."""
    if SIGNING_KEY.exists() and SIGNING_CERT.exists():
        return
    say("making the token service's signing key")
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650"]
    subject = ["-subj", f"/CN={DOCKER_HUB_AUTH} token signing (containerizing-dotnet offline)"]
    run([*request, *subject, "-keyout", str(SIGNING_KEY), "-out", str(SIGNING_CERT)], quiet=True)
    SIGNING_KEY.chmod(0o600)


def ensure_hub(repositories: Sequence[str]) -> None:
    """The token service and the Hub registry, each restarted only when its config or a file it reads
    at start changed; anyone may pull `repositories` (library/postgres, ...) with a token."""
    ensure_signing_key()
    settings = json.dumps(asdict(token_settings(repositories)), indent=2) + "\n"
    command = [sys.executable, TOKEN_PROGRAM, str(TOKEN_CONFIG)]
    inputs = (TLS_DIR / "server.crt", SIGNING_CERT, Path(TOKEN_PROGRAM))
    token_daemon().ensure(settings, command, token_ok, inputs=inputs)
    serve(hub_registry(), hub_registry_config(), hub_ok, inputs=(SIGNING_CERT,))


def stop_hub() -> bool:
    """Stop the Hub registry and the token service; False when neither ran."""
    stopped = [hub_registry().stop(), token_daemon().stop()]
    return any(stopped)


def _get(url: str, headers: dict[str, str] | None = None) -> web.HttpAnswer:
    return web.get(url, timeout=5, headers=headers, cafile=str(TLS_DIR / "ca.crt"))


def header(answer: web.HttpAnswer, name: str) -> str:
    """A header of `answer`, whatever its case (Go's servers send Www-Authenticate)."""
    return next((value for key, value in answer.headers.items() if key.lower() == name.lower()), "")


def fetch_token(scope: str | None = None, host: str = ADDRESSES[DOCKER_HUB_AUTH]) -> str:
    """An anonymous token from the token service, as a client gets one after the challenge."""
    query = {"service": SERVICE, **({"scope": scope} if scope else {})}
    answer = _get(f"https://{host}/token?{urlencode(query)}")
    if answer.status != 200:
        raise OSError(f"the token service answered HTTP {answer.status}: {answer.body}")
    return str(json.loads(answer.body)["token"])


def hub_get(path: str, token: str | None = None, host: str = ADDRESSES[DOCKER_HUB]) -> web.HttpAnswer:
    """GET `path` of the Hub registry, with a token or without."""
    return _get(f"https://{host}{path}", {"Authorization": f"Bearer {token}"} if token else None)


def token_ok() -> bool:
    try:
        return bool(fetch_token())
    except (OSError, ValueError, KeyError):
        return False


def hub_ok() -> bool:
    """The Hub registry asks for a token as Docker Hub does, and answers once it has one."""
    try:
        anonymous = hub_get("/v2/")
        return (
            anonymous.status == 401
            and header(anonymous, "WWW-Authenticate").startswith(CHALLENGE)
            and (hub_get("/v2/", fetch_token()).status == 200)
        )
    except (OSError, ValueError, KeyError):
        return False


def hub_running() -> bool:
    """Both processes run and the Hub registry asks for a token, and answers with one."""
    return hub_registry().pid() is not None and token_daemon().pid() is not None and hub_ok()
