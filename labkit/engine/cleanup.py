"""Remove what the course created, found by its label, and nothing else."""

import contextlib
from dataclasses import dataclass
from typing import Any

from docker.errors import APIError, NotFound

from labkit.docker_access import client
from labkit.engine import image_info, store
from labkit.errors import DockerUnavailable
from labkit.names import CLASSROOM_LAB, LABEL_KEY, check_lab_id


@dataclass(frozen=True)
class Resource:
    kind: str  # container, image, network or volume (and folder, from Lab.cleanup)
    id: str
    name: str
    lab: str
    running: bool = False  # a container that runs now


def label_filter(lab_id: str | None) -> str:
    return LABEL_KEY if lab_id is None else f"{LABEL_KEY}={check_lab_id(lab_id)}"


def find(lab_id: str | None = None) -> list[Resource]:
    """Every course-labelled resource (of one lab, or of all labs), containers first."""
    flt = {"label": label_filter(lab_id)}
    docker = client()
    # The listing endpoints answer in one call: nothing that disappears meanwhile (a --rm
    # container, another notebook's cleanup) can turn up half-listed.
    found = [
        Resource(
            "container",
            c["Id"],
            c["Names"][0].lstrip("/"),
            (c.get("Labels") or {}).get(LABEL_KEY, ""),
            c.get("State") == "running",
        )
        for c in docker.api.containers(all=True, filters=flt)
    ]
    found += [
        Resource("image", i["Id"], _image_name(i), (i.get("Labels") or {}).get(LABEL_KEY, ""))
        for i in children_first(image_info.summaries(flt), _parents())
    ]
    found += [
        Resource("network", n.id, n.name, (n.attrs.get("Labels") or {}).get(LABEL_KEY, ""))
        for n in docker.networks.list(filters=flt)
    ]
    found += [
        Resource("volume", v.id, v.name, (v.attrs.get("Labels") or {}).get(LABEL_KEY, ""))
        for v in docker.volumes.list(filters=flt)
    ]
    return found


def children_first(summaries: list[dict[str, Any]], parents: dict[str, str]) -> list[dict[str, Any]]:
    """The images with the longest chain of parents first. An image made by the legacy builder
    (docker-py's build, `DOCKER_BUILDKIT=0`) has the image of its previous step as parent, and so on
    down to the image it was built from; the classic store refuses to remove a parent before its
    children, even forced. `parents`: every image's parent, the unlabelled step images' too."""

    def ancestors(image_id: str) -> int:
        count = 0
        while parents.get(image_id):
            image_id, count = parents[image_id], count + 1
        return count

    return sorted(summaries, key=lambda summary: -ancestors(summary["Id"]))


def _parents() -> dict[str, str]:
    """Every image's parent, the unlabelled step images' (`-a`) included; none under the containerd
    store, which removes a parent before its children. There each listing costs the engine about a
    second of CPU (it reads every image's content), and Docker 26 answers the `-a` listing 404
    ("content digest ... not found") whenever an image goes while it reads them."""
    if store.containerd_store(client().info()):
        return {}
    return {summary["Id"]: summary.get("ParentId") or "" for summary in image_info.summaries(intermediate=True)}


def _image_name(summary: dict[str, object]) -> str:
    tags = [tag for tag in summary.get("RepoTags") or [] if tag != "<none>:<none>"]  # type: ignore[attr-defined]
    return ", ".join(tags) or str(summary["Id"]).removeprefix("sha256:")[:12]


def remove(lab_id: str | None = None, dry_run: bool = False) -> list[Resource]:
    """Remove the course-labelled resources (containers, then images, networks, volumes).

    Returns what was (or, with dry_run, would be) removed. Something already gone is skipped;
    something still in use by a resource the course did not create (a network another container
    joined, an image a learner's container runs) is kept, with one line that says so. So is a running
    classroom registry unless its lab id is given: a room pulls from it all day.
    """
    found = find(lab_id)
    if lab_id is None:
        found = _without_running_classroom(found, dry_run)
    if dry_run:
        return found
    removed = []
    for resource in found:
        problem = _remove_one(resource)
        if problem is None:
            removed.append(resource)
        else:
            print(f"Kept {resource.kind} {resource.name}: {problem}")
    return removed


def _without_running_classroom(found: list[Resource], dry_run: bool) -> list[Resource]:
    running = [r for r in found if r.kind == "container" and r.lab == CLASSROOM_LAB and r.running]
    for resource in running:
        verb = "Would keep" if dry_run else "Kept"
        print(f"{verb} the classroom registry {resource.name} (`python -m labkit classroom stop` removes it).")
    return [r for r in found if r.lab != CLASSROOM_LAB] if running else found  # its volume holds what it serves


def remove_if_reachable(lab_id: str) -> None:
    """Test teardown: remove a lab's resources, and do nothing when no engine answers."""
    with contextlib.suppress(DockerUnavailable):
        remove(lab_id)


def _remove_one(resource: Resource) -> str | None:
    """None when the resource is gone, else why the engine kept it."""
    docker = client().api
    try:
        if resource.kind == "container":
            docker.remove_container(resource.id, force=True, v=True)
        elif resource.kind == "image":
            docker.remove_image(resource.id, force=True)
        elif resource.kind == "network":
            docker.remove_network(resource.id)
        else:
            docker.remove_volume(resource.id, force=True)
    except NotFound:
        return None
    except APIError as exc:
        return str(exc.explanation or exc)
    return None
