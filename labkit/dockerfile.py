"""Read a Dockerfile as instructions and stages (enough for the labs' checks, not a full parser).

Handles line continuations, comment lines (also inside continuations), heredocs (`RUN <<EOF`),
`FROM ... AS name` stages, and the shell and JSON forms of COPY/ADD. The escape character is
always the backslash (Linux images only).
"""

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

# `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`: no space after <<, a word that starts with a letter or
# underscore. Not shell arithmetic (`$((1 << 3))`) and not a here-string (`<<<`).
_HEREDOC = re.compile(r"(?<!<)<<-?([\"']?)([A-Za-z_]\w*)\1(?![\w<])")
_FLAG = re.compile(r"--([\w-]+)(?:=(\S*))?\s+")


@dataclass(frozen=True)
class Instruction:
    line: int  # where it starts, 1-based
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # everything after the keyword, continuation lines joined

    def __str__(self) -> str:
        return f"{self.keyword} {self.args}"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def parse(text: str) -> list[Instruction]:
    lines = text.splitlines()
    found: list[Instruction] = []
    index = 0
    while index < len(lines):
        start, logical, index = _logical_line(lines, index)
        if not logical:
            continue
        keyword, _, args = logical.partition(" ")
        for _, marker in _HEREDOC.findall(args):
            body, index = _heredoc(lines, index, marker)
            args += "\n" + body
        found.append(Instruction(start + 1, keyword.upper(), args.strip()))
    return found


def _logical_line(lines: list[str], index: int) -> tuple[int, str, int]:
    """Join one instruction's continuation lines, skipping comments and blank lines.

    Returns the index of its first line, its text, and the index after its last line.
    """
    parts: list[str] = []
    start = index
    while index < len(lines):
        raw = lines[index].rstrip()
        index += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if not parts:
            start = index - 1
        parts.append(raw.removesuffix("\\").strip())
        if not raw.endswith("\\"):
            break
    return start, " ".join(part for part in parts if part), index


def _heredoc(lines: list[str], index: int, marker: str) -> tuple[str, int]:
    body: list[str] = []
    while index < len(lines) and lines[index].strip() != marker:
        body.append(lines[index])
        index += 1
    return "\n".join(body), index + 1


def stages(text: str) -> list[Stage]:
    """The build stages, in order; instructions before the first FROM (ARG) are left out."""
    found: list[Stage] = []
    for instruction in parse(text):
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            found.append(Stage(base=words[0] if words else "", name=name))
        elif found:
            found[-1].instructions.append(instruction)
    return found


def read_stages(path: str | Path) -> list[Stage]:
    return stages(Path(path).read_text("utf-8"))


def copy_parts(instruction: Instruction) -> tuple[dict[str, str], list[str], str]:
    """A COPY/ADD instruction's flags (--from, --chown, ...), sources and destination."""
    args = instruction.args.split("\n", 1)[0]
    flags: dict[str, str] = {}
    while match := _FLAG.match(args):
        flags[match[1]] = match[2] or ""
        args = args[match.end() :]
    words = [str(w) for w in json.loads(args)] if args.startswith("[") else shlex.split(args)
    return flags, words[:-1], words[-1] if words else ""
