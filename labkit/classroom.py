"""`python -m labkit classroom serve|join|status|stop`: the workshop's image distribution as commands.

The instructor serves every catalog image from a registry on their laptop; each learner joins,
which pulls the images over the room's network and gives them their real names, so the labs'
`FROM mcr.microsoft.com/dotnet/sdk:10.0` is satisfied without MCR or Docker Hub.

Anyone on the room's network can reach that registry, so nobody there may change what it serves:
`serve` fills it while it listens on loopback only, then opens it to the room read-only, and prints
a fingerprint of the manifest digests it served. `join --expect FINGERPRINT` refuses a registry
whose images do not give that fingerprint (a rogue one at a spoofed address, say) before it pulls
or renames anything, and pulls each image by its digest, which the engine verifies.

No Docker Hub pull-through mirror: the course's Docker Hub images (`registry:2`, `postgres:17`) are
in the catalog and are served and renamed like the .NET images, so a mirror would add a second container
and a `registry-mirrors` entry on every laptop for images no lab uses.
"""

import argparse
import hashlib
import ipaddress
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from docker.errors import APIError
from docker.models.containers import Container
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn
from rich.table import Column, Table

from labkit import catalog, cleanup, image_info, names, prepull, refs, web
from labkit.docker_access import client
from labkit.doctor import wide_console
from labkit.errors import LabError
from labkit.registry.client import USER_AGENT, Registry, RegistryError
from labkit.registry.copy import copy, plan
from labkit.waiting import port_free

LAB = names.CLASSROOM_LAB  # `classroom stop` and `labkit clean --lab classroom` remove it; `labkit clean` keeps it
ADDRESS_LABEL = "org.containerizing-dotnet.classroom"  # where the registry serves, e.g. 192.168.1.10:5000
FINGERPRINT_LABEL = "org.containerizing-dotnet.classroom.fingerprint"  # set once the registry is read-only
CONTAINER = "classroom-registry"
VOLUME = "classroom-registry"  # the served images, kept while the registry is re-created read-only
STORAGE = "/var/lib/registry"  # registry:2's storage folder
READ_ONLY = {"REGISTRY_STORAGE_MAINTENANCE_READONLY": '{"enabled": true}'}  # Distribution's storage.maintenance
REGISTRY_PORT = 5000  # inside the registry:2 container, and the default on the host
REGISTRY_KEY = "registry"  # the catalog's key for Docker Hub's registry:2
MB = 1_000_000
PROBE_TIMEOUT = 5.0
API_VERSION_HEADER = "Docker-Distribution-API-Version"  # registry:2 sends it with every answer
_PULL = re.compile(r'^(\S+) .*"(?:GET|HEAD) /v2/(\S+)/manifests/(\S+) HTTP/[\d.]+" 200 .*"([^"]*)"$')


class ClassroomError(LabError):
    """A classroom step that cannot go on; the message says what to do."""


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `classroom` and its four subcommands to labkit's command line."""
    parser = commands.add_parser(
        "classroom",
        help="serve the course images to a room (instructor), or fetch them from it (learner)",
        description="A workshop's image distribution: the instructor runs `serve`, each learner `join`.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve_cmd = actions.add_parser(
        "serve",
        help="run the classroom registry and fill it with every catalog image",
        description="Run registry:2 (labelled as a course resource), copy every image of images.toml into it "
        "while it listens on loopback only, then open it read-only on ADDRESS:PORT and print the line each learner "
        "runs, with the fingerprint of what it serves.",
    )
    serve_cmd.add_argument("--address", help="address learners reach (default: this machine's LAN address)")
    serve_cmd.add_argument("--port", type=int, default=REGISTRY_PORT, help=f"default {REGISTRY_PORT}")
    serve_cmd.add_argument(
        "--all-platforms",
        action="store_true",
        help="copy every Linux platform of each image from its registry (for rooms with Intel and Apple silicon)",
    )
    serve_cmd.set_defaults(run=lambda args: serve(args.address, args.port, args.all_platforms, wide_console()))
    join_cmd = actions.add_parser(
        "join",
        help="pull every catalog image from the classroom registry and give it its real name",
        description="Check that this engine may pull from ADDRESS and that ADDRESS serves the images `serve` "
        "fingerprinted, pull every image of images.toml from it by digest, name each as the labs expect, and end "
        "with prepull's verdict. Run again to resume.",
    )
    join_cmd.add_argument("address", metavar="ADDRESS[:PORT]", help=f"the instructor's registry (port {REGISTRY_PORT})")
    join_cmd.add_argument(
        "--expect",
        required=True,
        metavar="FINGERPRINT",
        help="the fingerprint `serve` printed, e.g. 4f2a-91c0-7be3-0d5a",
    )
    join_cmd.set_defaults(run=lambda args: join(args.address, args.expect, wide_console()))
    status_cmd = actions.add_parser("status", help="what the classroom registry serves and how many pulls it answered")
    status_cmd.set_defaults(run=lambda args: status(wide_console()))
    stop_cmd = actions.add_parser("stop", help="remove the classroom registry (course-labelled resources only)")
    stop_cmd.set_defaults(run=lambda args: stop(wide_console()))


