"""`doctor` catches a `docker build` that would not run on BuildKit (the labs need $BUILDPLATFORM, $TARGETARCH)."""

import os
from pathlib import Path

import pytest

from labkit.tools.doctor import BuildSetup, builder_row
from tests.helpers import catalog_file, labkit

DEBIAN_CLI = "20.10.24+dfsg1"
NO_BUILDX = "has no buildx plugin, which BuildKit needs: install docker-buildx-plugin"
OLD = "export DOCKER_BUILDKIT=1, or use Docker Engine 23.0+"


@pytest.mark.parametrize(
    ("setup", "fix"),
    [
        (BuildSetup(DEBIAN_CLI, False, None, "0"), "DOCKER_BUILDKIT=0 selects the legacy builder: unset it"),
        (BuildSetup("28.2.2", True, "2", "false"), "DOCKER_BUILDKIT=false selects the legacy builder: unset it"),
        (BuildSetup(DEBIAN_CLI, False, None, None), OLD),
        (BuildSetup(DEBIAN_CLI, False, "1", None), OLD),
        (BuildSetup("28.2.2", False, "2", None), NO_BUILDX),
        (BuildSetup("28.2.2", False, "2", "1"), NO_BUILDX),
        (BuildSetup(DEBIAN_CLI, False, None, "yes"), "DOCKER_BUILDKIT=yes is not a boolean: export DOCKER_BUILDKIT=1"),
        (BuildSetup(None, False, "2", None), "no `docker` command on PATH"),
    ],
    ids=["env-0", "env-false", "old-cli", "old-engine", "new-cli-no-buildx", "env-1-no-buildx", "not-bool", "no-cli"],
)
def test_a_legacy_builder_blocks_with_the_fix_in_one_line(setup: BuildSetup, fix: str) -> None:
    row = builder_row(setup)
    assert row.blocks and fix in row.detail
    assert "\n" not in row.detail


@pytest.mark.parametrize(
    "setup",
    [
        BuildSetup(DEBIAN_CLI, False, None, "1"),  # the offline world: Debian's 20.10 client, DOCKER_BUILDKIT=1
        BuildSetup(DEBIAN_CLI, False, "2", None),  # an engine whose default builder is BuildKit
        BuildSetup("28.2.2", True, "2", None),  # a current CLI with buildx: `docker build` is `docker buildx build`
        BuildSetup("23.0.1", True, None, "true"),
    ],
    ids=["old-cli-env-1", "old-cli-engine-default", "new-cli-buildx", "new-cli-env-true"],
)
def test_buildkit_passes(setup: BuildSetup) -> None:
    row = builder_row(setup)
    assert row.status == "pass" and row.detail.startswith("BuildKit (")


@pytest.mark.docker
def test_doctor_with_buildkit_switched_off_fails_on_that_row(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_BUILDKIT": "0", "LABKIT_CATALOG": str(catalog_file(tmp_path, {}))}
    result = labkit("doctor", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    flagged = [line for line in result.stdout.splitlines() if "DOCKER_BUILDKIT=0" in line]
    assert len(flagged) == 1 and "✘" in flagged[0] and "unset it" in flagged[0], result.stdout
