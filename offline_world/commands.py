"""up, down, status and env: the world's commands, one `up` or `down` at a time on a machine."""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labkit.errors import LabError
from offline_world import engine, ghcr, hosts, hub, registry
from offline_world.base import BASE_IMAGE, base_image, ensure_base
from offline_world.machine import (
    ADDRESSES,
    DATABASE_SUITE,
    DOCKER_HUB,
    ENGINE_SUITE,
    HTTPS_PORT,
    MCR,
    STATE,
    SYSTEM_PATH,
    PartTimes,
    say,
)
from offline_world.preflight import DebianMirrors, DotnetInstall, Refused, preflight
from offline_world.standins import (
    archive,
    build_all,
    dotnet_tag,
    push,
    recipe_hashes,
    remove_if_untagged,
    standins,
)

LOCK = STATE / "lock"


def up(environ: dict[str, str]) -> Path:
    """Bring the world up, or refuse; on a failure half-way, undo what was done. Returns the shim folder."""
    problems, install, mirrors = preflight(environ)
    if problems:
        raise Refused(problems)
    assert install is not None and mirrors is not None
    with exclusive():
        try:
            return bring_up(install, mirrors)
        except BaseException:
            say("failed: undoing the changes to this machine")
            try:
                down()
            except LabError as exc:
                say(str(exc))
            raise


@contextmanager
def exclusive() -> Iterator[None]:
    """One `up` or `down` at a time on this machine."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another up or down to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def bring_up(install: DotnetInstall, mirrors: DebianMirrors) -> Path:
    # From here on, system tools run (apt-get, debootstrap, dockerd); PATH only had to pick `dotnet`.
    os.environ["PATH"] = f"{SYSTEM_PATH['PATH']}:{os.environ.get('PATH', '')}"
    times = PartTimes()
    with times.part("Docker Engine from Debian, TLS and the engine's configuration"):
        shim = start_engine(mirrors)
    with times.part("Debian base images (debootstrap)"):
        base = ensure_base(mirrors)
        database_base = ensure_base(mirrors, DATABASE_SUITE)
    with times.part("stand-in images"):
        images = standins(install, BASE_IMAGE, registry.registry_version(), archive(base_image(DATABASE_SUITE)))
        built = build_all(images, recipe_hashes(images, f"{base} {database_base}"))
        for _, _, replaced in reversed(built):  # top of the stack first: a base goes once its children have
            if replaced is not None:
                remove_if_untagged(replaced)
    with times.part("registries: stand-ins pushed, Docker Hub and its token service, ghcr.io"):
        registry.ensure_registry()
        for standin, image_id, _ in built:
            push(standin, image_id)
        hub.ensure_hub([standin.repo for standin in images if standin.host == DOCKER_HUB])
        ghcr.ensure_ghcr()
        hosts.add_hosts_entry()
    with times.part("first pulls through the served names"):
        engine.pull_when_resolved(f"{MCR}/dotnet/sdk:{dotnet_tag(install.runtime)}")
        engine.pull_when_resolved(images[-1].ref())
    served = ", ".join(f"{name} ({address})" for name, address in ADDRESSES.items())
    say(f"up in {times.total()}: {len(built)} stand-ins served on port {HTTPS_PORT} as {served}")
    say(f"put {shim} first on PATH and export DOCKER_BUILDKIT=1")
    return shim


def start_engine(mirrors: DebianMirrors) -> Path:
    """Docker from Debian, running, trusting the world's CA and using its Docker Hub mirror; the shim folder."""
    engine.ensure_packages(mirrors.main)
    ca = registry.ensure_tls()
    hosts.install_certs(ca)
    hosts.trust_in_system(ca)
    engine.add_hub_mirror()
    engine.ensure_dockerd()
    if not engine.engine_has_mirror():
        engine.reload_dockerd(expect_mirror=True)
    if engine.engine_predates(hosts.ca_file(MCR)):
        say("dockerd started before the CA was in /etc/docker/certs.d (BuildKit reads it only then): restarting it")
        engine.stop_dockerd()
        engine.start_dockerd()
    return engine.ensure_shim()


def down() -> list[str]:
    """Undo what `up` changed on the machine; images, caches and registry storage stay.

    Every step is tried even when an earlier one fails, so a failing `up` that calls this still
    leaves nothing half-configured that could be undone; the failures are raised together."""
    steps = [
        (hosts.remove_hosts_entry, f"removed the {', '.join(ADDRESSES)} entries from {hosts.HOSTS}"),
        (lambda: hosts.remove_certs(registry.our_ca()), f"removed the CA from {hosts.CERTS_D}"),
        (hosts.untrust_in_system, f"removed the CA from the machine's CA store ({hosts.CA_CONF})"),
        (engine.remove_hub_mirror, f"removed the Docker Hub mirror from {engine.DAEMON_JSON}"),
        (registry.stop_registry, "stopped the registry"),
        (hub.stop_hub, "stopped the Docker Hub registry and its token service"),
        (ghcr.stop_ghcr, "stopped the ghcr.io registry"),
        (engine.restore_image_store, f"restored the image store setting in {engine.DAEMON_JSON}"),
        (engine.remove_engine_source, f"removed the {ENGINE_SUITE} apt source and pin (the engine stays)"),
    ]
    undone, failures = [], []
    for step, done in steps:
        try:
            if step():
                undone.append(done)
        except (LabError, OSError) as exc:
            failures.append(f"{done.split(' ', 1)[1]}: failed ({exc})")
    if failures:
        raise LabError("could not undo everything: " + "; ".join(failures))
    return undone


def status() -> dict[str, bool]:
    return {
        "hosts entry": hosts.hosts_entry_present(),
        "CA in /etc/docker/certs.d": hosts.certs_installed(registry.our_ca()),
        "CA in the machine's CA store": hosts.system_trusts(registry.our_ca()),
        "registry": registry.registry_pid() is not None and registry.registry_ok(),
        "Docker Hub registry asking for a token": hub.hub_running(),
        "ghcr.io registry": ghcr.ghcr_running(),
        "Docker Hub mirror": engine.hub_mirror_in_use(),
    }


def use_image_store(store: str | None) -> str:
    """Switch the engine to `store` (or only report it when None); the store it runs with now."""
    if store is not None:
        with exclusive():
            engine.use_image_store(store)
    return engine.image_store()


def env_lines() -> str:
    """Shell lines for `eval`: the Debian docker client first on PATH, BuildKit on."""
    return f'export PATH="{engine.SHIM}:$PATH" DOCKER_BUILDKIT=1'
