"""What the .NET diagnostics tools leave behind, read for the checks: a counters file, a trace, a
dump and its heap statistics; and how a container's last stop went, from the engine's events."""

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from labkit import containers
from labkit.docker_access import client
from labkit.errors import LabError

NETTRACE_MAGIC = b"Nettrace"  # the first bytes of every EventPipe trace file (.nettrace)
ELF_MAGIC = b"\x7fELF"
ELF_CORE = 4  # e_type of a core file: what createdump writes on Linux
# A line of `dumpheap -stat`: method table, count, total size, type name (counts with thousands separators).
_HEAP_STAT_LINE = re.compile(r"^\s*[0-9a-fA-F]{8,16}\s+([\d,]+)\s+([\d,]+)\s+(\S.*?)\s*$", re.MULTILINE)
SIGTERM, SIGKILL = "15", "9"
STOP_EVENTS = ("kill", "die")
DIE_EVENT_WAIT = 10  # seconds: the engine publishes the die event a moment after `docker stop` returns
# The kill and die events stop_events() read as they came, by container id.
_recorded: dict[str, list[dict[str, Any]]] = {}


class NotReadable(LabError):
    """A file the tools should have written is missing or is not what they write."""


def counters(path: Path) -> dict[str, Any]:
    """The JSON document `dotnet-counters collect --format json` wrote."""
    try:
        document: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise NotReadable(
            f"There is no {path}: copy the counters file out of the tools container (docker cp)."
        ) from exc
    except json.JSONDecodeError as exc:
        raise NotReadable(
            f"{path} is not JSON ({exc.msg}): collect with `--format json`, and let `--duration` end the "
            "collection (a file cut off mid-way does not parse)."
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("Events"), list):
        raise NotReadable(f"{path} has no list of Events: is it the file `dotnet-counters collect` wrote?")
    return document


def counter_samples(document: dict[str, Any], name: str) -> list[float]:
    """The values of counter `name` (e.g. `dotnet.gc.last_collection.heap.size`), one per sample:
    a counter reported per tag (per GC generation, say) is summed over its tags."""
    samples: list[float] = []
    seen: set[str] = set()
    for event in document["Events"]:
        if event.get("name", "").split(" (")[0] != name:
            continue
        tags = str(event.get("tags", ""))
        if not samples or tags in seen:  # a tag seen again: the next sample begins
            samples.append(0.0)
            seen = set()
        seen.add(tags)
        samples[-1] += float(event.get("value", 0))
    return samples


def header(path: Path, size: int = 32) -> bytes:
    """The first `size` bytes of `path` (b"" when it is missing)."""
    if not path.is_file():
        return b""
    with path.open("rb") as file:
        return file.read(size)


def is_nettrace(path: Path) -> bool:
    return header(path).startswith(NETTRACE_MAGIC)


def is_core_dump(path: Path) -> bool:
    """An ELF core file (ELF, e_type ET_CORE), as createdump writes."""
    start = header(path, 18)
    return start.startswith(ELF_MAGIC) and len(start) == 18 and int.from_bytes(start[16:18], "little") == ELF_CORE


def heap_stat(text: str) -> dict[str, tuple[int, int]]:
    """Type name -> (objects, total bytes), from the output of SOS's `dumpheap -stat`."""
    return {
        match[3]: (int(match[1].replace(",", "")), int(match[2].replace(",", "")))
        for match in _HEAP_STAT_LINE.finditer(text)
    }


@dataclass(frozen=True)
class Stop:
    """A container's last stop: the signals the engine sent it, how long from the first signal to its
    end, and its exit code."""

    signals: list[str]
    seconds: float
    exit_code: int

    @property
    def killed(self) -> bool:
        return SIGKILL in self.signals


@contextlib.contextmanager
def stop_events(name: str) -> Iterator[None]:
    """Keep the engine's kill and die events of the container `name` as they come, while the block
    stops it, for last_stop. Asked later, the engine replays only its last 256 events, which other
    containers' events (healthchecks, other labs) can push out within a minute."""
    container_id = containers.get(name).id
    stream = client().events(
        since=int(time.time()), filters={"container": container_id, "event": list(STOP_EVENTS)}, decode=True
    )
    events: list[dict[str, Any]] = []

    def read() -> None:
        with contextlib.suppress(Exception):  # the stream closed under it: no die event came in time
            for event in stream:
                events.append(event)
                if event.get("Action") == "die":
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield
    finally:
        reader.join(timeout=DIE_EVENT_WAIT)
        stream.close()
        _recorded[container_id] = events


def last_stop(name: str) -> Stop | None:
    """How the container `name` last stopped, from the engine's kill and die events (None: it is
    running, or it ended without a signal): those stop_events kept, else those the engine still holds."""
    container = containers.get(name)
    state = container.attrs["State"]
    if state["Running"] or not state.get("StartedAt"):
        return None
    since = _timestamp(state["StartedAt"])
    events = [event for event in _recorded.get(container.id, []) if event["timeNano"] >= since * 1e9]
    if not events:
        # The die event may be published a moment after the state changed: read up to 2 s past the end.
        until = int(_timestamp(state["FinishedAt"])) + 2
        events = client().events(since=int(since), until=until, filters={"container": container.id}, decode=True)
    kills: list[tuple[int, str]] = []
    died: int | None = None
    for event in events:
        if event.get("Type") != "container" or event["timeNano"] < since * 1e9:
            continue
        if event.get("Action") == "kill":
            kills.append((event["timeNano"], event["Actor"]["Attributes"].get("signal", "")))
        elif event.get("Action") == "die":
            died = event["timeNano"]
    if not kills or died is None:
        return None
    return Stop([signal for _, signal in kills], (died - kills[0][0]) / 1e9, int(state["ExitCode"]))


def _timestamp(text: str) -> float:
    """Seconds since the epoch of an engine time (RFC 3339 with nanoseconds)."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float(f"0.{fraction or 0}")
