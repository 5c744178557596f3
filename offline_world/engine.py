"""The Docker engine and tools from Debian's archive: packages, dockerd, the client, the Hub mirror.

The engine is Docker Engine 26 with buildx and compose v2 from Debian trixie, the engine family
learners have (Docker Desktop and current Docker Engine), on a bookworm host: those five packages
need nothing newer than bookworm's libc, so an apt pin takes just them from trixie and the rest of
the machine stays bookworm. It runs with either image store, classic (overlay2) or containerd.

What the rest of the world asks of an engine: `ensure_packages`, `ensure_dockerd`, `ensure_shim`,
`docker`, `find_image`, `pull_when_resolved`, the Docker Hub mirror (`add_hub_mirror`,
`remove_hub_mirror`, `engine_has_mirror`, `reload_dockerd`, `hub_mirror_in_use`), the image store
(`use_image_store`, `image_store`, `restore_image_store`) and `engine_predates`.
"""

import json
import os
import shutil
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from docker.errors import ImageNotFound
from docker.models.images import Image

from labkit.docker_access import client, reachable, reset_client
from labkit.engine.store import containerd_store
from labkit.errors import CommandFailed, LabError
from labkit.shell import tail
from labkit.waiting import stop_process
from offline_world.machine import DOCKER_HUB, ENGINE_SUITE, STATE, SYSTEM_PATH, read, run, say, start_detached, wait_for

ENGINE_PACKAGES = ("docker.io", "docker-cli", "docker-buildx", "docker-compose", "containerd")
ENGINE_MAJOR = 26
TOOL_PACKAGES = {
    "docker-registry": "docker-registry",
    "debootstrap": "debootstrap",
    "openssl": "openssl",
    "update-ca-certificates": "ca-certificates",  # the world's CA in the machine's CA store
}
CLI_PLUGINS = Path("/usr/libexec/docker/cli-plugins")
APT_SOURCE = Path("/etc/apt/sources.list.d/containerizing-dotnet-trixie.list")
APT_PIN = Path("/etc/apt/preferences.d/containerizing-dotnet-trixie")
DOCKER = "/usr/bin/docker"
SHIM = STATE / "bin"
DOCKERD_LOG = Path("/var/log/containerizing-dotnet-offline-dockerd.log")
DOCKERD_PID = Path("/var/run/docker.pid")
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
DAEMON_JSON = Path("/etc/docker/daemon.json")
MIRROR_RECORD = STATE / "daemon-json.mirror"
STORE_RECORD = STATE / "daemon-json.store"
HUB_MIRROR = f"https://{DOCKER_HUB}"
STORES = ("classic", "containerd")
CONTAINERD_FEATURE = "containerd-snapshotter"


def ensure_packages(mirror: str) -> None:
    """Install what is missing: the engine from Debian trixie (pinned), the tools from bookworm."""
    missing = sorted({package for tool, package in TOOL_PACKAGES.items() if not _has_tool(tool)})
    engine_missing = not engine_installed()
    if not missing and not engine_missing:
        return
    if engine_missing:
        _add_engine_source(mirror)
        missing += ENGINE_PACKAGES
    say(f"installing {' '.join(missing)} from the Debian archive")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], env=env)
    with services_held_back():
        run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env)


def engine_installed() -> bool:
    """Docker Engine 26 or newer with the buildx and compose plugins."""
    try:
        version = run(["dpkg-query", "-W", "-f", "${Version}", "docker.io"], quiet=True, env=SYSTEM_PATH)
    except CommandFailed:
        return False
    major = version.split(":")[-1].split(".", 1)[0]
    plugins = all((CLI_PLUGINS / f"docker-{name}").exists() for name in ("buildx", "compose"))
    return major.isdigit() and int(major) >= ENGINE_MAJOR and plugins


def _add_engine_source(mirror: str) -> None:
    """trixie as an apt source that only the engine's packages come from (priority 1 for the rest)."""
    APT_SOURCE.write_text(f"# containerizing-dotnet-offline: the Docker engine\ndeb {mirror} {ENGINE_SUITE} main\n")
    APT_PIN.write_text(
        "# containerizing-dotnet-offline: only the Docker engine comes from trixie\n"
        f"Package: *\nPin: release n={ENGINE_SUITE}\nPin-Priority: 1\n\n"
        f"Package: {' '.join(ENGINE_PACKAGES)}\nPin: release n={ENGINE_SUITE}\nPin-Priority: 990\n"
    )


def remove_engine_source() -> bool:
    """Take the trixie source and pin away again; the installed engine stays, as docker.io would."""
    present = APT_SOURCE.exists() or APT_PIN.exists()
    APT_SOURCE.unlink(missing_ok=True)
    APT_PIN.unlink(missing_ok=True)
    return present


