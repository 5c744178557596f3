"""No page types a measured figure by hand: it names it, and the book writes it from the one source.

A measured figure is a size, a duration or a multiple: "979.4 MB", "17.0 s", "about 35 minutes",
"nearly four times", or a number in a table column headed by a unit ("| MB |", "| seconds |").
Pages take them from book/measurements.json with `{measured}`key``, tables with
`:::{measured-table}`, and lab estimates with `{estimate}`lab`` (book/_ext/measured.py), so the
figures are never typed and no two places can disagree.

Scanned: every book page and the markdown cells of every solution notebook (labs/ is generated
from them), outside code: fenced code blocks and inline code are commands, not claims. Not
scanned: a notebook's `**Time**` line and its steps' `*About N min*` lines, which
`python -m labkit generate` writes and tests/book/test_estimates.py holds to the estimates.

ALLOWED lists the figures that are not measurements of this course, each with its reason; an
entry that matches nothing fails too, so the list cannot outlive its figures.
"""

import re
from collections.abc import Iterator

import pytest

from labkit.tools import doctor, prepull
from labkit.tools.maintain import lab_sections
from tests.helpers import ROOT, prose_and_code_lines

NUMBER = r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty|forty|fifty|sixty)"
UNIT = r"(?:MB|GB|MiB|GiB|kB|KB|s|sec|seconds?|min|minutes?|h|hours?)"
FIGURE = re.compile(
    rf"\b{NUMBER}[ -]{UNIT}\b"  # 979.4 MB, 17.0 s, 35 minutes, a 15-minute talk
    rf"|\b\d+(?:\.\d+)?{UNIT}\b"  # 10s, 1.3GB
    rf"|\b{NUMBER} times\b|\b\d+(?:\.\d+)?[x\u00d7](?!\w)"  # four times as large, 4.2x (or with a times sign)
    r"|\bratio of \d",  # a ratio of 0.60
    re.IGNORECASE,
)
UNIT_HEADER = re.compile(rf"(?:^|[\s,(]){UNIT}\)?$", re.IGNORECASE)  # a column headed "MB", "lab 3, s", "(seconds)"
NUMERIC_CELL = re.compile(r"^\**\+?\d+(?:[.,]\d+)?\**$")
INLINE_CODE = re.compile(r"`[^`]*`")

# (page, what may appear on it, why it is no measurement of this course)
ALLOWED: list[tuple[str, str, str]] = [
    ("dotnet-images.md", r"\b\d+\.\d\d MB\b", "Microsoft's image size report (November 2025), quoted with its source"),
    ("getting-started.md", "fifteen minutes", "a rough setup time, most of it the learner's own download"),
    ("getting-started.md", "3 GB", "prepull's threshold (NEEDED_GB): a rule, held to it below"),
    ("getting-started.md", "10 GB", "doctor's threshold (MIN_FREE_GB): a rule, held to it below"),
    ("instructors.md", "3 GB", "prepull's threshold (NEEDED_GB): a rule, held to it below"),
    ("instructors.md", r"\((?:15|20) min\)|15-minute", "the length of a talk: the instructor's choice"),
    ("instructors.md", "5 hours", "the day's plan: 9:00 to 17:00 less the start, lunch and breaks"),
    ("01-containers", "256 MB|192 MiB", "the memory limit the lab sets, and the 75 % of it .NET's GC takes"),
    ("01-containers", "60 seconds", "how long labkit waits for a detached command: its setting"),
    ("01-containers", r"\b10 s\b", "Docker's stop timeout: its default"),
    ("07-hardening", "256 MiB", "the memory limit the lab sets"),
    ("production.md", "20 MB", "the GC's documented floor for its heap limit in a container (Microsoft Learn)"),
    ("credits.md", "20 MB", "the GC's documented floor for its heap limit in a container, as the source says it"),
    ("production.md", "256 MiB", "the memory limit Lab 7 sets"),
    ("production.md", r"\b(?:10|30) seconds\b", "Docker's stop timeout, HostOptions.ShutdownTimeout: defaults"),
    (
        "13-diagnose",
        r"\b(?:3|5|10|30)[ -]seconds?\b|\b50 times\b",
        "what the lab sets or teaches: the load's rate, the tools' durations, the slow requests, "
        "Docker's stop timeout and the host's shutdown timeout (their defaults, and the lab's 5 s)",
    ),
    ("14-aot", "32 MiB", "the memory limit the challenge sets"),
]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line without inline code) for the prose lines: outside code, not generated."""
    return [
        (number, INLINE_CODE.sub("``", line))
        for number, line, is_prose in prose_and_code_lines(text, is_markdown=True)
        if is_prose and not lab_sections.generated(line.strip())
    ]


def table_figures(lines: list[tuple[int, str]]) -> Iterator[tuple[int, str, str]]:
    """(line number, line, number) for the numbers in table columns whose header names a unit."""
    units: list[bool] = []
    for number, line in lines:
        if not line.lstrip().startswith("|"):
            units = []
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not units:
            units = [UNIT_HEADER.search(cell) is not None for cell in cells]
            continue
        for cell, unit in zip(cells, units, strict=False):
            if unit and NUMERIC_CELL.match(cell):
                yield number, line, cell


def typed_figures(text: str, where: str = "") -> list[str]:
    """Every measured figure typed into `text` that ALLOWED does not excuse for the page `where`."""
    lines = prose_lines(text)
    allowed = [re.compile(pattern) for page, pattern, _ in ALLOWED if page == where]
    found = [
        f"line {number}: {match[0]!r}"
        for number, line in lines
        for match in FIGURE.finditer(line)
        if not _excused(line, match.span(), allowed)
    ]
    return found + [f"line {number}: {cell!r} in a table" for number, _, cell in table_figures(lines)]


def _excused(line: str, span: tuple[int, int], allowed: list[re.Pattern[str]]) -> bool:
    """An allowance covers the figure where it stands in its line."""
    return any(m.start() <= span[0] and span[1] <= m.end() for pattern in allowed for m in pattern.finditer(line))


def allowance_used(page: str, pattern: str, texts: dict[str, str]) -> bool:
    compiled = re.compile(pattern)
    return any(
        _excused(line, match.span(), [compiled])
        for _, line in prose_lines(texts[page])
        for match in FIGURE.finditer(line)
    )


def pages() -> Iterator[tuple[str, str]]:
    """(where, text): each book page by its file name, each solution notebook's markdown by its lab."""
    for page in sorted((ROOT / "book").glob("*.md")):
        yield page.name, page.read_text(encoding="utf-8")
    for path in sorted((ROOT / "solutions").glob("*/lab.ipynb")):
        notebook = lab_sections.read(path)
        yield path.parent.name, "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def test_no_page_types_a_measured_figure() -> None:
    found = [f"{where} {figure}" for where, text in pages() for figure in typed_figures(text, where)]
    assert not found, (
        "Measured figures typed by hand (name them: {measured}`key`, {estimate}`lab`, :::{measured-table}; "
        "or, if one is no measurement, add it to ALLOWED with the reason):\n" + "\n".join(found)
    )


