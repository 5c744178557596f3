"""The image catalog (images.toml): one place for every image reference."""

from pathlib import Path

import pytest

from labkit import catalog
from labkit.errors import CatalogError
from tests.helpers import catalog_file

KEYS = ["sdk", "aspnet", "runtime", "runtime-deps", "aspnet-chiseled", "runtime-deps-chiseled", "registry"]


def test_the_repository_catalog_names_every_image_the_course_uses() -> None:
    assert [entry.key for entry in catalog.images()] == KEYS
    assert catalog.image("sdk") == "mcr.microsoft.com/dotnet/sdk:10.0"
    assert catalog.image("aspnet-chiseled") == "mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled"
    assert catalog.dotnet_tag() == "10.0"
    assert all(entry.role for entry in catalog.images())


def test_an_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(CatalogError, match=r"No image 'jdk' in images\.toml \(known: sdk, aspnet"):
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
