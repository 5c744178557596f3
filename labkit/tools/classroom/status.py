"""`classroom status` and `classroom stop`: what the registry serves, how many pulls it answered; removing it."""

import re
from collections import Counter

from rich.console import Console
from rich.table import Column, Table

from labkit import refs
from labkit.engine import cleanup
from labkit.registry.client import USER_AGENT, Registry
from labkit.tools.classroom.room import (
    ADDRESS_LABEL,
    FINGERPRINT_LABEL,
    LAB,
    MB,
    classroom_container,
    fingerprint,
    join_line,
    own_address,
    served_digests,
    served_ref,
    served_refs,
    split_address,
    stored_bytes,
)

_PULL = re.compile(r'^(\S+) .*"(?:GET|HEAD) /v2/(\S+)/manifests/(\S+) HTTP/[\d.]+" 200 .*"([^"]*)"$')


def status(out: Console) -> int:
    container = classroom_container()
    if container is None:
        out.print("No classroom registry on this engine. Start one with `python -m labkit classroom serve`.")
        return 1
    where = container.labels.get(ADDRESS_LABEL, "?")
    host, port = split_address(where)
    served = Registry(own_address(host, port))
    digests = served_digests(served)
    table = Table("", Column("image", overflow="fold"), Column("served as", overflow="fold"), "platforms")
    missing = 0
    for ref in served_refs():
        image = refs.parse(ref)
        platforms = _platforms(served, image.repository, image.tag_or_latest)
        missing += platforms is None
        mark = "[green]✔[/]" if platforms else "[red]✘[/]"
        table.add_row(mark, ref, served_ref(ref, where), platforms or "not served: run `serve` again")
    pulls = count_pulls(container.logs().decode("utf-8", "replace"), {d for d in digests.values() if d})
    out.print(f"Classroom registry {container.name} ({container.status}) on {where}:", highlight=False)
    out.print(table)
    out.print(
        f"{stored_bytes(served) / MB:.0f} MB served; {sum(pulls.values())} image pull(s) answered, "
        f"from {len(pulls)} address(es).",
        highlight=False,
    )
    opened = container.labels.get(FINGERPRINT_LABEL)
    if opened is None:
        out.print("[red]✘[/] Not open to the room yet (`serve` stopped while filling it): run `serve` again.")
        return 1
    if opened != fingerprint(digests):
        out.print(f"[red]✘[/] It serves other images than `serve` fingerprinted ({opened}): run `serve` again.")
        return 1
    out.print(f"Read-only; learners run: {join_line(where, opened)}", highlight=False)
    return 1 if missing else 0


def _platforms(served: Registry, repo: str, tag: str) -> str | None:
    if tag not in served.tags(repo):
        return None
    top = served.manifest(repo, tag)
    if not top.is_index:
        return "one"
    found = [entry.get("platform") or {} for entry in top.data["manifests"]]
    return ", ".join(
        "/".join(filter(None, (p.get("os"), p.get("architecture"), p.get("variant"))))
        for p in found
        if p.get("os") not in (None, "unknown")
    )


def count_pulls(logs: str, images: set[str]) -> Counter[str]:
    """Pulls per client address: requests answered 200 for an image's manifest, by tag or by one of the
    `images` digests (`join` pulls by digest; a platform's manifest under an index is no second pull),
    labkit's own requests left out."""
    pulls: Counter[str] = Counter()
    for line in logs.splitlines():
        found = _PULL.match(line.strip())
        if not found or USER_AGENT in found.group(4):
            continue
        reference = found.group(3)
        if not reference.startswith("sha256:") or reference in images:
            pulls[found.group(1)] += 1
    return pulls


def stop(out: Console) -> int:
    removed = cleanup.remove(LAB)
    if not removed:
        out.print("No classroom registry was running on this engine.")
    for resource in removed:
        out.print(f"Removed {resource.kind} {resource.name}.", highlight=False)
    return 0
