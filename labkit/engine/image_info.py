"""What `docker image inspect` says about an image, read in small pieces.

Kept apart from labkit.images (tables and plots) so that checks and the command line do not
pay for importing pandas and matplotlib. Reads only fields API 1.41 and newer engines share:
`Config`, `RootFS`, `Created` (never `VirtualSize`, which newer engines dropped).

An image's size is the sum of its layers' unpacked sizes from `docker history`, because that is
the one figure both image stores agree on: the classic store's inspect `Size` is that sum, while
under the containerd store (Docker Desktop's default) `Size` is the compressed download and
`docker image ls` adds the two.
"""

from typing import Any

from docker.errors import APIError, NotFound

from labkit.docker_access import client
from labkit.errors import InvalidName, LabError
from labkit.shell import GONE_WHILE_LISTED
from labkit.waiting import wait_until

MB = 1_000_000  # as `docker image ls` counts


class ImageMissing(LabError):
    """An image a table, plot or check needs is not on this engine."""


def inspect(ref: str) -> dict[str, Any]:
    """`docker image inspect ref`, or ImageMissing with what to do about it."""
    try:
        info: dict[str, Any] = client().api.inspect_image(ref)
    except NotFound as exc:
        raise ImageMissing(
            f"There is no image {ref} on this Docker engine. Build it (run the `docker build` cell "
            f"again), or pull it (`docker pull {ref}`)."
        ) from exc
    except APIError as exc:
        if exc.status_code == 400:
            raise InvalidName(f"{ref!r} is not a valid image reference: names are lower-case, e.g. `app:1`.") from exc
        raise
    return info


def summaries(filters: dict[str, str] | None = None, intermediate: bool = False) -> list[dict[str, Any]]:
    """`docker image ls` as the API answers it (`-a` with `intermediate`: the legacy builder's step
    images too): one call, so nothing removed meanwhile turns up half-listed.

    Under the containerd store, Docker 26 answers 404 "failed to calculate size of image" when an
    image goes while it adds up the sizes (another notebook's cleanup, a `docker rmi`); the
    listing is asked again then, until it answers (10 s at most)."""
    return wait_until(
        lambda: _summaries_unless_one_vanished(filters, intermediate), timeout=10, what="a listing of the images"
    )


def _summaries_unless_one_vanished(filters: dict[str, str] | None, intermediate: bool) -> list[dict[str, Any]] | None:
    try:
        found: list[dict[str, Any]] = client().api.images(filters=filters, all=intermediate)
    except NotFound as exc:
        if GONE_WHILE_LISTED.search(str(exc)):
            return None
        raise
    return found


def exists(ref: str) -> bool:
    try:
        inspect(ref)
    except ImageMissing:
        return False
    return True


def size_mb(info: dict[str, Any]) -> float:
    """The image's unpacked size in MB: what its layers take once extracted, in either image store."""
    return round(sum(layer_bytes(info)) / MB, 1)


def layer_bytes(info: dict[str, Any]) -> list[int]:
    """The unpacked size of each step of the image's history, base first (0 for steps that add no files)."""
    return [int(entry.get("Size") or 0) for entry in reversed(client().api.history(info["Id"]))]


def layers(info: dict[str, Any]) -> list[str]:
    """The layer digests (RootFS.Layers), base first."""
    return list((info.get("RootFS") or {}).get("Layers") or [])


def config(info: dict[str, Any]) -> dict[str, Any]:
    return dict(info.get("Config") or {})


def user(info: dict[str, Any]) -> str:
    """Config.User as written in the image ("" when no USER was set: root)."""
    return str(config(info).get("User") or "")


def env(info: dict[str, Any]) -> dict[str, str]:
    """Config.Env as a dict (NAME=value pairs)."""
    pairs = (item.partition("=") for item in config(info).get("Env") or [])
    return {name: value for name, _, value in pairs}


def short_digest(digest: str) -> str:
    """ "sha256:0123456789abcdef..." -> "0123456789ab" (the 12 characters `docker` shows)."""
    return digest.split(":", 1)[-1][:12]


def common_prefix(layers_a: list[str], layers_b: list[str]) -> list[str]:
    shared: list[str] = []
    for layer_a, layer_b in zip(layers_a, layers_b, strict=False):
        if layer_a != layer_b:
            break
        shared.append(layer_a)
    return shared
