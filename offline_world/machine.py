"""What every part of the world shares: where it keeps its state, the names it serves, how it speaks."""

import hashlib
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from labkit.errors import LabError
from labkit.waiting import TimedOut, wait_until

SWITCH = "COURSE_OFFLINE_WORLD"
# The system's own tools, whatever PATH the caller has (PATH only decides which `dotnet` is used)
SYSTEM_PATH = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
STATE = Path("/var/lib/containerizing-dotnet-offline")
CACHE = Path("/var/cache/containerizing-dotnet-offline")
RECIPE = Path(__file__).resolve().parent / "recipe"

HTTPS_PORT = 443
MCR = "mcr.microsoft.com"
DOCKER_HUB = "registry-1.docker.io"
SERVED_HOSTS = (MCR, DOCKER_HUB)
SUITE = "bookworm"  # the Debian release under every stand-in
ENGINE_SUITE = "trixie"  # the Debian release the Docker engine comes from
DATABASE_SUITE = "trixie"  # the Debian release under the postgres stand-in (its postgresql-17)
LABEL = "org.containerizing-dotnet.offline"


def say(text: str) -> None:
    print(f"offline world: {text}", flush=True)


def read(path: Path) -> str:
    """The file's text, or "" when it is missing or unreadable."""
    try:
        return path.read_text()
    except OSError:
        return ""


def recipe_digest(paths: Iterable[Path], *extra: str) -> str:
    """A short hash of recipe files (by their path inside RECIPE, so it survives a moved checkout)
    and of `extra` values."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(RECIPE)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for value in extra:
        digest.update(value.encode() + b"\0")
    return digest.hexdigest()[:16]


def start_detached(command: Sequence[str], log: Path) -> int:
    """Start a daemon that outlives this process (own session, output appended to `log`); its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process.pid


def wait_for(
    probe: Callable[[], object], *, timeout: float, what: str, why_not: Callable[[], str], interval: float = 0.3
) -> None:
    """labkit's `wait_until`, giving up with a LabError: the command line shows it as the one line
    it is, without the traceback hint it adds for unexpected errors."""
    try:
        wait_until(probe, timeout=timeout, interval=interval, what=what, why_not=why_not)
    except TimedOut as exc:
        raise LabError(str(exc)) from None  # deliberate: the same message, re-typed; it has no cause
