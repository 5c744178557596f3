"""The lock files that keep the workers of a parallel run (pytest -n) out of each other's way.
conftest.py takes them around tests; what copies or reads a lab's solution folder takes that lab's
folder lock while it reads (tests.helpers.copy_solution)."""

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENGINE_LOCK_ENV = "COURSE_ENGINE_LOCK"  # the lock file, if not the default (the tests of the rules use their own)
DEFAULT_ENGINE_LOCK = Path(tempfile.gettempdir()) / "containerizing-dotnet-tests.lock"

# Labs whose notebook changes files of its own folder while it runs, and puts them back (Lab 3
# rebuilds after an edit to api/Program.cs; in Lab 4, dotnet watch reloads two edits of it). Such a
# notebook holds its lab's folder lock from its first cell to its last: a copy taken meanwhile could
# hold an edit (a TODO-coverage run's copy of Lab 4 with /version already mapped). conftest.py fails
# the run of a notebook that changes its folder and is not listed here.
EDITS_ITS_FOLDER = ("03-dockerfiles", "04-dev-vs-prod")


def take_lock(path: str, exclusive: bool) -> int:
    """The lock file at `path`, locked; closing the descriptor releases it."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    return descriptor


def lock_path(suffix: str = "") -> str:
    """The engine lock's path, or with a suffix the path of a lock beside it."""
    return os.environ.get(ENGINE_LOCK_ENV, str(DEFAULT_ENGINE_LOCK)) + suffix


def folder_lock_path(lab: str) -> str:
    return lock_path(f".folder-{lab}")


@contextmanager
def solutions_at_rest(*labs: str) -> Iterator[None]:
    """While it lasts, no notebook of these labs that edits its folder (EDITS_ITS_FOLDER) runs: their
    solution folders hold what git has (or the maintainer's own edits), not a notebook's passing edit."""
    descriptors = [take_lock(folder_lock_path(lab), exclusive=False) for lab in sorted(set(labs))]
    try:
        yield
    finally:
        for descriptor in descriptors:
            os.close(descriptor)
