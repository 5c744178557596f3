"""Image references come from the catalog (images.toml) and nowhere else."""

import re
from pathlib import Path

import nbformat
import pytest

from labkit import catalog
from tests.helpers import ROOT

DOCKERFILES = sorted(p for p in ROOT.glob("solutions/**/Dockerfile*") if "bin" not in p.parts and "obj" not in p.parts)
# Those whose FROM lines take the .NET tag from the build argument (the others use no .NET base image).
TAGGED_DOCKERFILES = [p for p in DOCKERFILES if re.search(r"\$\{?DOTNET_TAG\b", p.read_text("utf-8"))]
NOTEBOOKS = sorted(ROOT.glob("solutions/*/lab.ipynb"))
COMPOSE_FILES = sorted(ROOT.glob("solutions/*/compose.yaml"))
COMPOSE_IMAGE = re.compile(r"^\s*image:\s*(\S+)", re.MULTILINE)
IMAGE_VARIABLE = re.compile(r"^\$\{\w+:-([^}]+)\}$")  # ${POSTGRES_IMAGE:-postgres:17}
IMAGE_LITERAL = re.compile(r"mcr\.microsoft\.com/|\bregistry:2\b|\bpostgres:\d")
TAG_ARG = re.compile(r"^ARG DOTNET_TAG=(\S+)\s*$", re.MULTILINE)
FROM_LINE = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)", re.MULTILINE)


def literal_image_refs(notebook: Path) -> list[str]:
    """Lines of code cells that spell an image reference instead of asking the catalog."""
    cells = nbformat.read(notebook, as_version=4).cells
    return [
        line.strip()
        for cell in cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if IMAGE_LITERAL.search(line) and not line.lstrip().startswith("#")
    ]


def test_literal_detection_catches_a_hard_coded_tag(tmp_path: Path) -> None:
    bad = tmp_path / "lab.ipynb"
    pull = nbformat.v4.new_code_cell("run('docker pull mcr.microsoft.com/dotnet/sdk:10.0')\n")
    nbformat.write(nbformat.v4.new_notebook(cells=[pull]), bad)
    assert literal_image_refs(bad) == ["run('docker pull mcr.microsoft.com/dotnet/sdk:10.0')"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_notebook_code_takes_images_from_the_catalog(notebook: Path) -> None:
    assert literal_image_refs(notebook) == []


@pytest.mark.parametrize("dockerfile", TAGGED_DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_tag_argument_defaults_to_the_catalog_tag(dockerfile: Path) -> None:
    defaults = TAG_ARG.findall(dockerfile.read_text("utf-8"))
    assert defaults == [catalog.dotnet_tag()], "declare `ARG DOTNET_TAG=<catalog tag>` once, before the first FROM"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_base_images_are_catalog_images(dockerfile: Path) -> None:
    text = dockerfile.read_text("utf-8")
    refs = {entry.ref for entry in catalog.images()}
    stages = re.findall(r"^FROM\s.*\bAS\s+(\S+)", text, re.MULTILINE | re.IGNORECASE)
    for base in FROM_LINE.findall(text):
        resolved = base.replace("${DOTNET_TAG}", catalog.dotnet_tag()).replace("$DOTNET_TAG", catalog.dotnet_tag())
        assert resolved in refs or resolved in stages or resolved == "scratch", f"{base} is not in images.toml"


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_compose_images_default_to_catalog_images(compose_file: Path) -> None:
    """Each `image:` is a variable the notebook sets from the catalog, defaulting to the catalog's
    reference (or to the lab's own image), as a Dockerfile's DOTNET_TAG does."""
    refs = {entry.ref for entry in catalog.images()}
    for image in COMPOSE_IMAGE.findall(compose_file.read_text("utf-8")):
        default = IMAGE_VARIABLE.match(image)
        assert default, f"{image}: write it as ${{SOME_IMAGE:-<catalog reference>}}"
        lab_image = default[1].startswith("containerizing-dotnet/")
        assert default[1] in refs or lab_image, f"{default[1]} is not in images.toml"
