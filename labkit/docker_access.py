"""One Docker client for the whole process, talking to the engine the `docker` CLI talks to.

The CLI picks its engine in this order: DOCKER_HOST, else the context named by DOCKER_CONTEXT,
else the `currentContext` of $DOCKER_CONFIG/config.json (default ~/.docker), else the default
socket. docker-py's context module reads the context store, but it finds the store next to
the config.json it finds, falling back to ~/.docker/config.json when $DOCKER_CONFIG has none,
and it silently uses the default socket for a context that does not exist; so the name is
resolved here and those two cases are refused in one line instead of reaching another engine.
"""

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import docker
from docker.context import Context, ContextAPI
from docker.context.config import get_context_dir, get_current_context_name
from docker.errors import DockerException
from docker.utils import kwargs_from_env

from labkit.errors import DockerUnavailable

START_HINT = (
    "Start Docker Desktop (Windows, macOS) or the engine (Linux: `sudo systemctl start docker`); "
    "if it runs, check `docker context ls` or DOCKER_HOST; then run `python -m labkit doctor`."
)
DEFAULT_CONTEXT = "default"


@dataclass(frozen=True)
class Endpoint:
    host: str
    source: str  # where it came from: "DOCKER_HOST", "context colima" or "default socket"
    tls: Any = None  # a docker.tls.TLSConfig, or None for a plain socket


@lru_cache(maxsize=1)
def client() -> docker.DockerClient:
    """The shared client; the API version is negotiated with the engine, never pinned."""
    found = endpoint()
    try:
        engine = docker.DockerClient(
            base_url=found.host, tls=found.tls, timeout=120, use_ssh_client=found.host.startswith("ssh://")
        )
        engine.ping()
    except DockerException as exc:
        raise DockerUnavailable(unavailable_message(exc, found)) from exc
    return engine


def reset_client() -> None:
    """Forget the shared client, after the engine restarted or the endpoint changed."""
    client.cache_clear()


def endpoint() -> Endpoint:
    """The engine the CLI would use now; raises DockerUnavailable for a context that cannot be used."""
    if os.environ.get("DOCKER_HOST"):
        params = kwargs_from_env()
        return Endpoint(params["base_url"], "DOCKER_HOST", params.get("tls"))
    name = context_name()
    if name == DEFAULT_CONTEXT:
        return Endpoint(ContextAPI.DEFAULT_CONTEXT.Host, "default socket")
    context = _load(name)
    return Endpoint(context.Host or ContextAPI.DEFAULT_CONTEXT.Host, f"context {name}", context.TLSConfig)


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def context_name() -> str:
    """DOCKER_CONTEXT, else config.json's currentContext, else "default" (DOCKER_HOST is handled first)."""
    if named := os.environ.get("DOCKER_CONTEXT"):
        return named
    if (config_dir() / "config.json").is_file():
        return str(get_current_context_name())
    return DEFAULT_CONTEXT


def _load(name: str) -> Context:
    store = config_dir() / "contexts"
    if Path(get_context_dir()) != store:
        raise DockerUnavailable(
            f"Docker context {name!r}: {config_dir() / 'config.json'} is missing, so labkit cannot find the "
            f"context store; create it with `docker context use {name}`."
        )
    try:
        context = Context.load_context(name)
    except Exception as exc:  # docker-py raises a bare Exception for a corrupt meta.json
        raise DockerUnavailable(f"Docker context {name!r} cannot be read ({exc}); check `docker context ls`.") from exc
    if context is None:
        raise DockerUnavailable(
            f"Docker context {name!r} does not exist in {store}; pick one from `docker context ls` "
            "(`docker context use NAME`) or unset DOCKER_CONTEXT."
        )
    return context


def unavailable_message(exc: Exception, tried: Endpoint) -> str:
    """One line: which engine did not answer, found how, why, and what to do about it."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"Docker is not reachable at {tried.host} ({tried.source}): {reason[:160]}. {START_HINT}"


def reachable() -> str | None:
    """None when an engine answers, otherwise the one-line reason it does not."""
    try:
        client()
    except DockerUnavailable as exc:
        return str(exc)
    return None
