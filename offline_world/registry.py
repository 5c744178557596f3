"""The loopback registry: a local CA and server certificate, and Debian's docker-registry on 127.0.0.1:443.

`registry_config` and `serve` also run the read-only view of the same storage that stands in for
Docker Hub (offline_world/hub.py)."""

from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from labkit.names import LOOPBACK
from labkit.registry.client import Registry, RegistryError
from offline_world.machine import ADDRESSES, HTTPS_PORT, MCR, STATE, Daemon, read, run, say

TLS_DIR = STATE / "tls"
REGISTRY_STORAGE = STATE / "registry"
REGISTRY_CONFIG = STATE / "registry.yml"
REGISTRY_PID = STATE / "registry.pid"
REGISTRY_LOG = STATE / "registry.log"
REGISTRY_BINARY = "/usr/bin/docker-registry"
PUSH_HOST = "localhost"
CERT_NAMES = (*ADDRESSES, PUSH_HOST)  # one certificate for every name the world serves


def our_ca() -> str | None:
    """The world's CA certificate (PEM), once `ensure_tls` made it."""
    return read(TLS_DIR / "ca.crt") or None


def ensure_tls() -> str:
    """A local CA and a server certificate for every served name; made once, kept in STATE."""
    TLS_DIR.mkdir(parents=True, exist_ok=True)
    ca, key = TLS_DIR / "ca.crt", TLS_DIR / "ca.key"
    if not (ca.exists() and key.exists()):
        say("making a local certificate authority")
        request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650"]
        subject = ["-subj", "/CN=containerizing-dotnet offline CA"]
        usage = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        run([*request, *subject, *usage, "-keyout", str(key), "-out", str(ca)], quiet=True)
    names = ",".join([*(f"DNS:{name}" for name in CERT_NAMES), *(f"IP:{address}" for address in ADDRESSES.values())])
    server, names_file = TLS_DIR / "server.crt", TLS_DIR / "server.names"
    if not server.exists() or read(names_file) != names + ca.read_text():
        (TLS_DIR / "server.ext").write_text(
            f"subjectAltName={names}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        )
        request = ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={MCR}"]
        run([*request, "-keyout", "server.key", "-out", "server.csr"], cwd=TLS_DIR, quiet=True)
        sign = ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"]
        run([*sign, "-days", "825", "-extfile", "server.ext", "-out", "server.crt"], cwd=TLS_DIR, quiet=True)
        names_file.write_text(names + ca.read_text())
    for private in TLS_DIR.glob("*.key"):
        private.chmod(0o600)
    return ca.read_text()


def registry_config(
    address: str = LOOPBACK, auth: dict[str, object] | None = None, read_only: bool = False
) -> dict[str, object]:
    """docker-registry's config for the world's storage on address:443: the registry `up` pushes to,
    or a read-only view of the same storage (ghcr.io's stand-in), which with `auth` (Distribution's
    auth section) asks clients for it (Docker Hub's). A view caches nothing, so it never serves a
    deleted blob."""
    filesystem = {"rootdirectory": str(REGISTRY_STORAGE)}
    maintenance = {"readonly": {"enabled": True}, "uploadpurging": {"enabled": False}}
    storage: dict[str, object] = (
        {"filesystem": filesystem, "maintenance": maintenance}
        if read_only or auth is not None
        else {"cache": {"blobdescriptor": "inmemory"}, "filesystem": filesystem, "delete": {"enabled": True}}
    )
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "fields": {"service": "containerizing-dotnet-offline"}},
        "storage": storage,
        "http": {
            "addr": f"{address}:{HTTPS_PORT}",
            "tls": {"certificate": str(TLS_DIR / "server.crt"), "key": str(TLS_DIR / "server.key")},
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
    }
    return config if auth is None else {**config, "auth": auth}


def registry_daemon() -> Daemon:
    """The registry `up` pushes to, as MCR (looked up at each call: tests point the paths elsewhere)."""
    return Daemon("the registry", REGISTRY_BINARY, LOOPBACK, REGISTRY_CONFIG, REGISTRY_PID, REGISTRY_LOG)


def ensure_registry() -> None:
    """Debian's docker-registry on 127.0.0.1:443, restarted only when its config or certificate changed."""
    serve(registry_daemon(), registry_config(), registry_ok)


def serve(daemon: Daemon, config: dict[str, object], ready: Callable[[], bool], inputs: Sequence[Path] = ()) -> None:
    """Keep a docker-registry of the world's storage running as `daemon` with `config`; it restarts when
    its certificate or one of `inputs` (other files its config names) changed."""
    REGISTRY_STORAGE.mkdir(parents=True, exist_ok=True)
    command = [REGISTRY_BINARY, "serve", str(daemon.config)]
    text = yaml.safe_dump(config, sort_keys=False)
    daemon.ensure(text, command, ready, inputs=(TLS_DIR / "server.crt", *inputs))


def world_registry() -> Registry:
    """The registry as the world's own tools reach it: https://localhost, trusting the world's CA."""
    return Registry(PUSH_HOST, plain_http=False, cafile=TLS_DIR / "ca.crt")


def registry_ok() -> bool:
    try:
        with world_registry().ping(timeout=5) as answer:
            return answer.status_code == 200
    except RegistryError:
        return False


def registry_pid() -> int | None:
    """The pid of the registry this setup started, if it still runs."""
    return registry_daemon().pid()


def stop_registry() -> bool:
    """Stop the registry and return once it is gone and 127.0.0.1:443 can be bound again."""
    return registry_daemon().stop()


def served_ids(repo: str, tag: str) -> set[str]:
    """The ids a local image must have to be the one the registry serves as repo:tag (either image store)."""
    return world_registry().image_ids(repo, tag)


def registry_version() -> str:
    """The docker-registry version, e.g. 2.8.2 (from `docker-registry --version`)."""
    output = run([REGISTRY_BINARY, "--version"], quiet=True)
    return output.split()[-1].split("+")[0].lstrip("v")
