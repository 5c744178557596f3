"""The image catalog (images.toml): one place for every image reference."""

from pathlib import Path

import pytest

from labkit import catalog
from labkit.errors import CatalogError
from tests.helpers import catalog_file

KEYS = [
    "sdk",
    "sdk-aot",
    "aspnet",
    "runtime",
    "runtime-deps",
    "aspnet-chiseled",
    "runtime-deps-chiseled",
    "registry",
    "postgres",
    "cosign",
    "oras",
]


def test_the_repository_catalog_names_every_image_the_course_uses() -> None:
    assert [entry.key for entry in catalog.images()] == KEYS
    assert catalog.image("sdk") == "mcr.microsoft.com/dotnet/sdk:10.0"
    assert catalog.image("aspnet-chiseled") == "mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled"
    assert catalog.image("sdk-aot") == "mcr.microsoft.com/dotnet/sdk:10.0-noble-aot"
    assert catalog.dotnet_tag() == "10.0"
    assert all(entry.role for entry in catalog.images())


def test_an_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(CatalogError, match=r"No image 'jdk' in images\.toml \(known: sdk, sdk-aot, aspnet"):
        catalog.image("jdk")


def test_labkit_catalog_points_at_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalog.CATALOG_ENV, str(catalog_file(tmp_path, {"web": "example.org/web:1"})))
    assert catalog.catalog_path() == tmp_path / "images.toml"
    assert catalog.image("web") == "example.org/web:1"


def test_a_catalog_without_its_sections_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "images.toml"
    path.write_text('title = "empty"\n')
    monkeypatch.setenv(catalog.CATALOG_ENV, str(path))
    with pytest.raises(CatalogError, match=r"no \[dotnet\] tag"):
        catalog.dotnet_tag()
    with pytest.raises(CatalogError, match=r"no \[images\] table"):
        catalog.images()


def _catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str | bytes) -> Path:
    path = tmp_path / "images.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    monkeypatch.setenv(catalog.CATALOG_ENV, str(path))
    return path


def test_malformed_toml_names_the_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _catalog(tmp_path, monkeypatch, '[dotnet]\ntag = "10.0"\n[images.sdk\nref = "x"\n')
    with pytest.raises(CatalogError, match=rf"^{path}:3: not valid TOML \(Expected"):
        catalog.images()


def test_a_catalog_that_is_not_utf8_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _catalog(tmp_path, monkeypatch, b'[dotnet]\ntag = "10.0"\n# caf\xe9\n')
    with pytest.raises(CatalogError, match=rf"^{path}: not UTF-8"):
        catalog.dotnet_tag()


def test_an_entry_without_ref_names_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _catalog(tmp_path, monkeypatch, '[dotnet]\ntag = "10.0"\n\n[images.sdk]\nrole = "build"\n')
    with pytest.raises(CatalogError, match=rf"^{path}:4: \[images.sdk\] has no ref"):
        catalog.images()


def test_an_entry_with_a_bad_ref_names_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _catalog(tmp_path, monkeypatch, '[images.sdk]\nref = "MCR/Dotnet:10"\n')
    with pytest.raises(CatalogError, match=rf"^{path}:1: \[images.sdk\]: 'MCR/Dotnet:10' is not an image reference"):
        catalog.images()
