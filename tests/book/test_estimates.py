"""Each lab's time estimate has one source: the notebooks and the instructor guide say what it counts.

labkit.tools.maintain.estimates counts them (from the solution notebooks, solutions/estimates.toml
and book/measurements.json); `python -m labkit generate` writes them into the notebooks' header and
step lines; the guide's table and its schedules read them as the book builds ({estimate}, the
`lab-estimates` table). Held here: the notebooks say what the count says, a pending lab carries no
share lines yet, the one-day plan's slots hold what they list, and the count itself.
"""

import itertools
import json
import re
from pathlib import Path

import pytest

from labkit.tools.maintain import estimates, lab_sections, measurements
from labkit.tools.maintain.estimates import EstimatesError, Extra, Method, Share
from tests.helpers import ROOT

METHOD = Method(words_per_minute=200, todo_minutes=(3, 5), open_task_minutes=8, run="classic")
PLAN_ROW = re.compile(r"^\| (\d{1,2}):(\d\d) \| (.*) \|$", re.MULTILINE)


def test_the_notebooks_say_what_the_estimates_count() -> None:
    stale = [str(path.relative_to(ROOT)) for path in estimates.unstamped(ROOT)]
    assert not stale, f"time lines differ from the estimates, run `python -m labkit generate`: {stale}"


def test_a_pending_lab_carries_no_share_lines_yet() -> None:
    """Once it does, its entry under [pending] goes, and `python -m labkit generate` writes its lines."""
    inputs = estimates.load_inputs(ROOT / "solutions" / estimates.INPUTS)
    carrying = [
        lab
        for lab in estimates.pending(inputs)
        if any(
            lab_sections.SHARE_LINE.match(line)
            for cell in lab_sections.read(ROOT / "solutions" / lab / "lab.ipynb").cells
            for line in cell.source.splitlines()
        )
    ]
    assert not carrying, f"remove {carrying} from [pending] in solutions/estimates.toml, then run generate"


def test_every_step_and_challenge_of_a_stamped_lab_has_one_share_line() -> None:
    inputs = estimates.load_inputs(ROOT / "solutions" / estimates.INPUTS)
    problems = []
    for lab in set(estimates.lab_ids(ROOT / "solutions")) - estimates.pending(inputs):
        text = "\n".join(cell.source for cell in lab_sections.read(ROOT / "solutions" / lab / "lab.ipynb").cells)
        sections = lab_sections.sections(lab_sections.read(ROOT / "solutions" / lab / "lab.ipynb"))
        shares = len([line for line in text.splitlines() if lab_sections.SHARE_LINE.match(line)])
        if shares != len([section for section in sections if section.has_share]):
            problems.append(f"{lab}: {shares} share lines")
    assert not problems, problems


def test_the_one_day_plan_holds_what_each_slot_lists() -> None:
    """Each slot's talks and lab estimates end before the next slot starts."""
    guide = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    plan = guide.split("### A one-day workshop", 1)[1].split("\n#", 1)[0]
    rows = [(int(h) * 60 + int(m), what) for h, m, what in PLAN_ROW.findall(plan)]
    found = {lab.lab: lab.minutes for lab in estimates.all_estimates()}
    overfull = [
        f"{start // 60}:{start % 60:02d} {what}: {needed} min in {end - start}"
        for (start, what), (end, _) in itertools.pairwise(rows)
        if (needed := _minutes_listed(what, found)) > end - start
    ]
    assert len(rows) > 5 and not overfull, overfull


def _minutes_listed(what: str, found: dict[str, int]) -> int:
    talks = sum(int(minutes) for minutes in re.findall(r"\((\d+) min\)", what))
    labs = re.findall(r"\{estimate\}`([^`]+)`", what)
    return talks + sum(found[lab] for key in labs for lab in key.split("+"))


# -- the count -----------------------------------------------------------------------------------------


def test_a_step_counts_its_reading_todos_extra_and_commands() -> None:
    assert Share("Step 1", 200, 2, 0.0, None, METHOD).minutes == 9  # 1 + 2 x 4
    assert Share("Step 1", 200, 1, 0.0, Extra(8, "a script"), METHOD).minutes == 13
    assert Share("Step 1", 100, 0, 95.0, None, METHOD).line() == "*About 3 min (reading, 2 min of commands).*"
    assert Share("Step 1", 50, 1, 10.0, None, METHOD).line() == "*About 5 min (reading, 1 TODO).*"


def test_a_challenge_is_an_open_task_with_or_without_a_cell() -> None:
    assert Share("Challenge", 100, 0, 0.0, None, METHOD).line() == (
        "*About 9 min: an open task, for whoever finishes early.*"
    )
    assert Share("Challenge", 100, 2, 0.0, None, METHOD).minutes == 17


