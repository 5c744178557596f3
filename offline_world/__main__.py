"""python -m offline_world up|down|status|env: every failure is one line and a non-zero exit."""

import argparse
import os
import sys
from collections.abc import Callable

from labkit.boundary import DEBUG_FLAG, DEBUG_VARIABLE, EXIT_FAILED, guarded
from offline_world import commands
from offline_world.engine import STORES
from offline_world.machine import say
from offline_world.preflight import Refused, root_problem

PROGRAM = "offline world"


def _up() -> int:
    print(commands.up(dict(os.environ)))
    return 0


def _down() -> int:
    problem = root_problem(os.geteuid())
    if problem:
        raise Refused([problem])
    with commands.exclusive():
        undone = commands.down()
    for line in undone or ["nothing to undo"]:
        say(line)
    return 0


def _status() -> int:
    facts = commands.status()
    for what, present in facts.items():
        say(f"{what}: {'yes' if present else 'no'}")
    return 0 if all(facts.values()) else 1


def _env() -> int:
    print(commands.env_lines())
    return 0


def _store(store: str | None) -> int:
    say(f"image store: {commands.use_image_store(store)}")
    return 0


COMMAND_HELP = {
    "up": "install and start the engine, build and serve the stand-ins (as root; idempotent)",
    "down": "undo what up changed on this machine (images and caches stay)",
    "status": "exit 0 when every part is up",
    "env": "shell lines for eval: the Debian docker client first on PATH, BuildKit on",
    "store": "show the engine's image store, or switch it: classic or containerd (as root)",
}
COMMANDS: dict[str, Callable[[], int]] = {"up": _up, "down": _down, "status": _status, "env": _env}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m offline_world",
        description="The .NET images under their real names on a machine that cannot reach MCR.",
        epilog=f"{DEBUG_FLAG} (or {DEBUG_VARIABLE}=1) shows the traceback of a failure.",
    )
    commands_parser = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in sorted(COMMANDS):
        commands_parser.add_parser(name, help=COMMAND_HELP[name])
    store = commands_parser.add_parser("store", help=COMMAND_HELP["store"])
    store.add_argument("store", nargs="?", choices=STORES, help="switch to this image store (restarts the engine)")
    args = parser.parse_args(argv)
    try:
        if args.command == "store":
            return _store(args.store)
        return COMMANDS[args.command]()
    except Refused as exc:
        for problem in exc.problems:
            print(f"✘ {PROGRAM}: {problem}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(guarded(PROGRAM, main))
