"""Compose projects of the labs: their containers found by the labels Compose puts on them, and
the project as Compose reads it from compose.yaml.

`docker compose -p PROJECT up` names containers PROJECT-SERVICE-N, but that pattern is Compose's
business (it changed between v1 and v2): labs find a service's containers by the
com.docker.compose.* labels instead, as `docker compose ps` does. What a container's labels cannot
tell reliably (its `depends_on`, see `depends_on`) comes from `docker compose config`.
"""

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

from docker.models.containers import Container
from docker.models.volumes import Volume

from labkit.docker_access import client
from labkit.errors import LabError

CONFIG_TIMEOUT = 60.0

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
DEPENDS_ON_LABEL = "com.docker.compose.depends_on"
VOLUME_LABEL = "com.docker.compose.volume"


class ServiceMissing(LabError):
    """A service of a compose project has no container."""


class ComposeFileInvalid(LabError):
    """`docker compose config` refuses the project's compose.yaml; the message is Compose's own."""


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


def config(project: str, folder: str | Path = ".") -> dict[str, Any]:
    """The project as Compose reads it from the compose.yaml in `folder` (`docker compose config`):
    variables filled in from the environment, short forms written out. What the next `up` acts on."""
    command = ["docker", "compose", "-p", project, "config", "--format", "json"]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=CONFIG_TIMEOUT, check=False)
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        raise ComposeFileInvalid(f"`{shlex.join(command)}` in {folder} refuses it: {said[0]}")
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def depends_on(project: str, service: str, folder: str | Path = ".") -> dict[str, str]:
    """The services `service` waits for and on what condition (`db` -> `service_healthy`), as compose.yaml
    says. Not the container's com.docker.compose.depends_on label: Compose 2.29.3 and later leave
    depends_on out of the hash that decides whether `up` recreates a container, so a container created
    before the line was added keeps the old label."""
    spec = config(project, folder).get("services", {}).get(service) or {}
    waits: dict[str, dict[str, Any]] = spec.get("depends_on") or {}
    return {name: str(how.get("condition", "service_started")) for name, how in waits.items()}


def health_test(one: Container) -> list[str]:
    """The words of the container's health check command (a CMD-SHELL string split as the shell
    would); empty when it has none."""
    test: list[str] = (one.attrs["Config"].get("Healthcheck") or {}).get("Test") or []
    if test[:1] == ["CMD-SHELL"]:
        return shlex.split(" ".join(test[1:]))
    return test[1:] if test[:1] == ["CMD"] else []


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
