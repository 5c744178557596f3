"""Lab 14's check cells fail, with their hints, on a wrong learner state."""

import re
from pathlib import Path
from typing import Any

import pytest

from labkit import CheckFailed, catalog, names
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "14-aot" / "lab.ipynb"
LAB_ID = "test-lab14"
pytestmark = pytest.mark.docker
IL2026 = "Program.cs(30,19): warning IL2026: Using member 'System.Text.Json.JsonSerializer.Serialize<TValue>'\n"
IL3050 = "Program.cs(30,19): warning IL3050: Using member 'System.Text.Json.JsonSerializer.Serialize<TValue>'\n"


SEMVER = re.compile(  # semver.org's pattern: NuGet refuses any other version
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def test_the_version_a_run_publishes_is_semver_whatever_its_random_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run id of digits only with a leading zero once made `1.0.0-run.064903`, which `dotnet publish` refuses."""
    for run_id in ("064903", "123456", "0a1b2c"):
        monkeypatch.setattr(names, "run_id", lambda run_id=run_id: run_id)
        version = check_cells.setup(NOTEBOOK, LAB_ID)["VERSION"]
        assert run_id in version and SEMVER.match(version), version


def _image(factory: pytest.TempPathFactory, base_key: str, files: dict[str, str], last_line: str = "") -> str:
    """An image on a catalog base with `files` in /app: what a learner's stage could produce."""
    copies = "".join(f"COPY {name} .\n" for name in files)
    dockerfile = f"FROM {catalog.image(base_key)}\nWORKDIR /app\n{copies}{last_line}\n"
    return wrong_state.build(LAB_ID, factory.mktemp(base_key), dockerfile, files)


@pytest.fixture(scope="module")
def on_aspnet(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The IL app on the ordinary aspnet image: a framework-dependent stage that is not chiseled."""
    return _image(tmp_path_factory, "aspnet", {"Api.dll": "IL\n"}, "USER $APP_UID")


@pytest.fixture(scope="module")
def chiseled_as_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _image(tmp_path_factory, "aspnet-chiseled", {"Api.dll": "IL\n"}, "USER root")


@pytest.fixture(scope="module")
def self_contained_on_aspnet(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A self-contained app, but on the chiseled aspnet image, which brings a second .NET."""
    return _image(tmp_path_factory, "aspnet-chiseled", {"libcoreclr.so": "native\n"})


@pytest.fixture(scope="module")
def il_on_runtime_deps(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An app that still ships Api.dll on runtime-deps: not the Native AOT publish."""
    return _image(tmp_path_factory, "runtime-deps-chiseled", {"Api.dll": "IL\n", "Api": "app\n"})


def _warnings(folder: Path, variant: str, text: str) -> Path:
    (folder / variant).mkdir(parents=True, exist_ok=True)
    (folder / variant / "warnings.log").write_text(text)
    return folder


def test_framework_dependent_check_fails_when_the_stage_is_not_chiseled(
    namespace: dict[str, Any], on_aspnet: str
) -> None:
    image = {**namespace["IMAGE"], "framework-dependent": on_aspnet}
    with pytest.raises(CheckFailed, match="noble-chiseled aspnet image"):
        check_cells.run_check(NOTEBOOK, 1, namespace, IMAGE=image)


def test_framework_dependent_check_fails_when_the_image_runs_as_root(
    namespace: dict[str, Any], chiseled_as_root: str
) -> None:
    image = {**namespace["IMAGE"], "framework-dependent": chiseled_as_root}
    with pytest.raises(CheckFailed, match="runs as root"):
        check_cells.run_check(NOTEBOOK, 1, namespace, IMAGE=image)


def test_trimmed_check_fails_when_the_publish_warned_il2026(namespace: dict[str, Any], tmp_path: Path) -> None:
    """The TODOs of Program.cs left: the log the build exported says IL2026, and the hint names the fix."""
    folder = _warnings(tmp_path, "trimmed", IL2026)
    with pytest.raises(CheckFailed, match=re.escape("the publish warned IL2026") + ".*AppJson.Default.Report"):
        check_cells.run_check(NOTEBOOK, 2, namespace, WARNINGS=folder)


def test_trimmed_check_fails_when_the_build_wrote_no_log(namespace: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match="build the trimmed target first"):
        check_cells.run_check(NOTEBOOK, 2, namespace, WARNINGS=tmp_path)


def test_trimmed_check_fails_when_the_stage_is_not_on_runtime_deps(
    namespace: dict[str, Any], tmp_path: Path, self_contained_on_aspnet: str
) -> None:
    image = {**namespace["IMAGE"], "trimmed": self_contained_on_aspnet}
    with pytest.raises(CheckFailed, match="noble-chiseled runtime-deps image"):
        check_cells.run_check(NOTEBOOK, 2, namespace, WARNINGS=_warnings(tmp_path, "trimmed", ""), IMAGE=image)


def test_aot_check_fails_when_the_publish_warned_il3050(namespace: dict[str, Any], tmp_path: Path) -> None:
    folder = _warnings(tmp_path, "aot", IL2026 + IL3050)
    with pytest.raises(CheckFailed, match=re.escape("the publish warned IL2026, IL3050")):
        check_cells.run_check(NOTEBOOK, 3, namespace, WARNINGS=folder)


def test_aot_check_fails_when_the_image_still_ships_il(
    namespace: dict[str, Any], tmp_path: Path, il_on_runtime_deps: str
) -> None:
    image = {**namespace["IMAGE"], "aot": il_on_runtime_deps}
    with pytest.raises(CheckFailed, match=re.escape("a Native AOT publish has no Api.dll")):
        check_cells.run_check(NOTEBOOK, 3, namespace, WARNINGS=_warnings(tmp_path, "aot", ""), IMAGE=image)


def test_registry_check_fails_when_nothing_was_pushed(namespace: dict[str, Any]) -> None:
    _, address = wrong_state.registry(LAB_ID)
    remote = {variant: f"{address}/aot-lab/{variant}:{namespace['VERSION']}" for variant in namespace["VARIANTS"]}
    with pytest.raises(CheckFailed, match=re.escape("and push it (`docker tag`, then `docker push`)")):
        check_cells.run_check(NOTEBOOK, 4, namespace, REGISTRY=address, REMOTE=remote)


def test_memory_check_fails_when_a_container_runs_another_image(namespace: dict[str, Any]) -> None:
    sleeper = str(wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps")).name)
    names = dict.fromkeys(namespace["VARIANTS"], sleeper)
    image = dict.fromkeys(namespace["VARIANTS"], catalog.image("runtime-deps-chiseled"))
    with pytest.raises(CheckFailed, match=re.escape("start it again from IMAGE")):
        check_cells.run_check(NOTEBOOK, 5, namespace, NAME=names, IMAGE=image)


def test_size_check_fails_when_the_variants_are_mixed_up(
    namespace: dict[str, Any], on_aspnet: str, il_on_runtime_deps: str
) -> None:
    """The AOT image built from the framework-dependent target: larger than the trimmed one."""
    image = {"framework-dependent": on_aspnet, "trimmed": il_on_runtime_deps, "aot": on_aspnet}
    with pytest.raises(CheckFailed, match="rebuild each variant from its own target"):
        check_cells.run_check(NOTEBOOK, 6, namespace, IMAGE=image)


def test_challenge_check_fails_without_the_memory_limit(namespace: dict[str, Any], il_on_runtime_deps: str) -> None:
    unlimited = wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps"))
    with pytest.raises(CheckFailed, match=re.escape("with --memory 32m")):
        check_cells.run_check(
            NOTEBOOK, check_cells.OUTSIDE, namespace, CHALLENGE=unlimited.name, IMAGE={"aot": il_on_runtime_deps}
        )
