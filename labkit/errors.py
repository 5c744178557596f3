"""Errors a learner can act on: each carries one message that says what to do.

In a notebook, labkit shows these as one red line instead of a traceback (see notebook.py);
everywhere else they are ordinary exceptions, so nbval and pytest still see the failure.
"""


class LabError(Exception):
    """Base for every error labkit raises on purpose."""


class CommandFailed(LabError):
    """A shell command exited non-zero or ran past its timeout."""

    def __init__(self, command: str, returncode: int | None, tail: str, advice: str = "") -> None:
        self.command = command
        self.returncode = returncode
        self.tail = tail
        self.advice = advice
        self.what = "timed out" if returncode is None else f"exited with code {returncode}"
        hint = f"\nHint: {advice}" if advice else ""
        super().__init__(f"`{command}` {self.what}. Last lines of its output:\n{tail}{hint}")


class DockerUnavailable(LabError):
    """No Docker engine answers."""


class CheckFailed(LabError):
    """A lab self-check found the wrong state; the message carries the hint.

    `shown` is True when the check already printed its red line and hint, so a notebook
    need not repeat them; `what` is that red line, which the cell's error line names again
    (nbval's report of a failed cell, in a CI log, shows that line and not the output above it).
    """

    def __init__(self, message: str, shown: bool = False, what: str = "") -> None:
        super().__init__(message)
        self.shown = shown
        self.what = what


class InvalidName(LabError, ValueError):
    """A lab id or name that Docker would not accept."""


class CatalogError(LabError):
    """The image catalog is missing or does not name what was asked for."""
