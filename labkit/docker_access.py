"""One Docker client for the whole process, with a message a learner can act on when none answers."""

from functools import lru_cache

import docker
from docker.errors import DockerException

from labkit.errors import DockerUnavailable

START_HINT = (
    "Start Docker Desktop (Windows, macOS) or the engine (Linux: `sudo systemctl start docker`); "
    "if it runs, check `docker context ls` or DOCKER_HOST; then run `python -m labkit doctor`."
)


@lru_cache(maxsize=1)
def client() -> docker.DockerClient:
    """The shared client; the API version is negotiated with the engine, never pinned."""
    try:
        found = docker.from_env(timeout=120)
        found.ping()
    except DockerException as exc:
        raise DockerUnavailable(unavailable_message(exc)) from None
    return found


def unavailable_message(exc: Exception) -> str:
    """One line: why the engine did not answer, and what to do about it."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"Docker is not reachable ({reason[:160]}). {START_HINT}"


def reachable() -> str | None:
    """None when an engine answers, otherwise the one-line reason it does not."""
    try:
        client()
    except DockerUnavailable as exc:
        return str(exc)
    return None
