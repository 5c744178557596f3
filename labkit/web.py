"""HTTP for the labs: GET a URL, and wait until a URL answers. Nothing here knows about containers."""

import base64
import http.client
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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


class Pending:
    """A GET sent in the background (`get_later`): a request in flight while a cell does something else."""

    def __init__(self, url: str, timeout: float) -> None:
        pool = ThreadPoolExecutor(max_workers=1)
        self.url = url
        self._future: Future[HttpAnswer] = pool.submit(get_or_status_0, url, timeout)
        pool.shutdown(wait=False)

    def answer(self, timeout: float = 60.0) -> HttpAnswer:
        """The answer, once it came; status 0 (and the error as the body) when the connection ended without one."""
        return self._future.result(timeout=timeout)


def get_or_status_0(url: str, timeout: float) -> HttpAnswer:
    """The answer, or status 0 (with the reason as its body) when nothing answered."""
    try:
        return get(url, timeout=timeout)
    except (OSError, http.client.HTTPException) as exc:
        return HttpAnswer(0, f"no answer: {exc or type(exc).__name__}")


def get_later(url: str, timeout: float = 60.0) -> Pending:
    """GET `url` in the background; `.answer()` waits for what came back."""
    return Pending(url, timeout)


@dataclass
class Load:
    """Requests sent in the background by `load`: `wait()` until they end, then the counts."""

    url: str
    done: threading.Event = field(default_factory=threading.Event)
    answered: int = 0
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _count(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self.answered += 1
            else:
                self.failed += 1

    def wait(self) -> "Load":
        for worker in self._workers:
            worker.join()
        self.done.set()
        print(f"{self.url}: {self.answered} requests answered, {self.failed} failed.")
        return self


def load(url: str, *, seconds: float, workers: int = 4, per_second: float | None = None, delay: float = 0) -> Load:
    """Send GET requests to `url` from `workers` threads for `seconds` (after `delay` seconds), at
    most `per_second` each; returns at once. A load generator small enough for a notebook."""
    running = Load(url)

    def work() -> None:
        time.sleep(delay)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            running._count(get_or_status_0(url, timeout=10).status == 200)
            if per_second:
                time.sleep(max(0.0, 1 / per_second - (time.monotonic() - started)))

    running._workers = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for worker in running._workers:
        worker.start()
    return running