def _cell(kind: str, source: str) -> dict[str, object]:
    extra: dict[str, object] = {"outputs": [], "execution_count": None} if kind == "code" else {}
    return {"cell_type": kind, "metadata": {}, "source": source, **extra}


def demo_lab(root: Path) -> Path:
    """A repository with one lab: a step with a TODO in its notebook cell (and its share line twice,
    as lab 7 once had), a step with one in the Dockerfile it asks for, and a challenge."""
    lab = root / "solutions" / "01-demo"
    lab.mkdir(parents=True)
    (lab / "Dockerfile").write_text("# BEGIN SOLUTION: the base image\nFROM x\n# END SOLUTION\n")
    share = "*About 1 min (reading).*"
    cells = [
        _cell("markdown", "# Lab 1: Demo\n\n**Time**: about 5 minutes.\n"),
        _cell("markdown", f"## Step 1: Run it\n\n{share}\n\nRun it.\n\n{share}\n"),
        _cell("code", "# BEGIN SOLUTION: run it\nrun('docker run x')\n# END SOLUTION"),
        _cell("markdown", "## Step 2: Build it\n\nWrite the `Dockerfile`."),
        _cell("code", "run('docker build .')"),
        _cell("markdown", "## Challenge: more\n\nDo more."),
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    (lab / "lab.ipynb").write_text(json.dumps(notebook, indent=1) + "\n")
    (root / "solutions" / estimates.INPUTS).write_text(
        '[method]\nwords_per_minute = 200\ntodo_minutes = [3, 5]\nopen_task_minutes = 8\nrun = "classic"\n'
        '[files."01-demo"]\n"Dockerfile" = "Step 2"\n'
    )
    run = {
        "run": "classic",
        "date": "2026-12-05",
        "engine": "26.1",
        "store": "classic",
        "cells": {"01-demo": [1.0, 44.0]},
    }
    folded = measurements.fold({}, {}, [run], ["01-demo"], _steps_of(lab / "lab.ipynb"))
    (root / "book").mkdir()
    (root / measurements.FILE).write_text(json.dumps(folded))
    return lab / "lab.ipynb"


def _steps_of(path: Path) -> measurements.StepsOf:
    return lambda lab, cells: lab_sections.seconds_by_section(lab_sections.read(path), cells)


def test_generate_writes_one_share_line_per_step_and_the_header(tmp_path: Path) -> None:
    notebook = demo_lab(tmp_path)
    assert estimates.unstamped(tmp_path) == [notebook]
    assert estimates.write(tmp_path) == [notebook]
    cells = lab_sections.read(notebook).cells
    assert cells[0].source == (
        "# Lab 1: Demo\n\n**Time**: about 10 minutes: reading about 1, 2 TODOs at 3 to 5 minutes each, "
        "and about 1 min of commands with the images present (each step says its share). "
        "The challenge at the end adds about 9.\n"
    )
    assert cells[1].source == "## Step 1: Run it\n\n*About 5 min (reading, 1 TODO).*\n\nRun it.\n"  # one line, not two
    assert (
        cells[3].source
        == "## Step 2: Build it\n\n*About 5 min (reading, 1 TODO, 1 min of commands).*\n\nWrite the `Dockerfile`."
    )
    assert estimates.unstamped(tmp_path) == [] and estimates.write(tmp_path) == []  # writing it again changes nothing


def test_a_notebook_that_disagrees_with_the_count_is_stale(tmp_path: Path) -> None:
    notebook = demo_lab(tmp_path)
    estimates.write(tmp_path)
    notebook.write_text(
        notebook.read_text().replace("*About 5 min (reading, 1 TODO).*", "*About 3 min (reading, 1 TODO).*")
    )
    assert estimates.unstamped(tmp_path) == [notebook]


def test_a_file_with_todos_needs_the_step_that_asks_for_it(tmp_path: Path) -> None:
    demo_lab(tmp_path)
    (tmp_path / "solutions" / "01-demo" / "Program.cs").write_text("// BEGIN SOLUTION: greet\n// END SOLUTION\n")
    with pytest.raises(EstimatesError, match=r'\[files."01-demo"\] "Program.cs"'):
        estimates.all_estimates(tmp_path)


def test_a_step_the_notebook_does_not_have_is_an_error(tmp_path: Path) -> None:
    demo_lab(tmp_path)
    toml = tmp_path / "solutions" / estimates.INPUTS
    toml.write_text(toml.read_text().replace('"Step 2"', '"Step 9"'))
    with pytest.raises(EstimatesError, match="'Step 9' of 01-demo"):
        estimates.all_estimates(tmp_path)
