"""Remove what the course created, found by its label, and nothing else."""

from dataclasses import dataclass

from docker.errors import APIError, NotFound

from labkit.docker_access import client
from labkit.names import LABEL_KEY


@dataclass(frozen=True)
class Resource:
    kind: str  # container, image, network or volume
    id: str
    name: str
    lab: str


def label_filter(lab_id: str | None) -> str:
    return LABEL_KEY if lab_id is None else f"{LABEL_KEY}={lab_id}"


def find(lab_id: str | None = None) -> list[Resource]:
    """Every course-labelled resource (of one lab, or of all labs), containers first."""
    docker = client()
    flt = {"label": label_filter(lab_id)}
    found = [
        Resource("container", c.id, c.name, c.labels.get(LABEL_KEY, ""))
        for c in docker.containers.list(all=True, filters=flt)
    ]
    found += [
        Resource("image", i.id, ", ".join(i.tags) or i.short_id, i.labels.get(LABEL_KEY, ""))
        for i in docker.images.list(filters=flt)
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


def remove(lab_id: str | None = None, dry_run: bool = False) -> list[Resource]:
    """Remove the course-labelled resources (containers, then images, networks, volumes).

    Returns what was (or, with dry_run, would be) removed. Something already gone is skipped.
    """
    found = find(lab_id)
    if not dry_run:
        for resource in found:
            _remove_one(resource)
    return found


def _remove_one(resource: Resource) -> None:
    docker = client()
    try:
        if resource.kind == "container":
            docker.containers.get(resource.id).remove(force=True, v=True)
        elif resource.kind == "image":
            docker.images.remove(resource.id, force=True)
        elif resource.kind == "network":
            docker.networks.get(resource.id).remove()
        else:
            docker.volumes.get(resource.id).remove(force=True)
    except NotFound:
        pass
    except APIError as exc:
        if exc.status_code != 409:  # 409: an image still used by a removed container's child
            raise
