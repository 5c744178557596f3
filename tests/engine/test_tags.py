"""labkit.tools.maintain.tags: catalog tags against the .NET release metadata and a real registry's tag list."""

from collections.abc import Iterator
from datetime import date

import pytest
from docker import DockerClient

from labkit.names import LOOPBACK, free_port
from labkit.tools.maintain import tags
from tests.helpers import TEST_LAB
from tests.labs import wrong_state

TODAY = date(2026, 12, 5)  # the verdicts hold on this day, whatever the clock says


@pytest.fixture(scope="module")
def served(busybox: str, docker_client: DockerClient) -> Iterator[str]:
    """A real registry (the catalog's registry:2) on a loopback port serving dotnet/sdk:8.0 and :10.0."""
    container, address = wrong_state.registry(TEST_LAB)
    try:
        for tag in ("8.0", "10.0"):
            docker_client.images.get(busybox).tag(f"{address}/dotnet/sdk", tag)
            docker_client.images.push(f"{address}/dotnet/sdk", tag=tag)
            docker_client.images.remove(f"{address}/dotnet/sdk:{tag}")
        yield address
    finally:
        container.remove(force=True, v=True)


@pytest.mark.docker
def test_published_tags_follows_the_registrys_pages(served: str) -> None:
    # one tag a page: the registry must link to the next
    assert sorted(tags.published_tags(f"{served}/dotnet/sdk:10.0", page_size=1)) == ["10.0", "8.0"]


@pytest.mark.docker
def test_a_supported_published_tag_is_ok(served: str) -> None:
    report = tags.check(f"{served}/dotnet/sdk:10.0", TODAY)
    assert report.ok and report.in_registry and "supported until 2028-11-14" in report.support


@pytest.mark.docker
def test_an_end_of_support_channel_fails_even_when_published(served: str) -> None:
    report = tags.check(f"{served}/dotnet/sdk:8.0", TODAY)
    assert report.in_registry is True
    assert not report.ok and "end of support on 2026-11-10" in report.support


@pytest.mark.docker
def test_a_tag_the_registry_does_not_list_fails(served: str) -> None:
    report = tags.check(f"{served}/dotnet/sdk:10.0.999", TODAY)
    assert report.in_registry is False and not report.ok


def test_a_registry_that_cannot_be_asked_fails_the_check_with_the_reason() -> None:
    """A nightly check that passes without asking would hide the drift it exists to find."""
    report = tags.check(f"{LOOPBACK}:{free_port()}/dotnet/sdk:10.0", TODAY)  # nothing listens there
    assert report.in_registry is None and not report.ok
    assert "could not be asked" in report.published and "refused" in report.published.lower()
