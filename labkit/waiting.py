"""The one polling loop of the course: wait until a condition holds, or give up with a reason.

Every "poll until ready" in labkit and the offline world goes through `wait_until`, so timeouts,
intervals and the message on giving up behave the same everywhere. The stop helpers below wait
until a process is really gone and its port is free: returning earlier is the race that let a
test bind a port the registry still held.
"""

import contextlib
import errno
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimedOut(TimeoutError):
    """`wait_until` gave up; the message says what was awaited and the last reason it was not yet so."""


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.3,
    what: str = "the condition",
    why_not: Callable[[], str] | None = None,
) -> T:
    """Call `probe` until it returns something other than None (or False); return that value.

    `probe` may raise to stop waiting at once (a container that exited will never answer).
    On timeout raise TimedOut naming `what` and, when given, `why_not()`'s last reason.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            reason = f" ({why_not()})" if why_not is not None else ""
            raise TimedOut(f"{what} did not happen within {timeout:g} s{reason}")
        time.sleep(interval)


def process_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a zombie has exited; only its parent's wait remains)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (macOS): kill(0) said it exists


def port_free(host: str, port: int) -> bool:
    """True when a new listener could bind host:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def stop_process(pid: int, *, grace: float = 5.0, port: tuple[str, int] | None = None) -> None:
    """SIGTERM `pid`, SIGKILL it after `grace` seconds, and return only when it is gone.

    With `port`, also wait until that address can be bound again, so the caller (or the next
    test) never races the dying process for it.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        wait_until(lambda: not process_alive(pid), timeout=grace, interval=0.1, what=f"process {pid} exiting")
    except TimedOut:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not process_alive(pid), timeout=10, interval=0.1, what=f"process {pid} dying")
    if port is not None:
        host, number = port
        wait_until(lambda: port_free(host, number), timeout=10, interval=0.1, what=f"{host}:{number} becoming free")
