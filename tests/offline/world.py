"""The offline world: the .NET images under their real names on a machine that cannot reach MCR.

    COURSE_OFFLINE_WORLD=1 python tests/offline/world.py up      # idempotent; prints the shim folder
    python tests/offline/world.py down                           # undo every change to the machine
    python tests/offline/world.py status
    eval "$(python tests/offline/world.py env)"                 # the Debian docker client first on PATH

`up` assembles stand-ins for mcr.microsoft.com/dotnet/{runtime-deps,runtime,aspnet,sdk} (and the
chiseled runtime-deps/runtime/aspnet, and Docker Hub's registry:2) from the machine's own .NET SDK
on a debootstrapped Debian 12 base, following the official recipe (tests/offline/recipe/), and serves
them from Debian's docker-registry on 127.0.0.1:443 with a locally made certificate, a hosts entry
and /etc/docker/certs.d, so `docker pull mcr.microsoft.com/dotnet/sdk:10.0` works unmodified.

It runs only when switched on (COURSE_OFFLINE_WORLD=1) and refuses a machine that reaches the real
registry. It either finishes or leaves the machine as `down` does. Images and caches stay: the second
`up` rebuilds nothing unless the recipe, the SDK or the base changed (a hash kept as an image label).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from docker.errors import ImageNotFound
from docker.models.images import Image

from labkit import run
from labkit.docker_access import client, reachable
from labkit.errors import LabError
from labkit.names import LOOPBACK, port_in_use
from labkit.shell import tail

SWITCH = "COURSE_OFFLINE_WORLD"
# The system's own tools, whatever PATH the caller has (PATH only decides which `dotnet` is used)
SYSTEM_PATH = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
MARKER = "# containerizing-dotnet-offline"
STATE = Path("/var/lib/containerizing-dotnet-offline")
CACHE = Path("/var/cache/containerizing-dotnet-offline")
SHIM = STATE / "bin"
TLS_DIR = STATE / "tls"
REGISTRY_STORAGE = STATE / "registry"
REGISTRY_CONFIG = STATE / "registry.yml"
REGISTRY_PID = STATE / "registry.pid"
REGISTRY_LOG = STATE / "registry.log"
REGISTRY_BINARY = "/usr/bin/docker-registry"
DOCKER = "/usr/bin/docker"
DOCKERD_LOG = Path("/var/log/containerizing-dotnet-offline-dockerd.log")
HOSTS = Path("/etc/hosts")
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
DAEMON_JSON = Path("/etc/docker/daemon.json")
DOCKERD_PID = Path("/var/run/docker.pid")
MIRROR_RECORD = STATE / "daemon-json.mirror"
CERTS_D = Path("/etc/docker/certs.d")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
RECIPE = Path(__file__).resolve().parent / "recipe"

HTTPS_PORT = 443
MCR = "mcr.microsoft.com"
DOCKER_HUB = "registry-1.docker.io"
SERVED_HOSTS = (MCR, DOCKER_HUB)
HUB_MIRROR = f"https://{DOCKER_HUB}"
CERT_NAMES = (*SERVED_HOSTS, "localhost")
PUSH_HOST = "localhost"
SUITE = "bookworm"
PACKAGES = {
    "docker": "docker.io",
    "dockerd": "docker.io",
    "docker-registry": "docker-registry",
    "debootstrap": "debootstrap",
    "openssl": "openssl",
}

LABEL = "org.containerizing-dotnet.offline"
RECIPE_LABEL = "org.containerizing-dotnet.offline.recipe"
BASE_IMAGE = "containerizing-dotnet-offline/debian:bookworm"
BASE_LABEL = "org.containerizing-dotnet.offline.rootfs"
MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json"


class Refused(LabError):
    """Preflight found reasons not to touch this machine; one line per reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problems))


def say(text: str) -> None:
    print(f"offline world: {text}", flush=True)


# ---------------------------------------------------------------- facts about the machine


@dataclass(frozen=True)
class DotnetInstall:
    """The machine's .NET: where it lives and the versions the stand-ins carry (ASP.NET Core ships
    with the same version number as the runtime)."""

    root: Path
    sdk: str
    runtime: str


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-")[0].split(".") if part.isdigit())


def _newest(folder: Path) -> str | None:
    found = [entry.name for entry in folder.iterdir() if entry.is_dir()] if folder.is_dir() else []
    return max(found, key=_version_key, default=None)


