"""Where a string is in an image: its configuration, its history, and the files of every layer.

`docker image inspect` and `docker history` show an image's configuration and the commands that built
it; the files are in its layers, which `docker save` writes out as one tar archive per layer (gzipped
under the containerd image store, plain under the classic one; both are read here). Each layer that
holds a match is named by the instruction that made it, as `docker history` shows it.
"""

import functools
import json
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from docker.errors import NotFound
from docker.models.containers import Container

from labkit import names
from labkit.docker_access import client
from labkit.engine import image_info

PROBE_LAB_ID = "labkit-checks"  # label value of the short-lived containers `probe` creates
MASK = "<the secret>"  # what a report shows in place of the secret: a check must not print what it looks for


@dataclass(frozen=True)
class Leak:
    """One place of an image that holds the string: `where` (the configuration, a history entry, a layer)
    and `what` (the field, the instruction, or the file's path)."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def leaks(ref: str, secret: str | bytes, names: tuple[str, ...] = ()) -> list[Leak]:
    """Every place of image `ref` that holds `secret`: its configuration (Env, Labels, command), its
    history, and every file of every layer whose content holds it, or whose name ends with one of `names`."""
    needle = secret.encode() if isinstance(secret, str) else secret
    return list(_leaks_in(image_info.inspect(ref)["Id"], needle, names))


@functools.lru_cache(maxsize=32)
def _leaks_in(image_id: str, needle: bytes, names: tuple[str, ...]) -> tuple[Leak, ...]:
    """By image id, which names the image's content: a check, then a look at where the secret is
    (lab 12 does both), reads an SDK-sized image once, not twice (seconds of CPU each)."""
    text = needle.decode(errors="replace")
    found = list(_in_config(image_info.config(image_info.inspect(image_id)), text))
    made = [str(step.get("CreatedBy", "")) for step in client().api.history(image_id)]
    found += [Leak("history", _short(step.replace(text, MASK))) for step in made if text in step]
    found += list(_in_layers(image_id, needle, names))
    return tuple(found)


def _in_config(config: dict[str, Any], text: str) -> Iterator[Leak]:
    fields = {
        "Env": config.get("Env") or [],
        "Labels": config.get("Labels") or {},
        "Entrypoint and Cmd": [config.get("Entrypoint"), config.get("Cmd")],
    }
    for name, value in fields.items():
        if text in json.dumps(value):
            yield Leak("configuration", name)


def _short(created_by: str, width: int = 160) -> str:
    text = " ".join(created_by.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _in_layers(ref: str, needle: bytes, names: tuple[str, ...]) -> Iterator[Leak]:
    with tempfile.TemporaryFile() as saved:
        for chunk in client().api.get_image(ref):
            saved.write(chunk)
        saved.seek(0)
        with tarfile.open(fileobj=saved) as archive:
            manifest = json.load(_member(archive, "manifest.json"))[0]
            config = json.load(_member(archive, manifest["Config"]))
            made = [step.get("created_by", "") for step in config.get("history", []) if not step.get("empty_layer")]
            for number, path in enumerate(manifest["Layers"]):
                instruction = made[number].replace(needle.decode(errors="replace"), MASK) if number < len(made) else "?"
                for file in _files_holding(_member(archive, path), needle, names):
                    yield Leak(f"layer {number + 1} ({_short(instruction, 60)})", f"/{file}")


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    member = archive.extractfile(name)
    if member is None:
        raise KeyError(name)
    return member


def _files_holding(layer: IO[bytes], needle: bytes, names: tuple[str, ...]) -> Iterator[str]:
    with tarfile.open(fileobj=layer, mode="r:*") as files:
        for entry in files:
            if not entry.isfile():
                continue
            content = _member(files, entry.name).read()
            if needle in content or (names and entry.name.endswith(names)):
                yield entry.name.removeprefix("./")


def read_files(ref: str, folder: str) -> dict[str, bytes]:
    """Every file under `folder` of image `ref` as its running container would see it (all layers merged,
    deletions applied), by path; none when the folder is not there. Works on images without a shell: it
    creates a container without starting it and asks the engine for the folder (`docker cp`)."""
    image_info.inspect(ref)
    with probe(ref) as container, tempfile.TemporaryFile() as copied:
        try:
            chunks, _ = container.get_archive(folder)
        except NotFound:
            return {}
        for chunk in chunks:
            copied.write(chunk)
        copied.seek(0)
        with tarfile.open(fileobj=copied) as archive:
            parent = folder.rstrip("/").rsplit("/", 1)[0]
            return {
                f"{parent}/{entry.name}": _member(archive, entry.name).read() for entry in archive if entry.isfile()
            }


@contextmanager
def probe(ref: str) -> Iterator[Container]:
    """A container of `ref`, created and never started, removed afterwards: the engine answers for its
    files even when the image has no shell."""
    container = client().containers.create(ref, command=["labkit-file-probe"], labels=names.labels(PROBE_LAB_ID))
    try:
        yield container
    finally:
        container.remove(force=True)
