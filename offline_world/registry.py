"""The loopback registry: a local CA and server certificate, and Debian's docker-registry on 127.0.0.1:443."""

import json
from pathlib import Path

import yaml

from labkit import run, web
from labkit.errors import LabError
from labkit.names import LOOPBACK
from labkit.shell import tail
from labkit.waiting import process_alive, stop_process
from offline_world.machine import HTTPS_PORT, MCR, SERVED_HOSTS, STATE, read, say, start_detached, wait_for

TLS_DIR = STATE / "tls"
REGISTRY_STORAGE = STATE / "registry"
REGISTRY_CONFIG = STATE / "registry.yml"
REGISTRY_PID = STATE / "registry.pid"
REGISTRY_LOG = STATE / "registry.log"
REGISTRY_BINARY = "/usr/bin/docker-registry"
PUSH_HOST = "localhost"
CERT_NAMES = (*SERVED_HOSTS, PUSH_HOST)
MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json"


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
    names = ",".join([*(f"DNS:{name}" for name in CERT_NAMES), f"IP:{LOOPBACK}"])
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


def registry_config() -> dict[str, object]:
    return {
        "version": 0.1,
        "log": {"level": "warn", "fields": {"service": "containerizing-dotnet-offline"}},
        "storage": {
            "cache": {"blobdescriptor": "inmemory"},
            "filesystem": {"rootdirectory": str(REGISTRY_STORAGE)},
            "delete": {"enabled": True},
        },
        "http": {
            "addr": f"{LOOPBACK}:{HTTPS_PORT}",
            "tls": {"certificate": str(TLS_DIR / "server.crt"), "key": str(TLS_DIR / "server.key")},
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
    }


def _written_config() -> object:
    try:
        return yaml.safe_load(read(REGISTRY_CONFIG))
    except yaml.YAMLError:
        return None


def ensure_registry() -> None:
    """Debian's docker-registry on 127.0.0.1:443, restarted only when its config changed."""
    config = registry_config()
    if registry_pid() is not None and _written_config() == config and registry_ok():
        return
    stop_registry()
    REGISTRY_STORAGE.mkdir(parents=True, exist_ok=True)
    REGISTRY_CONFIG.write_text(yaml.safe_dump(config, sort_keys=False))
    say(f"starting the registry on {LOOPBACK}:{HTTPS_PORT}")
    pid = start_detached([REGISTRY_BINARY, "serve", str(REGISTRY_CONFIG)], REGISTRY_LOG)
    REGISTRY_PID.write_text(f"{pid}\n")
    wait_for(
        lambda: _serving(pid),
        timeout=20,
        what=f"the registry answering on {LOOPBACK}:{HTTPS_PORT}",
        why_not=_last_logged,
    )


def _serving(pid: int) -> bool:
    if not process_alive(pid):
        raise LabError(f"the registry exited as it started ({_last_logged()})")
    return registry_ok()


def _last_logged() -> str:
    return f"last line of {REGISTRY_LOG}: {tail(read(REGISTRY_LOG), 1) or '(empty)'}"


def registry_get(path: str, accept: str = "application/json") -> web.HttpAnswer:
    return web.get(f"https://{PUSH_HOST}{path}", headers={"Accept": accept}, cafile=str(TLS_DIR / "ca.crt"))


def registry_ok() -> bool:
    try:
        return registry_get("/v2/").status == 200
    except OSError:
        return False


def registry_pid() -> int | None:
    """The pid of the registry this setup started, if it still runs."""
    try:
        pid = int(read(REGISTRY_PID).strip())
    except ValueError:
        return None
    return pid if REGISTRY_BINARY in read(Path(f"/proc/{pid}/cmdline")).replace("\0", " ") else None


def stop_registry() -> bool:
    """Stop the registry and return once it is gone and 127.0.0.1:443 can be bound again."""
    pid = registry_pid()
    REGISTRY_PID.unlink(missing_ok=True)
    if pid is None:
        return False
    stop_process(pid, port=(LOOPBACK, HTTPS_PORT))
    return True


def served_config_digest(repo: str, tag: str) -> str | None:
    """The image id (config digest) the registry serves for repo:tag, or None."""
    answer = registry_get(f"/v2/{repo}/manifests/{tag}", accept=MANIFEST_TYPES)
    if answer.status != 200:
        return None
    digest = json.loads(answer.body).get("config", {}).get("digest")
    return str(digest) if digest else None


def registry_version() -> str:
    """The docker-registry version, e.g. 2.8.2 (from `docker-registry --version`)."""
    output = run([REGISTRY_BINARY, "--version"], quiet=True)
    return output.split()[-1].split("+")[0].lstrip("v")