def find_dotnet(search_path: str | None) -> DotnetInstall | None:
    """The .NET SDK behind the `dotnet` found on `search_path`, or None when there is none.

    The runtime is the one the SDK itself runs on (its dotnet.runtimeconfig.json), which is what
    the official sdk image pairs it with."""
    found = shutil.which("dotnet", path=search_path)
    if found is None:
        return None
    root = Path(found).resolve().parent
    sdk = _newest(root / "sdk")
    if sdk is None:
        return None
    try:
        config = json.loads((root / "sdk" / sdk / "dotnet.runtimeconfig.json").read_text())
        runtime = str(config["runtimeOptions"]["framework"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (root / "shared" / "Microsoft.NETCore.App" / runtime).is_dir():
        return None
    if not (root / "shared" / "Microsoft.AspNetCore.App" / runtime).is_dir():
        return None
    return DotnetInstall(root, sdk, runtime)


@dataclass(frozen=True)
class DebianMirrors:
    main: str
    security: str | None


def _deb822_entries(text: str) -> Iterable[tuple[list[str], list[str], list[str]]]:
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
        if fields.get("enabled", "yes").lower() != "no":
            yield fields.get("types", "").split(), fields.get("uris", "").split(), fields.get("suites", "").split()


def _one_line_entries(text: str) -> Iterable[tuple[list[str], list[str], list[str]]]:
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 3 and words[0] in ("deb", "deb-src"):
            if words[1].startswith("["):
                while words and not words[1].endswith("]"):
                    words.pop(1)
                words.pop(1)
            if len(words) >= 3:
                yield [words[0]], [words[1]], [words[2]]


def debian_mirrors(sources: Sequence[Path] = APT_SOURCES, suite: str = SUITE) -> DebianMirrors | None:
    """The machine's configured Debian mirror for `suite` (and its security mirror), if any."""
    main: str | None = None
    security: str | None = None
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files += sorted(source.glob("*.list")) + sorted(source.glob("*.sources"))
        elif source.is_file():
            files.append(source)
    for path in files:
        text = path.read_text(errors="replace")
        entries = _deb822_entries(text) if path.suffix == ".sources" else _one_line_entries(text)
        for types, uris, suites in entries:
            if "deb" not in types or not uris:
                continue
            if suite in suites and main is None:
                main = uris[0].rstrip("/")
            if f"{suite}-security" in suites and security is None:
                security = uris[0].rstrip("/")
    return DebianMirrors(main, security) if main else None


def archive_problem(mirror: str, suite: str = SUITE, timeout: float = 5.0) -> str | None:
    """None when `mirror` serves `suite` (its Release file answers), else why not, in one line."""
    url = f"{mirror}/dists/{suite}/Release"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = str(getattr(exc, "reason", exc))
    return f"the Debian archive does not answer ({url}: {reason}); apt must reach it to build the images"


def hosts_addresses(name: str, hosts_text: str) -> list[str]:
    """Addresses /etc/hosts gives `name`, leaving out the lines this setup added."""
    found = []
    for line in hosts_text.splitlines():
        if MARKER in line:
            continue
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and name in words[1:]:
            found.append(words[0])
    return found


def dns_addresses(name: str) -> list[str]:
    """Addresses DNS gives `name`, bypassing /etc/hosts (where this setup points it at itself)."""
    try:
        output = run(["getent", "-s", "dns", "ahostsv4", name], quiet=True, timeout=10, env=SYSTEM_PATH)
    except LabError:
        return []
    return sorted({line.split()[0] for line in output.splitlines() if line.strip()})


def registry_answers(name: str, addresses: Sequence[str], timeout: float = 3.0) -> bool:
    """True when any of `addresses` answers an HTTPS request for https://<name>/v2/.

    Any HTTP answer counts (200, 401, even an error page): something serves that name, so the
    machine is not offline. The certificate is not checked for the same reason."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = f"GET /v2/ HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode()
    for address in addresses:
        try:
            with (
                socket.create_connection((address, HTTPS_PORT), timeout=timeout) as raw,
                context.wrap_socket(raw, server_hostname=name) as tls,
            ):
                tls.sendall(request)
                if tls.recv(16).startswith(b"HTTP/"):
                    return True
        except OSError:
            continue
    return False


def mcr_reachable(timeout: float = 3.0) -> bool:
    addresses = hosts_addresses(MCR, _read(HOSTS)) + dns_addresses(MCR)
    return registry_answers(MCR, addresses, timeout)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _registry_cmdline(pid: int) -> str:
    return _read(Path(f"/proc/{pid}/cmdline")).replace("\0", " ")


def registry_pid() -> int | None:
    """The pid of the registry this setup started, if it still runs."""
    try:
        pid = int(_read(REGISTRY_PID).strip())
    except ValueError:
        return None
    return pid if REGISTRY_BINARY in _registry_cmdline(pid) else None


def port_problem(host: str, port: int, ours: bool) -> str | None:
    """None when nothing listens on `host:port` (or this setup's registry does), else why not."""
    if ours or not port_in_use(port, host):
        return None
    return f"{host}:{port} is already taken by another program; the offline registry must listen there"


def root_problem(euid: int) -> str | None:
    if euid == 0:
        return None
    return "must run as root (it writes /etc/hosts and /etc/docker/certs.d and starts services): use sudo"


def switch_problem(environ: dict[str, str]) -> str | None:
    if environ.get(SWITCH) == "1":
        return None
    return f"switched off: set {SWITCH}=1 to build and serve stand-in images (CI's .ci/run does)"


def dotnet_problem(install: DotnetInstall | None) -> str | None:
    if install is not None:
        return None
    return "no .NET SDK: `dotnet` is not on PATH (or has no SDK and runtimes); install the .NET 10 SDK"


def foreign_certs_problem(ca: str | None) -> str | None:
    """A CA for a served name that this setup did not put there must not be overwritten."""
    for host in SERVED_HOSTS:
        existing = CERTS_D / host / "ca.crt"
        if existing.exists() and (ca is None or _read(existing) != ca):
            return f"{existing} exists and was not made by this setup; move it away first"
    return None


def preflight(environ: dict[str, str]) -> tuple[list[str], DotnetInstall | None, DebianMirrors | None]:
    """Every reason not to go ahead, each in one line; and the facts `up` needs."""
    problems = [switch_problem(environ), root_problem(os.geteuid())]
    install = find_dotnet(environ.get("PATH"))
    problems.append(dotnet_problem(install))
    mirrors = debian_mirrors()
    if mirrors is None:
        problems.append(f"no Debian {SUITE} entry in the apt sources (/etc/apt/sources.list[.d])")
    else:
        problems.append(archive_problem(mirrors.main))
    if mcr_reachable():
        problems.append(f"https://{MCR}/v2/ answers: this machine reaches the real registry, so it needs no stand-ins")
    problems.append(port_problem(LOOPBACK, HTTPS_PORT, ours=registry_pid() is not None))
    problems.append(foreign_certs_problem(_our_ca()))
    return [problem for problem in problems if problem], install, mirrors


def _our_ca() -> str | None:
    text = _read(TLS_DIR / "ca.crt")
    return text or None


# ---------------------------------------------------------------- docker engine and tools


def ensure_packages() -> None:
    """Install what is missing from Debian's archive (docker.io, docker-registry, debootstrap, openssl)."""
    missing = sorted({package for tool, package in PACKAGES.items() if not _has_tool(tool)})
    if not missing:
        return
    say(f"installing {' '.join(missing)} from the Debian archive")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get update", env=env)
    with services_held_back():
        run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env)


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
    """Start the engine when none answers (systemd if it runs, else dockerd in the background)."""
    if reachable() is None:
        return
    say("no Docker engine answers: starting one")
    if Path("/run/systemd/system").is_dir():
        run("systemctl start docker")
    else:
        run(f"nohup dockerd >>{DOCKERD_LOG} 2>&1 </dev/null &")
    deadline = time.monotonic() + timeout
    while (problem := reachable()) is not None:
        if time.monotonic() > deadline:
            raise LabError(f"dockerd did not answer within {timeout:.0f}s ({problem}); see {DOCKERD_LOG}")
        time.sleep(1)


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
    """A folder whose `docker` is Debian's 20.10 client (BuildKit built in), to put first on PATH."""
    SHIM.mkdir(parents=True, exist_ok=True)
    link = SHIM / "docker"
    if not (link.is_symlink() and os.readlink(link) == DOCKER):
        link.unlink(missing_ok=True)
        link.symlink_to(DOCKER)
    return SHIM


def docker(arguments: str, *, quiet: bool = False, timeout: float = 900) -> str:
    """The Debian client with BuildKit on, whatever `docker` comes first on PATH."""
    return run(f"{DOCKER} {arguments}", env={"DOCKER_BUILDKIT": "1"}, quiet=quiet, timeout=timeout)


# ---------------------------------------------------------------- the Debian base


def _digest(paths: Iterable[Path], *extra: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(RECIPE)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for value in extra:
        digest.update(value.encode() + b"\0")
    return digest.hexdigest()[:16]


def ensure_base(mirrors: DebianMirrors) -> str:
    """The bottom image: `debootstrap --variant=minbase`, trimmed like Debian's official image.

    The rootfs tarball is cached under CACHE; its name carries a hash of how it was made, so a
    changed recipe makes a new one and an unchanged one is never bootstrapped twice."""
    prepare = RECIPE / "base" / "prepare-rootfs.sh"
    name = f"debian-{SUITE}-minbase-{_digest([prepare], mirrors.main, mirrors.security or '')}"
    image = _image(BASE_IMAGE)
    if image is not None and image.labels.get(BASE_LABEL) == name:
        return str(image.id)
    tarball = CACHE / "base" / f"{name}.tar"
    if not tarball.exists():
        _bootstrap(tarball, prepare, mirrors)
    docker(f"import --change 'LABEL {LABEL}=base {BASE_LABEL}={name}' --change 'CMD [\"bash\"]' {tarball} {BASE_IMAGE}")
    image = _image(BASE_IMAGE)
    assert image is not None
    return str(image.id)


def _bootstrap(tarball: Path, prepare: Path, mirrors: DebianMirrors) -> None:
    say(f"bootstrapping Debian {SUITE} (minbase) from {mirrors.main}")
    rootfs = tarball.with_suffix(".rootfs")
    run(f"rm -rf {rootfs} && mkdir -p {rootfs}")
    run(f"debootstrap --variant=minbase {SUITE} {rootfs} {mirrors.main}", timeout=1200)
    run(["sh", str(prepare), str(rootfs), SUITE, mirrors.main, mirrors.security or ""])
    run(f"tar --numeric-owner -C {rootfs} -cf {tarball}.part . && mv {tarball}.part {tarball}")
    run(f"rm -rf {rootfs}")
    for stale in tarball.parent.glob(f"debian-{SUITE}-minbase-*.tar"):
        if stale != tarball:
            stale.unlink()


# ---------------------------------------------------------------- the stand-in images


@dataclass(frozen=True)
class Standin:
    """One image: its recipe folder, its names, and what its build context holds."""

    repo: str  # as the registry serves it: dotnet/sdk, library/registry
    tags: tuple[str, ...]
    recipe: str
    args: dict[str, str]
    payload: tuple[tuple[Path, str], ...] = ()  # (file or folder on this machine, path in the context)
    links: dict[str, str] = field(default_factory=dict)  # symlinks to make in the context

    @property
    def local(self) -> str:
        """The name `docker image ls` shows (Docker Hub's official images drop `library/`)."""
        return self.repo.removeprefix("library/") if self.repo.startswith("library/") else f"{MCR}/{self.repo}"

    def ref(self, tag: str | None = None) -> str:
        return f"{self.local}:{tag or self.tags[0]}"


def standins(dotnet: DotnetInstall, base: str, registry_version: str) -> list[Standin]:
    """Every image, bottom up: each one is built FROM an earlier one."""
    root, version, channel = dotnet.root, dotnet.runtime, dotnet_tag(dotnet.runtime)
    full, chiseled = (channel, version, "latest"), (f"{channel}-noble-chiseled", f"{version}-noble-chiseled")
    runtime = ["dotnet", "host", f"shared/Microsoft.NETCore.App/{version}", "LICENSE.txt", "ThirdPartyNotices.txt"]
    aspnet = [f"shared/Microsoft.AspNetCore.App/{version}"]
    sdk = ["dnx", "packs", f"sdk/{dotnet.sdk}", "sdk-manifests", "templates", "LICENSE.txt", "ThirdPartyNotices.txt"]

    def files(names: list[str]) -> tuple[tuple[Path, str], ...]:
        return tuple((root / name, f"dotnet/{name}") for name in names if (root / name).exists())

    def on(repo: str, tag: str) -> dict[str, str]:
        return {"REPO": f"{MCR}/dotnet/{repo}", "TAG": tag}

    return [
        Standin("dotnet/runtime-deps", full, "runtime-deps", {"BASE_IMAGE": base}),
        Standin(
            "dotnet/runtime",
            full,
            "runtime",
            {**on("runtime-deps", version), "DOTNET_VERSION": version},
            files(runtime),
        ),
        Standin("dotnet/aspnet", full, "aspnet", {**on("runtime", version), "ASPNET_VERSION": version}, files(aspnet)),
        Standin(
            "dotnet/sdk",
            (channel, dotnet.sdk, "latest"),
            "sdk",
            {**on("aspnet", version), "DOTNET_SDK_VERSION": dotnet.sdk},
            files(sdk),
        ),
        Standin("dotnet/runtime-deps", chiseled, "runtime-deps-chiseled", {"BASE_IMAGE": base}),
        Standin(
            "dotnet/runtime",
            chiseled,
            "runtime-chiseled",
            {**on("runtime-deps", chiseled[1]), "DOTNET_VERSION": version},
            files(runtime),
            {"bin/dotnet": "/usr/share/dotnet/dotnet"},
        ),
        Standin(
            "dotnet/aspnet",
            chiseled,
            "aspnet",
            {**on("runtime", chiseled[1]), "ASPNET_VERSION": version},
            files(aspnet),
        ),
        Standin(
            "library/registry",
            registry_tags(registry_version),
            "registry",
            {"BASE_IMAGE": base},
            ((Path(REGISTRY_BINARY), "docker-registry"),),
        ),
    ]


def dotnet_tag(version: str) -> str:
    """The channel tag of a version: 10.0.12 -> 10.0."""
    return ".".join(version.split(".")[:2])


def registry_tags(version: str) -> tuple[str, ...]:
    major, minor = version.split(".")[:2]
    return (major, f"{major}.{minor}", version)


def registry_version() -> str:
    """The docker-registry version, e.g. 2.8.2 (from `docker-registry --version`)."""
    output = run([REGISTRY_BINARY, "--version"], quiet=True)
    return output.split()[-1].split("+")[0].lstrip("v")


def recipe_hash(images: Sequence[Standin], base: str) -> str:
    """What the stand-ins are made of (recipe files, versions, tags, payload, base image id):
    a change in any of these rebuilds them."""
    files = [path for path in RECIPE.rglob("*") if path.is_file()]
    return _digest(files, base, *(repr(standin) for standin in images))


def _image(ref: str) -> Image | None:
    try:
        return client().images.get(ref)
    except ImageNotFound:
        return None


def build(standin: Standin, recipe: str) -> tuple[str, str | None]:
    """Build `standin` unless its first tag already carries this recipe hash, and tag it.

    Returns its id, and the id of the image it replaced (if it was rebuilt)."""
    image = _image(standin.ref())
    replaced = None
    if image is None or image.labels.get(RECIPE_LABEL) != recipe:
        replaced = None if image is None else str(image.id)
        context = _stage(standin)
        args = " ".join(f"--build-arg {key}={shlex.quote(value)}" for key, value in standin.args.items())
        tags = " ".join(f"-t {standin.ref(tag)}" for tag in standin.tags)
        say(f"building {standin.ref()}")
        labels = f"--label {LABEL}=standin --label {RECIPE_LABEL}={recipe}"
        # host network: apt reaches the archive as the host does (checked in preflight), NAT or not
        docker(f"build --network host --progress=plain {labels} {args} {tags} {context}", timeout=1800)
        run(f"rm -rf {context}")
        image = _image(standin.ref())
    assert image is not None
    for tag in standin.tags[1:]:
        image.tag(standin.local, tag)
    return str(image.id), replaced


def _remove_if_untagged(image_id: str) -> None:
    """Drop a stand-in this setup built before, once no tag names it; kept while images use it."""
    image = _image(image_id)
    if image is not None and not image.tags:
        docker(f"rmi {image_id} 2>/dev/null || true", quiet=True)


def _stage(standin: Standin) -> Path:
    """The build context under CACHE: the recipe files plus hard links to the machine's .NET files."""
    context = CACHE / "context" / f"{standin.recipe}-{standin.tags[0]}"
    run(f"rm -rf {context} && mkdir -p {context} && cp -a {RECIPE / standin.recipe}/. {context}/", quiet=True)
    for source, target in standin.payload:
        destination = context / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        run(f"cp -al {source} {destination} 2>/dev/null || cp -a {source} {destination}", quiet=True)
    for target, points_to in standin.links.items():
        (context / target).parent.mkdir(parents=True, exist_ok=True)
        (context / target).symlink_to(points_to)
    return context


# ---------------------------------------------------------------- TLS and the registry


def ensure_tls() -> str:
    """A local CA and a server certificate for every served name; made once, kept in STATE."""
    TLS_DIR.mkdir(parents=True, exist_ok=True)
    ca, key = TLS_DIR / "ca.crt", TLS_DIR / "ca.key"
    if not (ca.exists() and key.exists()):
        say("making a local certificate authority")
        run(
            f"openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj '/CN=containerizing-dotnet offline CA' "
            f"-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign "
            f"-keyout {key} -out {ca}",
            quiet=True,
        )
    names = ",".join([*(f"DNS:{name}" for name in CERT_NAMES), f"IP:{LOOPBACK}"])
    server, names_file = TLS_DIR / "server.crt", TLS_DIR / "server.names"
    if not server.exists() or _read(names_file) != names + ca.read_text():
        (TLS_DIR / "server.ext").write_text(
            f"subjectAltName={names}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        )
        run(
            f"cd {TLS_DIR} && openssl req -newkey rsa:2048 -nodes -subj '/CN={MCR}' "
            f"-keyout server.key -out server.csr && openssl x509 -req -in server.csr -CA ca.crt "
            f"-CAkey ca.key -CAcreateserial -days 825 -extfile server.ext -out server.crt",
            quiet=True,
        )
        names_file.write_text(names + ca.read_text())
    for private in TLS_DIR.glob("*.key"):
        private.chmod(0o600)
    return ca.read_text()


def registry_config() -> str:
    return f"""version: 0.1
log:
  level: warn
  fields:
    service: containerizing-dotnet-offline
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {REGISTRY_STORAGE}
  delete:
    enabled: true
http:
  addr: {LOOPBACK}:{HTTPS_PORT}
  tls:
    certificate: {TLS_DIR / "server.crt"}
    key: {TLS_DIR / "server.key"}
  headers:
    X-Content-Type-Options: [nosniff]
"""


def ensure_registry() -> None:
    """Debian's docker-registry on 127.0.0.1:443, restarted only when its config changed."""
    config = registry_config()
    if registry_pid() is not None and _read(REGISTRY_CONFIG) == config and _registry_ok():
        return
    stop_registry()
    REGISTRY_STORAGE.mkdir(parents=True, exist_ok=True)
    REGISTRY_CONFIG.write_text(config)
    say(f"starting the registry on {LOOPBACK}:{HTTPS_PORT}")
    pid = run(
        f"nohup {REGISTRY_BINARY} serve {REGISTRY_CONFIG} >>{REGISTRY_LOG} 2>&1 </dev/null & echo $!",
        quiet=True,
    ).strip()
    REGISTRY_PID.write_text(pid + "\n")
    deadline = time.monotonic() + 20
    while not _registry_ok():
        if registry_pid() is None or time.monotonic() > deadline:
            log = tail(_read(REGISTRY_LOG), 10)
            raise LabError(f"the registry did not start; last lines of {REGISTRY_LOG}:\n{log}")
        time.sleep(0.3)


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(TLS_DIR / "ca.crt"))


def _registry_get(path: str, accept: str = "application/json") -> tuple[int, bytes]:
    request = urllib.request.Request(f"https://{PUSH_HOST}{path}", headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=5, context=_tls_context()) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _registry_ok() -> bool:
    try:
        return _registry_get("/v2/")[0] == 200
    except (OSError, ssl.SSLError):
        return False


def stop_registry() -> bool:
    pid = registry_pid()
    REGISTRY_PID.unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if REGISTRY_BINARY not in _registry_cmdline(pid):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def served_config_digest(repo: str, tag: str) -> str | None:
    """The image id (config digest) the registry serves for repo:tag, or None."""
    status, body = _registry_get(f"/v2/{repo}/manifests/{tag}", accept=MANIFEST_TYPES)
    if status != 200:
        return None
    digest = json.loads(body).get("config", {}).get("digest")
    return str(digest) if digest else None


def push(standin: Standin, image_id: str) -> None:
    """Put every tag of `standin` in the registry, unless it already serves exactly this image.

    Pushed as localhost/<repo> (the same registry and storage): `docker push` of a Docker Hub name
    would go to the real Hub, and this way the hosts entries come last, once everything is served."""
    if all(served_config_digest(standin.repo, tag) == image_id for tag in standin.tags):
        return
    staging = f"{PUSH_HOST}/{standin.repo}"
    for tag in standin.tags:
        docker(f"tag {image_id} {staging}:{tag}", quiet=True)
    try:
        docker(f"push --all-tags {staging}", quiet=True, timeout=1800)
    finally:
        docker(f"rmi {' '.join(f'{staging}:{tag}' for tag in standin.tags)}", quiet=True)


# ---------------------------------------------------------------- hosts entry and certs.d


def hosts_line() -> str:
    return f"{LOOPBACK} {' '.join(SERVED_HOSTS)} {MARKER}"


def without_our_lines(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if MARKER not in line)


def add_hosts_entry() -> None:
    """Point the served names at the registry (written in place: /etc/hosts may be a bind mount)."""
    text = _read(HOSTS)
    if hosts_line() in text.splitlines():
        return
    text = without_our_lines(text)
    if text and not text.endswith("\n"):
        text += "\n"
    HOSTS.write_text(text + hosts_line() + "\n")


def remove_hosts_entry() -> bool:
    text = _read(HOSTS)
    kept = without_our_lines(text)
    if kept != text:
        HOSTS.write_text(kept)
    return kept != text


def install_certs(ca: str) -> None:
    for host in SERVED_HOSTS:
        target = CERTS_D / host / "ca.crt"
        if _read(target) != ca:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(ca)


def remove_certs() -> bool:
    ca = _our_ca()
    removed = False
    for host in SERVED_HOSTS:
        target = CERTS_D / host / "ca.crt"
        if ca is not None and _read(target) == ca:
            target.unlink()
            removed = True
            if not any(target.parent.iterdir()):
                target.parent.rmdir()
    if removed and not any(CERTS_D.iterdir()):
        CERTS_D.rmdir()  # an empty certs.d means nothing; up made it
    return removed


def pull_when_resolved(ref: str, timeout: float = 20.0) -> None:
    """`docker pull ref`, retried while dockerd still uses its cached copy of /etc/hosts (Go
    re-reads the file at most every 5 seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            docker(f"pull -q {ref}", quiet=True)
            return
        except LabError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _daemon_config() -> dict[str, object]:
    text = _read(DAEMON_JSON)
    try:
        config = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise LabError(f"{DAEMON_JSON} is not valid JSON ({exc}); fix it first") from None
    if not isinstance(config, dict):
        raise LabError(f"{DAEMON_JSON} does not hold a JSON object; fix it first")
    return config


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
    DAEMON_JSON.write_text(json.dumps(config, indent=2) + "\n")


def remove_hub_mirror() -> bool:
    record = _read(MIRROR_RECORD).strip()
    if not record:
        return False
    config = _daemon_config()
    mirrors = [mirror for mirror in _mirrors(config) if mirror != HUB_MIRROR]
    # dockerd reloads only the keys present in the file, so an empty list clears the mirror
    config["registry-mirrors"] = mirrors
    DAEMON_JSON.write_text(json.dumps(config, indent=2) + "\n")
    if reachable() is None:
        reload_dockerd(expect_mirror=False)
    if not mirrors:
        config.pop("registry-mirrors")
        if not config and record == "created":
            DAEMON_JSON.unlink()
        else:
            DAEMON_JSON.write_text(json.dumps(config, indent=2) + "\n")
    MIRROR_RECORD.unlink()
    return True


def engine_has_mirror() -> bool:
    mirrors = client().info().get("RegistryConfig", {}).get("Mirrors") or []
    return any(str(mirror).rstrip("/") == HUB_MIRROR for mirror in mirrors)


def reload_dockerd(expect_mirror: bool, timeout: float = 15.0) -> None:
    """SIGHUP makes dockerd re-read daemon.json; wait until it shows the mirror change."""
    try:
        os.kill(int(_read(DOCKERD_PID).strip()), signal.SIGHUP)
    except (ValueError, ProcessLookupError):
        raise LabError(f"cannot reload dockerd: no live pid in {DOCKERD_PID}") from None
    deadline = time.monotonic() + timeout
    while engine_has_mirror() != expect_mirror:
        if time.monotonic() > deadline:
            raise LabError(f"dockerd did not pick up the registry mirror change in {DAEMON_JSON}")
        time.sleep(0.3)


# ---------------------------------------------------------------- commands


def up(environ: dict[str, str]) -> Path:
    problems, install, mirrors = preflight(environ)
    if problems:
        raise Refused(problems)
    assert install is not None and mirrors is not None
    with exclusive():
        try:
            return _bring_up(install, mirrors)
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
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / "lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another up or down to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _bring_up(install: DotnetInstall, mirrors: DebianMirrors) -> Path:
    # From here on, system tools run (apt-get, debootstrap, dockerd); PATH only had to pick `dotnet`.
    os.environ["PATH"] = f"{SYSTEM_PATH['PATH']}:{os.environ.get('PATH', '')}"
    ensure_packages()
    ca = ensure_tls()
    install_certs(ca)
    add_hub_mirror()
    ensure_dockerd()
    if not engine_has_mirror():
        reload_dockerd(expect_mirror=True)
    if engine_predates(CERTS_D / MCR / "ca.crt"):
        say(
            "note: dockerd started before the CA was in /etc/docker/certs.d, so until it restarts "
            "BuildKit takes mcr.microsoft.com images from the local store only (pull and run are fine)"
        )
    shim = ensure_shim()
    base = ensure_base(mirrors)
    registry = registry_version()
    images = standins(install, BASE_IMAGE, registry)
    recipe = recipe_hash(images, base)
    built = [(standin, *build(standin, recipe)) for standin in images]
    for _, _, replaced in reversed(built):  # top of the stack first: a base goes once its children have
        if replaced is not None:
            _remove_if_untagged(replaced)
    ensure_registry()
    for standin, image_id, _ in built:
        push(standin, image_id)
    add_hosts_entry()
    pull_when_resolved(f"{MCR}/dotnet/sdk:{dotnet_tag(install.runtime)}")
    pull_when_resolved(images[-1].ref())
    say(f"up: {len(built)} stand-ins served on {LOOPBACK}:{HTTPS_PORT} as {', '.join(SERVED_HOSTS)}")
    say(f"put {shim} first on PATH and export DOCKER_BUILDKIT=1")
    return shim


def down() -> list[str]:
    """Undo what `up` changed on the machine; images, caches and registry storage stay.

    Every step is tried even when an earlier one fails, so a failing `up` that calls this still
    leaves nothing half-configured that could be undone; the failures are raised together."""
    steps = [
        (remove_hosts_entry, f"removed the {', '.join(SERVED_HOSTS)} entry from {HOSTS}"),
        (remove_certs, f"removed the CA from {CERTS_D}"),
        (remove_hub_mirror, f"removed the Docker Hub mirror from {DAEMON_JSON}"),
        (stop_registry, "stopped the registry"),
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
    hosts = hosts_line() in _read(HOSTS).splitlines()
    ca = _our_ca()
    certs = ca is not None and all(_read(CERTS_D / host / "ca.crt") == ca for host in SERVED_HOSTS)
    registry = registry_pid() is not None and _registry_ok()
    mirror = HUB_MIRROR in _mirrors(_daemon_config()) and reachable() is None and engine_has_mirror()
    return {
        "hosts entry": hosts,
        "CA in /etc/docker/certs.d": certs,
        "registry": registry,
        "Docker Hub mirror": mirror,
    }


def _cmd_up() -> int:
    print(up(dict(os.environ)))
    return 0


def _cmd_down() -> int:
    problem = root_problem(os.geteuid())
    if problem:
        raise Refused([problem])
    with exclusive():
        undone = down()
    for line in undone or ["nothing to undo"]:
        say(line)
    return 0


def _cmd_status() -> int:
    facts = status()
    for what, present in facts.items():
        say(f"{what}: {'yes' if present else 'no'}")
    return 0 if all(facts.values()) else 1


def _cmd_env() -> int:
    """Shell lines for `eval`: the Debian docker client first on PATH, BuildKit on."""
    print(f'export PATH="{SHIM}:$PATH" DOCKER_BUILDKIT=1')
    return 0


COMMANDS: dict[str, Callable[[], int]] = {
    "up": _cmd_up,
    "down": _cmd_down,
    "status": _cmd_status,
    "env": _cmd_env,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="world.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command]()
    except Refused as exc:
        for problem in exc.problems:
            print(f"offline world: {problem}", file=sys.stderr)
        return 2
    except (LabError, OSError) as exc:
        print(f"offline world: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
