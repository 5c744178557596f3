"""Which stand-ins a recipe change rebuilds, and in what order `up` builds them (no engine: `build` is
replaced by a recorder)."""

import threading
import time
from pathlib import Path

import pytest

from offline_world import machine, standins
from offline_world.machine import GHCR, MCR
from offline_world.standins import Standin

STACK = [
    Standin("dotnet/runtime-deps", ("10.0",), "runtime-deps", {"BASE_IMAGE": "debian"}, host=MCR),
    Standin("dotnet/runtime", ("10.0",), "runtime", {"REPO": f"{MCR}/dotnet/runtime-deps", "TAG": "10.0"}, host=MCR),
    Standin("dotnet/aspnet", ("10.0",), "aspnet", {"REPO": f"{MCR}/dotnet/runtime", "TAG": "10.0"}, host=MCR),
    Standin("sigstore/cosign/cosign", ("v2.5.0",), "cosign", {"BASE_IMAGE": "trixie"}, host=GHCR),
]


@pytest.fixture
def recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A recipe folder per stand-in of STACK, each with a Dockerfile."""
    for standin in STACK:
        (tmp_path / standin.recipe).mkdir()
        (tmp_path / standin.recipe / "Dockerfile").write_text(f"# {standin.recipe}\n")
    monkeypatch.setattr(standins, "RECIPE", tmp_path)
    monkeypatch.setattr(machine, "RECIPE", tmp_path)
    return tmp_path


def changed_after(edit: Path, recipes: Path) -> list[str]:
    """The recipes whose stand-in hash changes when `edit` (a file under `recipes`) changes."""
    before = standins.recipe_hashes(STACK, "bases")
    edit.write_text(edit.read_text() + "# changed\n")
    after = standins.recipe_hashes(STACK, "bases")
    return [standin.recipe for standin, old, new in zip(STACK, before, after, strict=True) if old != new]


def test_a_recipe_change_rebuilds_that_image_and_those_built_from_it(recipes: Path) -> None:
    assert changed_after(recipes / "runtime" / "Dockerfile", recipes) == ["runtime", "aspnet"]
    assert changed_after(recipes / "cosign" / "Dockerfile", recipes) == ["cosign"]


def test_new_bases_rebuild_everything(recipes: Path) -> None:
    assert all(
        old != new
        for old, new in zip(
            standins.recipe_hashes(STACK, "bases"), standins.recipe_hashes(STACK, "new bases"), strict=True
        )
    )


def test_each_image_is_built_after_the_one_below_it_and_independent_ones_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def build(standin: Standin, recipe: str) -> tuple[str, None]:
        with lock:
            events.append(("start", standin.recipe))
        time.sleep(0.2)
        with lock:
            events.append(("end", standin.recipe))
        return f"id-{standin.recipe}", None

    monkeypatch.setattr(standins, "build", build)
    built = standins.build_all(STACK, ["r"] * len(STACK))
    assert [(standin.recipe, image_id) for standin, image_id, _ in built] == [
        (standin.recipe, f"id-{standin.recipe}") for standin in STACK
    ]
    for lower, upper in (("runtime-deps", "runtime"), ("runtime", "aspnet")):
        assert events.index(("end", lower)) < events.index(("start", upper))
    assert events.index(("start", "cosign")) < events.index(("end", "runtime-deps")), "roots build side by side"


def test_a_failed_build_fails_up_and_builds_nothing_above_it(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    def build(standin: Standin, recipe: str) -> tuple[str, None]:
        started.append(standin.recipe)
        if standin.recipe == "runtime":
            raise RuntimeError("apt-get failed")
        return "id", None

    monkeypatch.setattr(standins, "build", build)
    with pytest.raises(RuntimeError, match="apt-get failed"):
        standins.build_all(STACK, ["r"] * len(STACK))
    assert "aspnet" not in started
