"""Lab 3's check cells fail, with their hints, on a wrong learner state."""

import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labkit import CheckFailed, catalog, names
from labkit.docker_access import client
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "03-dockerfiles" / "lab.ipynb"
LAB_ID = "test-lab03"
SOURCES_FIRST = """\
ARG DOTNET_TAG=10.0
FROM mcr.microsoft.com/dotnet/sdk:$DOTNET_TAG
ARG TARGETARCH
WORKDIR /source
COPY api/ .
RUN dotnet restore -a $TARGETARCH
RUN dotnet publish -a $TARGETARCH --no-restore -o /app
ENTRYPOINT ["./Api"]
"""
# The restore step's place is all the cache check looks at: a stand-in step keeps the test fast.
FAKE_RESTORE = """\
FROM {base}
COPY source.txt /source/
RUN echo "dotnet restore would run here" > /source/restored.txt
"""


@pytest.mark.docker
def test_build_check_fails_when_there_is_no_image(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match="There is no image"):
        check_cells.run_check(NOTEBOOK, 1, namespace, API=f"containerizing-dotnet/{LAB_ID}-never-built:latest")


@pytest.mark.docker
def test_build_check_fails_when_the_image_is_not_on_the_sdk(namespace: dict[str, Any], tmp_path: Path) -> None:
    unrelated = wrong_state.build(LAB_ID, tmp_path, "FROM scratch\nCOPY Api.dll /app/\n", {"Api.dll": "not a dll"})
    with pytest.raises(CheckFailed, match="share no layers"):
        check_cells.run_check(NOTEBOOK, 1, namespace, API=unrelated)


@pytest.mark.docker
def test_build_check_fails_on_an_unsupported_tag(namespace: dict[str, Any], tmp_path: Path) -> None:
    base = wrong_state.build(LAB_ID, tmp_path / "base", f"FROM {catalog.image('runtime-deps')}\nLABEL base=old\n")
    old_base = f"{base.rpartition(':')[0]}:8.0"  # a .NET 8 tag: end of support 2026-11-10
    client().images.get(base).tag(old_base)
    api = wrong_state.build(LAB_ID, tmp_path / "api", f"FROM {old_base}\nCOPY Api.dll /app/\n", {"Api.dll": "x"})
    with pytest.raises(CheckFailed, match="out of support"):
        check_cells.run_check(NOTEBOOK, 1, namespace, API=api, SDK=old_base)


@pytest.mark.docker
def test_build_check_fails_when_nothing_was_published(namespace: dict[str, Any], tmp_path: Path) -> None:
    unpublished = wrong_state.build(LAB_ID, tmp_path, f"FROM {namespace['SDK']}\nWORKDIR /source\n")
    with pytest.raises(CheckFailed, match=re.escape("/app/Api.dll is not in the image")):
        check_cells.run_check(NOTEBOOK, 1, namespace, API=unpublished)


@pytest.mark.docker
def test_run_check_fails_when_nothing_answers(namespace: dict[str, Any]) -> None:
    # http_contains waits 30 s for an answer before it fails
    with pytest.raises(CheckFailed, match=re.escape("-p 127.0.0.1:PORT:8080")):
        check_cells.run_check(NOTEBOOK, 2, namespace, URL=f"http://{names.LOOPBACK}:{names.free_port()}")


