"""Pull every image the course uses before class, and the NuGet packages the labs restore, so the
labs never wait on the wifi.

`python -m labkit prepull` skips images already here, shows a progress bar per image, and says
plainly whether a registry could not be reached or an image (tag) does not exist there. Then it
restores the labs' projects into BuildKit's NuGet cache (labkit.tools.packages); `--only` pulls
just the images named.
"""

from collections.abc import Sequence

from docker.errors import APIError
from rich.console import Console
from rich.progress import Progress, TaskID

from labkit import catalog, refs
from labkit.catalog import CatalogImage
from labkit.docker_access import client, endpoint
from labkit.engine import image_info, store
from labkit.errors import LabError
from labkit.tools import packages
from labkit.tools.console import follow, transfers

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


def main(keys: Sequence[str] | None = None, console: Console | None = None, feed: str | None = None) -> int:
    """Pull what is missing, then (unless `keys` chose some images) restore the labs' packages, from
    `feed` when given; exit code 1 if anything could not be fetched."""
    out = console or Console()
    entries = selected(keys)
    if not all(image_info.exists(entry.ref) for entry in entries):
        check_disk()
    failed: list[str] = []
    with transfers(out) as progress:
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
    return 0 if keys else fill_packages(out, feed)


def fill_packages(out: Console, feed: str | None = None) -> int:
    """The NuGet half of "offline after prepull": the packages the labs restore, into BuildKit's cache."""
    if not packages.projects():
        return 0  # a catalog of another course, without lab projects: no packages to fetch
    source = f"the classroom's feed image {feed}" if feed else "nuget.org"
    out.print(
        f"NuGet packages the labs restore: restoring every lab's project from {source} into BuildKit's cache ...",
        soft_wrap=True,
        highlight=False,
    )
    try:
        count = packages.fill(feed)
    except packages.PackagesFailed as exc:
        out.print(f"[red]✘ {exc}[/]", highlight=False, soft_wrap=True)
        return 1
    out.print(
        f"[green]✔[/] the packages of {count} lab projects are in BuildKit's cache, where lab 9 restores from.",
        soft_wrap=True,
        highlight=False,
    )
    return 0


def check_disk() -> None:
    """Refuse to start pulling onto a disk that cannot hold the images: a half-pulled set helps no one."""
    measured = store.free_disk(client().info(), endpoint())
    if measured is not None and measured[0] / store.GB < NEEDED_GB:
        free, where = measured
        raise LabError(
            f"Only {free / store.GB:.1f} GB free {where}; the course images need about {NEEDED_GB:.0f} GB: "
            "free some space (`docker system df` shows what Docker uses), then run prepull again."
        )


def pull(ref: str, progress: Progress, task: TaskID) -> None:
    """Pull one image, advancing `task` with the bytes downloaded; raise PullFailed with the reason."""
    try:
        follow(
            client().api.pull(ref, stream=True, decode=True), progress, task, lambda why: PullFailed(explain(ref, why))
        )
    except APIError as exc:
        raise PullFailed(explain(ref, str(exc.explanation or exc))) from exc


def explain(ref: str, message: str) -> str:
    """The registry's or engine's error, as what happened and what to do."""
    first = message.strip().splitlines()[0] if message.strip() else "no reason given"
    if any(marker in first.lower() for marker in _NOT_THERE):
        return f"{ref} is not in its registry ({first}). Check the tag in images.toml."
    host = refs.registry(ref)
    return (
        f"{ref}: cannot reach {host} ({first}). Check the network or proxy; in a workshop, "
        "`python -m labkit classroom join` the room's registry."
    )
