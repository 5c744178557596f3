"""`classroom join`: check the registry and its fingerprint, pull every image by digest, give each its real name."""

import ipaddress
import re
import socket
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID

from labkit import refs
from labkit.docker_access import client
from labkit.engine import image_info
from labkit.registry.client import Registry, RegistryError
from labkit.tools import packages, prepull
from labkit.tools.classroom.room import ClassroomError, fingerprint, served_digests, split_address
from labkit.tools.console import transfers

PROBE_TIMEOUT = 5.0
API_VERSION_HEADER = "Docker-Distribution-API-Version"  # registry:2 sends it with every answer


def join(address: str, expect: str, out: Console) -> int:
    host, port = split_address(address)
    where = f"{host}:{port}"
    expected = _fingerprint_given(expect)
    classroom = Registry(where, plain_http=True)
    _check_answers(classroom)
    if not engine_allows(where, client().info()):
        out.print(insecure_advice(where), highlight=False, soft_wrap=True)
        return 1
    digests = served_digests(classroom)
    lacking = [ref for ref, digest in digests.items() if digest is None]
    if lacking:
        raise ClassroomError(
            f"The classroom registry at {where} lacks {', '.join(lacking)}: ask the instructor to run "
            "`python -m labkit classroom serve` again (it follows images.toml)."
        )
    found = fingerprint(digests)
    if found != expected:
        raise ClassroomError(
            f"The registry at {where} does not serve what the instructor served: its images give the fingerprint "
            f"{found}, not {expected}. Nothing was pulled or renamed; check the address and the fingerprint with "
            "the instructor."
        )
    with transfers(out) as progress:
        for ref, digest in digests.items():
            assert digest is not None  # checked above
            _fetch(ref, digest, classroom, progress)
    return prepull.main(console=out, feed=packages.feed_ref())


def _fingerprint_given(text: str) -> str:
    """The fingerprint as `serve` prints it, however it was typed (case, dashes, spaces)."""
    digits = re.sub(r"[\s-]", "", text).lower()
    if not re.fullmatch(r"[0-9a-f]{16}", digits):
        raise ClassroomError(
            f"--expect {text!r} is not a fingerprint: give the 16 digits `serve` printed, e.g. 4f2a-91c0-7be3-0d5a."
        )
    return "-".join(digits[start : start + 4] for start in range(0, 16, 4))


def _check_answers(classroom: Registry) -> None:
    """A registry that needs no token answers there, or ClassroomError saying what answered instead."""
    try:
        with classroom.ping(PROBE_TIMEOUT) as answer:
            status, headers = answer.status_code, answer.headers
    except RegistryError as exc:
        raise ClassroomError(
            f"Nothing answers at {classroom.host} ({exc}). Is `python -m labkit classroom serve` running on the "
            "instructor's machine, and is this machine on the same network?"
        ) from exc
    problem = _not_a_classroom_registry(status, headers)
    if problem:
        raise ClassroomError(
            f"{classroom.host} {problem}; check the address (`python -m labkit classroom serve` prints it)."
        )


def _not_a_classroom_registry(status: int, headers: Mapping[str, str]) -> str | None:
    """What is wrong with this answer to GET /v2/, or None when a classroom registry gave it."""
    challenge = headers.get("WWW-Authenticate", "")
    if status == 401 and challenge:
        wants = "a token" if challenge.lower().startswith("bearer") else "a login"
        return f"wants {wants} ({challenge}): a classroom registry needs none"
    if status != 200:
        return f"answered HTTP {status} at /v2/: it is not a registry"
    if not headers.get(API_VERSION_HEADER):
        return f"answered /v2/ without the {API_VERSION_HEADER} header registry:2 sends: it is not a registry"
    return None


def engine_allows(where: str, info: dict[str, Any]) -> bool:
    """Will this engine pull from `where` over plain HTTP (docker info: RegistryConfig)?"""
    config = info.get("RegistryConfig") or {}
    index = (config.get("IndexConfigs") or {}).get(where)
    if index is not None:
        return not index.get("Secure", True)
    try:
        address = ipaddress.ip_address(socket.gethostbyname(where.rsplit(":", 1)[0]))
    except (OSError, ValueError):
        return False
    cidrs = config.get("InsecureRegistryCIDRs") or []
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def insecure_advice(where: str) -> str:
    entry = f'"insecure-registries": ["{where}"]'
    return (
        f"✘ This Docker engine does not pull from {where} yet: the classroom registry speaks plain HTTP, which "
        "an engine allows only for the addresses in its settings. Add this entry (keep the others):\n"
        f"    {entry}\n"
        "  Docker Desktop (Windows, macOS): Settings > Docker Engine, add the entry to the JSON, Apply & restart.\n"
        f"  Linux: add it to /etc/docker/daemon.json (a new file is just {{{entry}}}), "
        "then `sudo systemctl restart docker`.\n"
        f"Then run `python -m labkit classroom join {where}` again; remove the entry after the workshop. "
        "labkit never edits these settings itself."
    )


def _fetch(ref: str, digest: str, classroom: Registry, progress: Progress) -> None:
    """Pull one image from the classroom by its digest (the engine checks the bytes against it) and give it
    its real name; skip it when that image is already here."""
    image = refs.parse(ref)
    if _local_id(ref) in classroom.image_ids(image.repository, digest):
        progress.console.print(f"[green]✔[/] {ref} is already here (the same image)", highlight=False)
        return
    source = f"{classroom.host}/{image.repository}@{digest}"
    task: TaskID = progress.add_task(ref, total=None)
    prepull.pull(source, progress, task)
    docker = client().api
    docker.tag(source, ref.removesuffix(f":{image.tag_or_latest}"), image.tag_or_latest)
    docker.remove_image(source)  # only the classroom name: the labs use the real one
    progress.console.print(f"[green]✔[/] {ref} pulled from the classroom", highlight=False)


def _local_id(ref: str) -> str | None:
    return str(image_info.inspect(ref)["Id"]) if image_info.exists(ref) else None
