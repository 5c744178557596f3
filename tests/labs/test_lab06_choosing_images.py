"""Lab 6's check cells fail, with their hints, on a wrong learner state."""

import re
from datetime import date
from typing import Any

import pandas as pd
import pytest

from labkit import CheckFailed, releases
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "06-choosing-images" / "lab.ipynb"
LAB_ID = "test-lab06"


@pytest.mark.parametrize(
    ("production", "pinned", "hint"),
    [
        ("10.0-noble-chiseled", "10.0.12-alpine-arm64v8", "leave out the architecture"),  # no ICU: not -extra
        ("10.0-noble-chiseled-extra-amd64", "10.0.12-alpine-arm64v8", "leave out the architecture"),
        ("10.0-noble-chiseled-extra", "10.0-alpine-arm64v8", "a fixed tag names the patch"),
        ("10.0-noble-chiseled-extra", "10.0.12-alpine-arm64", "the arm64 suffix is -arm64v8"),
    ],
)
def test_tag_check_fails_on_a_wrong_tag(namespace: dict[str, Any], production: str, pinned: str, hint: str) -> None:
    check_cells.run_cell(NOTEBOOK, 1, 0, namespace)  # defines TAG_PATTERN and parse_tag
    with pytest.raises(CheckFailed, match=re.escape(hint)):
        check_cells.run_check(NOTEBOOK, 1, namespace, PRODUCTION_TAG=production, PINNED_TAG=pinned)


def test_release_data_check_fails_without_the_course_channel(namespace: dict[str, Any]) -> None:
    eol = releases.Channel("9.0", "eol", date(2026, 11, 10), "9.0.19", "9.0.317", "sts", None)
    index = releases.ReleaseIndex((eol,), "snapshot", "test data")
    with pytest.raises(CheckFailed, match="release data looks wrong"):
        check_cells.run_check(NOTEBOOK, 2, namespace, index=index, channels=pd.DataFrame({"channel": ["9.0"]}))


def test_support_check_fails_when_only_the_phase_is_read(namespace: dict[str, Any]) -> None:
    def by_phase_only(channel: releases.Channel, today: date) -> bool:
        return channel.support_phase != "eol"

    with pytest.raises(CheckFailed, match="compare eol_date"):
        check_cells.run_check(NOTEBOOK, 3, namespace, index=releases.load(live=False), supported=by_phase_only)


@pytest.mark.docker
def test_catalog_check_fails_when_the_image_was_not_asked(namespace: dict[str, Any]) -> None:
    wrong_state.ran(f"docker image inspect --format '{{{{.Id}}}}' {namespace['RUNTIME']}")
    with pytest.raises(CheckFailed, match="you read DOTNET_VERSION="):
        check_cells.run_check(NOTEBOOK, 4, namespace)


@pytest.mark.docker
def test_catalog_check_fails_on_an_end_of_life_channel(namespace: dict[str, Any]) -> None:
    eight = namespace["ASPNET"].rsplit(":", 1)[0] + ":8.0"
    wrong_state.ran("docker image inspect --format '{{json .Config.Env}}' " + namespace["RUNTIME"])
    with pytest.raises(CheckFailed, match="out of support"):
        check_cells.run_check(NOTEBOOK, 4, namespace, DOTNET_IMAGES=[namespace["ASPNET"], eight])


@pytest.mark.docker
def test_pull_check_fails_when_the_pulls_were_left_to_prepull(namespace: dict[str, Any]) -> None:
    wrong_state.ran(f"docker pull {namespace['ASPNET']}")
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker pull {namespace['ASPNET_CHISELED']}`")):
        check_cells.run_check(NOTEBOOK, 5, namespace)


def test_pull_check_fails_when_the_pulls_were_only_echoed(namespace: dict[str, Any]) -> None:
    wrong_state.echoed(f"docker pull {namespace['ASPNET']}", f"docker pull {namespace['ASPNET_CHISELED']}")
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker pull {namespace['ASPNET']}`")):
        check_cells.run_check(NOTEBOOK, 5, namespace)


@pytest.mark.docker
def test_comparison_check_fails_when_the_chiseled_image_is_the_default_one(
    namespace: dict[str, Any],
) -> None:
    aspnet = namespace["ASPNET"]
    wrong_state.ran("docker image inspect --format 'User: {{json .Config.User}}  Env: {{json .Config.Env}}' " + aspnet)
    with pytest.raises(CheckFailed, match="you read DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=true"):
        check_cells.run_check(NOTEBOOK, 6, namespace, ASPNET_CHISELED=aspnet)


@pytest.mark.docker
def test_challenge_check_fails_on_a_guessed_codename(namespace: dict[str, Any]) -> None:
    wrong_state.ran(f"docker run --rm --network none {namespace['SDK']} cat /etc/os-release")
    with pytest.raises(CheckFailed, match="you read /etc/os-release"):
        check_cells.run_check(NOTEBOOK, check_cells.OUTSIDE, namespace, SDK_CODENAME="plucky", SDK_OS_TAG="10.0-plucky")
