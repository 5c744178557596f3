""".NET release metadata: which channels are supported, and their latest runtime and SDK.

The live file (releases-index.json) is fetched with a short timeout; when it cannot be read (a
classroom without internet, a CI runner with no route out) the snapshot shipped in
labkit/data/releases-index.json is used instead, and `ReleaseIndex.source` says which one it was.
"""

import http.client
import json
import os
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from labkit import web
from labkit.errors import LabError

SOURCE_ENV = "LABKIT_RELEASE_DATA"  # "snapshot": never ask the live file (the course's tests set it)
RELEASES_URL = "https://builds.dotnet.microsoft.com/dotnet/release-metadata/releases-index.json"
SNAPSHOT = Path(__file__).resolve().parent / "data" / "releases-index.json"
LIVE_TIMEOUT = 3.0
_TAG_VERSION = re.compile(r"^(\d+)\.(\d+)")


class ReleaseDataError(LabError):
    """The release metadata does not have the shape of releases-index.json."""


@dataclass(frozen=True)
class Channel:
    """One entry of releases-index.json (one .NET major.minor channel)."""

    channel_version: str
    support_phase: str  # preview, go-live, active, maintenance or eol
    eol_date: date | None  # missing for a channel that has not shipped yet
    latest_runtime: str
    latest_sdk: str
    release_type: str  # lts or sts
    latest_release_date: date | None


@dataclass(frozen=True)
class ReleaseIndex:
    channels: tuple[Channel, ...]
    source: str  # "live" or "snapshot"
    location: str  # the URL or file it was read from
    why_snapshot: str = ""  # why the live file was not used ("" when it was)

    def channel(self, version: str) -> Channel:
        for found in self.channels:
            if found.channel_version == version:
                return found
        known = ", ".join(c.channel_version for c in self.channels)
        raise ReleaseDataError(f".NET {version} is not in the release metadata (known: {known}).")


@lru_cache(maxsize=8)
def load(live: bool | None = None, url: str = RELEASES_URL, timeout: float = LIVE_TIMEOUT) -> ReleaseIndex:
    """The release index: live from `url` when it answers within `timeout` s, else the snapshot.

    `live=None` asks the live file unless LABKIT_RELEASE_DATA=snapshot. Read at most once per
    process (and per argument set): a notebook asks many times.
    """
    if live is None:
        live = os.environ.get(SOURCE_ENV) != "snapshot"
    if not live:
        return _snapshot()
    try:
        answer = web.get(url, timeout=timeout)
        if answer.status != 200:
            raise ReleaseDataError(f"HTTP {answer.status}")
        return ReleaseIndex(parse(json.loads(answer.body)), "live", url)
    except (OSError, http.client.HTTPException, ValueError, ReleaseDataError) as exc:
        return _snapshot(why=f"{url} could not be read ({exc})")


def _snapshot(why: str = "") -> ReleaseIndex:
    data = json.loads(SNAPSHOT.read_text("utf-8"))
    return ReleaseIndex(parse(data), "snapshot", str(SNAPSHOT), why)


def parse(data: Any) -> tuple[Channel, ...]:
    """Channels from the JSON of releases-index.json; keys this code does not use are ignored."""
    try:
        return tuple(_channel(entry) for entry in data["releases-index"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ReleaseDataError(f"not a releases-index.json document ({type(exc).__name__}: {exc})") from exc


def _channel(entry: dict[str, Any]) -> Channel:
    return Channel(
        channel_version=str(entry["channel-version"]),
        support_phase=str(entry["support-phase"]),
        eol_date=_date(entry.get("eol-date")),
        latest_runtime=str(entry["latest-runtime"]),
        latest_sdk=str(entry["latest-sdk"]),
        release_type=str(entry["release-type"]),
        latest_release_date=_date(entry.get("latest-release-date")),
    )


def _date(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def channel(version: str, index: ReleaseIndex | None = None) -> Channel:
    """The channel record for e.g. "10.0" (from `index`, or from `load()`)."""
    return (index or load()).channel(version)


def is_supported(found: Channel, today: date | None = None) -> bool:
    """False once the channel is marked "eol" or its end-of-support date has come."""
    day = today or date.today()
    if found.support_phase == "eol":
        return False
    return found.eol_date is None or found.eol_date > day


def supported_channels(today: date | None = None, index: ReleaseIndex | None = None) -> list[Channel]:
    """The channels still supported on `today`, newest first as in the metadata."""
    return [c for c in (index or load()).channels if is_supported(c, today)]


@dataclass(frozen=True)
class TagSupport:
    """What the release metadata says of the .NET channel an image tag names."""

    version: str | None  # "10.0" for "10.0-noble-chiseled" or "10.0.401"; None when the tag names no version
    channel: Channel | None  # None when the version is not in the metadata
    supported: bool  # a known channel, not end of support on the day asked about
    index: ReleaseIndex


def tag_support(tag: str, today: date | None = None, index: ReleaseIndex | None = None) -> TagSupport:
    """Is the .NET channel in `tag` supported? The one answer `checks` and `tags` both give."""
    index = index or load()
    match = _TAG_VERSION.match(tag)
    if match is None:
        return TagSupport(None, None, False, index)
    version = f"{match[1]}.{match[2]}"
    found = next((c for c in index.channels if c.channel_version == version), None)
    return TagSupport(version, found, found is not None and is_supported(found, today), index)
