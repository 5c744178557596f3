"""`classroom serve`: fill the registry while it listens on loopback only, then open it read-only to the room."""

import time

from docker.errors import APIError
from rich.console import Console
from rich.progress import Progress

from labkit import catalog, names, refs, web
from labkit.docker_access import client
from labkit.engine import cleanup, image_info
from labkit.registry.client import Registry
from labkit.registry.copy import copy, plan
from labkit.tools import packages, prepull
from labkit.tools.classroom.room import (
    ADDRESS_LABEL,
    CONTAINER,
    FINGERPRINT_LABEL,
    LAB,
    MB,
    REGISTRY_PORT,
    ClassroomError,
    bindings,
    classroom_container,
    fingerprint,
    join_line,
    lan_address,
    own_address,
    served_digests,
    served_ref,
    split_address,
    stored_bytes,
)
from labkit.tools.console import follow, transfers
from labkit.waiting import port_free

VOLUME = "classroom-registry"  # the served images, kept while the registry is re-created read-only
STORAGE = "/var/lib/registry"  # registry:2's storage folder
READ_ONLY = {"REGISTRY_STORAGE_MAINTENANCE_READONLY": '{"enabled": true}'}  # Distribution's storage.maintenance
REGISTRY_KEY = "registry"  # the catalog's key for Docker Hub's registry:2


def serve(address: str | None, port: int, all_platforms: bool, out: Console) -> int:
    host = address or lan_address()
    where = f"{host}:{split_address(f'{host}:{port}')[1]}"
    push_host = own_address(host, port)
    started = time.monotonic()
    with transfers(out) as progress:
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
        if packages.feed_ref() is not None:
            progress.console.print("The labs' NuGet packages: restoring them into a feed image ...")
            _push(packages.build_feed(), push_host, progress)
    after = stored_bytes(dest)
    served = fingerprint(served_digests(dest))
    _open_to_room(image, host, port, served)
    seconds = time.monotonic() - started
    out.print(
        f"[green]✔[/] {len(catalog.images())} images from images.toml{_and_packages()} served read-only on {where}: "
        f"{(after - before) / MB:.0f} MB copied in {seconds:.0f} s ({after / MB:.0f} MB in the registry, compressed).",
        highlight=False,
    )
    out.print(f"Each learner runs:\n\n    {join_line(where, served)}\n", highlight=False)
    if not names.is_loopback(host):
        out.print(f"(`join` tells a learner's engine that still needs an `insecure-registries` entry for {where}.)")
    return 0


def _and_packages() -> str:
    return " and the labs' NuGet packages" if packages.feed_ref() is not None else ""


def image_for_registry(progress: Progress) -> str:
    image = catalog.image(REGISTRY_KEY)
    if not image_info.exists(image):
        prepull.pull(image, progress, progress.add_task(f"pull {image}", total=None))
    return image


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
    try:
        events = docker.push(repository, tag, stream=True, decode=True)
        layers = follow(
            events, progress, task, lambda why: ClassroomError(f"Pushing {ref} to {push_host} failed: {why}")
        )
    finally:
        docker.remove_image(target)  # only the temporary name: the image keeps its real one
    progress.remove_task(task)
    progress.console.print(
        f"[green]✔[/] {ref}: {layers.total / MB:.0f} MB of layers pushed (uncompressed; those it had are skipped)"
    )


def _copy_whole(ref: str, sources: dict[str, Registry], dest: Registry, progress: Progress) -> None:
    """Copy every Linux platform of `ref` from its own registry, registry to registry."""
    image = refs.parse(ref)
    source = sources.setdefault(image.registry, Registry(image.registry))
    needed = plan(source, image.repository, image.tag_or_latest)
    task = progress.add_task(f"copy {ref}", total=needed.size)
    sent = copy(source, image.repository, needed, dest, image.repository, lambda size: progress.advance(task, size))
    progress.remove_task(task)
    progress.console.print(f"[green]✔[/] {ref} copied whole ({sent / MB:.0f} of {needed.size / MB:.0f} MB sent)")
