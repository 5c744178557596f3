"""Lab 6's check cells fail, with their hints, on a wrong learner state."""

import re
from datetime import date
from typing import Any

import pandas as pd
import pytest

from labkit import CheckFailed, releases
from tests.labs import check_cells

NOTEBOOK = check_cells.SOLUTIONS / "06-choosing-images" / "lab.ipynb"
LAB_ID = "test-lab06"


def test_tag_check_fails_on_a_pattern_without_variants_and_architecture(namespace: dict[str, Any]) -> None:
    check_cells.run_cell(NOTEBOOK, 1, 0, namespace)  # defines TAG_PATTERN and parse_tag
    naive = re.compile(r"^(?P<version>[\d.]+)(?:-(?P<os>[a-z]+))?(?P<variants>)(?P<arch>)$")
    with pytest.raises(CheckFailed, match="check each group"):
        check_cells.run_check(NOTEBOOK, 1, namespace, TAG_PATTERN=naive)


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


def test_catalog_check_fails_on_an_end_of_life_channel(namespace: dict[str, Any]) -> None:
    eight = namespace["ASPNET"].rsplit(":", 1)[0] + ":8.0"
    with pytest.raises(CheckFailed, match="out of support"):
        check_cells.run_check(NOTEBOOK, 4, namespace, DOTNET_IMAGES=[namespace["ASPNET"], eight])


@pytest.mark.docker
def test_pull_check_fails_when_the_image_is_missing(namespace: dict[str, Any]) -> None:
    missing = f"containerizing-dotnet/{LAB_ID}-never-pulled:1"
    with pytest.raises(CheckFailed, match="There is no image"):
        check_cells.run_check(NOTEBOOK, 5, namespace, ASPNET=missing)


@pytest.mark.docker
def test_comparison_check_fails_when_the_chiseled_image_is_the_default_one(
    namespace: dict[str, Any],
) -> None:
    with pytest.raises(CheckFailed, match="should not be"):
        check_cells.run_check(NOTEBOOK, 6, namespace, ASPNET_CHISELED=namespace["ASPNET"])
