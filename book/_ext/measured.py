"""Measured figures and lab time estimates, written into the pages while the book builds.

No page types a measured figure: it names one, and this extension writes it from the one source,
book/measurements.json (see labkit.tools.maintain.measurements), or from the labs' time estimates
(labkit.tools.maintain.estimates). In MyST:

    The sdk image takes {measured}`image.sdk.mb` on disk.       -> ... takes 979.4 MB on disk.
    Lab 1 takes {estimate}`01-containers`.                      -> Lab 1 takes 50 min.
    Labs 1 and 2 take {estimate}`01-containers+02-images`.      -> ... take 80 min.
    read at {estimate}`method:words_per_minute` words a minute  -> read at 200 words a minute

    :::{measured-table} lab-runs
    :::

A table is one of measurements.tables() or `lab-estimates`, the instructor guide's Timings table.
An unknown name is a build warning, so the book's `-W` build fails on it;
tests/gates/test_figures.py fails on a figure typed into a page instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

from labkit.tools.maintain import estimates, measurements

LOGGER = logging.getLogger(__name__)
ESTIMATE_INPUTS = measurements.ROOT / "solutions" / estimates.INPUTS


def figures() -> dict[str, str]:
    return measurements.figures(measurements.load())


def lab_estimates() -> dict[str, estimates.LabEstimate]:
    return {lab.lab: lab for lab in estimates.all_estimates()}


def estimate_text(key: str) -> str:
    """A lab's estimate ("01-containers"), the sum of several ("01-containers+02-images"), or a
    figure of the method that counts them ("method:words_per_minute")."""
    if key.startswith("method:"):
        method = estimates.method_of(estimates.load_inputs(ESTIMATE_INPUTS))
        return estimates.method_figures(method)[key.removeprefix("method:")]
    found = lab_estimates()
    return estimates.duration(sum(found[lab].minutes for lab in key.split("+")))


class MeasuredRole(SphinxRole):
    """{measured}`key`: one figure of the measurements file, with its unit."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        for path in (__file__, measurements.MEASUREMENTS):
            self.env.note_dependency(str(path))
        found = figures()
        if self.text not in found:
            LOGGER.warning("no measured figure %r in %s", self.text, measurements.FILE, location=self.get_location())
            return [nodes.problematic(self.rawtext, self.rawtext)], []
        return [nodes.Text(found[self.text])], []


class EstimateRole(SphinxRole):
    """{estimate}`lab[+lab...]`: how long a lab takes (or several together), as the guide counts it."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        for path in _estimate_sources():
            self.env.note_dependency(str(path))
        try:
            text = estimate_text(self.text)
        except KeyError as exc:
            LOGGER.warning("nothing to estimate called %s", exc, location=self.get_location())
            return [nodes.problematic(self.rawtext, self.rawtext)], []
        return [nodes.Text(text)], []


class MeasuredTableDirective(SphinxDirective):
    """A table of measured figures (or the guide's estimates), written as Markdown and parsed as the page is."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        for path in (__file__, measurements.MEASUREMENTS, *(_estimate_sources() if name == "lab-estimates" else ())):
            self.env.note_dependency(str(path))
        tables = measurements.tables(measurements.load())
        if name == "lab-estimates":
            tables[name] = estimates.table(list(lab_estimates().values()))
        if name not in tables:
            raise self.error(f"unknown measured table {name!r}; known: {', '.join(sorted(tables))}, lab-estimates")
        container = nodes.container(classes=["measured-table"])
        lines = measurements.markdown(tables[name]).splitlines()
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), self.content_offset, container)
        parsed: list[nodes.Node] = container.children
        return parsed


def _estimate_sources() -> list[Path]:
    """What an estimate depends on: this code, its inputs, the measurements and every solution notebook."""
    notebooks = sorted((measurements.ROOT / "solutions").glob("*/lab.ipynb"))
    return [Path(__file__), ESTIMATE_INPUTS, measurements.MEASUREMENTS, *notebooks]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_role("measured", MeasuredRole())
    app.add_role("estimate", EstimateRole())
    app.add_directive("measured-table", MeasuredTableDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
