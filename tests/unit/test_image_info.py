"""The image listing outlasts an image removed while Docker 26 adds up the sizes (containerd store)."""

from types import SimpleNamespace
from typing import Any

import pytest
from docker.errors import NotFound

from labkit.engine import image_info

VANISHED = NotFound(
    "404 Client Error: Not Found",
    explanation="failed to calculate size of image docker.io/library/gone:latest: content digest sha256:9b: not found",
)


def engine_answering(*answers: Exception | list[dict[str, Any]]) -> SimpleNamespace:
    """A client whose `api.images` gives `answers` in turn: raises an exception, returns a list."""
    pending = list(answers)

    def images(filters: dict[str, str] | None = None, all: bool = False) -> list[dict[str, Any]]:
        answer = pending.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return SimpleNamespace(api=SimpleNamespace(images=images))


def test_a_listing_that_lost_an_image_midway_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = [{"Id": "sha256:1", "RepoTags": ["kept:1"]}]
    engine = engine_answering(VANISHED, VANISHED, listed)
    monkeypatch.setattr(image_info, "client", lambda: engine)
    assert image_info.summaries({"label": "x"}) == listed


def test_an_empty_listing_is_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_info, "client", lambda: engine_answering([]))
    assert image_info.summaries() == []


def test_any_other_not_found_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    other = NotFound("404 Client Error: Not Found", explanation="page not found")
    monkeypatch.setattr(image_info, "client", lambda: engine_answering(other))
    with pytest.raises(NotFound, match="page not found"):
        image_info.summaries()
