""".NET release metadata: the live file when it answers, the shipped snapshot when it does not."""

import json
import os
from datetime import date
from http.server import BaseHTTPRequestHandler

import pytest

from labkit import releases
from labkit.names import free_port
from tests.helpers import http_server

TODAY = date(2026, 11, 21)
SNAPSHOT = json.loads(releases.SNAPSHOT.read_text("utf-8"))


def test_the_snapshot_has_the_schema_of_the_real_file() -> None:
    keys = {
        "channel-version", "latest-release", "latest-release-date", "security", "latest-runtime", "latest-sdk",
        "product", "support-phase", "eol-date", "release-type", "releases.json",
    }  # fmt: skip
    entries = SNAPSHOT["releases-index"]
    assert [e["channel-version"] for e in entries] == ["11.0", "10.0", "9.0", "8.0"]
    assert all(set(entry) == keys for entry in entries)
    assert set(SNAPSHOT["_snapshot"]) == {"taken", "source", "note"}


def test_the_tests_read_the_snapshot_unless_a_test_asks_for_the_live_file() -> None:
    """conftest.py sets LABKIT_RELEASE_DATA=snapshot for the session and everything it starts."""
    assert os.environ[releases.SOURCE_ENV] == "snapshot"
    assert releases.load().source == "snapshot"


def test_load_without_live_reads_the_snapshot() -> None:
    index = releases.load(live=False)
    assert index.source == "snapshot" and index.why_snapshot == ""
    ten = index.channel("10.0")
    assert ten == releases.Channel("10.0", "active", date(2028, 11, 14), "10.0.12", "10.0.401", "lts", date(2026, 9, 8))


def test_load_falls_back_to_the_snapshot_when_the_live_file_does_not_answer() -> None:
    url = f"http://127.0.0.1:{free_port()}/releases-index.json"
    index = releases.load(live=True, url=url, timeout=1)
    assert index.source == "snapshot"
    assert url in index.why_snapshot
    assert index.channel("8.0").support_phase == "eol"


def _serve(status: int, body: bytes) -> "releases.ReleaseIndex":
    def answer(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, body

    with http_server(answer) as base:
        return releases.load(live=True, url=f"{base}/releases-index.json")


def test_load_reads_the_live_file_and_ignores_keys_it_does_not_know() -> None:
    live = json.loads(json.dumps(SNAPSHOT))
    del live["_snapshot"]
    live["releases-index"][1]["latest-runtime"] = "10.0.13"
    live["releases-index"][1]["supported-os-info-uri"] = "https://example.org/os.json"
    del live["releases-index"][0]["eol-date"]  # a channel that has not shipped has none
    index = _serve(200, json.dumps(live).encode())
    assert index.source == "live"
    assert index.channel("10.0").latest_runtime == "10.0.13"
    assert index.channel("11.0").eol_date is None


@pytest.mark.parametrize(("status", "body"), [(200, b"not json"), (200, b'{"releases": []}'), (503, b"busy")])
def test_load_falls_back_on_a_broken_live_answer(status: int, body: bytes) -> None:
    index = _serve(status, body)
    assert index.source == "snapshot" and index.why_snapshot


def test_parse_rejects_a_document_of_another_shape() -> None:
    with pytest.raises(releases.ReleaseDataError, match=r"releases-index\.json"):
        releases.parse({"releases-index": [{"channel-version": "10.0"}]})


def test_is_supported_by_phase_and_by_date() -> None:
    index = releases.load(live=False)
    assert releases.is_supported(index.channel("10.0"), TODAY)
    assert not releases.is_supported(index.channel("8.0"), date(2026, 11, 1))  # phase "eol" wins
    maintenance = releases.Channel("9.0", "maintenance", date(2026, 11, 10), "9.0.19", "9.0.317", "sts", None)
    assert releases.is_supported(maintenance, date(2026, 11, 9))
    assert not releases.is_supported(maintenance, date(2026, 11, 10))


def test_supported_channels_and_channel_lookup() -> None:
    index = releases.load(live=False)
    assert [c.channel_version for c in releases.supported_channels(TODAY, index)] == ["11.0", "10.0"]
    assert releases.channel("9.0", index).release_type == "sts"
    with pytest.raises(releases.ReleaseDataError, match=r"known: 11\.0, 10\.0, 9\.0, 8\.0"):
        index.channel("7.0")


@pytest.mark.parametrize(
    ("tag", "version", "supported"),
    [("10.0-noble-chiseled", "10.0", True), ("10.0.401", "10.0", True), ("8.0", "8.0", False), ("latest", None, False)],
)
def test_tag_support_reads_the_channel_from_the_tag(tag: str, version: str | None, supported: bool) -> None:
    verdict = releases.tag_support(tag, TODAY, releases.load(live=False))
    assert (verdict.version, verdict.supported) == (version, supported)
    assert (verdict.channel is None) == (version is None)


def test_tag_support_of_a_channel_the_metadata_does_not_know() -> None:
    verdict = releases.tag_support("42.0", TODAY, releases.load(live=False))
    assert verdict.version == "42.0" and verdict.channel is None and not verdict.supported
