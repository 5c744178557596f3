"""Run the real Docker CLI (or any shell command) with live output.

`!docker ...` in a notebook ignores failures; `run` streams the output line by line as it
arrives, returns it, and raises `CommandFailed` with the tail of the output on a non-zero exit.
"""

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import CommandFailed
from labkit.waiting import TimedOut, wait_until

DEFAULT_TIMEOUT = 900.0
DETACHED_TIMEOUT = 60.0  # `docker run -d` comes back at once; a server started without -d never does
TAIL_LINES = 25
_IN_USE = (  # what Docker says when a name is taken, and how to free it
    (re.compile(r'container name "/([^"]+)" is already in use'), "The container {0} exists: `docker rm -f {0}`"),
    (re.compile(r"network with name (\S+) already exists"), "The network {0} exists: `docker network rm {0}`"),
)
_STOPPED = (  # what Compose says when a service's container stops or fails its health check, and where to look
    (re.compile(r"container (\S+) exited \((\d+)\)"), "`docker logs {0}` says why {0} stopped: fix that"),
    (
        re.compile(r"container (\S+) is unhealthy"),
        "`docker inspect --format '{{{{json .State.Health}}}}' {0}` shows what its health check said: fix that",
    ),
    (
        re.compile(r"Bind for (\S+) failed: port is already allocated"),
        "Another container holds {0}: publish on a host port Docker picks (`-p 127.0.0.1::8080`, in "
        'compose.yaml `"127.0.0.1::8080"`)',
    ),
)
# Docker 26's answers to a listing (containerd image store) when an image, or a container's layer, went
# away meanwhile: the CLI's and the API's (labkit.engine.image_info.summaries), and `docker system df`'s.
GONE_WHILE_LISTED = re.compile(
    r"failed to (retrieve image list|calculate size of image"
    r"|retrieve container list: rw layer snapshot not found)"
)
# "Erase in line", which some tools write before each line even when their output is not a terminal
# (`docker compose logs --no-color` up to at least 2.26): it holds no text, and a notebook shows it as junk.
_ERASE_LINE = re.compile(r"\x1b\[[0-2]?K")
_NUGET_UNAUTHORIZED = re.compile(r"\bNU1301\b.*\b40[13] \((Unauthorized|Forbidden)\)")
NUGET_UNAUTHORIZED_ADVICE = (
    "The feed refused the restore (401/403): the build had no credentials for it, or wrong ones. Pass them as a "
    "build secret, `docker build --secret id=NAME,src=FILE ...`, and read it in the RUN that restores "
    "(`RUN --mount=type=secret,id=NAME ...`)."
)
_NUGET_UNREACHABLE = re.compile(r"\bNU1301\b|Unable to load the service index")
# registry:2 (Distribution 2.8) rewrites a tag's record in place; with Docker's containerd store, a push
# writes an index's manifests under the tag at once, and the registry can read the tag half-written.
_TAG_READ_MID_WRITE = re.compile(r"unexpected status from HEAD request to \S+/manifests/\S+: 500 Internal Server Error")
TAG_READ_MID_WRITE_ADVICE = (
    "The registry answered 500 while Docker wrote the image's manifests under one tag at once: `registry:2` "
    'can read a tag it is rewriting (the book\'s chapter "From laptop to registry" explains why). What it stores '
    "is intact: run the cell again."
)
NUGET_CACHE_MOUNT = "--mount=type=cache,id=nuget,target=/root/.nuget/packages"
NUGET_ADVICE = (
    "`dotnet restore` could not reach NuGet (NU1301). Offline: while online, `python -m labkit prepull` puts the "
    f"labs' packages in BuildKit's NuGet cache, which a restore reads when its RUN starts `RUN {NUGET_CACHE_MOUNT}`. "
    "Online: check that this machine reaches https://api.nuget.org from inside containers (network, proxy, "
    "firewall, and a proxy's certificate authority), then build again."
)


@dataclass(frozen=True)
class Ran:
    """One command `run` ran: what the learner typed, how it ended (None: timed out), what it printed."""

    command: str
    returncode: int | None
    output: str


# What the checks (labkit.checks.ran) read of the commands the learner ran, oldest first. A check reads
# a command of the step just done, and its evidence sits in a short output (a table, an inspect
# document, a pull's or push's status lines: a few KB) or at the end of a long one (a pull ends with
# its digest and status). So a kernel keeps the last KEPT_COMMANDS commands and the last
# KEPT_CHARACTERS of each output, not every image build's and apt run's megabytes for its life.
KEPT_COMMANDS = 100
KEPT_CHARACTERS = 50_000
RAN: deque[Ran] = deque(maxlen=KEPT_COMMANDS)


class Output(str):
    """A command's output: an ordinary string that a notebook does not echo a second time."""

    def _ipython_display_(self) -> None:
        """The output was already streamed while the command ran."""


