"""HTTP for the labs: GET a URL, and wait until a URL answers. Nothing here knows about containers."""

import base64
import http.client
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from labkit.errors import LabError
from labkit.names import is_loopback
from labkit.waiting import TimedOut, wait_until


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict, compare=False)  # an answer is its status and body


class NoAnswer(LabError):
    """Nothing answered at a URL in time, or waiting for it stopped making sense."""


# A learner's http_proxy (common on company laptops) must not catch the labs' 127.0.0.1 traffic;
# other hosts (a registry, the .NET release metadata) go the way the machine's settings say.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_SYSTEM = urllib.request.build_opener()


def get(
    url: str, timeout: float = 5.0, *, headers: dict[str, str] | None = None, cafile: str | None = None
) -> HttpAnswer:
    """GET `url`; an HTTP error status is an answer too, not an exception.

    `cafile` trusts that CA instead of the system's (a registry with a locally made certificate)."""
    direct = is_loopback(urllib.parse.urlsplit(url).netloc)
    opener = _DIRECT if direct else _SYSTEM
    if cafile is not None:
        tls = urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cafile))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({} if direct else None), tls)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
            return HttpAnswer(response.status, response.read().decode("utf-8", "replace"), dict(response.headers))
    except urllib.error.HTTPError as exc:
        return HttpAnswer(exc.code, exc.read().decode("utf-8", "replace"), dict(exc.headers))


def basic_auth(user: str, password: str) -> str:
    """The Authorization header's value for HTTP basic authentication (what NuGet and Docker send)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def wait_for_http(url: str, timeout: float = 60.0, *, stop: Callable[[], str | None] | None = None) -> HttpAnswer:
    """Poll `url` until it answers (any HTTP status); raise NoAnswer on timeout.

    `stop`, called between tries, may return a reason to give up at once (a server that exited
    will never answer).
    """
    last_error: Exception | None = None  # the cause a NoAnswer carries (shown with --debug)

    def answer() -> HttpAnswer | None:
        nonlocal last_error
        try:
            return get(url, timeout=3.0)
        except (OSError, http.client.HTTPException) as exc:
            last_error = exc
        reason = stop() if stop is not None else None
        if reason:
            raise NoAnswer(f"{url}: {reason}.") from last_error
        return None

    try:
        return wait_until(answer, timeout=timeout, interval=0.5, what=f"an answer from {url}")
    except TimedOut:
        why = (str(last_error) or type(last_error).__name__) if last_error else "no answer yet"
        raise NoAnswer(f"{url}: nothing answered within {timeout:g} s ({why}).") from last_error