@contextmanager
def services_held_back() -> Iterator[None]:
    """Keep the packages from starting dockerd on install (Debian's policy-rc.d convention).

    dockerd reads /etc/docker/certs.d and the registry mirror for BuildKit only when it starts, so
    it must start after they are in place, which ensure_dockerd does."""
    if POLICY_RC_D.exists():
        yield
        return
    POLICY_RC_D.write_text("#!/bin/sh\n# containerizing-dotnet-offline: no service starts during install\nexit 101\n")
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def _has_tool(tool: str) -> bool:
    return shutil.which(tool, path=SYSTEM_PATH["PATH"]) is not None


def ensure_dockerd(timeout: float = 60.0) -> None:
    """Start the engine when none answers; restart one that predates the installed Docker 26."""
    if reachable() is None and not _engine_outdated():
        return
    if reachable() is None:
        say(f"the running engine predates Docker {ENGINE_MAJOR}: restarting it")
        stop_dockerd()
    else:
        say("no Docker engine answers: starting one")
    start_dockerd(timeout)


def _engine_outdated() -> bool:
    version = str(client().version().get("Version", "0"))
    major = version.split(".", 1)[0]
    return not major.isdigit() or int(major) < ENGINE_MAJOR


def start_dockerd(timeout: float = 60.0) -> None:
    if Path("/run/systemd/system").is_dir():
        run(["systemctl", "start", "docker"])
    else:
        start_detached(["dockerd"], DOCKERD_LOG)
    reset_client()
    wait_for(
        lambda: reachable() is None,
        timeout=timeout,
        interval=1,
        what="the Docker engine answering",
        why_not=_why_not_answering,
    )


def _why_not_answering() -> str:
    last = tail(read(DOCKERD_LOG), 1)
    if last == "context deadline exceeded" and _configured_store() == STORES[1]:
        return (
            "dockerd gave up after 10 s reading its build cache, a bug of Docker 26 under the containerd "
            f"store with a large cache (moby/moby#48569, fixed in 27.4). `python -m offline_world store {STORES[0]}` "
            "starts it without that cache; or start it again, then empty the cache with `docker builder prune -af`"
        )
    return f"{reachable()}; last line of {DOCKERD_LOG}: {last or '(empty)'}"


def _configured_store() -> str:
    features = _daemon_config().get("features")
    return STORES[1] if isinstance(features, dict) and features.get(CONTAINERD_FEATURE) else STORES[0]


def stop_dockerd() -> None:
    """Stop the engine and wait until it is gone (containers stop with it; images stay).

    Under the containerd store it first empties the build cache: as it starts with that store,
    Docker 26 reads every build-cache record within a 10 s limit and exits when they take longer
    (moby/moby#48569, fixed in 27.4). A test run leaves thousands of records, so an engine stopped
    with them may never answer again. The classic store's build cache is not read that way."""
    if reachable() is None and image_store() == STORES[1]:
        say("emptying the containerd store's build cache before the engine stops (moby/moby#48569)")
        docker(["builder", "prune", "--all", "--force"], quiet=True)
    if Path("/run/systemd/system").is_dir():
        run(["systemctl", "stop", "docker"])
    else:
        pid = read(DOCKERD_PID).strip()
        if pid.isdigit():
            stop_process(int(pid), grace=30)
    reset_client()


def engine_predates(path: Path, pid_file: Path = DOCKERD_PID) -> bool:
    """True when the running dockerd started before `path` was written.

    BuildKit inside dockerd 20.10 reads /etc/docker/certs.d and the registry mirrors once, when
    dockerd starts; `docker pull` reads them on every pull. dockerd writes its pid file as it
    starts, so that file's modification time is the start time, to the nanosecond."""
    try:
        started = pid_file.stat().st_mtime_ns
        written = path.stat().st_mtime_ns
    except FileNotFoundError:
        return False
    return written > started


def ensure_shim() -> Path:
    """A folder whose `docker` is Debian's client (with its buildx and compose plugins), to put first
    on PATH: some machines have a newer client first on PATH that has no buildx plugin."""
    SHIM.mkdir(parents=True, exist_ok=True)
    link = SHIM / "docker"
    if not (link.is_symlink() and os.readlink(link) == DOCKER):
        link.unlink(missing_ok=True)
        link.symlink_to(DOCKER)
    return SHIM


def docker(arguments: Sequence[str], *, quiet: bool = False, timeout: float = 900) -> str:
    """The Debian client with BuildKit on, whatever `docker` comes first on PATH."""
    return run([DOCKER, *arguments], env={"DOCKER_BUILDKIT": "1"}, quiet=quiet, timeout=timeout)


def find_image(ref: str) -> Image | None:
    try:
        return client().images.get(ref)
    except ImageNotFound:
        return None


def pull_when_resolved(ref: str, timeout: float = 20.0) -> None:
    """`docker pull ref`, retried while dockerd still uses its cached copy of /etc/hosts (Go
    re-reads the file at most every 5 seconds)."""
    failures: list[str] = []

    def pulled() -> bool:
        try:
            docker(["pull", "-q", ref], quiet=True)
        except CommandFailed as exc:
            failures.append(tail(exc.tail, 1) or str(exc))
            return False
        return True

    wait_for(pulled, timeout=timeout, interval=1, what=f"docker pull {ref}", why_not=lambda: failures[-1])


