"""The maintainers' drift check: is each catalog tag still supported, and still published?

Microsoft moves floating tags such as 10.0 with every servicing release and stops updating a
channel's tags when it reaches end of support. `python -m labkit tags` (run nightly in CI) reads
the .NET release metadata and asks each image's registry for its tag list through the registry
HTTP API (`GET /v2/<repository>/tags/list`, paged with `Link: <...>; rel="next"`), the same API
Lab 5 teaches.
"""

import json
import re
import urllib.error
import urllib.parse
from dataclasses import dataclass
from datetime import date

from labkit import catalog, registry, releases, web

PAGE_SIZE = 1000
_NEXT = re.compile(r'<([^>]+)>;\s*rel="?next"?')
_CHANNEL = re.compile(r"^(\d+\.\d+)")


@dataclass(frozen=True)
class TagReport:
    ref: str
    support: str  # what the release metadata says of the tag's .NET channel
    supported: bool
    published: str  # what the registry says of the tag
    in_registry: bool | None  # None when the registry could not be asked

    @property
    def ok(self) -> bool:
        return self.supported and self.in_registry is not False


def split(ref: str) -> tuple[str, str, str]:
    """("mcr.microsoft.com", "dotnet/sdk", "10.0") from "mcr.microsoft.com/dotnet/sdk:10.0"."""
    host = registry.host(ref)
    path, _, tag = ref.removeprefix(f"{host}/").rpartition(":")
    if host == registry.DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return host, path, tag


def published_tags(ref: str, timeout: float = 10.0) -> list[str]:
    """Every tag the registry lists for the repository of `ref`, following its pages."""
    host, repository, _ = split(ref)
    url: str | None = f"{registry.api_url(host)}{repository}/tags/list?n={PAGE_SIZE}"
    found: list[str] = []
    while url is not None:
        answer = web.get(url, timeout=timeout)
        if answer.status != 200:
            raise OSError(f"{url} answered HTTP {answer.status}")
        found += json.loads(answer.body).get("tags") or []
        url = _next_page(url, answer.headers.get("Link", ""))
    return found


def _next_page(url: str, link: str) -> str | None:
    match = _NEXT.search(link)
    return urllib.parse.urljoin(url, match[1]) if match else None


def check(ref: str, today: date | None = None) -> TagReport:
    host, _, tag = split(ref)
    support, supported = _support(tag, today)
    try:
        in_registry: bool | None = tag in published_tags(ref)
        published = f"listed by {host}" if in_registry else f"{host} does not list {tag!r}"
    except (OSError, ValueError, urllib.error.URLError) as exc:
        in_registry, published = None, f"{host} could not be asked ({exc})"
    return TagReport(ref, support, supported, published, in_registry)


def _support(tag: str, today: date | None) -> tuple[str, bool]:
    match = _CHANNEL.match(tag)
    if match is None:
        return "not a .NET version tag", True
    index = releases.load()
    try:
        channel = index.channel(match[1])
    except releases.ReleaseDataError:
        return f".NET {match[1]} is not in the release metadata", False
    if not releases.is_supported(channel, today):
        return f".NET {match[1]} reached end of support on {channel.eol_date}", False
    latest = f", latest runtime {channel.latest_runtime}" if channel.latest_runtime else ""
    return f".NET {match[1]} supported until {channel.eol_date}{latest} ({index.source} metadata)", True


def check_catalog(today: date | None = None) -> list[TagReport]:
    return [check(entry.ref, today) for entry in catalog.images()]
