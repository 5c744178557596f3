"""Facts about the machine, and every reason not to touch it, each in one line."""

import json
import os
import shutil
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit import web
from labkit.errors import LabError
from labkit.names import port_in_use
from offline_world.ghcr import ghcr_registry
from offline_world.hosts import HOSTS, MARKER, ca_file
from offline_world.hub import hub_registry, token_daemon
from offline_world.machine import (
    ADDRESSES,
    DOCKER_HUB,
    DOCKER_HUB_AUTH,
    ENGINE_SUITE,
    GHCR,
    HTTPS_PORT,
    MCR,
    SERVED_HOSTS,
    SUITE,
    SWITCH,
    SYSTEM_PATH,
    read,
    run,
)
from offline_world.registry import our_ca, registry_pid

APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


class Refused(LabError):
    """Preflight found reasons not to touch this machine; one line per reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problems))


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
        status = web.get(url, timeout=timeout).status
    except OSError as exc:
        reason = str(getattr(exc, "reason", exc))
    else:
        if status == 200:
            return None
        reason = f"HTTP {status}"
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
    machine is not offline. The certificate is not checked for the same reason. A raw request,
    because it must reach each address while naming `name`, whatever DNS and /etc/hosts say."""
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
    addresses = hosts_addresses(MCR, read(HOSTS)) + dns_addresses(MCR)
    return registry_answers(MCR, addresses, timeout)


def port_problem(host: str, port: int, ours: bool, what: str = "the offline registry") -> str | None:
    """None when nothing listens on `host:port` (or this setup's server does), else why not."""
    if ours or not port_in_use(port, host):
        return None
    return f"{host}:{port} is already taken by another program; {what} must listen there"


def port_problems() -> list[str | None]:
    """Each server of the world needs its address at port 443, unless it is the one listening there."""
    servers = {
        MCR: ("the offline registry", registry_pid()),
        DOCKER_HUB: ("the Docker Hub stand-in", hub_registry().pid()),
        DOCKER_HUB_AUTH: ("the Docker Hub token service", token_daemon().pid()),
        GHCR: ("the ghcr.io stand-in", ghcr_registry().pid()),
    }
    return [port_problem(ADDRESSES[name], HTTPS_PORT, pid is not None, what) for name, (what, pid) in servers.items()]


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
        existing = ca_file(host)
        if existing.exists() and (ca is None or read(existing) != ca):
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
        problems.append(archive_problem(mirrors.main) or archive_problem(mirrors.main, ENGINE_SUITE))
    if mcr_reachable():
        problems.append(f"https://{MCR}/v2/ answers: this machine reaches the real registry, so it needs no stand-ins")
    problems += port_problems()
    problems.append(foreign_certs_problem(our_ca()))
    return [problem for problem in problems if problem], install, mirrors