def _daemon_config() -> dict[str, object]:
    text = read(DAEMON_JSON)
    try:
        config = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise LabError(f"{DAEMON_JSON} is not valid JSON ({exc}); fix it first") from exc
    if not isinstance(config, dict):
        raise LabError(f"{DAEMON_JSON} does not hold a JSON object; fix it first")
    return config


def _write_daemon_config(config: dict[str, object]) -> None:
    DAEMON_JSON.write_text(json.dumps(config, indent=2) + "\n")


def _mirrors(config: dict[str, object]) -> list[str]:
    value = config.get("registry-mirrors", [])
    return [str(item) for item in value] if isinstance(value, list) else []


def add_hub_mirror() -> None:
    """Serve Docker Hub names (registry:2) through a registry mirror in /etc/docker/daemon.json.

    dockerd checks Docker Hub's certificate against the system CAs only: it never reads
    /etc/docker/certs.d for it, so the hosts entry alone is not enough. For a mirror it does read
    certs.d, and a mirror can be added without restarting the engine (SIGHUP reloads it)."""
    config = _daemon_config()
    if HUB_MIRROR in _mirrors(config):
        return
    MIRROR_RECORD.write_text("added" if DAEMON_JSON.exists() else "created")
    config["registry-mirrors"] = [HUB_MIRROR, *_mirrors(config)]
    DAEMON_JSON.parent.mkdir(parents=True, exist_ok=True)
    _write_daemon_config(config)


def remove_hub_mirror() -> bool:
    record = read(MIRROR_RECORD).strip()
    if not record:
        return False
    config = _daemon_config()
    mirrors = [mirror for mirror in _mirrors(config) if mirror != HUB_MIRROR]
    # dockerd reloads only the keys present in the file, so an empty list clears the mirror
    config["registry-mirrors"] = mirrors
    _write_daemon_config(config)
    if reachable() is None:
        reload_dockerd(expect_mirror=False)
    if not mirrors:
        config.pop("registry-mirrors")
        if not config and record == "created":
            DAEMON_JSON.unlink()
        else:
            _write_daemon_config(config)
    MIRROR_RECORD.unlink()
    return True


def engine_has_mirror() -> bool:
    mirrors = client().info().get("RegistryConfig", {}).get("Mirrors") or []
    return any(str(mirror).rstrip("/") == HUB_MIRROR for mirror in mirrors)


def hub_mirror_in_use() -> bool:
    """The mirror is in daemon.json and the running engine uses it."""
    return HUB_MIRROR in _mirrors(_daemon_config()) and reachable() is None and engine_has_mirror()


def reload_dockerd(expect_mirror: bool, timeout: float = 15.0) -> None:
    """SIGHUP makes dockerd re-read daemon.json; wait until it shows the mirror change."""
    try:
        os.kill(int(read(DOCKERD_PID).strip()), signal.SIGHUP)
    except (ValueError, ProcessLookupError) as exc:
        raise LabError(f"cannot reload dockerd: no live pid in {DOCKERD_PID}") from exc
    wait_for(
        lambda: engine_has_mirror() == expect_mirror,
        timeout=timeout,
        what=f"dockerd picking up the registry mirror change in {DAEMON_JSON}",
        why_not=lambda: f"the engine {'still lists' if engine_has_mirror() else 'does not list'} {HUB_MIRROR}",
    )


def image_store() -> str:
    """The running engine's image store: "containerd" when the snapshotter serves images, else "classic"."""
    return STORES[1] if containerd_store(client().info()) else STORES[0]


def use_image_store(store: str) -> bool:
    """Run the engine with `store` (daemon.json's containerd-snapshotter feature); restart it when
    that changes anything. Images of the other store stay on disk but out of sight until switched back."""
    if store not in STORES:
        raise LabError(f"unknown image store {store!r}: use one of {', '.join(STORES)}")
    if reachable() is None and image_store() == store:
        return False
    config = _daemon_config()
    if not STORE_RECORD.exists():
        features = config.get("features")
        STORE_RECORD.write_text(json.dumps(features if isinstance(features, dict) else None))
    current = config.get("features")
    features = dict(current) if isinstance(current, dict) else {}
    features[CONTAINERD_FEATURE] = store == STORES[1]
    config["features"] = features
    _write_daemon_config(config)
    say(f"restarting the engine with the {store} image store")
    stop_dockerd()
    start_dockerd()
    if image_store() != store:
        raise LabError(f"the engine did not switch to the {store} image store; see {DOCKERD_LOG}")
    return True


def restore_image_store() -> bool:
    """Put daemon.json's features back as they were before the world switched stores."""
    if not STORE_RECORD.exists():
        return False
    before = json.loads(read(STORE_RECORD) or "null")
    config = _daemon_config()
    if before is None:
        config.pop("features", None)
    else:
        config["features"] = before
    _write_daemon_config(config)
    STORE_RECORD.unlink()
    wanted = _configured_store()
    if reachable() is None and image_store() != wanted:
        say(f"restarting the engine with the {wanted} image store it had before")
        stop_dockerd()
        start_dockerd()
    return True
