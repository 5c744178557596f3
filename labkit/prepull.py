"""Pull every image the course uses before class, so the labs never wait on the wifi.

`python -m labkit prepull` skips images already here, shows a progress bar per image, and says
plainly whether a registry could not be reached or an image (tag) does not exist there.
"""

from collections.abc import Sequence
from typing import Any

from docker.errors import APIError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

from labkit import catalog, doctor, image_info, refs
from labkit.catalog import CatalogImage
from labkit.docker_access import client, endpoint
from labkit.errors import LabError

NEEDED_GB = 3.0  # the course's images, uncompressed, with room to extract them
_NOT_THERE = ("manifest unknown", "not found", "does not exist", "pull access denied", "repository name not known")


class PullFailed(LabError):
    """One image could not be pulled; the message says why in a learner's words."""


def selected(keys: Sequence[str] | None) -> list[CatalogImage]:
    """The catalog images to pull: all, or those whose keys are given (an unknown key is an error)."""
    if not keys:
        return catalog.images()
    known = {entry.ref: entry for entry in catalog.images()}
    return [known[catalog.image(key)] for key in dict.fromkeys(keys)]


def main(keys: Sequence[str] | None = None, console: Console | None = None) -> int:
    """Pull what is missing; exit code 1 if any image could not be pulled."""
    out = console or Console()
    entries = selected(keys)
    if not all(image_info.exists(entry.ref) for entry in entries):
        check_disk()
    failed: list[str] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=out
    ) as progress:
        for entry in entries:
            if image_info.exists(entry.ref):
                progress.console.print(f"[green]✔[/] {entry.ref} is already here")
                continue
            task = progress.add_task(entry.ref, total=None)
            try:
                pull(entry.ref, progress, task)
            except PullFailed as exc:
                failed.append(entry.ref)
                progress.console.print(f"[red]✘ {exc}[/]", markup=True, highlight=False, soft_wrap=True)
            else:
                progress.console.print(f"[green]✔[/] {entry.ref} pulled")
    if failed:
        out.print(f"[red]{len(failed)} image(s) could not be pulled: {', '.join(failed)}[/]")
        return 1
    out.print("[green]Every course image is here.[/]")
    return 0


def check_disk() -> None:
    """Refuse to start pulling onto a disk that cannot hold the images: a half-pulled set helps no one."""
    measured = doctor.free_disk(client().info(), endpoint())
    if measured is not None and measured[0] / doctor.GB < NEEDED_GB:
        free, where = measured
        raise LabError(
            f"Only {free / doctor.GB:.1f} GB free {where}; the course images need about {NEEDED_GB:.0f} GB: "
            "free some space (`docker system df` shows what Docker uses), then run prepull again."
        )


def pull(ref: str, progress: Progress, task: TaskID) -> None:
    """Pull one image, advancing `task` with the bytes downloaded; raise PullFailed with the reason."""
    layers: dict[str, tuple[int, int]] = {}  # layer id -> (downloaded, total)
    try:
        for event in client().api.pull(ref, stream=True, decode=True):
            failure = (event.get("errorDetail") or {}).get("message") or event.get("error")
            if failure:
                raise PullFailed(explain(ref, str(failure)))
            _track(event, layers)
            progress.update(
                task,
                completed=sum(done for done, _ in layers.values()),
                total=sum(total for _, total in layers.values()) or None,
            )
    except APIError as exc:
        raise PullFailed(explain(ref, str(exc.explanation or exc))) from exc


def _track(event: dict[str, Any], layers: dict[str, tuple[int, int]]) -> None:
    layer, status = event.get("id"), event.get("status", "")
    detail = event.get("progressDetail") or {}
    if not layer:
        return
    _, total = layers.get(layer, (0, 0))
    if status == "Downloading" and detail.get("total"):
        layers[layer] = (int(detail.get("current", 0)), int(detail["total"]))
    elif status in ("Download complete", "Pull complete", "Already exists"):
        layers[layer] = (total, total)


def explain(ref: str, message: str) -> str:
    """The registry's or engine's error, as what happened and what to do."""
    first = message.strip().splitlines()[0] if message.strip() else "no reason given"
    if any(marker in first.lower() for marker in _NOT_THERE):
        return f"{ref} is not in its registry ({first}). Check the tag in images.toml."
    host = refs.registry(ref)
    return f"{ref}: cannot reach {host} ({first}). Check the network or proxy, or use the classroom mirror."
