"""The classroom's shared vocabulary: its registry container, addresses, and what it serves (the
digests and their fingerprint), for serve, join and status alike."""

import hashlib
import socket

from docker.models.containers import Container

from labkit import catalog, names, refs
from labkit.docker_access import client
from labkit.errors import LabError
from labkit.registry.client import Registry
from labkit.registry.copy import plan
from labkit.tools import packages

LAB = names.CLASSROOM_LAB  # `classroom stop` and `labkit clean --lab classroom` remove it; `labkit clean` keeps it
ADDRESS_LABEL = "org.containerizing-dotnet.classroom"  # where the registry serves, e.g. 192.168.1.10:5000
FINGERPRINT_LABEL = "org.containerizing-dotnet.classroom.fingerprint"  # set once the registry is read-only
CONTAINER = "classroom-registry"
REGISTRY_PORT = 5000  # inside the registry:2 container, and the default on the host
MB = 1_000_000


class ClassroomError(LabError):
    """A classroom step that cannot go on; the message says what to do."""


def lan_address() -> str:
    """The address this machine uses on its network, or 127.0.0.1 when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the OS only picks an interface
            found = str(probe.getsockname()[0])
        except OSError:
            return names.LOOPBACK
    return names.LOOPBACK if names.is_loopback(found) or found == "0.0.0.0" else found


def own_address(host: str, port: int) -> str:
    """Where the instructor's own engine and labkit reach a registry served on host:port: there when it is
    loopback, else on 127.0.0.1, which Docker accepts over plain HTTP (a room address needs an
    `insecure-registries` entry)."""
    return f"{host}:{port}" if names.is_loopback(host) else f"{names.LOOPBACK}:{port}"


def bindings(host: str, port: int) -> list[tuple[str, int]]:
    """The host addresses a registry served on host:port publishes on: that one, and 127.0.0.1 for own_address."""
    return [(host, port)] if names.is_loopback(host) else [(host, port), (names.LOOPBACK, port)]


def split_address(text: str) -> tuple[str, int]:
    """ADDRESS[:PORT] -> (address, port); the port defaults to 5000."""
    host, colon, port = text.strip().rpartition(":")
    if not colon:
        host, port = text.strip(), str(REGISTRY_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
        raise ClassroomError(f"{text!r} is not an address: give ADDRESS or ADDRESS:PORT, e.g. 192.168.1.10:5000.")
    return host, int(port)


def served_ref(ref: str, where: str) -> str:
    """A catalog image's name in the classroom registry: mcr.microsoft.com/dotnet/sdk:10.0 -> WHERE/dotnet/sdk:10.0."""
    image = refs.parse(ref)
    return f"{where}/{image.repository}:{image.tag_or_latest}"


def classroom_container() -> Container | None:
    found = client().containers.list(all=True, filters={"label": f"{names.LABEL_KEY}={LAB}"})
    return found[0] if found else None


def served_refs() -> list[str]:
    """What a classroom serves: every catalog image, and the feed image of the labs' NuGet packages
    (when the course has lab projects)."""
    feed = packages.feed_ref()
    return [entry.ref for entry in catalog.images()] + ([feed] if feed else [])


def served_digests(where: Registry) -> dict[str, str | None]:
    """Each served image's manifest digest in the registry (computed from its bytes); None when missing."""
    found = {}
    for ref in served_refs():
        image = refs.parse(ref)
        manifest = where.find_manifest(image.repository, image.tag_or_latest)
        found[ref] = None if manifest is None else manifest.digest
    return found


def fingerprint(digests: dict[str, str | None]) -> str:
    """16 hex digits of a hash over every image name and digest, e.g. 4f2a-91c0-7be3-0d5a.

    Why 16: a rogue registry that wanted other images to give the same fingerprint would need
    about 2**64 tries; 6 digits would take a laptop seconds."""
    text = "".join(f"{ref} {digest}\n" for ref, digest in sorted(digests.items()))
    found = hashlib.sha256(text.encode()).hexdigest()[:16]
    return "-".join(found[start : start + 4] for start in range(0, 16, 4))


def join_line(where: str, served: str) -> str:
    return f"python -m labkit classroom join {where} --expect {served}"


def stored_bytes(where: Registry) -> int:
    """What the served images take in the registry: each blob once (layers are shared)."""
    blobs: dict[str, int] = {}
    for ref in served_refs():
        image = refs.parse(ref)
        if image.tag_or_latest in where.tags(image.repository):
            blobs |= plan(where, image.repository, image.tag_or_latest).blobs
    return sum(blobs.values())
