"""Image insight for the labs: sizes, layers, users, history and real disk use, as tables and plots.

Sizes are in MB of 1,000,000 bytes, as `docker image ls` shows them. The inspect fields come
through labkit.engine.image_info (API 1.41 fields only: `Size`, `Config`, `RootFS`, `Created`).
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from labkit.docker_access import client
from labkit.engine.image_info import (
    MB,
    ImageMissing,
    common_prefix,
    config,
    env,
    exists,
    inspect,
    layers,
    short_digest,
    size_mb,
    user,
)

__all__ = [  # the inspect helpers are re-exported: notebooks use images.inspect(ref), images.user(info), ...
    "DiskUsage",
    "ImageMissing",
    "config",
    "disk_usage",
    "env",
    "exists",
    "history",
    "inspect",
    "layer_sharing",
    "layers",
    "plot_sizes",
    "shared_layers",
    "short_digest",
    "size_mb",
    "table",
    "user",
]

BASE_NAME_LABEL = "org.opencontainers.image.base.name"  # OCI annotation: the FROM image
CREATED_BY_WIDTH = 70


def shared_layers(ref_a: str, ref_b: str) -> list[str]:
    """The layers two images have in common: the common prefix of their RootFS.Layers.

    Docker stores a layer once per identical *chain* (the same layers below it), so only a common
    prefix is shared on disk; an equal digest further up on top of different layers is not.
    """
    return common_prefix(layers(inspect(ref_a)), layers(inspect(ref_b)))


def table(refs: Iterable[str]) -> pd.DataFrame:
    """One row per image: image, size_mb, layers, base, user, ports, created."""
    rows = [_row(ref, inspect(ref)) for ref in refs]
    return pd.DataFrame(rows, columns=["image", "size_mb", "layers", "base", "user", "ports", "created"])


def _row(ref: str, info: dict[str, Any]) -> dict[str, Any]:
    found = layers(info)
    labels = config(info).get("Labels") or {}
    return {
        "image": ref,
        "size_mb": size_mb(info),
        "layers": len(found),
        "base": labels.get(BASE_NAME_LABEL) or (short_digest(found[0]) if found else ""),
        "user": user(info) or "(root)",
        "ports": ", ".join(sorted(config(info).get("ExposedPorts") or {})),
        "created": pd.Timestamp(info["Created"]).floor("s"),
    }


def plot_sizes(refs: Sequence[str], title: str = "Image size (MB)") -> Figure:
    """A horizontal bar chart of image sizes in MB, each bar labelled with its size."""
    sizes = [size_mb(inspect(ref)) for ref in refs]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(refs) + 1.2))
    bars = ax.barh(list(refs), sizes, color="#512bd4")
    ax.bar_label(bars, labels=[f"{mb:,.1f} MB" for mb in sizes], padding=4)
    ax.invert_yaxis()  # first image on top, as listed
    ax.set_xlabel("size (MB)")
    ax.set_xlim(0, max([*sizes, 1.0]) * 1.2)  # room for the labels
    ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)  # shown once, where the notebook returns it, not again by pyplot
    return fig


def layer_sharing(refs: Sequence[str]) -> pd.DataFrame:
    """Which image has which layer: one row per stored layer, one True/False column per image.

    A row is a layer *on top of the same layers below it* (what Docker stores once), so a row
    marked True for several images is disk space they share. Columns: position (1 = base), layer
    (short digest), then one column per ref, then shared_by (how many of the images use it).
    """
    chains: dict[tuple[str, ...], set[str]] = {}
    for ref in refs:
        found = layers(inspect(ref))
        for depth in range(1, len(found) + 1):
            chains.setdefault(tuple(found[:depth]), set()).add(ref)
    rows = [
        {
            "position": len(chain),
            "layer": short_digest(chain[-1]),
            **{ref: ref in users for ref in refs},
            "shared_by": len(users),
        }
        for chain, users in chains.items()
    ]
    return pd.DataFrame(rows, columns=["position", "layer", *refs, "shared_by"])


def history(ref: str) -> pd.DataFrame:
    """`docker history`, in Dockerfile order (oldest first): created_by (shortened), size_mb, created."""
    entries = list(reversed(client().api.history(inspect(ref)["Id"])))
    rows = [
        {
            "created_by": shorten_created_by(entry.get("CreatedBy") or entry.get("Comment") or ""),
            "size_mb": round(int(entry.get("Size") or 0) / MB, 1),
            "created": pd.Timestamp(int(entry.get("Created") or 0), unit="s", tz="UTC"),
        }
        for entry in entries
    ]
    return pd.DataFrame(rows, columns=["created_by", "size_mb", "created"])


_BUILD_ARGS = re.compile(r"^\|\d+ (?:\S+=\S* )*")  # "|1 TARGETARCH=amd64 " before a RUN's command
_CONTENT_DIGEST = re.compile(r"\b(file|dir|multi):([0-9a-f]{12})[0-9a-f]{52}\b")  # classic builder's COPY
_SHELL = "/bin/sh -c "
_NOP = "/bin/sh -c #(nop)"


def shorten_created_by(text: str) -> str:
    """Make a history line read like the Dockerfile instruction that made it.

    BuildKit writes "RUN /bin/sh -c cmd # buildkit"; the classic builder "/bin/sh -c cmd" for RUN
    and "/bin/sh -c #(nop)  ENV ..." for everything else.
    """
    text = text.removesuffix(" # buildkit").strip()
    is_run = text.startswith("RUN ")
    text = text.removeprefix("RUN ")
    text, with_args = _BUILD_ARGS.subn("", text)
    if text.startswith(_NOP):
        text = text.removeprefix(_NOP).strip()
    elif text.startswith(_SHELL) or is_run or with_args:
        text = "RUN " + text.removeprefix(_SHELL)
    text = " ".join(_CONTENT_DIGEST.sub(r"\1:\2", text).split())  # one line, single spaces
    if len(text) > CREATED_BY_WIDTH:
        text = text[: CREATED_BY_WIDTH - 1] + "…"
    return text


@dataclass(frozen=True)
class DiskUsage:
    images: tuple[str, ...]
    sum_of_sizes_mb: float  # what adding up `docker image ls` sizes suggests
    on_disk_mb: float  # what the images really take: every shared layer counted once

    @property
    def saved_mb(self) -> float:
        return round(self.sum_of_sizes_mb - self.on_disk_mb, 1)


def stored_layers(ref: str) -> list[tuple[tuple[Any, ...], float]]:
    """The layers `ref` stores, base first, as (key, size in MB) for each step that added files.

    Two images store a layer once when the same step made it on the same steps below it, so the
    key is the chain of steps up to this one: equal keys are one stored layer."""
    below: tuple[Any, ...] = ()
    found = []
    for entry in reversed(client().api.history(inspect(ref)["Id"])):
        below = (below, entry.get("Created"), entry.get("CreatedBy"), entry.get("Comment"))
        if entry.get("Size"):
            found.append((below, int(entry["Size"]) / MB))
    return found


def disk_usage(refs: Sequence[str]) -> DiskUsage:
    """The disk a set of images really uses, against the sum of their sizes.

    Docker's own per-image SharedSize counts sharing with *any* image on the engine, so it cannot
    say what this set takes; here each stored layer (see stored_layers) is counted once.
    """
    infos = {info["Id"]: info for info in map(inspect, refs)}  # two tags of one image count once
    counted = {key: mb for image_id in infos for key, mb in stored_layers(image_id)}
    return DiskUsage(
        images=tuple(refs),
        sum_of_sizes_mb=round(sum(size_mb(info) for info in infos.values()), 1),
        on_disk_mb=round(sum(counted.values()), 1),
    )
