"""The book's claims about the images agree with the facts the labs and the catalog rely on.

Checked mechanically, in book/*.md and the solution notebooks' markdown:

* the user and its ID, and the port variable, agree with the stand-in contract (tests/facts.py);
* the support table in dotnet-images.md agrees with labkit/data/releases-index.json (type, end of
  support, phase), and what the book says `latest` points to is the newest released channel;
* every image the catalog holds is named in the book, and the channel the book says the course
  targets is the catalog's.
"""

import re
from collections.abc import Iterator

import pytest

from labkit import catalog, releases
from labkit.releases import Channel
from labkit.tools.maintain.lab_sections import read_notebook
from tests.facts import APP_UID, APP_USER, HTTP_PORT
from tests.helpers import ROOT

PHASES = {"active": "active", "maintenance": "maintenance", "eol": "ended", "go-live": "release candidate"}
RELEASED = ("active", "maintenance", "eol")
IMAGE_FACTS = [
    (re.compile(r"APP_UID\W{0,3}=\W{0,3}(\d+)"), APP_UID, "APP_UID"),
    (re.compile(r"ASPNETCORE_HTTP_PORTS=(\d+)"), HTTP_PORT, "ASPNETCORE_HTTP_PORTS"),
    (re.compile(rf"`{APP_USER}`\W{{0,3}}\((\d+)\)"), APP_UID, f"the `{APP_USER}` user's ID"),
    (re.compile(rf"`{APP_USER}`[^.`]{{0,60}}\b(?:ID|UID)\W{{0,4}}(\d+)"), APP_UID, f"the `{APP_USER}` user's ID"),
]
LIFECYCLE_ROW = re.compile(r"^\| \.NET (\d+) \| (LTS|STS) \| [^|]+ \| (\d{4}-\d{2}-\d{2})[^|]* \| ([^|]+?) \|$", re.M)
LATEST = re.compile(r"`latest` points to (\d+\.\d+)")
TARGETS = re.compile(r"course targets \.NET (\d+)")


def book_texts() -> Iterator[tuple[str, str]]:
    """(where, markdown) for every book page and every markdown cell of the solution notebooks."""
    for page in sorted((ROOT / "book").glob("*.md")):
        yield page.name, page.read_text(encoding="utf-8")
    for path in sorted(ROOT.glob("solutions/*/lab.ipynb")):
        notebook = read_notebook(path.read_text(encoding="utf-8"), str(path))
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "markdown":
                yield f"{path.parent.name} cell {index}", cell.source


def image_fact_errors(where: str, text: str) -> list[str]:
    return [
        f"{where}: {what} is {found}, the images say {expected}"
        for pattern, expected, what in IMAGE_FACTS
        for found in pattern.findall(text)
        if found != expected
    ]


def lifecycle_errors(text: str, channels: tuple[Channel, ...]) -> list[str]:
    """The support table's rows against the release data: one row per channel, same type, date, phase."""
    rows = {f"{major}.0": (kind, eol, phase) for major, kind, eol, phase in LIFECYCLE_ROW.findall(text)}
    errors = []
    for channel in channels:
        if channel.channel_version not in rows:
            errors.append(f".NET {channel.channel_version} is missing from the support table")
            continue
        kind, eol, phase = rows[channel.channel_version]
        expected = (channel.release_type.upper(), str(channel.eol_date), PHASES.get(channel.support_phase, "preview"))
        if (kind, eol, phase.split(" (")[0]) != expected:
            errors.append(f".NET {channel.channel_version}: the book says {(kind, eol, phase)}, the data {expected}")
    return errors


def newest_released(channels: tuple[Channel, ...]) -> str:
    released = [c.channel_version for c in channels if c.support_phase in RELEASED]
    return max(released, key=lambda version: tuple(int(part) for part in version.split(".")))


def all_text() -> str:
    return "\n".join(text for _, text in book_texts())


def test_image_facts_agree_with_the_contract() -> None:
    errors = [error for where, text in book_texts() for error in image_fact_errors(where, text)]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    "text",
    [
        "It sets `APP_UID=1000`.",
        "listens on `ASPNETCORE_HTTP_PORTS=80`",
        "runs as `app` (1000) by default",
        "a user named `app`, with the user and group ID 64198",
    ],
)
def test_image_fact_rule_catches_a_wrong_claim(text: str) -> None:
    assert image_fact_errors("sample", text)


def test_support_table_agrees_with_the_release_data() -> None:
    text = (ROOT / "book" / "dotnet-images.md").read_text(encoding="utf-8")
    errors = lifecycle_errors(text, releases.load(live=False).channels)
    assert not errors, "\n".join(errors)


def test_support_table_rule_catches_a_wrong_row() -> None:
    channels = releases.load(live=False).channels
    text = (ROOT / "book" / "dotnet-images.md").read_text(encoding="utf-8")
    assert lifecycle_errors(text.replace("| 2028-11-14 |", "| 2028-11-10 |"), channels)
    assert lifecycle_errors(text.replace("release candidate (go-live)", "active"), channels)
    assert lifecycle_errors(text.replace("| .NET 8 | LTS |", "| .NET 8 | STS |"), channels)


def test_latest_is_said_to_point_to_the_newest_released_channel() -> None:
    claims = set(LATEST.findall(all_text()))
    assert claims == {newest_released(releases.load(live=False).channels)}, claims


def test_the_book_names_every_catalog_image_and_the_catalog_channel() -> None:
    text = all_text()
    short = [entry.ref.removeprefix("mcr.microsoft.com/dotnet/") for entry in catalog.images()]
    assert not [ref for ref in short if f"`{ref}`" not in text and ref not in text]
    assert set(TARGETS.findall(text)) == {catalog.dotnet_tag().split(".")[0]}
