"""Compose projects of the labs: their containers found by the labels Compose puts on them.

`docker compose -p PROJECT up` names containers PROJECT-SERVICE-N, but that pattern is Compose's
business (it changed between v1 and v2): labs find a service's containers by the
com.docker.compose.* labels instead, as `docker compose ps` does.
"""

from docker.models.containers import Container
from docker.models.volumes import Volume

from labkit.docker_access import client
from labkit.errors import LabError

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
DEPENDS_ON_LABEL = "com.docker.compose.depends_on"
VOLUME_LABEL = "com.docker.compose.volume"


class ServiceMissing(LabError):
    """A service of a compose project has no container."""


def containers(project: str, service: str | None = None, running_only: bool = False) -> list[Container]:
    """The containers of `project` (of one `service`), in replica order."""
    wanted = [f"{PROJECT_LABEL}={project}"] + ([f"{SERVICE_LABEL}={service}"] if service else [])
    found = client().containers.list(all=not running_only, filters={"label": wanted})
    return sorted(found, key=lambda c: (c.labels.get(SERVICE_LABEL, ""), int(c.labels.get(NUMBER_LABEL, "0"))))


def container(project: str, service: str) -> Container:
    """The first container of `service`, or ServiceMissing saying how to start it."""
    found = containers(project, service)
    if not found:
        raise ServiceMissing(
            f"The compose project {project} has no container of the service {service}: "
            f"run `docker compose -p {project} up -d` in the lab folder "
            f"(`docker compose -p {project} ps -a` lists them)."
        )
    return found[0]


def published(one: Container) -> list[str]:
    """What the container publishes on the host, as `HOST_IP:HOST_PORT->PORT/PROTO` (empty: nothing)."""
    one.reload()
    bindings = one.attrs["NetworkSettings"].get("Ports") or {}
    return [
        f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}->{port}"
        for port, host in sorted(bindings.items())
        for binding in host or []
    ]


def depends_on(one: Container) -> dict[str, str]:
    """The services this container waited for and on what condition (`db` -> `service_healthy`)."""
    label = one.labels.get(DEPENDS_ON_LABEL, "")
    pairs = (entry.split(":") for entry in label.split(",") if entry)
    return {parts[0]: parts[1] if len(parts) > 1 else "service_started" for parts in pairs}


def address(one: Container, project: str) -> str:
    """The container's IP address on the project's default network (where services find each other)."""
    one.reload()
    networks: dict[str, dict[str, str]] = one.attrs["NetworkSettings"].get("Networks") or {}
    network = networks.get(f"{project}_default") or next(iter(networks.values()), {})
    return str(network.get("IPAddress", ""))


def volumes(project: str, name: str | None = None) -> list[Volume]:
    """The volumes `project` declared (only `name`, as compose.yaml calls it), found by their labels."""
    wanted = [f"{PROJECT_LABEL}={project}"] + ([f"{VOLUME_LABEL}={name}"] if name else [])
    found: list[Volume] = client().volumes.list(filters={"label": wanted})
    return found
