"""The one catalog of image references (images.toml at the top of the repository)."""

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from labkit.errors import CatalogError

CATALOG_ENV = "LABKIT_CATALOG"


@dataclass(frozen=True)
class CatalogImage:
    key: str
    ref: str
    role: str


def catalog_path() -> Path:
    """images.toml: from $LABKIT_CATALOG, else the first one found above this package or the cwd."""
    if os.environ.get(CATALOG_ENV):
        return Path(os.environ[CATALOG_ENV])
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "images.toml").is_file():
                return folder / "images.toml"
    raise CatalogError("images.toml not found: run from inside the course repository.")


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, object]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _data() -> dict[str, object]:
    return _load(catalog_path())


def dotnet_tag() -> str:
    """The .NET tag every lab builds on (e.g. "10.0"); Dockerfiles get it as DOTNET_TAG."""
    section = _data().get("dotnet")
    if not isinstance(section, dict) or "tag" not in section:
        raise CatalogError("images.toml has no [dotnet] tag.")
    return str(section["tag"])


def images() -> list[CatalogImage]:
    """Every image the course uses, in catalog order."""
    section = _data().get("images")
    if not isinstance(section, dict):
        raise CatalogError("images.toml has no [images] table.")
    return [
        CatalogImage(key, str(entry["ref"]), str(entry.get("role", "")))
        for key, entry in section.items()
    ]


def image(key: str) -> str:
    """The full reference of one catalog image, e.g. image("sdk")."""
    for entry in images():
        if entry.key == key:
            return entry.ref
    known = ", ".join(entry.key for entry in images())
    raise CatalogError(f"No image {key!r} in images.toml (known: {known}).")