def run(
    command: str | Sequence[str],
    *,
    cwd: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    quiet: bool = False,
    check: bool = True,
    expect_detached: bool = False,
    record: bool = True,
) -> Output:
    """Run `command` through bash, echo it, stream its output, and return that output.

    Raises CommandFailed when it exits non-zero (unless check=False) or runs past `timeout`
    seconds; the command's whole process group is stopped on a timeout. `expect_detached=True`
    is for a command that must come back at once (`docker run -d` of a server): it gets
    DETACHED_TIMEOUT seconds, and a timeout says that `-d` was forgotten. `record=False` keeps the
    command out of RAN, the log of what the learner ran that the checks read.
    """
    text = command if isinstance(command, str) else shlex.join(command)
    if expect_detached:
        timeout = min(timeout, DETACHED_TIMEOUT)
    if not quiet:
        _emit(f"$ {text}\n")
    merged_env = {**os.environ, **(env or {})}
    returncode, output = _run_once(text, cwd, merged_env, timeout, quiet)
    if returncode != 0 and GONE_WHILE_LISTED.search(output):
        returncode, output = _listed_again(text, cwd, merged_env, timeout, quiet)
    if record:
        RAN.append(Ran(text, returncode, output[-KEPT_CHARACTERS:]))
    if returncode != 0 and (check or returncode is None):
        raise CommandFailed(text, returncode, tail(output), _advice(output, returncode, expect_detached))
    return Output(output)


def _listed_again(
    text: str, cwd: str | Path | None, env: Mapping[str, str], timeout: float, quiet: bool
) -> tuple[int | None, str]:
    """Docker 26 under the containerd image store fails a listing of the images (`docker image ls`,
    `docker system df`) when another command removes one of them, or a container, meanwhile: another
    notebook's cleanup, say. A listing changes nothing, so it is asked again until it answers (10 s at most)."""
    if not quiet:
        _emit("(Something went away while Docker listed it: asking again.)\n")
    last: list[tuple[int | None, str]] = []

    def answered() -> tuple[int | None, str] | None:
        last.append(_run_once(text, cwd, env, timeout, quiet))
        return None if last[-1][0] != 0 and GONE_WHILE_LISTED.search(last[-1][1]) else last[-1]

    with contextlib.suppress(TimedOut):
        return wait_until(answered, timeout=10, interval=0.5, what=f"`{text}`")
    return last[-1]


def _run_once(
    text: str, cwd: str | Path | None, env: Mapping[str, str], timeout: float, quiet: bool
) -> tuple[int | None, str]:
    """Run `text` through bash, streaming its output; its exit code (None: timed out) and output."""
    proc = subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", text],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=_pump, args=(proc, lines, quiet), daemon=True)
    reader.start()
    try:
        returncode: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        returncode = None
    except BaseException:  # "Interrupt kernel" or Ctrl+C: the command's own session never sees it
        _stop_group(proc)
        raise
    reader.join(timeout=5)
    return returncode, "".join(lines)


def mark() -> Ran | None:
    """The newest command recorded (None: none yet): `forget(after=mark())` later forgets what ran since."""
    return RAN[-1] if RAN else None


def forget(after: Ran | None = None) -> None:
    """Forget the commands recorded after `after` (a `mark()`), or all of them: a test's clean slate."""
    while RAN and RAN[-1] is not after:
        RAN.pop()


def _advice(output: str, returncode: int | None, expect_detached: bool) -> str:
    """What to do about the failures a learner meets most: a name or a port in use, a container that stopped
    or is unhealthy, a server left in the foreground."""
    for pattern, advice in _IN_USE:
        taken = pattern.search(output)
        if taken:
            return f"{advice.format(taken[1])} removes it; then run the cell again."
    for pattern, advice in _STOPPED:
        stopped = pattern.search(output)
        if stopped:
            return f"{advice.format(stopped[1])}, then run the cell again."
    if _NUGET_UNAUTHORIZED.search(output):
        return NUGET_UNAUTHORIZED_ADVICE
    if _NUGET_UNREACHABLE.search(output):
        return NUGET_ADVICE
    if _TAG_READ_MID_WRITE.search(output):
        return TAG_READ_MID_WRITE_ADVICE
    if returncode is None and expect_detached:
        return (
            "It did not come back: a server runs in the foreground unless `docker run` starts it detached (`-d`). "
            "Add -d, remove the container it left (`docker rm -f NAME`), and run the cell again."
        )
    return ""


def tail(output: str, count: int = TAIL_LINES) -> str:
    """The last `count` lines of `output`."""
    return "\n".join(output.rstrip("\n").splitlines()[-count:])


def _pump(proc: "subprocess.Popen[str]", lines: list[str], quiet: bool) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = _ERASE_LINE.sub("", raw)
        lines.append(line)
        if not quiet:
            _emit(line)


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _stop_group(proc: "subprocess.Popen[str]") -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
