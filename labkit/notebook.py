"""Show labkit's own errors in a notebook as one clear message, not a traceback wall.

The cell still fails (the kernel reports an error), so nbval and "Run All" stop there.
"""

from typing import Any

from labkit.errors import CheckFailed, LabError

RED = "\033[31m"
RESET = "\033[0m"


def _show_lab_error(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    """Publish the error as a one-entry traceback: the front end shows one red message, and the
    kernel still reports an error, so "Run All" and nbval stop at this cell."""
    if isinstance(value, CheckFailed) and value.shown:
        short = [f"{RED}✘ The check above failed: follow its hint, then run the cell again.{RESET}"]
    else:
        short = [f"{RED}✘ {etype.__name__}: {value}{RESET}"]
    shell._showtraceback(etype, value, short)
    return short


def install() -> bool:
    """Register the short display when running inside IPython; a no-op elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((LabError,), _show_lab_error)
    return True
