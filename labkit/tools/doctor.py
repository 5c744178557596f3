"""Preflight for a learner's or a classroom machine: can it run the labs?

`python -m labkit doctor` prints one row per check and exits 0 when every required row passes.
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labkit import catalog, names, refs, registry
from labkit.docker_access import Endpoint, client, endpoint
from labkit.engine import image_info
from labkit.engine.store import GB, containerd_store, free_disk
from labkit.errors import CatalogError
from labkit.tools.console import wide_console

MIN_API = (1, 41)  # Docker Engine 20.10
MIN_FREE_GB = 10.0
ARCHITECTURES = ("x86_64", "amd64", "aarch64", "arm64")
WELL_KNOWN_PORTS = (8080, 5000)


@dataclass(frozen=True)
class Row:
    check: str
    status: str  # pass, warn or fail
    detail: str
    required: bool = True

    @property
    def blocks(self) -> bool:
        """A failed required row: the labs cannot run until it is fixed."""
        return self.required and self.status == "fail"


def rows() -> list[Row]:
    """Every check, in the order a learner fixes them. Raises DockerUnavailable with no engine."""
    docker = client()
    info = docker.info()
    used = endpoint()
    return [
        shell_row(),
        endpoint_row(used),
        _engine_row(docker.version()),
        builder_row(_build_setup(docker)),
        compose_row(_cli_output("compose", "version")),
        _linux_row(info),
        store_row(info),
        _architecture_row(info),
        disk_row(info, used),
        *_port_rows(),
        *_registry_and_image_rows(),
    ]


def shell_row(path: str | None = None) -> Row:
    """labkit.run hands every lab command to bash, as the labs' `docker` lines are written for it."""
    found = shutil.which("bash", path=path)
    if found is None:
        return Row("bash", "fail", "not found: on Windows, run the course in WSL 2 (Docker Desktop's WSL integration)")
    return Row("bash", "pass", found)


def _engine_row(version: dict[str, Any]) -> Row:
    api = str(version.get("ApiVersion", "0.0"))
    detail = f"Docker Engine {version.get('Version')}, API {api}"
    if tuple(int(part) for part in api.split(".")[:2]) < MIN_API:
        return Row("Docker engine", "fail", f"{detail}: the labs need Docker Engine 20.10 (API 1.41) or newer")
    return Row("Docker engine", "pass", detail)


@dataclass(frozen=True)
class BuildSetup:
    """What decides whether `docker build` runs on BuildKit (see `builder_row`)."""

    cli_version: str | None  # of the `docker` on PATH, the one the labs run; None when there is none
    buildx: bool  # `docker buildx version` works
    engine_default: str | None  # the engine's advertised default builder: "2" is BuildKit, "1" or None legacy
    setting: str | None  # DOCKER_BUILDKIT


_TRUE = {"1", "t", "T", "true", "True", "TRUE"}
_FALSE = {"0", "f", "F", "false", "False", "FALSE"}


def builder_row(setup: BuildSetup) -> Row:
    """The labs' Dockerfiles need BuildKit: only it fills in $BUILDPLATFORM and $TARGETARCH.

    The rules are the docker CLI's own (docker/cli, cmd/docker/builder.go): DOCKER_BUILDKIT=0 always
    means the legacy builder; from CLI 23.0 on, `docker build` runs `docker buildx build` when the
    buildx plugin is there and the legacy builder when it is not; before 23.0, DOCKER_BUILDKIT=1 or
    the engine's default builder (BuildKit from Engine 23.0, or with `"features": {"buildkit": true}`) decides.
    """
    check = "BuildKit builder"
    if setup.cli_version is None:
        return Row(check, "fail", "no `docker` command on PATH: install Docker Desktop or Docker Engine")
    if setup.setting is not None and setup.setting not in _TRUE | _FALSE:
        return Row(check, "fail", f"DOCKER_BUILDKIT={setup.setting} is not a boolean: export DOCKER_BUILDKIT=1")
    if setup.setting in _FALSE:
        return Row(check, "fail", f"DOCKER_BUILDKIT={setup.setting} selects the legacy builder: unset it")
    cli = f"docker {setup.cli_version}"
    if _major(setup.cli_version) >= 23:
        if setup.buildx:
            return Row(check, "pass", f"BuildKit ({cli} with buildx)")
        return Row(check, "fail", f"{cli} has no buildx plugin, which BuildKit needs: install docker-buildx-plugin")
    if setup.setting in _TRUE:
        return Row(check, "pass", f"BuildKit ({cli}, DOCKER_BUILDKIT={setup.setting})")
    if setup.engine_default == "2":
        return Row(check, "pass", f"BuildKit ({cli}, the engine's default builder)")
    return Row(check, "fail", f"{cli} builds without BuildKit: export DOCKER_BUILDKIT=1, or use Docker Engine 23.0+")


def compose_row(version: str | None) -> Row:
    """Labs 9 and 10 run `docker compose`: Compose v2, the Docker CLI plugin (`version` is its output)."""
    if version is None:
        return Row(
            "Docker Compose",
            "warn",
            "`docker compose version` fails (labs 9 and 10 need it): Docker Desktop includes it; on Linux "
            "install the docker-compose-plugin package (Debian: docker-compose)",
            required=False,
        )
    return Row("Docker Compose", "pass", version.strip().removeprefix("Docker Compose version "), required=False)