# ---------------------------------------------------------------- addresses and names


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


# ---------------------------------------------------------------- serve


def serve(address: str | None, port: int, all_platforms: bool, out: Console) -> int:
    host = address or lan_address()
    where = f"{host}:{split_address(f'{host}:{port}')[1]}"
    push_host = own_address(host, port)
    started = time.monotonic()
    with _progress(out) as progress:
        image = image_for_registry(progress)
        _open_for_filling(image, host, port)
        dest = Registry(push_host)
        before = stored_bytes(dest)
        sources: dict[str, Registry] = {}
        for entry in catalog.images():
            if all_platforms:
                _copy_whole(entry.ref, sources, dest, progress)
            else:
                _push(entry.ref, push_host, progress)
    after = stored_bytes(dest)
    served = fingerprint(served_digests(dest))
    _open_to_room(image, host, port, served)
    seconds = time.monotonic() - started
    out.print(
        f"[green]✔[/] {len(catalog.images())} images from images.toml served read-only on {where}: "
        f"{(after - before) / MB:.0f} MB copied in {seconds:.0f} s ({after / MB:.0f} MB in the registry, compressed).",
        highlight=False,
    )
    out.print(f"Each learner runs:\n\n    {join_line(where, served)}\n", highlight=False)
    if not names.is_loopback(host):
        out.print(f"(`join` tells a learner's engine that still needs an `insecure-registries` entry for {where}.)")
    return 0


def join_line(where: str, served: str) -> str:
    return f"python -m labkit classroom join {where} --expect {served}"


def served_digests(where: Registry) -> dict[str, str | None]:
    """Each catalog image's manifest digest in the registry (computed from its bytes); None when missing."""
    found = {}
    for entry in catalog.images():
        image = refs.parse(entry.ref)
        manifest = where.find_manifest(image.repository, image.tag_or_latest)
        found[entry.ref] = None if manifest is None else manifest.digest
    return found


def fingerprint(digests: dict[str, str | None]) -> str:
    """16 hex digits of a hash over every image name and digest, e.g. 4f2a-91c0-7be3-0d5a.

    Why 16: a rogue registry that wanted other images to give the same fingerprint would need
    about 2**64 tries; 6 digits would take a laptop seconds."""
    text = "".join(f"{ref} {digest}\n" for ref, digest in sorted(digests.items()))
    found = hashlib.sha256(text.encode()).hexdigest()[:16]
    return "-".join(found[start : start + 4] for start in range(0, 16, 4))


@contextmanager
def _progress(out: Console) -> Iterator[Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=out) as progress:
        yield progress


def classroom_container() -> Container | None:
    found = client().containers.list(all=True, filters={"label": f"{names.LABEL_KEY}={LAB}"})
    return found[0] if found else None


def _open_for_filling(image: str, host: str, port: int) -> None:
    """(Re)create the labelled registry:2 container writable, listening on loopback only: nobody in
    the room can push while it fills. A registry serving this address before keeps its images."""
    where = f"{host}:{port}"
    running = classroom_container()
    if running is not None and running.labels.get(ADDRESS_LABEL) != where:
        raise ClassroomError(
            f"A classroom registry already serves {running.labels.get(ADDRESS_LABEL)}: remove it with "
            "`python -m labkit classroom stop` first, or serve on that address."
        )
    if running is None:
        for address, number in bindings(host, port):
            if not port_free(address, number):
                raise ClassroomError(f"{address}:{number} is taken: serve on another port, e.g. --port {number + 1}.")
    _start(image, where, [split_address(own_address(host, port))], {})


