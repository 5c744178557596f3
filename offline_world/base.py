"""The bottom image every stand-in is built on: Debian made with debootstrap on this machine."""

import shutil
from pathlib import Path

from offline_world.engine import docker, find_image
from offline_world.machine import CACHE, LABEL, RECIPE, SUITE, recipe_digest, run, say
from offline_world.preflight import DebianMirrors

BASE_LABEL = "org.containerizing-dotnet.offline.rootfs"


def base_image(suite: str = SUITE) -> str:
    return f"containerizing-dotnet-offline/debian:{suite}"


BASE_IMAGE = base_image()


def ensure_base(mirrors: DebianMirrors, suite: str = SUITE) -> str:
    """The bottom image: `debootstrap --variant=minbase`, trimmed like Debian's official image.

    The rootfs tarball is cached under CACHE; its name carries a hash of how it was made, so a
    changed recipe makes a new one and an unchanged one is never bootstrapped twice."""
    prepare = RECIPE / "base" / "prepare-rootfs.sh"
    name = f"debian-{suite}-minbase-{recipe_digest([prepare], mirrors.main, mirrors.security or '')}"
    image = find_image(base_image(suite))
    if image is not None and image.labels.get(BASE_LABEL) == name:
        return str(image.id)
    tarball = CACHE / "base" / f"{name}.tar"
    if not tarball.exists():
        _bootstrap(tarball, prepare, mirrors, suite)
    label = f"LABEL {LABEL}=base {BASE_LABEL}={name}"
    docker(["import", "--change", label, "--change", 'CMD ["bash"]', str(tarball), base_image(suite)])
    image = find_image(base_image(suite))
    assert image is not None
    return str(image.id)


def _bootstrap(tarball: Path, prepare: Path, mirrors: DebianMirrors, suite: str) -> None:
    say(f"bootstrapping Debian {suite} (minbase) from {mirrors.main}")
    rootfs = tarball.with_suffix(".rootfs")
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.mkdir(parents=True)
    run(["debootstrap", "--variant=minbase", suite, str(rootfs), mirrors.main], timeout=1200)
    run(["sh", str(prepare), str(rootfs), suite, mirrors.main, mirrors.security or ""])
    partial = tarball.with_name(f"{tarball.name}.part")
    run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."])
    partial.replace(tarball)
    shutil.rmtree(rootfs)
    for stale in tarball.parent.glob(f"debian-{suite}-minbase-*.tar"):
        if stale != tarball:
            stale.unlink()
