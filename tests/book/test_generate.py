"""labs/ is generated from solutions/: the generator, and the repository's labs/ being current."""

import json
from pathlib import Path

import nbformat
import pytest

from labkit.tools.maintain.generate import (
    MarkerError,
    generate,
    lab_notebook,
    main,
    solution_leaks,
    stale,
    strip_solutions,
)
from tests.helpers import ROOT
from tests.locks import EDITS_ITS_FOLDER, solutions_at_rest

DOCKERFILE = """\
FROM base AS build
# BEGIN SOLUTION: copy the project file and restore
COPY App.csproj .
RUN dotnet restore
# END SOLUTION
COPY . .
"""


def test_region_becomes_a_todo_with_its_hint() -> None:
    assert strip_solutions(DOCKERFILE) == "FROM base AS build\n# TODO: copy the project file and restore\nCOPY . .\n"


def test_indentation_and_comment_style_are_kept() -> None:
    text = "    // BEGIN SOLUTION: return the greeting\n    return hi;\n    // END SOLUTION\n"
    assert strip_solutions(text) == "    // TODO: return the greeting\n"


def test_region_without_hint_gets_a_generic_todo() -> None:
    assert strip_solutions("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n") == "# TODO: write this part\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# BEGIN SOLUTION\nx\n", "never closed"),
        ("x\n# END SOLUTION\n", "without BEGIN"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "inside the region"),
    ],
)
def test_unbalanced_markers_are_reported_with_their_line(text: str, problem: str) -> None:
    with pytest.raises(MarkerError, match=problem):
        strip_solutions(text, "Dockerfile")


def _notebook(*cells: dict[str, object]) -> str:
    return json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 4})  # 4.4: no cell ids


def test_notebook_loses_outputs_solution_and_title_suffix() -> None:
    text = _notebook(
        {"cell_type": "markdown", "metadata": {}, "source": ["# Lab 3: Dockerfiles — solution\n"]},
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": 4,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "secret"}],
            "source": ["# BEGIN SOLUTION: build the image\n", "run('docker build .')\n", "# END SOLUTION\n"],
        },
    )
    cells = nbformat.reads(lab_notebook(text, "lab.ipynb"), as_version=4).cells
    assert cells[0].source == "# Lab 3: Dockerfiles\n"
    assert cells[1].source == "# TODO: build the image\n"
    assert cells[1].outputs == [] and cells[1].execution_count is None


def test_generate_then_check_detects_a_stale_or_leaking_lab(tmp_path: Path) -> None:
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    (solutions / "01-demo" / "bin").mkdir(parents=True)
    (solutions / "01-demo" / "Dockerfile").write_text(DOCKERFILE)
    (solutions / "01-demo" / "bin" / "App.dll").write_text("build output")

    assert generate(solutions, labs) == 1
    assert stale(solutions, labs) == []
    assert not (labs / "01-demo" / "bin").exists()

    (solutions / "01-demo" / "Dockerfile").write_text(DOCKERFILE.replace("COPY . .", "COPY src/ ."))
    assert stale(solutions, labs) == ["01-demo/Dockerfile"]

    (labs / "01-demo" / "Dockerfile").write_text(DOCKERFILE)
    assert solution_leaks(labs) == ["01-demo/Dockerfile"]


def test_check_command_exits_nonzero_on_a_stale_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "solutions" / "01-demo").mkdir(parents=True)
    (tmp_path / "solutions" / "01-demo" / "Dockerfile").write_text(DOCKERFILE)
    assert main(["--root", str(tmp_path), "--check"]) == 1
    assert "python -m labkit generate" in capsys.readouterr().err
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--root", str(tmp_path), "--check"]) == 0


def test_repository_labs_are_current() -> None:
    with solutions_at_rest(*EDITS_ITS_FOLDER):  # not while Lab 4's notebook has its Program.cs edited
        differing = stale(ROOT / "solutions", ROOT / "labs")
    assert differing == [], f"labs/ is stale, run `python -m labkit generate`: {differing}"


def test_repository_labs_hold_no_solution_text() -> None:
    assert solution_leaks(ROOT / "labs") == []


def test_every_solution_lab_has_a_learner_copy_with_todos() -> None:
    lab_names = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
    assert lab_names, "no labs in solutions/"
    for name in lab_names:
        texts = [p.read_text("utf-8", "replace") for p in (ROOT / "labs" / name).rglob("*") if p.is_file()]
        assert any("TODO:" in text for text in texts), f"labs/{name} has nothing for the learner to write"
