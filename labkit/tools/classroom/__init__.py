"""`python -m labkit classroom serve|join|status|stop`: the workshop's image distribution as commands.

The instructor serves every catalog image from a registry on their laptop; each learner joins,
which pulls the images over the room's network and gives them their real names, so the labs'
`FROM mcr.microsoft.com/dotnet/sdk:10.0` is satisfied without MCR or Docker Hub.

Anyone on the room's network can reach that registry, so nobody there may change what it serves:
`serve` fills it while it listens on loopback only, then opens it to the room read-only, and prints
a fingerprint of the manifest digests it served. `join --expect FINGERPRINT` refuses a registry
whose images do not give that fingerprint (a rogue one at a spoofed address, say) before it pulls
or renames anything, and pulls each image by its digest, which the engine verifies.

No Docker Hub pull-through mirror: the course's Docker Hub images (`registry:2`, `postgres:17`) are
in the catalog and are served and renamed like the .NET images, so a mirror would add a second container
and a `registry-mirrors` entry on every laptop for images no lab uses.
"""

import argparse

from labkit.tools.classroom import join, serve, status
from labkit.tools.classroom.room import REGISTRY_PORT
from labkit.tools.console import wide_console


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `classroom` and its four subcommands to labkit's command line."""
    parser = commands.add_parser(
        "classroom",
        help="serve the course images to a room (instructor), or fetch them from it (learner)",
        description="A workshop's image distribution: the instructor runs `serve`, each learner `join`.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve_cmd = actions.add_parser(
        "serve",
        help="run the classroom registry and fill it with every catalog image",
        description="Run registry:2 (labelled as a course resource), copy every image of images.toml into it "
        "while it listens on loopback only, then open it read-only on ADDRESS:PORT and print the line each learner "
        "runs, with the fingerprint of what it serves.",
    )
    serve_cmd.add_argument("--address", help="address learners reach (default: this machine's LAN address)")
    serve_cmd.add_argument("--port", type=int, default=REGISTRY_PORT, help=f"default {REGISTRY_PORT}")
    serve_cmd.add_argument(
        "--all-platforms",
        action="store_true",
        help="copy every Linux platform of each image from its registry (for rooms with Intel and Apple silicon)",
    )
    serve_cmd.set_defaults(run=lambda args: serve.serve(args.address, args.port, args.all_platforms, wide_console()))
    join_cmd = actions.add_parser(
        "join",
        help="pull every catalog image from the classroom registry and give it its real name",
        description="Check that this engine may pull from ADDRESS and that ADDRESS serves the images `serve` "
        "fingerprinted, pull every image of images.toml from it by digest, name each as the labs expect, and end "
        "with prepull's verdict. Run again to resume.",
    )
    join_cmd.add_argument("address", metavar="ADDRESS[:PORT]", help=f"the instructor's registry (port {REGISTRY_PORT})")
    join_cmd.add_argument(
        "--expect",
        required=True,
        metavar="FINGERPRINT",
        help="the fingerprint `serve` printed, e.g. 4f2a-91c0-7be3-0d5a",
    )
    join_cmd.set_defaults(run=lambda args: join.join(args.address, args.expect, wide_console()))
    status_cmd = actions.add_parser("status", help="what the classroom registry serves and how many pulls it answered")
    status_cmd.set_defaults(run=lambda args: status.status(wide_console()))
    stop_cmd = actions.add_parser("stop", help="remove the classroom registry (course-labelled resources only)")
    stop_cmd.set_defaults(run=lambda args: status.stop(wide_console()))
