"""How the command line shows itself: a console fit for a terminal or a CI log, and transfer progress
(one bar per image, its layers summed) for pulls and pushes alike."""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

LOG_WIDTH = 120


def wide_console() -> Console:
    """Rich's console, 120 columns wide when the output is a log file rather than a terminal."""
    console = Console()
    if not console.is_terminal:
        console.width = LOG_WIDTH
    return console


@contextmanager
def transfers(out: Console) -> Iterator[Progress]:
    """Progress bars for pulls, pushes and copies: one per image, bytes done of the bytes known so far."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=out) as progress:
        yield progress


_MOVING = ("Downloading", "Pushing")  # the engine's progress events: bytes of a layer so far
_DONE = ("Download complete", "Pull complete", "Already exists", "Pushed", "Layer already exists", "Mounted from")


class Layers:
    """Bytes done and in all, per layer of one image, as a pull's or a push's progress events tell them."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[int, int]] = {}  # layer id -> (done, total)

    def update(self, event: dict[str, Any]) -> None:
        layer, status = event.get("id"), str(event.get("status", ""))
        detail = event.get("progressDetail") or {}
        if not layer:
            return
        _, total = self.seen.get(layer, (0, 0))
        if status in _MOVING and detail.get("total"):
            self.seen[layer] = (min(int(detail.get("current", 0)), int(detail["total"])), int(detail["total"]))
        elif status.startswith(_DONE):
            self.seen[layer] = (total, total)

    @property
    def done(self) -> int:
        return sum(done for done, _ in self.seen.values())

    @property
    def total(self) -> int:
        return sum(total for _, total in self.seen.values())


def follow(
    events: Iterable[dict[str, Any]], progress: Progress, task: TaskID, failed: Callable[[str], Exception]
) -> Layers:
    """Advance `task` with a pull's or a push's events (docker-py's decoded stream); an error event
    raises `failed(the engine's message)`."""
    layers = Layers()
    for event in events:
        failure = (event.get("errorDetail") or {}).get("message") or event.get("error")
        if failure:
            raise failed(str(failure))
        layers.update(event)
        progress.update(task, completed=layers.done, total=layers.total or None)
    return layers
