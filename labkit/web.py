"""HTTP for the labs: GET a URL, and run a web container on a loopback port until it answers."""

import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from docker.models.containers import Container

from labkit.docker_access import client
from labkit.errors import CheckFailed
from labkit.names import LOOPBACK, free_port


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict, compare=False)  # an answer is its status and body


# A learner's http_proxy (common on company laptops) must not catch the labs' 127.0.0.1 traffic;
# other hosts (a registry, the .NET release metadata) go the way the machine's settings say.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_SYSTEM = urllib.request.build_opener()


def get(url: str, timeout: float = 5.0) -> HttpAnswer:
    """GET `url`; an HTTP error status is an answer too, not an exception."""
    host = urllib.parse.urlsplit(url).hostname or ""
    opener = _DIRECT if host == "localhost" or host.startswith("127.") else _SYSTEM
    try:
        with opener.open(url, timeout=timeout) as response:
            return HttpAnswer(response.status, response.read().decode("utf-8", "replace"), dict(response.headers))
    except urllib.error.HTTPError as exc:
        return HttpAnswer(exc.code, exc.read().decode("utf-8", "replace"), dict(exc.headers))


def wait_for_http(url: str, container: Container | None = None, timeout: float = 60.0) -> HttpAnswer:
    """Poll `url` until it answers; on timeout (or if the container exits) raise with its logs."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        try:
            return get(url, timeout=3.0)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            last_error = str(exc)
        if container is not None:
            container.reload()
            if container.status in ("exited", "dead"):
                raise CheckFailed(_no_answer(url, container, f"the container {container.status}"))
        time.sleep(0.5)
    raise CheckFailed(_no_answer(url, container, f"nothing answered within {timeout:.0f}s ({last_error})"))


def _no_answer(url: str, container: Container | None, why: str) -> str:
    logs = ""
    if container is not None:
        logs = container.logs(tail=20).decode("utf-8", "replace")
        logs = f"\nLast lines of `docker logs {container.name}`:\n{logs}"
    return f"{url}: {why}.{logs}"


def run_web(
    image: str,
    *,
    name: str,
    labels: dict[str, str],
    container_port: int = 8080,
    path: str = "/",
    timeout: float = 60.0,
    **run_options: object,
) -> tuple[Container, str]:
    """Start `image` detached with `container_port` published on 127.0.0.1:<free port>.

    Returns the container and its base URL once `path` answers HTTP.
    """
    host_port = free_port()
    container = client().containers.run(
        image,
        detach=True,
        name=name,
        labels=labels,
        ports={f"{container_port}/tcp": (LOOPBACK, host_port)},
        **run_options,
    )
    base = f"http://{LOOPBACK}:{host_port}"
    wait_for_http(base + path, container, timeout)
    return container, base
