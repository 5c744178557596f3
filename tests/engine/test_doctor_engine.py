"""`labkit doctor` on the engine: which endpoint, which image store, and the disk that holds the images."""

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import docker
import pytest

from labkit import catalog
from labkit.docker_access import Endpoint, endpoint
from labkit.engine import image_info, store
from labkit.tools import doctor
from tests.helpers import catalog_file, labkit

GB = 1_000_000_000
CLASSIC = {"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]]}
CONTAINERD = {"Driver": "overlayfs", "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]}
DESKTOP = Endpoint("unix:///Users/me/.docker/run/docker.sock", "context desktop-linux")


def test_the_image_store_row_tells_the_stores_apart() -> None:
    assert doctor.store_row(CLASSIC).detail == "classic image store (storage driver overlay2)"
    assert doctor.store_row(CONTAINERD).detail == "containerd image store (snapshotter overlayfs)"
    assert store.containerd_store(CONTAINERD) and not store.containerd_store(CLASSIC)


def test_an_engine_in_a_vm_is_not_measured_on_this_host(tmp_path: Path) -> None:
    here = {"Name": socket.gethostname(), "DockerRootDir": str(tmp_path)}
    assert store.engine_on_this_host(here, Endpoint("unix:///var/run/docker.sock", "default socket"))
    assert not store.engine_on_this_host({**here, "Name": "docker-desktop"}, DESKTOP)  # same socket kind, a VM
    assert not store.engine_on_this_host(here, Endpoint("tcp://build.example:2376", "DOCKER_HOST"))
    assert not store.engine_on_this_host({**here, "DockerRootDir": str(tmp_path / "absent")}, DESKTOP)


def cli(*args: str) -> str:
    found = shutil.which("docker")
    if found is None:
        pytest.skip("no docker CLI on PATH")
    return subprocess.run([found, *args], capture_output=True, text=True, timeout=60, check=True).stdout.strip()


@pytest.mark.docker
def test_without_an_image_to_measure_with_a_vm_disk_is_an_optional_warning(
    docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_tag: str
) -> None:
    monkeypatch.setenv(catalog.CATALOG_ENV, str(catalog_file(tmp_path, {"absent": f"labkit-tests/absent:{run_tag}"})))
    row = doctor.disk_row({"Name": "docker-desktop", "DockerRootDir": "/var/lib/docker"}, DESKTOP)
    assert (row.status, row.required) == ("warn", False)
    assert row.detail.startswith("unknown (engine in a VM)")


@pytest.mark.docker
def test_the_disk_measured_inside_the_engine_is_the_disk_of_its_store(
    docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first image has no `df` (chiseled), so the measurement moves on to the next one."""
    refs = {"no-df": catalog.image("aspnet-chiseled"), "with-df": catalog.image("runtime-deps")}
    if not all(image_info.exists(ref) for ref in refs.values()):
        pytest.skip(f"needs {' and '.join(refs.values())} on the engine (`python -m labkit prepull`)")
    root = Path(docker_client.info()["DockerRootDir"])
    if not root.is_dir():
        pytest.skip("the engine's store is not on this host, so there is nothing to compare with")
    monkeypatch.setenv(catalog.CATALOG_ENV, str(catalog_file(tmp_path, refs)))
    inside = store.free_in_engine()
    assert inside is not None
    assert abs(inside - shutil.disk_usage(root).free) < GB  # other work on the shared disk moves it a little


@pytest.mark.docker
def test_doctor_says_which_engine_which_store_and_its_free_disk(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    """Every figure is compared with what the docker CLI reports for the same engine."""
    host = cli("context", "inspect", "--format", "{{.Endpoints.docker.Host}}")
    driver = cli("info", "--format", "{{.Driver}}")
    status = json.loads(cli("info", "--format", "{{json .DriverStatus}}"))
    root = Path(cli("info", "--format", "{{.DockerRootDir}}"))
    present = next(entry.ref for entry in catalog.images() if image_info.exists(entry.ref))  # tests never remove these
    env = {**os.environ, catalog.CATALOG_ENV: str(catalog_file(tmp_path, {"base": present}))}
    done = labkit("doctor", env=env)
    lines = {
        line.split("│")[2].split("(optional)")[0].strip(): line.split("│")[3].strip()
        for line in done.stdout.splitlines()
        if line.count("│") == 4 and line.split("│")[2].strip()
    }
    assert lines["Docker endpoint"].startswith(f"{host} (")
    if ["driver-type", "io.containerd.snapshotter.v1"] in status:
        assert lines["Image store"] == f"containerd image store (snapshotter {driver})"
    else:
        assert lines["Image store"] == f"classic image store (storage driver {driver})"
    if store.engine_on_this_host(docker_client.info(), endpoint()):
        free, where = lines["Free disk"].split(" GB free at ")
        where, _, warning = where.partition("; ")  # a disk short of room: "...; the labs want 10 GB"
        assert Path(where) in (root, store.CONTAINERD_ROOT)
        assert abs(float(free) - shutil.disk_usage(where).free / GB) < 1.0
        assert warning in ("", f"the labs want {doctor.MIN_FREE_GB:.0f} GB")
        if abs(float(free) - doctor.MIN_FREE_GB) >= 1.0:  # near the bar, the other tests' writes may cross it
            assert bool(warning) == (float(free) < doctor.MIN_FREE_GB)
