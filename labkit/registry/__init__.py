"""Registries: whether one answers, and the digest it gives a tag (what notebooks and the doctor ask).

`labkit.registry.client` is the one registry client every tool uses; `labkit.registry.copy` copies
whole images between registries (the classroom's --all-platforms).
"""

import requests

from labkit.registry.client import Registry, RegistryError

PROBE_TIMEOUT = 3.0


def probe(registry: str, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """(answers, detail): any HTTP status from GET /v2/ means the registry is reachable."""
    where = Registry(registry)
    try:
        with where.ping(timeout) as answer:
            return True, f"{where.base}/v2/ answers (HTTP {answer.status_code})"
    except RegistryError as exc:
        if isinstance(exc.__cause__, requests.exceptions.SSLError):
            return True, f"{where.base}/v2/ answers, but Python does not trust its TLS certificate (Docker has its own)"
        return False, str(exc)


def manifest_digest(registry: str, repository: str, reference: str) -> str | None:
    """The digest the registry gives `repository:reference` now, whichever manifest kind it stores
    (computed from the manifest's bytes); None when it has no such tag."""
    found = Registry(registry).find_manifest(repository, reference)
    return None if found is None else found.digest