def _open_to_room(image: str, host: str, port: int, served: str) -> None:
    """Re-create the registry read-only on the room's address (and loopback), labelled with its fingerprint."""
    _start(image, f"{host}:{port}", bindings(host, port), {FINGERPRINT_LABEL: served}, READ_ONLY)


def image_for_registry(progress: Progress) -> str:
    image = catalog.image(REGISTRY_KEY)
    if not image_info.exists(image):
        prepull.pull(image, progress, progress.add_task(f"pull {image}", total=None))
    return image


def _start(
    image: str,
    where: str,
    published: list[tuple[str, int]],
    labels: dict[str, str],
    environment: dict[str, str] | None = None,
) -> None:
    """Replace the classroom registry container (its images stay in the labelled volume) and wait for it."""
    docker = client()
    existing = classroom_container()
    if existing is not None:
        existing.remove(force=True)
    if not docker.volumes.list(filters={"name": f"^{VOLUME}$"}):
        docker.volumes.create(VOLUME, labels=names.labels(LAB))
    try:
        docker.containers.run(
            image,
            detach=True,
            name=CONTAINER,
            labels={**names.labels(LAB), ADDRESS_LABEL: where, **labels},
            ports={f"{REGISTRY_PORT}/tcp": published},
            volumes={VOLUME: {"bind": STORAGE, "mode": "rw"}},
            environment=environment or {},
            restart_policy={"Name": "unless-stopped"},
        )
    except APIError as exc:
        cleanup.remove(LAB)  # a container that was created but could not start
        reason = str(exc.explanation or exc).strip().splitlines()[0]
        raise ClassroomError(f"The classroom registry could not start on {where}: {reason}") from exc
    address, port = published[-1]
    web.wait_for_http(f"http://{address}:{port}/v2/", timeout=30)


def _push(ref: str, push_host: str, progress: Progress) -> None:
    """Pull `ref` if missing, push it to the classroom registry, and drop the temporary name again."""
    if not image_info.exists(ref):
        prepull.pull(ref, progress, progress.add_task(f"pull {ref}", total=None))
    target = served_ref(ref, push_host)
    repository, tag = target.rsplit(":", 1)
    docker = client().api
    docker.tag(ref, repository, tag)
    task = progress.add_task(f"push {ref}", total=None)
    layers: dict[str, tuple[int, int]] = {}
    try:
        for event in docker.push(repository, tag, stream=True, decode=True):
            failure = (event.get("errorDetail") or {}).get("message") or event.get("error")
            if failure:
                raise ClassroomError(f"Pushing {ref} to {push_host} failed: {failure}")
            _track_push(event, layers)
            done, total = sum(d for d, _ in layers.values()), sum(t for _, t in layers.values())
            progress.update(task, completed=done, total=total or None)
    finally:
        docker.remove_image(target)  # only the temporary name: the image keeps its real one
    progress.remove_task(task)
    pushed = sum(total for _, total in layers.values())
    progress.console.print(
        f"[green]✔[/] {ref}: {pushed / MB:.0f} MB of layers pushed (uncompressed; those it had are skipped)"
    )


def _track_push(event: dict[str, Any], layers: dict[str, tuple[int, int]]) -> None:
    layer, status = event.get("id"), str(event.get("status", ""))
    detail = event.get("progressDetail") or {}
    if not layer:
        return
    _, total = layers.get(layer, (0, 0))
    if status == "Pushing" and detail.get("total"):
        layers[layer] = (min(int(detail.get("current", 0)), int(detail["total"])), int(detail["total"]))
    elif status == "Pushed" or status.startswith(("Layer already exists", "Mounted from")):
        layers[layer] = (total, total)


