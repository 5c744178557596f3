"""Copy whole images from registry to registry through the registry HTTP API.

`docker push` sends only the platform the engine pulled. A room that mixes Intel and Apple
silicon laptops needs each multi-platform image whole: its index (manifest list), each Linux
platform's manifest and their blobs. That is a handful of GET/HEAD/POST/PUT calls of the
distribution API, done with the course's registry client so the instructor needs no extra
tool (skopeo, crane).
Windows entries of an index are left out: the labs run Linux containers, and Windows layers are
gigabytes. A blob the destination has (in any repository copied to in this run) is not sent again.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

from labkit.registry.client import Manifest, Readable, Registry

Progress = Callable[[int], None]  # called with each chunk's size in bytes


class _Counting:
    """A readable stream of known length that reports each chunk it hands on."""

    def __init__(self, stream: Readable, size: int, progress: Progress) -> None:
        self.stream, self.size, self.progress = stream, size, progress

    def __len__(self) -> int:
        return self.size

    def read(self, amount: int | None = None, /) -> bytes:
        chunk = self.stream.read(amount)
        self.progress(len(chunk))
        return chunk


@dataclass(frozen=True)
class Plan:
    """What copying one image takes: manifests to put (children first) and the blobs they need."""

    manifests: list[tuple[str, Manifest]]  # (reference, manifest)
    blobs: dict[str, int]  # digest -> size

    @property
    def size(self) -> int:
        return sum(self.blobs.values())


def plan(source: Registry, repo: str, tag: str) -> Plan:
    """Read an image's manifests (every Linux platform of an index) and list their blobs."""
    top = source.manifest(repo, tag)
    if not top.is_index:
        return Plan([(tag, top)], _blobs(top))
    entries = top.data["manifests"]
    kept = [entry for entry in entries if (entry.get("platform") or {}).get("os") != "windows"]
    if len(kept) != len(entries):
        top = Manifest(json.dumps({**top.data, "manifests": kept}, indent=3).encode(), top.media_type)
    manifests: list[tuple[str, Manifest]] = []
    blobs: dict[str, int] = {}
    for entry in kept:
        child = source.manifest(repo, entry["digest"])
        manifests.append((entry["digest"], child))
        blobs |= _blobs(child)
    return Plan([*manifests, (tag, top)], blobs)


def _blobs(manifest: Manifest) -> dict[str, int]:
    data = manifest.data
    descriptors = [data["config"], *data.get("layers", [])]
    return {d["digest"]: int(d["size"]) for d in descriptors if not d.get("urls")}  # foreign layers stay out


def copy(source: Registry, repo: str, needed: Plan, dest: Registry, dest_repo: str, progress: Progress) -> int:
    """Copy what `plan` found in `repo` into `dest_repo`, manifests last; return the bytes uploaded."""
    sent = 0
    for digest, size in needed.blobs.items():
        if dest.has_blob(dest_repo, digest) or dest.mount(dest_repo, digest):
            progress(size)
        else:
            with source.blob(repo, digest) as content:
                dest.upload(dest_repo, digest, _Counting(content, size, progress))
            sent += size
        dest.holds[digest] = dest_repo
    for reference, manifest in needed.manifests:
        dest.put_manifest(dest_repo, reference, manifest)
    return sent
