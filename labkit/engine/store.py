"""Facts about the engine's image store: which kind it is (classic or containerd), and the disk free under it.

The doctor shows them; prepull and the classroom refuse to fill a disk that cannot hold the images;
the offline world asks which store the engine runs.
"""

import shutil
import socket
from pathlib import Path
from typing import Any

from docker.errors import DockerException

from labkit import catalog, names
from labkit.docker_access import Endpoint, client
from labkit.engine import image_info
from labkit.errors import CatalogError

GB = 1_000_000_000
CONTAINERD_STORE = "io.containerd.snapshotter.v1"  # moby daemon/containerd/service.go, LayerStoreStatus
CONTAINERD_ROOT = Path("/var/lib/containerd")  # where a system containerd keeps the store's snapshots


def containerd_store(info: dict[str, Any]) -> bool:
    """The engine keeps images in containerd (Docker Desktop's default, Engine 29's on new installs)."""
    return any(list(pair) == ["driver-type", CONTAINERD_STORE] for pair in info.get("DriverStatus") or [])


def free_disk(info: dict[str, Any], used: Endpoint) -> tuple[int, str] | None:
    """(bytes free, where) for the engine's image store; None when it cannot be measured."""
    return _free_on_this_host(info) if engine_on_this_host(info, used) else _free_in_the_engine(info)


def engine_on_this_host(info: dict[str, Any], used: Endpoint) -> bool:
    """A local socket can still lead into a VM (Docker Desktop, Colima, OrbStack): its engine has another name."""
    return (
        used.host.startswith("unix://")
        and info.get("Name") == socket.gethostname()
        and Path(str(info.get("DockerRootDir"))).is_dir()
    )


def _free_on_this_host(info: dict[str, Any]) -> tuple[int, str]:
    stores = [Path(str(info["DockerRootDir"]))]
    if containerd_store(info) and CONTAINERD_ROOT.is_dir():
        stores.append(CONTAINERD_ROOT)
    free, store = min((shutil.disk_usage(store).free, store) for store in stores)
    return free, f"at {store}"


def _free_in_the_engine(info: dict[str, Any]) -> tuple[int, str] | None:
    free = free_in_engine()
    return None if free is None else (free, f"inside the engine ({info.get('Name')}, {info.get('DockerRootDir')})")


def free_in_engine() -> int | None:
    """Bytes free under the engine's image store, seen by `df /` in a throwaway container.

    A container's root is an overlay whose writable layer sits in the store, so `df /` reports
    that disk. The image is a course image already present (none is pulled); None without one.
    """
    try:
        present = [entry.ref for entry in catalog.images() if image_info.exists(entry.ref)]
    except CatalogError:
        return None
    for ref in present:
        output = _run_df(ref)
        if output is not None:
            return int(output.splitlines()[-1].split()[3]) * 1024
    return None


def _run_df(ref: str) -> str | None:
    """`df -Pk /` in a labelled container of `ref`, removed afterwards; None if the image has no df,
    or if its output was lost."""
    container = client().containers.create(
        ref, entrypoint=["df", "-Pk", "/"], labels=names.labels("doctor"), network_disabled=True
    )
    try:
        container.start()
        if container.wait(timeout=60).get("StatusCode") != 0:
            return None
        # Docker 26 now and then loses all the output of a process that ends at once (tests/helpers.py)
        return str(container.logs(stdout=True, stderr=False).decode()) or None
    except DockerException:
        return None
    finally:
        container.remove(force=True)