def _copy_whole(ref: str, sources: dict[str, Registry], dest: Registry, progress: Progress) -> None:
    """Copy every Linux platform of `ref` from its own registry, registry to registry."""
    image = refs.parse(ref)
    source = sources.setdefault(image.registry, Registry(image.registry))
    needed = plan(source, image.repository, image.tag_or_latest)
    task = progress.add_task(f"copy {ref}", total=needed.size)
    sent = copy(source, image.repository, needed, dest, image.repository, lambda size: progress.advance(task, size))
    progress.remove_task(task)
    progress.console.print(f"[green]✔[/] {ref} copied whole ({sent / MB:.0f} of {needed.size / MB:.0f} MB sent)")


def stored_bytes(where: Registry) -> int:
    """What the catalog's images take in the registry: each blob once (layers are shared)."""
    blobs: dict[str, int] = {}
    for entry in catalog.images():
        image = refs.parse(entry.ref)
        if image.tag_or_latest in where.tags(image.repository):
            blobs |= plan(where, image.repository, image.tag_or_latest).blobs
    return sum(blobs.values())


# ---------------------------------------------------------------- status and stop


def status(out: Console) -> int:
    container = classroom_container()
    if container is None:
        out.print("No classroom registry on this engine. Start one with `python -m labkit classroom serve`.")
        return 1
    where = container.labels.get(ADDRESS_LABEL, "?")
    host, port = split_address(where)
    served = Registry(own_address(host, port))
    digests = served_digests(served)
    table = Table("", Column("image", overflow="fold"), Column("served as", overflow="fold"), "platforms")
    missing = 0
    for entry in catalog.images():
        image = refs.parse(entry.ref)
        platforms = _platforms(served, image.repository, image.tag_or_latest)
        missing += platforms is None
        mark = "[green]✔[/]" if platforms else "[red]✘[/]"
        table.add_row(mark, entry.ref, served_ref(entry.ref, where), platforms or "not served: run `serve` again")
    pulls = count_pulls(container.logs().decode("utf-8", "replace"), {d for d in digests.values() if d})
    out.print(f"Classroom registry {container.name} ({container.status}) on {where}:", highlight=False)
    out.print(table)
    out.print(
        f"{stored_bytes(served) / MB:.0f} MB served; {sum(pulls.values())} image pull(s) answered, "
        f"from {len(pulls)} address(es).",
        highlight=False,
    )
    opened = container.labels.get(FINGERPRINT_LABEL)
    if opened is None:
        out.print("[red]✘[/] Not open to the room yet (`serve` stopped while filling it): run `serve` again.")
        return 1
    if opened != fingerprint(digests):
        out.print(f"[red]✘[/] It serves other images than `serve` fingerprinted ({opened}): run `serve` again.")
        return 1
    out.print(f"Read-only; learners run: {join_line(where, opened)}", highlight=False)
    return 1 if missing else 0


def _platforms(served: Registry, repo: str, tag: str) -> str | None:
    if tag not in served.tags(repo):
        return None
    top = served.manifest(repo, tag)
    if not top.is_index:
        return "one"
    found = [entry.get("platform") or {} for entry in top.data["manifests"]]
    return ", ".join(
        "/".join(filter(None, (p.get("os"), p.get("architecture"), p.get("variant"))))
        for p in found
        if p.get("os") not in (None, "unknown")
    )


def count_pulls(logs: str, images: set[str]) -> Counter[str]:
    """Pulls per client address: requests answered 200 for an image's manifest, by tag or by one of the
    `images` digests (`join` pulls by digest; a platform's manifest under an index is no second pull),
    labkit's own requests left out."""
    pulls: Counter[str] = Counter()
    for line in logs.splitlines():
        found = _PULL.match(line.strip())
        if not found or USER_AGENT in found.group(4):
            continue
        reference = found.group(3)
        if not reference.startswith("sha256:") or reference in images:
            pulls[found.group(1)] += 1
    return pulls


def stop(out: Console) -> int:
    removed = cleanup.remove(LAB)
    if not removed:
        out.print("No classroom registry was running on this engine.")
    for resource in removed:
        out.print(f"Removed {resource.kind} {resource.name}.", highlight=False)
    return 0


# ---------------------------------------------------------------- join


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
    with _progress(out) as progress:
        for ref, digest in digests.items():
            assert digest is not None  # checked above
            _fetch(ref, digest, classroom, progress)
    return prepull.main(console=out)


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
