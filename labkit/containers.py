"""Web containers of the labs: the host port Docker picked, and waiting until the app answers.

Labs publish with `-p 127.0.0.1::8080`: Docker picks a free host port as it binds it, so two labs
started at once cannot race for the same port (picking one in Python first and binding it later
could). `host_port` reads back which port that was.
"""

from docker.errors import NotFound
from docker.models.containers import Container

from labkit import web
from labkit.docker_access import client
from labkit.errors import CheckFailed, LabError
from labkit.names import LOOPBACK
from labkit.web import HttpAnswer, NoAnswer

LOG_LINES = 20


class ContainerGone(LabError):
    """A container a lab step needs is not there (never started, or removed)."""


def get(name: str) -> Container:
    """The container called `name`, or ContainerGone with what to do."""
    try:
        return client().containers.get(name)
    except NotFound as exc:
        raise ContainerGone(f"There is no container named {name}. {missing_hint(name)}") from exc


def missing_hint(name: str) -> str:
    """What to do about a container that is not there: the checks and the helpers say it alike."""
    return (
        "Did you start it with --rm (it is removed when it ends) or mistype the name? Run the "
        f"`docker run --name {name} ...` cell above again (`docker ps -a` lists containers)."
    )


def host_port(name: str, container_port: int = 8080) -> int:
    """The port on 127.0.0.1 where the container `name` publishes `container_port` (what `docker port` says)."""
    container = get(name)
    bindings = (container.ports or {}).get(f"{container_port}/tcp") or []
    for binding in bindings:
        if binding.get("HostIp") == LOOPBACK and binding.get("HostPort"):
            return int(binding["HostPort"])
    if container.status != "running":
        raise ContainerGone(
            f"The container {name} is {container.status}, so it publishes no port: "
            f"`docker logs {name}` says why; remove it (`docker rm {name}`) and run it again."
        )
    raise LabError(
        f"The container {name} does not publish port {container_port} on {LOOPBACK}: "
        f"start it with `-p {LOOPBACK}::{container_port}` (`docker port {name}` lists what it publishes)."
    )


def wait_for_http(url: str, container: str | Container | None = None, timeout: float = 60.0) -> HttpAnswer:
    """Poll `url` until it answers; if `container` exits first, or on timeout, fail with its logs."""
    found = get(container) if isinstance(container, str) else container

    def exited() -> str | None:
        if found is None:
            return None
        found.reload()
        return f"the container {found.status}" if found.status in ("exited", "dead") else None

    try:
        return web.wait_for_http(url, timeout, stop=exited)
    except NoAnswer as exc:
        raise CheckFailed(f"{exc}{_logs(found)}") from exc


def _logs(container: Container | None) -> str:
    if container is None:
        return ""
    text = container.logs(tail=LOG_LINES).decode("utf-8", "replace")
    return f"\nLast lines of `docker logs {container.name}`:\n{text}"


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
    """Start `image` detached with `container_port` published on a port of 127.0.0.1 Docker picks.

    Returns the container and its base URL once `path` answers HTTP.
    """
    container = client().containers.run(
        image,
        detach=True,
        name=name,
        labels=labels,
        ports={f"{container_port}/tcp": (LOOPBACK, None)},
        **run_options,
    )
    try:
        base = f"http://{LOOPBACK}:{host_port(name, container_port)}"
    except ContainerGone as exc:  # it exited at once: its logs say why
        raise CheckFailed(f"{exc}{_logs(container)}") from exc
    wait_for_http(base + path, container, timeout)
    return container, base
