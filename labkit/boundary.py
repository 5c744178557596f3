"""The error boundary every entry point shares: any failure becomes one line that says what to do.

`python -m labkit`, the offline world's command line and the benchmark each wrap their main
function in `guarded`. A traceback is shown only when asked for, with `--debug` on the command
line or LABKIT_DEBUG=1 in the environment.
"""

import os
import sys
import traceback
from collections.abc import Callable, Sequence

from docker.errors import DockerException

from labkit.errors import CommandFailed, LabError

DEBUG_VARIABLE = "LABKIT_DEBUG"
DEBUG_FLAG = "--debug"
EXIT_FAILED = 2
EXIT_INTERRUPTED = 130


def debug_wanted(argv: Sequence[str]) -> bool:
    return DEBUG_FLAG in argv or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def without_debug_flag(argv: Sequence[str]) -> list[str]:
    return [word for word in argv if word != DEBUG_FLAG]


def one_line(exc: BaseException) -> str:
    """The message a person can act on: labkit's own errors as written, the engine's first line,
    anything else prefixed with its type so a bug report still says what broke."""
    if isinstance(exc, CommandFailed):
        last = exc.tail.strip().splitlines()[-1:] or ["no output"]
        return f"`{exc.command}` {exc.what}: {last[0].strip()}"
    if isinstance(exc, LabError):
        return _first_line(exc) or type(exc).__name__
    if isinstance(exc, DockerException):
        return f"the Docker engine refused: {_first_line(exc) or type(exc).__name__}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = _first_line(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n", 1)[0].strip()


def report(program: str, exc: BaseException, debug: bool) -> None:
    """One line on stderr; an unexpected error (a bug, not a state to fix) says how to see its traceback."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    more = "" if debug or isinstance(exc, LabError) else f" (run again with {DEBUG_FLAG} for the traceback)"
    print(f"✘ {program}: {one_line(exc)}{more}", file=sys.stderr)


def guarded(program: str, main: Callable[[list[str]], int], argv: Sequence[str] | None = None) -> int:
    """Run `main(argv)` (without `--debug`) and turn any exception into one line and exit status 2.

    SystemExit passes through (argparse's own usage errors are already one line).
    """
    words = list(sys.argv[1:] if argv is None else argv)
    debug = debug_wanted(words)
    try:
        return main(without_debug_flag(words))
    except KeyboardInterrupt:
        print(f"✘ {program}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        report(program, exc, debug)
        return EXIT_FAILED
