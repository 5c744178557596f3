"""Preflight for a learner's or a classroom machine: can it run the labs?

`python -m labkit doctor` prints one row per check and exits 0 when every required row passes.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labkit import catalog, image_info, names, registry
from labkit.docker_access import client
from labkit.errors import CatalogError

MIN_API = (1, 41)  # Docker Engine 20.10
MIN_FREE_GB = 10.0
ARCHITECTURES = ("x86_64", "amd64", "aarch64", "arm64")
WELL_KNOWN_PORTS = (8080, 5000)
GB = 1_000_000_000
LOG_WIDTH = 120


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
    return [
        shell_row(),
        _engine_row(docker.version()),
        _linux_row(info),
        _architecture_row(info),
        _disk_row(info),
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


def _disk_row(info: dict[str, Any]) -> Row:
    root = Path(str(info.get("DockerRootDir") or "/"))
    where = root if root.is_dir() else Path("/")
    free_gb = shutil.disk_usage(where).free / GB
    detail = f"{free_gb:.1f} GB free at {where}"
    if free_gb < MIN_FREE_GB:
        return Row("Free disk", "warn", f"{detail}; the labs want {MIN_FREE_GB:.0f} GB", required=False)
    return Row("Free disk", "pass", detail, required=False)


def _port_rows() -> list[Row]:
    try:
        found = [Row("Loopback ports", "pass", f"can listen on {names.LOOPBACK} (e.g. port {names.free_port()})")]
    except OSError as exc:
        found = [Row("Loopback ports", "fail", f"cannot listen on {names.LOOPBACK}: {exc}")]
    for port in WELL_KNOWN_PORTS:
        if names.port_in_use(port):
            found.append(Row(f"Port {port}", "warn", "in use (the labs pick free ports themselves)", required=False))
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
    for host in dict.fromkeys(registry.host(entry.ref) for entry in entries):
        answers, detail = registry.probe(host)
        reachable[host] = answers
        needed = any(registry.host(ref) == host for ref in missing)
        status = "pass" if answers else ("fail" if needed else "warn")
        found.append(Row(f"Registry {host}", status, detail, required=needed))
    for entry in entries:
        found.append(_image_row(entry.ref, entry.ref not in missing, reachable[registry.host(entry.ref)]))
    return found


def _image_row(ref: str, present: bool, registry_answers: bool) -> Row:
    if present:
        return Row(f"Image {ref}", "pass", "present", required=False)
    if registry_answers:
        return Row(f"Image {ref}", "warn", "not pulled yet: run `python -m labkit prepull`", required=False)
    return Row(f"Image {ref}", "fail", "missing, and its registry does not answer: ask for the classroom mirror")


def wide_console() -> Console:
    """Rich's console, 120 columns wide when the output is a log file rather than a terminal."""
    console = Console()
    if not console.is_terminal:
        console.width = LOG_WIDTH
    return console


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
