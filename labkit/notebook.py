"""Show errors in a notebook as one red line with a hint, not a traceback wall.

labkit's own errors, a failed command and the Docker engine's refusals are states the learner
fixes, so they are shortened; any other exception (a bug in the learner's own code) keeps its
full traceback. The cell still fails (the kernel reports an error), so nbval and "Run All" stop there.
"""

from typing import Any

from docker.errors import APIError, DockerException, NotFound

from labkit.boundary import one_line
from labkit.errors import CheckFailed, CommandFailed, LabError

RED = "\033[31m"
RESET = "\033[0m"
SHORTENED = (LabError, DockerException)
AGAIN = "then run the cell again"


def short_message(exc: BaseException) -> str:
    """What the red line says: what went wrong and what to do."""
    if isinstance(exc, CheckFailed) and exc.shown:
        return f"The check above failed: {exc.what} Follow its hint, {AGAIN}."
    if isinstance(exc, CommandFailed):
        return f"{one_line(exc)}. {exc.advice or f'Fix what its output above says, {AGAIN}.'}"
    if isinstance(exc, LabError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, NotFound):
        return (
            f"Docker has no such object ({_explanation(exc)}): run the cell that creates it again "
            "(`docker ps -a` and `docker images` list what is there)."
        )
    if isinstance(exc, APIError):
        return f"The Docker engine refused: {_explanation(exc)}. Fix what it names, {AGAIN}."
    return f"{one_line(exc)}. Check that Docker runs (`python -m labkit doctor`), {AGAIN}."


def _explanation(exc: APIError) -> str:
    return str(exc.explanation or exc).strip().split("\n", 1)[0]


def _show_short(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    """Publish the error as a one-entry traceback: the front end shows one red message, and the
    kernel still reports an error, so "Run All" and nbval stop at this cell."""
    short = [f"{RED}✘ {short_message(value)}{RESET}"]
    shell._showtraceback(etype, value, short)
    return short


def install(shell: Any = None) -> bool:
    """Register the short display on `shell` (default: the running IPython); a no-op outside IPython."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
        if shell is None:
            return False
    shell.set_custom_exc(SHORTENED, _show_short)
    return True
