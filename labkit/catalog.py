"""The one catalog of image references (images.toml at the top of the repository)."""

import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from labkit import refs
from labkit.errors import CatalogError, InvalidName

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


_AT_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)$")


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        why = _AT_LINE.sub("", str(exc))
        raise CatalogError(f"{path}:{_error_line(exc)}: not valid TOML ({why}); fix that line.") from exc
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8.") from exc
    except OSError as exc:
        raise CatalogError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc


def _error_line(exc: tomllib.TOMLDecodeError) -> int | str:
    """The line tomllib names (its `lineno` attribute from Python 3.14, in the message before)."""
    lineno = getattr(exc, "lineno", None)
    if isinstance(lineno, int):
        return lineno
    match = _AT_LINE.search(str(exc))
    return int(match[1]) if match else "?"


def _entry_line(path: Path, key: str) -> int | str:
    """The line of `[images.<key>]` in the catalog, for an error that names it."""
    header = re.compile(rf"^\s*\[\s*images\.\"?{re.escape(key)}\"?\s*\]")
    lines = path.read_text("utf-8").splitlines()
    return next((number for number, line in enumerate(lines, start=1) if header.match(line)), "?")


def _data() -> dict[str, object]:
    return _load(catalog_path())


def dotnet_tag() -> str:
    """The .NET tag every lab builds on (e.g. "10.0"); Dockerfiles get it as DOTNET_TAG."""
    section = _data().get("dotnet")
    if not isinstance(section, dict) or "tag" not in section:
        raise CatalogError(f"{catalog_path()} has no [dotnet] tag.")
    return str(section["tag"])


def images() -> list[CatalogImage]:
    """Every image the course uses, in catalog order; each `ref` is checked to be an image reference."""
    path = catalog_path()
    section = _load(path).get("images")
    if not isinstance(section, dict):
        raise CatalogError(f"{path} has no [images] table.")
    return [_entry(path, key, entry) for key, entry in section.items()]


def _entry(path: Path, key: str, entry: object) -> CatalogImage:
    where = f"{path}:{_entry_line(path, key)}: [images.{key}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("ref"), str):
        raise CatalogError(f'{where} has no ref: add a line like ref = "mcr.microsoft.com/dotnet/sdk:10.0".')
    try:
        refs.parse(entry["ref"])
    except InvalidName as exc:
        raise CatalogError(f"{where}: {exc}") from exc
    return CatalogImage(key, entry["ref"], str(entry.get("role", "")))


def image(key: str) -> str:
    """The full reference of one catalog image, e.g. image("sdk")."""
    for entry in images():
        if entry.key == key:
            return entry.ref
    known = ", ".join(entry.key for entry in images())
    raise CatalogError(f"No image {key!r} in images.toml (known: {known}).")
