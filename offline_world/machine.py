"""What every part of the world shares: where it keeps its state, the names it serves, how it speaks."""

import hashlib
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit import shell
from labkit.errors import LabError
from labkit.names import LOOPBACK
from labkit.shell import Output, tail
from labkit.waiting import TimedOut, process_alive, stop_process, wait_until

SWITCH = "COURSE_OFFLINE_WORLD"
# The system's own tools, whatever PATH the caller has (PATH only decides which `dotnet` is used)
SYSTEM_PATH = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
STATE = Path("/var/lib/containerizing-dotnet-offline")
CACHE = Path("/var/cache/containerizing-dotnet-offline")
RECIPE = Path(__file__).resolve().parent / "recipe"

HTTPS_PORT = 443
MCR = "mcr.microsoft.com"
DOCKER_HUB = "registry-1.docker.io"
DOCKER_HUB_AUTH = "auth.docker.io"  # Docker Hub's token service, the realm of its Bearer challenge
GHCR = "ghcr.io"  # GitHub's container registry: the release tools' images (cosign, oras)
SERVED_HOSTS = (MCR, DOCKER_HUB, GHCR)  # the registries: dockerd trusts the world's CA for each (certs.d)
# Each name on its own loopback address, all on port 443 as the real ones: MCR's registry (also
# pushed to as localhost), Docker Hub's (which asks for a token), Docker Hub's token service and
# ghcr.io's registry. 127.0.2.x, so the 127.0.0.x addresses tests use for other servers stay free.
ADDRESSES = {MCR: LOOPBACK, DOCKER_HUB: "127.0.2.1", DOCKER_HUB_AUTH: "127.0.2.2", GHCR: "127.0.2.3"}
SUITE = "bookworm"  # the Debian release under every stand-in
ENGINE_SUITE = "trixie"  # the Debian release the Docker engine comes from
DATABASE_SUITE = "trixie"  # the Debian release under the postgres stand-in (its postgresql-17)
LABEL = "org.containerizing-dotnet.offline"


def run(command: str | Sequence[str], **options: Any) -> Output:
    """One of the world's own commands (apt-get, debootstrap, docker build), run as labkit runs a learner's,
    but not recorded in the command log the lab checks read: a test process runs both."""
    return shell.run(command, record=False, **options)


def say(text: str) -> None:
    print(f"offline world: {text}", flush=True)


class PartTimes:
    """How long each part of a command took, said as each ends: on a bare machine `up` takes minutes,
    and this shows where they go."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = time.monotonic() - started
            say(f"{name}: {self.seconds[name]:.0f} s")

    def total(self) -> str:
        return f"{sum(self.seconds.values()):.0f} s"


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


@dataclass(frozen=True)
class Daemon:
    """A server the world keeps running in the background on `address`:`port`, known by its pid file."""

    what: str  # for messages: "the registry"
    program: str  # a word of its command line, so a pid the system reused is not taken for it
    address: str
    config: Path  # the file it reads at start; a change restarts it
    pid_file: Path
    log: Path
    port: int = HTTPS_PORT

    def pid(self) -> int | None:
        """Its pid, if it still runs."""
        try:
            pid = int(read(self.pid_file).strip())
        except ValueError:
            return None
        return pid if self.program in read(Path(f"/proc/{pid}/cmdline")).replace("\0", " ") else None

    def stop(self) -> bool:
        """Stop it and return once it is gone and its address can be bound again; False when it did not run."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        stop_process(pid, port=(self.address, self.port))
        return True

    def ensure(
        self, config: str, command: Sequence[str], ready: Callable[[], bool], inputs: Sequence[Path] = ()
    ) -> bool:
        """Keep it running `command` with `config` (its config file's text). It is (re)started only when
        it does not run, is not `ready`, its config changed or one of `inputs` (files it reads at start,
        such as its certificate) changed since it started. True when it (re)started."""
        if self.pid() is not None and read(self.config) == config and not self._predates(inputs) and ready():
            return False
        self.stop()
        self.config.write_text(config)
        say(f"starting {self.what} on {self.address}:{self.port}")
        pid = start_detached(command, self.log)
        self.pid_file.write_text(f"{pid}\n")
        wait_for(
            lambda: self._serving(pid, ready),
            timeout=20,
            what=f"{self.what} answering on {self.address}:{self.port}",
            why_not=self._last_logged,
        )
        return True

    def _predates(self, inputs: Sequence[Path]) -> bool:
        """True when one of `inputs` was written after the pid file, that is after it started."""
        try:
            started = self.pid_file.stat().st_mtime_ns
        except FileNotFoundError:
            return True
        return any(path.exists() and path.stat().st_mtime_ns > started for path in inputs)

    def _serving(self, pid: int, ready: Callable[[], bool]) -> bool:
        if not process_alive(pid):
            raise LabError(f"{self.what} exited as it started ({self._last_logged()})")
        return ready()

    def _last_logged(self) -> str:
        return f"last line of {self.log}: {tail(read(self.log), 1) or '(empty)'}"
