"""`python -m labkit`: the course's command line (doctor, prepull, clean, generate, book, tags)."""

import argparse
import importlib
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from labkit import boundary, names
from labkit.engine import cleanup
from labkit.tools import classroom, doctor, open_lab, prepull
from labkit.tools.console import wide_console
from labkit.tools.maintain import generate, tags

DESCRIPTION = "Check, prepare and clean up a machine for the Containerizing .NET labs."
EPILOG = f"An error is one line; add {boundary.DEBUG_FLAG} (or set {boundary.DEBUG_VARIABLE}=1) to see its traceback."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m labkit", description=DESCRIPTION, epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "doctor",
        help="check that this machine can run the labs",
        description="Check the Docker engine, Linux containers, disk, ports, registries and course images. "
        "Exit code 0 when every required check passes, 1 otherwise.",
    )
    check.set_defaults(run=lambda args: doctor.main(wide_console()))

    pull = commands.add_parser(
        "prepull",
        help="pull every image the course uses and the NuGet packages the labs restore (before class)",
        description="Pull the images listed in images.toml that are not here yet, with a progress bar, then "
        "restore the labs' NuGet packages into BuildKit's cache, so the labs build offline. "
        "Exit code 1 if anything could not be fetched.",
    )
    pull.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="KEY",
        help="pull only these catalog keys (e.g. sdk aspnet); no NuGet packages",
    )
    pull.set_defaults(run=lambda args: prepull.main(args.only))

    clean = commands.add_parser(
        "clean",
        help="remove the containers, images, networks and volumes the labs created",
        description=f"Remove only resources labelled {names.LABEL_KEY} (all labs, or one with --lab); "
        "nothing else on this machine is touched. A running classroom registry is kept unless asked for by "
        f"name (--lab {names.CLASSROOM_LAB}).",
    )
    clean.add_argument("--lab", metavar="ID", help="only this lab's resources (e.g. 03-dockerfiles)")
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    clean.set_defaults(run=lambda args: run_clean(args.lab, args.dry_run))

    tags_cmd = commands.add_parser(
        "tags",
        help="check every catalog tag against the .NET release metadata and its registry",
        description="For each image in images.toml: is its .NET channel still supported (releases-index.json, "
        "live or the shipped snapshot), and does its registry still list the tag (GET /v2/<repo>/tags/list)? "
        "Exit code 1 if a tag is out of support or no longer listed; a registry that cannot be asked is reported, "
        "not counted as a failure.",
    )
    tags_cmd.set_defaults(run=lambda args: run_tags())

    # Listed here for --help; main() hands its arguments (--help included) to labkit.tools.maintain.generate.
    commands.add_parser(
        "generate", help="write the time estimates into solutions/, regenerate labs/ from it (see `generate --help`)"
    )

    book = commands.add_parser(
        "book",
        help="build the book into _build/html",
        description="Run `jupyter-book build . -W --keep-going`; with --execute the solution notebooks run "
        "against the Docker engine first (the learner notebooks in labs/ never do). Exit code: jupyter-book's.",
    )
    book.add_argument("--execute", action="store_true", help="execute the solution notebooks")
    book.add_argument(
        "--only", nargs="+", action="extend", metavar="LAB", help="execute only these labs, e.g. 03-dockerfiles"
    )
    book.set_defaults(run=run_book)
    classroom.register(commands)
    open_lab.register(commands)
    return parser


def run_clean(lab_id: str | None, dry_run: bool) -> int:
    found = cleanup.remove(lab_id, dry_run=dry_run)
    scope = f"{names.LABEL_KEY}={lab_id}" if lab_id else names.LABEL_KEY
    verb = "Would remove" if dry_run else "Removed"
    console = Console()
    console.print(f"{verb} {len(found)} resource(s) labelled {scope}.", highlight=False)
    if found:
        table = Table("kind", "name", "lab")
        for resource in found:
            table.add_row(resource.kind, resource.name, resource.lab)
        console.print(table)
    return 0


def run_tags() -> int:
    reports = tags.check_catalog()
    table = Table("", "image", ".NET support", "registry")
    for report in reports:
        mark = Text("✔", style="green") if report.ok else Text("✘", style="red")
        table.add_row(mark, report.ref, report.support, report.published)
    wide_console().print(table)
    return 0 if all(report.ok for report in reports) else 1


def run_book(args: argparse.Namespace) -> int:
    # Imported here: labkit.tools.maintain.book needs jupyter-book's packages, which the other commands do not.
    book = importlib.import_module("labkit.tools.maintain.book")
    result: int = book.build(execute=args.execute, labs=args.only)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """The command line's entry point: any error is one line (the traceback with --debug)."""
    return boundary.guarded("labkit", dispatch, argv)


def dispatch(words: list[str]) -> int:
    if words[:1] == ["generate"]:
        return generate.main(words[1:])
    args = build_parser().parse_args(words)
    result: int = args.run(args)
    return result
