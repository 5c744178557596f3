"""image_info: the pieces of `docker image inspect` the checks and tables read."""

from typing import Any

import pytest

from labkit.docker_access import client
from labkit.engine import image_info
from labkit.engine.store import containerd_store
from labkit.errors import InvalidName

INFO: dict[str, Any] = {
    "RootFS": {"Type": "layers", "Layers": ["sha256:" + "a" * 64, "sha256:" + "b" * 64]},
    "Config": {"User": "app", "Env": ["PATH=/usr/bin", "APP_UID=1654", "EMPTY=", "URLS=http://+:8080;x=y"]},
}


@pytest.mark.docker
def test_inspect_of_a_missing_image_says_what_to_do(run_tag: str) -> None:
    with pytest.raises(image_info.ImageMissing, match="docker pull"):
        image_info.inspect(f"labkit-tests/absent-{run_tag}:1")
    assert image_info.exists(f"labkit-tests/absent-{run_tag}:1") is False


@pytest.mark.docker
def test_inspect_returns_the_engines_data(busybox: str) -> None:
    info = image_info.inspect(busybox)
    assert info["RepoTags"] == [busybox] and image_info.exists(busybox)
    assert len(image_info.layers(info)) == 1 and image_info.user(info) == ""


@pytest.mark.docker
def test_size_is_the_unpacked_size_in_either_image_store(busybox: str) -> None:
    """The classic store's inspect Size is the unpacked size; the containerd store's is the
    compressed download, so only there may the two differ, and the unpacked one is the larger."""
    info = image_info.inspect(busybox)
    unpacked = image_info.size_mb(info)
    compressed_or_same = round(int(info["Size"]) / image_info.MB, 1)
    assert unpacked > 0 and image_info.layer_bytes(info)[0] > 0
    if containerd_store(client().info()):
        assert unpacked >= compressed_or_same
    else:
        assert unpacked == compressed_or_same


def test_fields_of_the_inspect_data() -> None:
    assert image_info.layers(INFO) == INFO["RootFS"]["Layers"]
    assert image_info.user(INFO) == "app"
    assert image_info.env(INFO) == {"PATH": "/usr/bin", "APP_UID": "1654", "EMPTY": "", "URLS": "http://+:8080;x=y"}
    assert image_info.short_digest("sha256:" + "a" * 64) == "a" * 12


def test_missing_fields_read_as_empty() -> None:
    assert (image_info.layers({}), image_info.user({}), image_info.env({}), image_info.config({})) == ([], "", {}, {})


def test_common_prefix_stops_at_the_first_difference() -> None:
    assert image_info.common_prefix(["a", "b", "c"], ["a", "b", "x", "c"]) == ["a", "b"]
    assert image_info.common_prefix(["a"], ["b", "a"]) == []


@pytest.mark.docker
def test_an_invalid_reference_is_one_clear_error() -> None:
    with pytest.raises(InvalidName, match="not a valid image reference"):
        image_info.inspect("MyApp:Latest")
