"""Docker resources that stand for a learner's wrong state, labelled with the test's lab id."""

import shlex
from pathlib import Path
from typing import Any

from docker.models.containers import Container

from labkit import catalog, compose, containers, names, shell
from labkit.docker_access import client


def unique(lab_id: str, what: str) -> str:
    """A container name, or an image tag under containerizing-dotnet/, unique to this call."""
    return names.container_name(lab_id, what, names.run_id())


def database_service(lab_id: str, project: str, database: str, **options: Any) -> Container:
    """A postgres container (user app, password test, no network) that Compose's labels make the db
    service of `project`: the labs' checks find it as they find the learner's."""
    return client().containers.run(
        catalog.image("postgres"),
        name=unique(lab_id, "db"),
        labels={**names.labels(lab_id), compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: "db"},
        detach=True,
        network_mode="none",
        environment={"POSTGRES_USER": "app", "POSTGRES_DB": database, "POSTGRES_PASSWORD": "test"},
        **options,
    )


def build(lab_id: str, context: Path, dockerfile: str, files: dict[str, str] | None = None) -> str:
    """Build `dockerfile` (with `files` beside it) in `context` as a learner does, with BuildKit;
    returns its labelled tag. (The legacy builder of docker-py leaves a step image behind under the
    containerd store: unlabelled, so no cleanup finds it.)"""
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (context / name).write_text(text)
    tag = names.image_tag(lab_id, unique(lab_id, "image").removeprefix("cdn-"))
    command = ["docker", "build", *shlex.split(names.label_flags(lab_id)), "-t", tag, str(context)]
    shell.run(command, quiet=True, record=False, env={"DOCKER_BUILDKIT": "1"})
    return tag


def started(lab_id: str, image: str, command: list[str], **options: Any) -> Container:
    """A running container of `image` with `command`, labelled for `lab_id` (plus any `labels=` given)."""
    labels = {**names.labels(lab_id), **options.pop("labels", {})}
    return client().containers.run(
        image, command, name=unique(lab_id, "started"), labels=labels, detach=True, **options
    )


def sleeper(lab_id: str, image: str, **options: Any) -> Container:
    """A running container of `image` whose main process is `sleep infinity` (no network)."""
    options.setdefault("network_mode", "none")
    return client().containers.run(
        image,
        ["sleep", "infinity"],
        name=unique(lab_id, "sleeper"),
        labels=names.labels(lab_id),
        detach=True,
        **options,
    )


def registry(lab_id: str) -> tuple[Container, str]:
    """A running, empty registry (the catalog's image) on a free loopback port, and its address."""
    container, url = containers.run_web(
        catalog.image("registry"),
        name=unique(lab_id, "registry"),
        labels=names.labels(lab_id),
        container_port=5000,
        path="/v2/",
    )
    return container, url.removeprefix("http://")


def ran(*commands: str) -> None:
    """The learner ran `commands` through labkit's `run`, where `checks.ran` finds them (they must succeed)."""
    for command in commands:
        shell.run(command, quiet=True)


def echoed(*commands: str) -> None:
    """The learner printed `commands` (`echo '...'`) instead of running them: their text, no engine answer."""
    for command in commands:
        shell.run(f"echo {shlex.quote(command)}", quiet=True)
