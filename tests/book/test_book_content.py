"""The book's structure and content: table of contents, lab notebook anatomy, no end-of-support images.

The end-of-support rule, precisely (see `eol_violations`):

* An *end-of-support image reference* is any of
  - an official image with a .NET 8 or 9 tag: ``sdk:8.0``, ``aspnet:9.0-alpine``, ``runtime-deps:8.0.11``;
  - a repository of the retired ``dotnet/core/`` namespace: ``mcr.microsoft.com/dotnet/core/sdk:3.1``
    (links such as ``github.com/dotnet/core/blob/...`` are not images and do not match);
  - a Dockerfile tag argument defaulting to 8.0 or 9.0: ``ARG DOTNET_TAG=9.0``.
* Such a reference may appear only in **prose that states the end of support**: a line of Markdown
  outside code fences (in a book page or a notebook's markdown cell) that also contains
  "end of support" or "out of support". Everywhere else it is an error: code cells, code fences,
  Dockerfiles, images.toml, C# and project files, scripts.

Scanned: everything under book/, labs/ and solutions/ (except bin/ and obj/), and images.toml.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from labkit.errors import LabError
from labkit.tools.maintain import book
from tests.helpers import ROOT, prose_and_code_lines

NOTEBOOK_GLOBS = ("solutions/*/lab.ipynb", "labs/*/lab.ipynb")
EOL_SCAN = ("book", "labs", "solutions")
SKIPPED_DIRS = {"bin", "obj", ".ipynb_checkpoints", "__pycache__"}
CHANGED_TITLE = "What changed since the source material"
CHANGED_CLASS = ":class: note what-changed"

EOL_REFERENCE = re.compile(
    r"\b(?:sdk|aspnet|runtime|runtime-deps):[89]\.0\b"
    r"|\bdotnet/core/(?:sdk|aspnet|runtime|runtime-deps)\b"
    r"|\bDOTNET_TAG\s*=\s*[\"']?[89]\.0\b"
)
STATES_SUPPORT_END = re.compile(r"\b(?:end|out) of support\b", re.IGNORECASE)
TIME_ESTIMATE = re.compile(r"\*\*Time\*\*: about \d+ minutes")


# -- table of contents ---------------------------------------------------------------------------


def toc_entries(toc: dict[str, Any]) -> list[str]:
    """Every file named in a jb-book _toc.yml (root, chapters and nested sections), in order."""

    def walk(items: list[dict[str, Any]]) -> Iterator[str]:
        for item in items:
            if "file" in item:
                yield item["file"]
            yield from walk(item.get("sections", []))

    chapters = [chapter for part in toc.get("parts", []) for chapter in part.get("chapters", [])]
    return [toc["root"], *walk(chapters + toc.get("chapters", []))]


def load_toc() -> list[str]:
    return toc_entries(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")))


def source_of(entry: str) -> Path | None:
    """The .md or .ipynb file a toc entry names, if it exists."""
    for suffix in (".md", ".ipynb"):
        if (ROOT / f"{entry}{suffix}").is_file():
            return ROOT / f"{entry}{suffix}"
    return None


def lab_notebooks() -> list[Path]:
    return sorted(path for pattern in NOTEBOOK_GLOBS for path in ROOT.glob(pattern))


def test_every_toc_entry_exists() -> None:
    missing = [entry for entry in load_toc() if source_of(entry) is None]
    assert not missing, f"_toc.yml names files that do not exist: {missing}"


def test_toc_has_no_duplicates() -> None:
    entries = load_toc()
    assert len(entries) == len(set(entries)), "a file is listed twice in _toc.yml"


def test_every_book_page_and_lab_is_in_the_toc() -> None:
    listed = set(load_toc())
    pages = [path for path in (ROOT / "book").rglob("*.md") if "_ext" not in path.parts]
    unlisted = [
        str(path.relative_to(ROOT))
        for path in [*pages, *lab_notebooks()]
        if str(path.relative_to(ROOT).with_suffix("")) not in listed
    ]
    assert not unlisted, f"not in _toc.yml (the book would not show them): {unlisted}"


def test_toc_lists_each_lab_with_its_solution() -> None:
    entries = load_toc()
    labs = {entry.split("/")[1] for entry in entries if entry.startswith("labs/")}
    solutions = {entry.split("/")[1] for entry in entries if entry.startswith("solutions/")}
    assert labs, "_toc.yml lists no labs"
    assert labs == solutions, f"labs without solution or solutions without lab: {labs ^ solutions}"


# What intro.md says, in words, about how many entries a part of the toc has.
COUNTED = {
    r"(\w+) chapters explain": "Concepts",
    r"(\w+) Jupyter notebooks": "Labs",
    r"same (\w+) notebooks": "Solutions",
}
NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
)


def test_the_introduction_counts_what_the_toc_lists() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    parts = {part["caption"]: len(part["chapters"]) for part in toc["parts"]}
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    said = {part: re.search(pattern, intro, re.IGNORECASE) for pattern, part in COUNTED.items()}
    wrong = {part: found and found[1] for part, found in said.items() if not found or _count(found[1]) != parts[part]}
    assert not wrong, f"intro.md counts {wrong}; _toc.yml lists {parts}"


def _count(word: str) -> int:
    return NUMBER_WORDS.index(word.lower()) if word.lower() in NUMBER_WORDS else -1


def test_toc_entries_helper_finds_nested_sections() -> None:
    toc = {"root": "a", "parts": [{"chapters": [{"file": "b", "sections": [{"file": "c"}]}]}]}
    assert toc_entries(toc) == ["a", "b", "c"]


def test_every_lab_is_taught_by_a_chapter() -> None:
    chapters = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (ROOT / "book").glob("*.md")
        if path.name not in ("instructors.md", "intro.md")
    )
    labs = [entry for entry in load_toc() if entry.startswith("labs/")]
    untaught = [lab for lab in labs if f"{{doc}}`/{lab}`" not in chapters]
    assert not untaught, f"no concept chapter links to {untaught}"


# -- lab notebook anatomy ------------------------------------------------------------------------


def notebook_problems(notebook: dict[str, Any]) -> list[str]:
    """What the notebook misses of the required opening and checks (empty when it is fine)."""
    cells = notebook.get("cells", [])
    if not cells or cells[0].get("cell_type") != "markdown":
        return ["the first cell is not a markdown cell"]
    opening = "".join(cells[0]["source"])
    problems = []
    if len([line for line in opening.splitlines() if line.startswith("# ")]) != 1:
        problems.append("the first cell needs exactly one '# ' title")
    if "**Objectives**" not in opening:
        problems.append("the first cell has no **Objectives**")
    if not TIME_ESTIMATE.search(opening):
        problems.append("the first cell has no '**Time**: about N minutes'")
    code = ["".join(cell["source"]) for cell in cells if cell.get("cell_type") == "code"]
    if not any("checks." in source for source in code):
        problems.append("no check cell (a code cell calling checks.)")
    return problems


@pytest.mark.parametrize("path", lab_notebooks(), ids=lambda path: str(path.relative_to(ROOT)))
def test_lab_notebook_has_title_objectives_time_and_checks(path: Path) -> None:
    problems = notebook_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.relative_to(ROOT)}: {'; '.join(problems)}"


def _notebook(opening: str, *code: str) -> dict[str, Any]:
    cells = [{"cell_type": "markdown", "source": [opening]}]
    return {"cells": cells + [{"cell_type": "code", "source": [source]} for source in code]}


GOOD_OPENING = "# Lab 9: Example\n\n**Objectives**\n\n- one\n\n**Time**: about 10 minutes.\n"


def test_notebook_rule_accepts_a_complete_notebook() -> None:
    assert notebook_problems(_notebook(GOOD_OPENING, "checks.image_exists(ref)")) == []


@pytest.mark.parametrize(
    ("opening", "code", "problem"),
    [
        (GOOD_OPENING.replace("# Lab 9", "## Lab 9"), "checks.that(True)", "title"),
        (GOOD_OPENING + "\n# Second title\n", "checks.that(True)", "title"),
        (GOOD_OPENING.replace("**Objectives**", "Objectives"), "checks.that(True)", "Objectives"),
        (GOOD_OPENING.replace("about 10 minutes", "10 min"), "checks.that(True)", "Time"),
        (GOOD_OPENING, "run('docker ps')", "check cell"),
    ],
)
def test_notebook_rule_rejects_incomplete_notebooks(opening: str, code: str, problem: str) -> None:
    problems = notebook_problems(_notebook(opening, code))
    assert any(problem in message for message in problems), problems


# -- end-of-support image references -------------------------------------------------------------


def eol_violations(text: str, is_markdown: bool) -> list[str]:
    """Lines that name an end-of-support image outside prose that states the end of support."""
    return [
        f"line {number}: {line.strip()}"
        for number, line, is_prose in prose_and_code_lines(text, is_markdown)
        if EOL_REFERENCE.search(line) and not (is_prose and STATES_SUPPORT_END.search(line))
    ]


def notebook_violations(notebook: dict[str, Any]) -> list[str]:
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        source = "".join(cell.get("source", []))
        for problem in eol_violations(source, is_markdown=cell.get("cell_type") == "markdown"):
            found.append(f"cell {index}, {problem}")
    return found


def scanned_files() -> Iterator[Path]:
    yield ROOT / "images.toml"
    for folder in EOL_SCAN:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts):
                yield path


def file_violations(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []  # binary (an image, a compiled file): no references to read
    if path.suffix == ".ipynb":
        return notebook_violations(nbformat.reads(text, as_version=4))
    return eol_violations(text, is_markdown=path.suffix == ".md")


def test_no_end_of_support_image_references() -> None:
    found = [f"{path.relative_to(ROOT)} {problem}" for path in scanned_files() for problem in file_violations(path)]
    assert not found, "end-of-support .NET images referenced:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("text", "is_markdown"),
    [
        ("FROM mcr.microsoft.com/dotnet/aspnet:8.0\n", False),
        ("# aspnet:8.0 is out of support, but this is code\nFROM mcr.microsoft.com/dotnet/sdk:9.0-alpine\n", False),
        ("ARG DOTNET_TAG=9.0\n", False),
        ('image = "mcr.microsoft.com/dotnet/runtime-deps:8.0.11"\n', False),
        ("FROM mcr.microsoft.com/dotnet/core/sdk:3.1\n", False),
        ("Build it on `sdk:8.0` for this lab.\n", True),
        ("Text.\n\n```dockerfile\nFROM mcr.microsoft.com/dotnet/aspnet:9.0  # end of support\n```\n", True),
        ("```{code-block} bash\ndocker pull mcr.microsoft.com/dotnet/sdk:8.0  # out of support\n```\n", True),
    ],
)
def test_eol_rule_flags_bad_samples(text: str, is_markdown: bool) -> None:
    assert eol_violations(text, is_markdown)


@pytest.mark.parametrize(
    "text",
    [
        "`aspnet:9.0` reached its end of support on 2026-11-10.\n",
        ":::{note}\nImages such as `sdk:8.0` are out of support since 2026-11-10.\n:::\n",
        "```{admonition} Support\n`runtime:8.0` reached end of support.\n```\n",
        "See <https://github.com/dotnet/core/blob/main/release-notes/10.0/README.md>.\n",
        "FROM mcr.microsoft.com/dotnet/aspnet:10.0\nARG DOTNET_TAG=10.0\n",
    ],
)
def test_eol_rule_allows_support_prose_and_current_images(text: str) -> None:
    assert eol_violations(text, is_markdown=True) == []


def test_eol_rule_checks_notebook_code_cells_but_allows_support_prose() -> None:
    notebook = _notebook(
        "`sdk:8.0` reached end of support on 2026-11-10.", 'run("docker pull mcr.microsoft.com/dotnet/sdk:8.0")'
    )
    assert notebook_violations(notebook) == ['cell 1, line 1: run("docker pull mcr.microsoft.com/dotnet/sdk:8.0")']


# -- chapters ------------------------------------------------------------------------------------


def test_what_changed_asides_use_one_title_and_class() -> None:
    problems = []
    for path in sorted((ROOT / "book").glob("*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if CHANGED_TITLE in line and line.startswith(":::{admonition}"):
                if line != f":::{{admonition}} {CHANGED_TITLE}" or lines[number + 1] != CHANGED_CLASS:
                    problems.append(f"{path.name}:{number + 1}")
            elif "what-changed" in line and not lines[number - 1].endswith(CHANGED_TITLE):
                problems.append(f"{path.name}:{number + 1}")
    assert not problems, f"'{CHANGED_TITLE}' asides must be :::{{admonition}} with {CHANGED_CLASS!r}: {problems}"


def test_book_build_never_executes_by_default() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
    assert book.LEARNER_NOTEBOOKS in config["execute"]["exclude_patterns"]


# -- the executed build's configuration (labkit.tools.maintain.book) ---------------------------------------------

AVAILABLE = ["01-containers", "03-dockerfiles", "05-registries"]
BASE_CONFIG: dict[str, Any] = {
    "title": "t",
    "execute": {"execute_notebooks": "off", "exclude_patterns": ["labs/*/*.ipynb"]},
    "sphinx": {"local_extensions": {"diagrams": "book/_ext"}},
}


def test_executed_config_forces_execution_of_every_solution() -> None:
    config = book.executed_config(BASE_CONFIG, Path("/repo"), AVAILABLE, None)
    assert config["execute"]["execute_notebooks"] == "force"
    assert config["execute"]["timeout"] == book.CELL_TIMEOUT
    assert config["execute"]["exclude_patterns"] == ["labs/*/*.ipynb"]
    assert config["sphinx"]["local_extensions"] == {"diagrams": "/repo/book/_ext"}
    assert BASE_CONFIG["execute"]["execute_notebooks"] == "off", "the loaded config must not be changed"


def test_executed_config_narrows_execution_to_the_chosen_labs() -> None:
    config = book.executed_config(BASE_CONFIG, Path("/repo"), AVAILABLE, ["03-dockerfiles"])
    assert config["execute"]["exclude_patterns"] == [
        "labs/*/*.ipynb",
        "solutions/01-containers/*.ipynb",
        "solutions/05-registries/*.ipynb",
    ]


def test_executed_config_rejects_an_unknown_lab() -> None:
    with pytest.raises(LabError, match="09-nothing"):
        book.executed_config(BASE_CONFIG, Path("/repo"), AVAILABLE, ["09-nothing"])


def test_choosing_labs_without_execution_is_an_error() -> None:
    with pytest.raises(LabError, match="execute"):
        book.build(execute=False, labs=["01-containers"])


def test_exclude_patterns_match_the_way_myst_nb_applies_them() -> None:
    """myst-nb matches each pattern against the notebook's absolute path, from the right."""
    from pathlib import PurePosixPath

    learner = PurePosixPath("/repo/labs/03-dockerfiles/lab.ipynb")
    solution = PurePosixPath("/repo/solutions/03-dockerfiles/lab.ipynb")
    assert learner.match(book.LEARNER_NOTEBOOKS)
    assert not solution.match(book.LEARNER_NOTEBOOKS)
    assert solution.match("solutions/03-dockerfiles/*.ipynb")


# -- diagrams (book/_ext/diagrams.py) -------------------------------------------------------------


def test_every_diagram_renders_to_svg(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("diagrams", ROOT / "book" / "_ext" / "diagrams.py")
    assert spec is not None and spec.loader is not None
    diagrams = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagrams)
    for name in diagrams.DIAGRAMS:
        svg = diagrams.render(name, tmp_path / f"{name}.svg").read_text(encoding="utf-8")
        assert "<svg" in svg and svg.count("<path") > 20, f"{name}: no drawing in the SVG"
    used = {m for page in (ROOT / "book").glob("*.md") for m in re.findall(r"\{diagram\} (\S+)", page.read_text())}
    assert used == set(diagrams.DIAGRAMS), (
        f"diagrams drawn but unused, or used but unknown: {used ^ set(diagrams.DIAGRAMS)}"
    )