def test_order_check_fails_when_sources_are_copied_before_restore(
    namespace: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Dockerfile").write_text(SOURCES_FIRST)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckFailed, match=re.escape("copies api/ before `dotnet restore`")):
        check_cells.run_check(NOTEBOOK, 3, namespace)


@pytest.mark.docker
def test_dockerignore_check_fails_when_bin_reaches_the_image(namespace: dict[str, Any], tmp_path: Path) -> None:
    with_bin = wrong_state.build(
        LAB_ID,
        tmp_path,
        f"FROM {catalog.image('runtime-deps')}\nCOPY local-build-output.txt /source/bin/\n",
        {"local-build-output.txt": "built on my machine\n"},
    )
    with pytest.raises(CheckFailed, match=re.escape("List `**/bin/` and `**/obj/` in .dockerignore")):
        check_cells.run_check(NOTEBOOK, 4, namespace, API=with_bin)


@pytest.fixture
def built(tmp_path: Path) -> Callable[[], str]:
    """Build the fake restore Dockerfile with a source file never built before; returns the image."""

    def build() -> str:
        dockerfile = FAKE_RESTORE.format(base=catalog.image("runtime-deps"))
        return wrong_state.build(LAB_ID, tmp_path, dockerfile, {"source.txt": secrets.token_hex(8)})

    return build


def _step5(namespace: dict[str, Any], **state: Any) -> None:
    check_cells.run_cell(NOTEBOOK, 5, 3, namespace)  # defines step_created()
    check_cells.run_check(NOTEBOOK, 5, namespace, **state)


def test_cache_check_fails_when_no_cold_build_was_timed(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match=re.escape("Call timed_build(COLD, ...) twice")):
        _step5(namespace, cold_seconds=[])


@pytest.mark.docker
def test_cache_check_fails_when_the_cold_build_used_the_cache(
    namespace: dict[str, Any], built: Callable[[], str]
) -> None:
    cold = built()
    time.sleep(1.1)  # history times have a resolution of one second
    with pytest.raises(CheckFailed, match=re.escape("Pass `--no-cache`")):
        _step5(namespace, cold_seconds=[5.0, 5.0], cold_started=time.time(), COLD=cold, API=cold)


def _cache_check(
    namespace: dict[str, Any], started: float, rebuild_started: float, cold: str, api: str, rebuild: float = 2.0
) -> None:
    """Step 5's check, after two cold builds of 5 s begun at `started` (COLD: `cold`) and rebuilds begun
    at `rebuild_started` (API: `api`) that took `rebuild` seconds (faster than the cold ones unless said)."""
    _step5(
        namespace,
        cold_seconds=[5.0, 5.0],
        cold_started=started,
        rebuild_started=rebuild_started,
        rebuild=rebuild,
        COLD=cold,
        API=api,
    )


@pytest.mark.docker
def test_cache_check_fails_when_restore_runs_again(namespace: dict[str, Any], built: Callable[[], str]) -> None:
    started = time.time() - 1
    cold = built()
    rebuild_started = time.time()
    time.sleep(1.1)  # a real restore takes longer than the one second that history times resolve
    rebuilt = built()
    with pytest.raises(CheckFailed, match=re.escape("Not yet: the rebuild took `dotnet restore` from the cache")):
        _cache_check(namespace, started, rebuild_started, cold, rebuilt)


@pytest.mark.docker
def test_cache_check_passes_a_slower_rebuild_that_took_restore_from_the_cache(
    namespace: dict[str, Any], built: Callable[[], str]
) -> None:
    """A busy machine can slow any one build: the history decides, the timings are only shown."""
    api = built()
    started = time.time() - 1
    time.sleep(1.1)
    cold = built()
    _cache_check(namespace, started, time.time(), cold, api, rebuild=9.0)


@pytest.mark.docker
def test_cache_check_passes_a_rebuild_whose_restore_another_build_cached_after_the_cold_one(
    namespace: dict[str, Any], built: Callable[[], str]
) -> None:
    """BuildKit takes a cached step from the build that made it last: another build of the same
    Dockerfile, made after the cold ones (the lab built twice, in two notebooks). It is still the cache."""
    started = time.time() - 1
    cold = built()
    time.sleep(1.1)
    newer = built()  # made after the cold build, before the rebuild: what the rebuild took
    time.sleep(1.1)
    _cache_check(namespace, started, time.time(), cold, newer)


@pytest.mark.docker
def test_challenge_check_fails_without_the_port_setting(namespace: dict[str, Any]) -> None:
    on_8080 = wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps"))
    with pytest.raises(CheckFailed, match=re.escape("ASPNETCORE_HTTP_PORTS=5000")):
        check_cells.run_check(NOTEBOOK, check_cells.OUTSIDE, namespace, CHALLENGE=on_8080.name)
