"""Image references, read one way everywhere: registry host (with its port), repository, tag, digest.

Built on docker-py's own parsers (`parse_repository_tag`, `resolve_repository_name`), so
`localhost:5000/app` is a registry with a port and `app@sha256:...` a digest, as Docker reads them.
"""

import re
from dataclasses import dataclass

from docker.auth import resolve_repository_name
from docker.errors import InvalidRepository
from docker.utils import parse_repository_tag

from labkit.errors import InvalidName

DOCKER_HUB = "docker.io"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^\w[\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


@dataclass(frozen=True)
class ImageRef:
    registry: str  # "mcr.microsoft.com", "localhost:5000"; "docker.io" when the name has none
    repository: str  # as the registry API names it: "dotnet/sdk", "library/registry" on Docker Hub
    tag: str | None  # None when the reference has no tag (Docker then means "latest", unless a digest pins it)
    digest: str | None  # "sha256:..." or None

    @property
    def tag_or_latest(self) -> str:
        return self.tag or "latest"


def parse(ref: str) -> ImageRef:
    """Split `ref`; an InvalidName (one line) when Docker would not accept it either."""
    name, digest = _split_digest(ref.strip())
    name, tag = parse_repository_tag(name)
    try:
        registry, repository = resolve_repository_name(name)
    except InvalidRepository as exc:
        raise _invalid(ref, str(exc)) from exc
    if not _REPOSITORY.match(repository):
        raise _invalid(ref, f"repository {repository!r} must be lower-case letters, digits and . _ - /")
    if tag is not None and not _TAG.match(tag):
        raise _invalid(ref, f"tag {tag!r} is not a valid tag")
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    return ImageRef(registry, repository, tag, digest)


def _split_digest(ref: str) -> tuple[str, str | None]:
    name, last = parse_repository_tag(ref)
    if last is None or "@" not in ref:
        return ref, None
    if not _DIGEST.match(last):
        raise _invalid(ref, f"digest {last!r} is not algorithm:hex, e.g. sha256:...")
    return name, last


def _invalid(ref: str, why: str) -> InvalidName:
    return InvalidName(f"{ref!r} is not an image reference Docker accepts: {why}.")


def registry(ref: str) -> str:
    """The registry host of `ref`: "mcr.microsoft.com", "localhost:5000", or docker.io for "registry:2"."""
    return parse(ref).registry


def tag(ref: str) -> str:
    """The tag of `ref`, "latest" when it names none (a registry port is never a tag)."""
    return parse(ref).tag_or_latest
