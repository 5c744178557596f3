"""ghcr.io's stand-in: a read-only view of the world's storage on its own loopback address, serving
the release tools' images (cosign, oras) under their real names.

It answers anonymous pulls as mcr.microsoft.com does. The real ghcr.io first hands an anonymous
client a token (a Bearer challenge whose realm is https://ghcr.io/token); docker and every OCI client
follow that flow by themselves, and the world's Docker Hub (hub.py) already proves the course's
tools do, so this view does not repeat it.
"""

from labkit.registry.client import Registry, RegistryError
from offline_world.machine import ADDRESSES, GHCR, STATE, Daemon
from offline_world.registry import REGISTRY_BINARY, TLS_DIR, registry_config, serve

GHCR_CONFIG = STATE / "ghcr-registry.yml"
GHCR_PID = STATE / "ghcr-registry.pid"
GHCR_LOG = STATE / "ghcr-registry.log"


def ghcr_registry() -> Daemon:
    """Looked up at each call: tests point the paths elsewhere."""
    return Daemon("the ghcr.io registry", REGISTRY_BINARY, ADDRESSES[GHCR], GHCR_CONFIG, GHCR_PID, GHCR_LOG)


def ensure_ghcr() -> None:
    serve(ghcr_registry(), registry_config(ADDRESSES[GHCR], read_only=True), ghcr_ok)


def ghcr_ok() -> bool:
    try:
        with Registry(ADDRESSES[GHCR], plain_http=False, cafile=TLS_DIR / "ca.crt").ping(timeout=5) as answer:
            return answer.status_code == 200
    except RegistryError:
        return False


def stop_ghcr() -> bool:
    return ghcr_registry().stop()


def ghcr_running() -> bool:
    return ghcr_registry().pid() is not None and ghcr_ok()
