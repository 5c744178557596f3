"""The book's figures resolve: every name a page gives is in book/measurements.json, which is complete.

The book build would warn (and fail under -W) on an unknown name; this says the same in a second,
without building. Complete: a size for every catalog image, a wall time for every lab in the run the
estimates count (a lab newer than the other runs may be missing from them until they run again, and
the table shows a dash), and Lab 14's three variants.
"""

import re

from labkit import catalog
from labkit.tools.maintain import estimates, measurements
from tests.helpers import ROOT

ROLE = re.compile(r"\{(measured|estimate)\}`([^`]+)`")
TABLE = re.compile(r"^:::\{measured-table\} (\S+)$", re.MULTILINE)
RUN_NAME = re.compile(r"^(classic|containerd)(-\d+)?$")


def page_texts() -> dict[str, str]:
    return {page.name: page.read_text(encoding="utf-8") for page in sorted((ROOT / "book").glob("*.md"))}


def test_every_figure_a_page_names_exists() -> None:
    figures = measurements.figures(measurements.load())
    labs = set(estimates.lab_ids(ROOT / "solutions"))
    method = set(
        estimates.method_figures(estimates.method_of(estimates.load_inputs(ROOT / "solutions" / estimates.INPUTS)))
    )
    unknown = [
        f"{page}: {{{role}}}`{key}`"
        for page, text in page_texts().items()
        for role, key in ROLE.findall(text)
        if (role == "measured" and key not in figures)
        or (role == "estimate" and key.removeprefix("method:") not in method and not set(key.split("+")) <= labs)
    ]
    assert not unknown, unknown


def test_every_table_a_page_names_exists() -> None:
    known = {*measurements.tables(measurements.load()), "lab-estimates"}
    unknown = [
        f"{page}: {name}" for page, text in page_texts().items() for name in TABLE.findall(text) if name not in known
    ]
    assert not unknown, unknown


def test_the_measurements_file_is_complete() -> None:
    data = measurements.load()
    sizes = data["benchmark"]["images"]
    labs = estimates.lab_ids(ROOT / "solutions")
    assert [entry.key for entry in catalog.images()] == list(sizes), "a size for each catalog image, in its order"
    assert all(sizes[key]["ref"] == entry.ref for key, entry in ((e.key, e) for e in catalog.images()))
    counted = estimates.method_of(estimates.load_inputs(ROOT / "solutions" / estimates.INPUTS)).run
    assert list(data["lab_runs"][counted]["labs"]) == labs, f"a wall time for every lab in the {counted} run"
    assert all(list(run["labs"]) == [lab for lab in labs if lab in run["labs"]] for run in data["lab_runs"].values())
    assert list(data["lab_figures"][measurements.AOT_LAB]["variants"]) == ["framework-dependent", "trimmed", "aot"]
    assert all(RUN_NAME.match(name) for name in data["lab_runs"]), list(data["lab_runs"])


def test_a_lab_a_run_has_not_measured_shows_not_yet_and_so_does_that_runs_total() -> None:
    """A new lab is measured under one store before the next run under the other: its table says so."""
    runs = {
        "classic": {"labs": {"01-a": {"seconds": 1.0}, "02-b": {"seconds": 2.0}}},
        "containerd-1": {"labs": {"01-a": {"seconds": 1.5}}},
    }
    _, rows = measurements._lab_runs(runs, link=str)
    assert rows == [
        ["01-a", "1.0", "1.5"],
        ["02-b", "2.0", measurements.NOT_MEASURED],
        ["**all 2 labs**", "**3**", measurements.NOT_MEASURED],
    ]
