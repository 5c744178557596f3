"""The maintainers' drift check: is each catalog tag still supported, and still published?

Microsoft moves floating tags such as 10.0 with every servicing release and stops updating a
channel's tags when it reaches end of support. `python -m labkit tags` (run nightly in CI) reads
the .NET release metadata and asks each image's registry for its tag list through the registry
HTTP API (`GET /v2/<repository>/tags/list`, paged with `Link: <...>; rel="next"`), the same API
Lab 5 teaches, with the anonymous token Docker Hub asks for. A registry that cannot be asked
fails the check: a nightly job that passes without asking would hide the drift it exists to find.
"""

from dataclasses import dataclass
from datetime import date

from labkit import catalog, refs, releases
from labkit.registry.client import PAGE_SIZE, Registry, RegistryError


@dataclass(frozen=True)
class TagReport:
    ref: str
    support: str  # what the release metadata says of the tag's .NET channel
    supported: bool
    published: str  # what the registry says of the tag
    in_registry: bool | None  # None when the registry could not be asked

    @property
    def ok(self) -> bool:
        return self.supported and self.in_registry is True


def published_tags(ref: str, page_size: int = PAGE_SIZE) -> list[str]:
    """Every tag the registry lists for the repository of `ref`, following its pages."""
    parsed = refs.parse(ref)
    return Registry(parsed.registry).tags(parsed.repository, page_size)


def check(ref: str, today: date | None = None) -> TagReport:
    parsed = refs.parse(ref)
    host, tag = parsed.registry, parsed.tag_or_latest
    support, supported = _support(tag, today)
    try:
        if parsed.tag is None and parsed.digest is not None:
            in_registry: bool | None = Registry(host).find_manifest(parsed.repository, parsed.digest) is not None
            published = f"{host} serves {parsed.digest}" if in_registry else f"{host} has no {parsed.digest}"
        else:
            in_registry = tag in published_tags(ref)
            published = f"listed by {host}" if in_registry else f"{host} does not list {tag!r}"
    except RegistryError as exc:
        in_registry, published = None, f"{host} could not be asked: {exc}"
    return TagReport(ref, support, supported, published, in_registry)


def _support(tag: str, today: date | None) -> tuple[str, bool]:
    verdict = releases.tag_support(tag, today)
    if verdict.version is None:
        return "not a .NET version tag", True
    if verdict.channel is None:
        return f".NET {verdict.version} is not in the release metadata", False
    if not verdict.supported:
        return f".NET {verdict.version} reached end of support on {verdict.channel.eol_date}", False
    channel = verdict.channel
    latest = f", latest runtime {channel.latest_runtime}" if channel.latest_runtime else ""
    return f".NET {verdict.version} supported until {channel.eol_date}{latest} ({verdict.index.source} metadata)", True


def check_catalog(today: date | None = None) -> list[TagReport]:
    return [check(entry.ref, today) for entry in catalog.images()]