def _major(version: str) -> int:
    found = re.match(r"\d+", version)
    return int(found.group()) if found else 0


def _build_setup(docker: Any) -> BuildSetup:
    version = _cli_output("--version")
    found = re.search(r"\d+\.\d+\S*?(?=,|\s|$)", version or "")
    ping = docker.api.get(f"{docker.api.base_url}/_ping", timeout=30)
    return BuildSetup(
        cli_version=found.group() if found else None,
        buildx=_cli_output("buildx", "version") is not None,
        engine_default=ping.headers.get("Builder-Version"),
        setting=os.environ.get("DOCKER_BUILDKIT"),
    )


def _cli_output(*arguments: str) -> str | None:
    """stdout of `docker <arguments>`, or None when it fails or there is no docker command."""
    try:
        done = subprocess.run(["docker", *arguments], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _linux_row(info: dict[str, Any]) -> Row:
    os_type = info.get("OSType", "?")
    if os_type != "linux":
        return Row("Linux containers", "fail", f"OSType {os_type}: switch Docker Desktop to Linux containers")
    return Row("Linux containers", "pass", f"OSType {os_type}")


def _architecture_row(info: dict[str, Any]) -> Row:
    arch = str(info.get("Architecture", "?"))
    if arch not in ARCHITECTURES:
        return Row("Architecture", "warn", f"{arch}: the .NET images exist for amd64 and arm64 only", required=False)
    return Row("Architecture", "pass", arch, required=False)


def endpoint_row(used: Endpoint) -> Row:
    return Row("Docker endpoint", "pass", f"{used.host} ({used.source})")


def store_row(info: dict[str, Any]) -> Row:
    driver = info.get("Driver", "?")
    if containerd_store(info):
        return Row("Image store", "pass", f"containerd image store (snapshotter {driver})", required=False)
    return Row("Image store", "pass", f"classic image store (storage driver {driver})", required=False)


def disk_row(info: dict[str, Any], used: Endpoint) -> Row:
    """Free space where the engine keeps images: this host's disk, or the disk of the engine's VM."""
    measured = free_disk(info, used)
    if measured is None:
        detail = "unknown (engine in a VM): no course image is here to measure it with; run `python -m labkit prepull`"
        return Row("Free disk", "warn", detail, required=False)
    free, where = measured
    detail = f"{free / GB:.1f} GB free {where}"
    if free / GB < MIN_FREE_GB:
        return Row("Free disk", "warn", f"{detail}; the labs want {MIN_FREE_GB:.0f} GB", required=False)
    return Row("Free disk", "pass", detail, required=False)


def _port_rows() -> list[Row]:
    try:
        found = [Row("Loopback ports", "pass", f"can listen on {names.LOOPBACK} (e.g. port {names.free_port()})")]
    except OSError as exc:
        found = [Row("Loopback ports", "fail", f"cannot listen on {names.LOOPBACK}: {exc}")]
    for port in WELL_KNOWN_PORTS:
        if names.port_in_use(port):
            found.append(Row(f"Port {port}", "warn", "in use (the labs let Docker pick free ports)", required=False))
        else:
            found.append(Row(f"Port {port}", "pass", "free", required=False))
    return found


def _registry_and_image_rows() -> list[Row]:
    """A registry must answer only when an image it serves is not here yet."""
    try:
        entries = catalog.images()
    except CatalogError as exc:
        return [Row("Course images", "warn", str(exc), required=False)]
    missing = [entry.ref for entry in entries if not image_info.exists(entry.ref)]
    found: list[Row] = []
    reachable: dict[str, bool] = {}
    for host in dict.fromkeys(refs.registry(entry.ref) for entry in entries):
        answers, detail = registry.probe(host)
        reachable[host] = answers
        needed = any(refs.registry(ref) == host for ref in missing)
        status = "pass" if answers else ("fail" if needed else "warn")
        found.append(Row(f"Registry {host}", status, detail, required=needed))
    for entry in entries:
        found.append(_image_row(entry.ref, entry.ref not in missing, reachable[refs.registry(entry.ref)]))
    return found


def _image_row(ref: str, present: bool, registry_answers: bool) -> Row:
    if present:
        return Row(f"Image {ref}", "pass", "present", required=False)
    if registry_answers:
        return Row(f"Image {ref}", "warn", "not pulled yet: run `python -m labkit prepull`", required=False)
    return Row(f"Image {ref}", "fail", "missing, and its registry does not answer: in a workshop, join the classroom's")


_SYMBOLS = {"pass": "[green]✔[/]", "warn": "[yellow]![/]", "fail": "[red]✘[/]"}


def render(found: list[Row], console: Console) -> None:
    table = Table(title="labkit doctor", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("check", ratio=2, overflow="fold")
    table.add_column("detail", ratio=3)
    for row in found:
        optional = "" if row.required else " [dim](optional)[/]"
        table.add_row(_SYMBOLS[row.status], escape(row.check) + optional, escape(row.detail))
    console.print(table)


def main(console: Console | None = None) -> int:
    out = console or wide_console()
    found = rows()
    render(found, out)
    blocking = [row for row in found if row.blocks]
    if blocking:
        out.print(f"[red]Not ready: fix the {len(blocking)} ✘ row(s) above that are not optional.[/]")
        return 1
    out.print("[green]Ready for the labs.[/]")
    return 0