def test_every_allowance_is_still_needed() -> None:
    texts = dict(pages())
    unused = [
        (page, pattern)
        for page, pattern, _ in ALLOWED
        if not any(
            re.search(pattern, match[0]) for _, line in prose_lines(texts[page]) for match in FIGURE.finditer(line)
        )
    ]
    assert not unused, f"ALLOWED entries that match no figure any more: {unused}"


def test_the_thresholds_the_pages_quote_are_the_tools_own() -> None:
    texts = {page: " ".join(text.lower().split()) for page, text in pages()}
    needed, free = f"about {prepull.NEEDED_GB:.0f} gb", f"asks for {doctor.MIN_FREE_GB:.0f} gb"
    assert needed in texts["instructors.md"] and needed in texts["getting-started.md"]
    assert free in texts["getting-started.md"]


@pytest.mark.parametrize(
    "text",
    [
        "The sdk image takes 979.4 MB on disk.",
        "a cold build took 17.0 s and a rebuild 10.3 s",
        "the SDK image is nearly four times as large",
        "the SDK image is 4.2x as large",
        "an earlier run gave a ratio of 0.60",
        "The whole CI run took 23 minutes.",
        "Lab 9 takes about 35 minutes.",
        "| lab | classic store, s |\n| --- | ---: |\n| Lab 1 | 31.3 |\n",
        "| image | MB | layers |\n| --- | ---: | ---: |\n| `sdk:10.0` | 979.4 | 11 |\n",
        ":::{note}\nThe rebuild took 8.3 s.\n:::\n",
    ],
)
def test_a_typed_figure_is_caught(text: str) -> None:
    assert typed_figures(text), text


@pytest.mark.parametrize(
    "text",
    [
        "The sdk image takes {measured}`image.sdk.mb` on disk, {measured}`sdk_over_aspnet` as much.",
        "Lab 1 takes {estimate}`01-containers`.\n\n:::{measured-table} lab-runs\n:::\n",
        "```bash\ndocker run --memory 256m --stop-timeout 10 app   # 10 s\n```\n",
        "Run `sleep 60` in it.",
        "*About 9 min (reading, 2 TODOs).*",
        "**Time**: about 50 minutes: reading about 5, 10 TODOs at 3 to 5 minutes each.",
        ".NET 10, Docker Engine 26.1, buildx 0.13, UID 1654, port 8080, 3 layers",
    ],
)
def test_a_named_figure_code_and_the_generated_lines_pass(text: str) -> None:
    assert typed_figures(text) == []


def test_a_real_page_with_one_figure_typed_into_it_fails() -> None:
    """dotnet-images.md passes as it is, and fails on its figure once that is typed, as it once was."""
    page = (ROOT / "book" / "dotnet-images.md").read_text(encoding="utf-8")
    assert typed_figures(page, "dotnet-images.md") == []
    typed = page.replace("{measured}`image.sdk.mb`", "858 MB", 1)
    line = next(number for number, text in enumerate(typed.splitlines(), start=1) if "858 MB" in text)
    assert typed_figures(typed, "dotnet-images.md") == [f"line {line}: '858 MB'"]
