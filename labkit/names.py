"""Labels, names and ports: what lets labs run side by side and be cleaned up precisely.

Every container, image, network and volume a lab creates carries LABEL_KEY=<lab id>, so
`python -m labkit clean` can remove exactly those and nothing the learner had before.
"""

import ipaddress
import re
import secrets
import socket
import urllib.parse

from labkit.errors import InvalidName

LABEL_KEY = "org.containerizing-dotnet.lab"
IMAGE_PREFIX = "containerizing-dotnet"
LOOPBACK = "127.0.0.1"
CLASSROOM_LAB = "classroom"  # the classroom registry's lab id: cleaning all labs keeps it while it runs

_LAB_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def check_lab_id(lab_id: str) -> str:
    if not _LAB_ID.match(lab_id):
        raise InvalidName(f"lab id {lab_id!r}: use lower-case letters, digits and dashes, e.g. '03-dockerfiles'")
    return lab_id


def labels(lab_id: str) -> dict[str, str]:
    """The labels every resource of this lab carries."""
    return {LABEL_KEY: check_lab_id(lab_id)}


def label_flags(lab_id: str) -> str:
    """The same labels as Docker CLI flags (`--label key=value`)."""
    return " ".join(f"--label {key}={value}" for key, value in labels(lab_id).items())


def run_id() -> str:
    """A short random id that makes names unique per notebook run."""
    return secrets.token_hex(3)


def container_name(lab_id: str, what: str, run: str) -> str:
    return f"cdn-{check_lab_id(lab_id)}-{what}-{run}"


def image_tag(lab_id: str, what: str, tag: str = "latest") -> str:
    """A stable, per-lab image tag: rebuilding overwrites it, other labs never touch it."""
    return f"{IMAGE_PREFIX}/{check_lab_id(lab_id)}-{what}:{tag}"


def is_loopback(address: str) -> bool:
    """Is `address` (a host, or HOST:PORT as Docker writes a registry) this machine: the name localhost,
    or an IP address in 127.0.0.0/8 or ::1? Such a host is reached directly (a learner's proxy would not
    reach it) and, as a registry, over plain HTTP, as Docker does. A name that only starts like one
    (`localhost.example.com`, `127.0.0.1.nip.io`) is another machine, wherever DNS puts it."""
    try:
        host = urllib.parse.urlsplit(f"//{address}").hostname or address  # a bare "::1" has no port to drop
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost, or no address at all
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for probes and tests).

    Labs never publish on it: between picking it here and Docker binding it, another lab could
    take it. They publish with `-p 127.0.0.1::8080` and read the port back (labkit.containers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
