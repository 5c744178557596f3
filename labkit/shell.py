"""Run the real Docker CLI (or any shell command) with live output.

`!docker ...` in a notebook ignores failures; `run` streams the output line by line as it
arrives, returns it, and raises `CommandFailed` with the tail of the output on a non-zero exit.
"""

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from labkit.errors import CommandFailed

DEFAULT_TIMEOUT = 900.0
TAIL_LINES = 25


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
) -> Output:
    """Run `command` through bash, echo it, stream its output, and return that output.

    Raises CommandFailed when it exits non-zero (unless check=False) or runs past `timeout`
    seconds; the command's whole process group is stopped on a timeout.
    """
    text = command if isinstance(command, str) else shlex.join(command)
    if not quiet:
        _emit(f"$ {text}\n")
    merged_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", text],
        cwd=cwd,
        env=merged_env,
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
    output = "".join(lines)
    if returncode != 0 and (check or returncode is None):
        raise CommandFailed(text, returncode, tail(output))
    return Output(output)


def tail(output: str, count: int = TAIL_LINES) -> str:
    """The last `count` lines of `output`."""
    return "\n".join(output.rstrip("\n").splitlines()[-count:])


def _pump(proc: "subprocess.Popen[str]", lines: list[str], quiet: bool) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
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
