"""Self-checks for the lab notebooks: each one looks at real Docker state.

A check that passes prints one green line and returns what it verified. A check that fails
prints a red line and a hint for the learner, then raises CheckFailed (whose message carries the
hint), so the cell, nbval and CI fail with it. Every check takes an optional `hint=` for a
lab-specific wording.
"""

import base64
import http.client
import io
import json
import re
import socket
import ssl
import tarfile
from collections.abc import Callable, Iterable
from datetime import date
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from docker.errors import NotFound
from docker.models.containers import Container

from labkit import ci_files, compose, containers, dockerfile, names, refs, releases, shell, web
from labkit.docker_access import client
from labkit.engine import image_files, image_info
from labkit.errors import CheckFailed, LabError
from labkit.notebook import RED, RESET
from labkit.registry.client import Registry, RegistryError, referrers_tag
from labkit.waiting import TimedOut, wait_until
from labkit.web import HttpAnswer

GREEN = "\033[32m"
T = TypeVar("T")
ROOT_USERS = ("", "root", "0")
PROJECT_FILES = (
    "*.csproj", "*.fsproj", "*.vbproj", "*.sln", "*.slnx", "*.slnf", "*.props", "*.targets",
    "nuget.config", "global.json", "packages.lock.json",
)  # fmt: skip
RESTORE_HINT = (
    "Copy only the project file(s) first (e.g. `COPY App/*.csproj App/`), then "
    "`RUN dotnet restore -a $TARGETARCH`, and only then copy the sources (`COPY . .`), "
    "so a code change does not undo the cached restore."
)


# --- the reporter: every check passes and fails through these two ---


def _pass(what: str) -> None:
    print(f"{GREEN}✔ {what}{RESET}")


def _fail(what: str, hint: str) -> NoReturn:
    print(f"{RED}✘ {what}{RESET}\nHint: {hint}")
    raise CheckFailed(f"{what} Hint: {hint}", shown=True, what=what)


def that(condition: str, passed: bool, hint: str) -> bool:
    """A lab-specific check: `condition` says what should hold, `passed` whether it does."""
    if not passed:
        _fail(f"Not yet: {condition}.", hint)
    _pass(condition)
    return True


def ran(what: str, *words: str, output_has: str | re.Pattern[str], hint: str) -> str:
    """You ran, with `run(...)`, a command holding every one of `words`, it succeeded, and its output
    has `output_has` (a substring, or a match of a compiled pattern) that the command's own text has
    not: what the engine (or the app) answered, which an `echo` of the command cannot print. Returns
    that output (its last shell.KEPT_CHARACTERS). Checks a step whose result is what a command showed."""
    for done in reversed(shell.RAN):
        if done.returncode == 0 and all(word in done.command for word in words) and _shows(done, output_has):
            _pass(what)
            return done.output
    _fail(f"Not yet: {what}.", hint)


def failed(what: str, *words: str, output_has: str | re.Pattern[str], hint: str) -> str:
    """You ran, with `run(..., check=False)`, a command holding every one of `words`, it failed, and its
    output has `output_has` (as in `ran`): a step whose result is a refusal, and the reason for it."""
    for done in reversed(shell.RAN):
        failed_here = done.returncode not in (0, None) and all(word in done.command for word in words)
        if failed_here and _shows(done, output_has):
            _pass(what)
            return done.output
    _fail(f"Not yet: {what}.", hint)


def _shows(done: shell.Ran, evidence: str | re.Pattern[str]) -> bool:
    """The output holds `evidence`, and not because the command echoed its own text ("" never counts)."""
    if isinstance(evidence, str):
        return evidence in done.output and evidence not in done.command
    return evidence.search(done.output) is not None and evidence.search(done.command) is None


# --- images ---


def _image(ref: str, hint: str | None = None) -> dict[str, Any]:
    try:
        return image_info.inspect(ref)
    except image_info.ImageMissing:
        _fail(f"There is no image {ref}.", hint or _missing_image_hint(ref))


def _missing_image_hint(ref: str) -> str:
    if ref.startswith(names.IMAGE_PREFIX + "/"):
        return f"Run the `docker build ... -t {ref}` cell above again and check that it ends without an error."
    return f"Pull it with `docker pull {ref}` (`python -m labkit prepull` pulls every image the course uses)."


def image_exists(ref: str, hint: str | None = None) -> dict[str, Any]:
    """The image is on this engine; returns its `docker image inspect` data."""
    info = _image(ref, hint)
    _pass(f"Image {ref} exists ({image_info.size_mb(info)} MB, {len(image_info.layers(info))} layers).")
    return info


def image_user_not_root(ref: str, hint: str | None = None) -> str:
    """The image's USER is not root ("", "root" and "0" are root); returns the user."""
    user = image_info.user(_image(ref))
    if user.split(":", 1)[0] in ROOT_USERS:
        shown = f"USER {user}" if user else "no USER instruction"
        _fail(
            f"The image {ref} runs as root ({shown}).",
            hint or "Add `USER $APP_UID` as the last instruction of the final stage and rebuild.",
        )
    _pass(f"The image {ref} runs as user {user}, not root.")
    return user


def image_size_below(ref: str, megabytes: float, hint: str | None = None) -> float:
    """The image is smaller than `megabytes` MB (1 MB = 1,000,000 bytes); returns its size in MB."""
    size = image_info.size_mb(_image(ref))
    if size >= megabytes:
        _fail(
            f"The image {ref} is {size} MB, not below {megabytes} MB.",
            hint
            or "Make the final stage start FROM a runtime image (aspnet, runtime or runtime-deps), not "
            "the sdk, and copy only the publish output into it; `labkit.images.history(ref)` shows "
            "which step adds the most.",
        )
    _pass(f"The image {ref} is {size} MB, below {megabytes} MB.")
    return size


def env_equals(ref: str, name: str, value: str, hint: str | None = None) -> str:
    """The image sets environment variable `name` to `value`; returns the value."""
    found = image_info.env(_image(ref))
    if name not in found:
        _fail(
            f"The image {ref} does not set {name}.", hint or f"Add `ENV {name}={value}` to the final stage and rebuild."
        )
    if found[name] != value:
        _fail(
            f"The image {ref} sets {name}={found[name]!r}, expected {value!r}.",
            hint or f"Set `ENV {name}={value}` in the final stage (a later ENV wins) and rebuild.",
        )
    _pass(f"The image {ref} sets {name}={value}.")
    return value


def path_in_image(ref: str, path: str, present: bool = True, hint: str | None = None) -> dict[str, Any] | None:
    """`path` is (or, with present=False, is not) in the image's filesystem.

    Works on images without a shell (chiseled): it creates a container without starting it,
    asks the engine for the path's metadata, and removes the container. Returns that metadata
    (name, size, mode, linkTarget), or None for an absent path.
    """
    _image(ref)
    stat = _stat_in_image(ref, path)
    if present and stat is None:
        _fail(
            f"{path} is not in the image {ref}.",
            hint
            or "Check the step that should put it there (a COPY, or `dotnet publish -o`) and the "
            "WORKDIR that relative paths land in, then rebuild.",
        )
    if not present and stat is not None:
        _fail(
            f"{path} is in the image {ref}, but should not be.",
            hint
            or "Copy only what the app needs into the final stage (e.g. `COPY --from=build /app .`), "
            "list build leftovers in .dockerignore, and rebuild.",
        )
    _pass(f"{path} is {'' if present else 'not '}in the image {ref}.")
    return stat


def no_file_named(ref: str, *file_names: str, hint: str) -> None:
    """No file or folder anywhere in the image's filesystem has one of `file_names` (shell patterns allowed).

    Reads the whole filesystem of a created, never started, container (`docker export`): a
    chiseled image's hundred-odd MB take a second or two."""
    _image(ref)
    found = sorted(
        name
        for name in _names_in_image(ref)
        if any(fnmatch(name.rsplit("/", 1)[-1], pattern) for pattern in file_names)
    )
    if found:
        _fail(f"{ref} holds {', '.join(found[:3])}{' ...' if len(found) > 3 else ''}, but should not.", hint)
    _pass(f"Nothing named {' or '.join(file_names)} in the image {ref}.")


def _names_in_image(ref: str) -> list[str]:
    with image_files.probe(ref) as probe, tarfile.open(fileobj=_ChunkReader(probe.export()), mode="r|") as archive:
        return [member.name.rstrip("/") for member in archive]


class _ChunkReader(io.RawIOBase):
    """A file object over the chunks of a streamed HTTP body (tarfile reads a stream from it)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            self._buffer = next(self._chunks, b"")
            if not self._buffer:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size], self._buffer = self._buffer[:size], self._buffer[size:]
        return size


def _stat_in_image(ref: str, path: str) -> dict[str, Any] | None:
    """HEAD /containers/{id}/archive on a created (never started) container."""
    api = client().api
    with image_files.probe(ref) as probe:
        answer = api.head(f"{api.base_url}/v{api.api_version}/containers/{probe.id}/archive", params={"path": path})
    if answer.status_code == 404:
        return None
    if answer.status_code != 200:
        raise LabError(f"Docker could not look at {path} in {ref} (HTTP {answer.status_code}).")
    stat: dict[str, Any] = json.loads(base64.b64decode(answer.headers["X-Docker-Container-Path-Stat"]))
    return stat


def images_share_base(ref_a: str, ref_b: str, hint: str | None = None) -> list[str]:
    """`ref_a` is built on `ref_b` (all of b's layers start a's), or both at least start with the
    same layer; returns the shared layer digests."""
    layers_b = image_info.layers(_image(ref_b))
    shared = image_info.common_prefix(image_info.layers(_image(ref_a)), layers_b)
    if not shared:
        _fail(
            f"{ref_a} and {ref_b} share no layers.",
            hint
            or f"Build {ref_a} FROM {ref_b} (check the image name, and the tag in FROM and in the "
            "DOTNET_TAG build argument), then rebuild.",
        )
    if len(shared) == len(layers_b):
        _pass(f"{ref_a} is built on {ref_b}: it reuses all {len(shared)} of its layers.")
    else:
        _pass(f"{ref_a} and {ref_b} share their first {len(shared)} layer(s): the same base.")
    return shared


# --- containers ---


def container(name: str, hint: str | None = None) -> Container:
    """The container called `name` (`docker container inspect`), or one red line saying what to do."""
    return _container(name, hint)


def _container(name: str, hint: str | None) -> Container:
    try:
        return client().containers.get(name)
    except NotFound:
        _fail(f"There is no container named {name}.", hint or containers.missing_hint(name))


def _log_tail(container: Container, lines: int = 5) -> str:
    text = container.logs(tail=lines).decode("utf-8", "replace").rstrip()
    return f" Last lines of `docker logs {container.name}`:\n{text}" if text else ""


def container_running(name: str, hint: str | None = None) -> Container:
    """A container called `name` is running; returns it."""
    container = _container(name, hint)
    if container.status != "running":
        code = container.attrs["State"].get("ExitCode")
        _fail(
            f"The container {name} is {container.status} (exit code {code}).{_log_tail(container)}",
            hint
            or f"Find out why in `docker logs {name}`, fix it, remove the old container "
            f"(`docker rm {name}`) and run it again.",
        )
    _pass(f"The container {name} is running.")
    return container


def container_healthy(name: str, timeout: float = 60, hint: str | None = None) -> Container:
    """The container's HEALTHCHECK reports healthy within `timeout` seconds; returns it."""
    container = _container(name, hint)
    health: dict[str, Any] = {}

    def healthy() -> bool:
        nonlocal health
        container.reload()
        state = container.attrs["State"]
        if state.get("Health") is None:
            _fail(f"The container {name} has no health check.", hint or _no_healthcheck_hint(container))
        health = state["Health"]
        status = health.get("Status")
        if status == "unhealthy" or state.get("Status") != "running":
            _fail(
                f"The container {name} is {status} ({state.get('Status')}).{_last_probe(health)}",
                hint
                or "Run the health check command yourself to see why it fails, fix the app or the "
                "HEALTHCHECK, rebuild and start a new container.",
            )
        return status == "healthy"

    try:
        wait_until(healthy, timeout=timeout, interval=1.0, what=f"{name} becoming healthy")
    except TimedOut:
        _fail(
            f"The container {name} is still {health.get('Status')} after {timeout:.0f} s.{_last_probe(health)}",
            hint or "The app may start slowly: look at `docker logs`, or give the HEALTHCHECK a longer --start-period.",
        )
    _pass(f"The container {name} is healthy.")
    return container


def _no_healthcheck_hint(container: Container) -> str:
    image_check = image_info.config(image_info.inspect(container.attrs["Image"])).get("Healthcheck")
    if not image_check or image_check.get("Test") in (None, [], ["NONE"]):
        return (
            "Its image has no HEALTHCHECK. Add one to the final stage of the Dockerfile "
            "(`HEALTHCHECK CMD ...`) or start the container with `--health-cmd`, then run it again."
        )
    return "Its image has a HEALTHCHECK, but this container was started with `--no-healthcheck`: start it without."


def _last_probe(health: dict[str, Any]) -> str:
    log = health.get("Log") or []
    output = str(log[-1].get("Output", "")).strip() if log else ""
    return f" Last probe said: {output[:300]}" if output else ""


def http_contains(
    url: str, text: str, timeout: float = 30, hint: str | None = None, cafile: str | None = None
) -> HttpAnswer:
    """GET `url` answers with a body containing `text` within `timeout` seconds; returns the answer.
    `cafile`: an https URL's certificate must chain to that CA."""
    answer: HttpAnswer | None = None
    last_error = ""

    def contains() -> HttpAnswer | None:
        nonlocal answer, last_error
        try:
            answer = web.get(url, timeout=3.0, cafile=cafile)
        except (OSError, http.client.HTTPException) as exc:
            answer, last_error = None, str(exc) or type(exc).__name__
        return answer if answer is not None and text in answer.body else None

    try:
        found = wait_until(contains, timeout=timeout, interval=0.5, what=f"{text!r} at {url}")
    except TimedOut:
        if answer is None:
            _fail(
                f"Nothing answered at {url} within {timeout:.0f} s ({last_error}).",
                hint
                or "Check that the container runs (`docker ps`), that the port in the URL is the one you "
                "published (`-p 127.0.0.1:PORT:8080`, or `docker port NAME`), and what `docker logs` says.",
            )
        _fail(
            f"{url} answers HTTP {answer.status}, but without {text!r} (it said {answer.body[:200]!r}).",
            hint
            or "The app answers, but not what this step expects: check the path and the code of that "
            "endpoint, rebuild the image and start a new container.",
        )
    _pass(f"{url} answers HTTP {found.status} with {text!r}.")
    return found


# --- compose projects and secrets ---


def _service(project: str, service: str, hint: str | None) -> list[Container]:
    found = compose.containers(project, service)
    if not found:
        _fail(
            f"The compose project {project} has no container of the service {service}.",
            hint
            or f"Start it from the lab folder with `docker compose -p {project} up -d` "
            f"(`docker compose -p {project} ps -a` lists what it has).",
        )
    return found


def service_running(project: str, service: str, replicas: int = 1, hint: str | None = None) -> list[Container]:
    """Exactly `replicas` containers of the compose `service` run; returns them."""
    found = _service(project, service, hint)
    running = [one for one in found if one.status == "running"]
    if len(running) != replicas:
        states = ", ".join(f"{one.name} {one.status}" for one in found)
        _fail(
            f"The service {service} of {project} runs {len(running)} container(s), not {replicas} ({states}).",
            hint
            or f"`docker compose -p {project} logs {service}` says why a container stopped; "
            f"`docker compose -p {project} up -d --scale {service}={replicas}` sets how many run.",
        )
    _pass(f"The service {service} of {project} runs {replicas} container(s).")
    return running


def service_not_published(project: str, service: str, hint: str | None = None) -> None:
    """No container of the compose `service` publishes a port on the host."""
    for one in _service(project, service, hint):
        if compose.published(one):
            _fail(
                f"{one.name} ({service}) publishes {', '.join(compose.published(one))} on the host.",
                hint
                or f"Remove the `ports:` of the {service} service: the other services reach it on the "
                f"project's network; then `docker compose -p {project} up -d` again.",
            )
    _pass(f"The service {service} of {project} publishes no port on the host.")


def service_on_loopback(project: str, service: str, port: int = 8080, hint: str | None = None) -> list[int]:
    """Every running container of `service` publishes `port` on 127.0.0.1 only, on a host port Docker
    picked (a fixed one would stop a second replica and a second copy of the project); returns the host ports."""
    ports: list[int] = []
    for one in [c for c in _service(project, service, hint) if c.status == "running"]:
        bindings = [b for b in compose.published(one) if b.endswith(f"->{port}/tcp")]
        loopback = [b for b in bindings if b.startswith(f"{names.LOOPBACK}:")]
        if not bindings or loopback != bindings:
            _fail(
                f"{one.name} ({service}) publishes port {port} as {', '.join(bindings) or 'nothing'}.",
                hint
                or "Publish it on the loopback address only, on a host port Docker picks: "
                f'`ports: ["{names.LOOPBACK}::{port}"]`.',
            )
        _host_port_not_fixed(one, service, port, hint)
        ports += [int(b.split("->")[0].rsplit(":", 1)[1]) for b in loopback]
    _pass(f"The service {service} of {project} publishes port {port} on {names.LOOPBACK} only ({ports}).")
    return ports


def _host_port_not_fixed(one: Container, service: str, port: int, hint: str | None) -> None:
    """The container asked for `port` without a host port (Docker picks one), as `127.0.0.1::8080` does."""
    asked = (one.attrs["HostConfig"].get("PortBindings") or {}).get(f"{port}/tcp") or []
    fixed = sorted({str(b.get("HostPort")) for b in asked if str(b.get("HostPort") or "0") != "0"})
    if fixed:
        _fail(
            f"{one.name} ({service}) publishes port {port} on the fixed host port {', '.join(fixed)}.",
            hint
            or f'Leave the host port out, `ports: ["{names.LOOPBACK}::{port}"]`: Docker then picks a free one, '
            "so a second replica and a second copy of the project can run.",
        )


def starts_after_healthy(
    project: str, service: str, dependency: str, hint: str | None = None, folder: str | Path = "."
) -> None:
    """The compose `service` starts only once `dependency` is healthy (depends_on, service_healthy), as
    the project's compose.yaml in `folder` says: what the next `up` does, on every Compose version."""
    condition = _from_compose(lambda: compose.depends_on(project, service, folder), project).get(dependency)
    if condition != "service_healthy":
        _fail(
            f"The service {service} does not wait for {dependency} to be healthy "
            f"({'no depends_on ' + dependency if condition is None else condition}).",
            hint
            or f"Give {service} `depends_on: {{{dependency}: {{condition: service_healthy}}}}` and {dependency} "
            f"a `healthcheck:`, then `docker compose -p {project} up -d --wait --force-recreate {service}` "
            f"(recreated, {service} starts after a healthy {dependency}).",
        )
    _pass(f"The service {service} starts only once {dependency} is healthy.")


def _from_compose(read: Callable[[], T], project: str) -> T:
    """What `read` finds in the project's compose.yaml, or one red line with Compose's own complaint."""
    try:
        return read()
    except compose.ComposeFileInvalid as exc:
        _fail(f"Compose cannot read the project {project}: {exc}", "Fix compose.yaml where Compose says.")


def pg_isready_over_tcp(name: str, hint: str | None = None) -> list[str]:
    """The container's health check runs `pg_isready` against a TCP host (`-h 127.0.0.1`), not the
    default Unix socket, on which the postgres image's initialisation server already answers; returns it."""
    container = _container(name, hint)
    test = compose.health_test(container)
    env = dict(line.split("=", 1) for line in container.attrs["Config"].get("Env") or [] if "=" in line)
    host = _pg_host(test) or env.get("PGHOST", "")
    if not any(Path(word).name == "pg_isready" for word in test) or not host or host.startswith("/"):
        shown = " ".join(test) or "none"
        _fail(
            f"The health check of {name} does not ask PostgreSQL over TCP (it runs: {shown}).",
            hint
            or "Run `pg_isready -h 127.0.0.1 ...`: without -h it asks the Unix socket, where the postgres image's "
            "first, initialising server already answers, before the real one listens on TCP.",
        )
    _pass(f"The health check of {name} asks PostgreSQL over TCP ({host}).")
    return test


def _pg_host(words: list[str]) -> str:
    """The host a pg_isready command line names (-h HOST, -hHOST, --host HOST, --host=HOST); "" for none."""
    for word, following in zip(words, [*words[1:], ""], strict=True):
        if word in ("-h", "--host"):
            return following
        if word.startswith("--host="):
            return word.removeprefix("--host=")
        if word.startswith("-h") and not word.startswith("--"):
            return word[2:]
    return ""


def compose_named_volume(
    project: str, service: str, target: str, labels: dict[str, str], hint: str | None = None, folder: str | Path = "."
) -> str:
    """compose.yaml mounts a named volume on `target` of `service` and declares it with `labels`, so
    that cleanup by label finds it (an anonymous volume, or one without the labels, it would not);
    returns the volume's name in compose.yaml. Reads `docker compose config`: nothing is started."""
    read = _from_compose(lambda: compose.config(project, folder), project)
    mounts: list[dict[str, Any]] = (read.get("services", {}).get(service) or {}).get("volumes") or []
    volumes = [m for m in mounts if m.get("target") == target and m.get("type") == "volume"]
    named = next((str(m["source"]) for m in volumes if m.get("source")), "")
    wanted = ", ".join(f"{key}: {value}" for key, value in labels.items())
    if not named:
        _fail(
            f"compose.yaml mounts no named volume on {target} of the service {service}.",
            hint
            or f"Under the {service} service's `volumes:`, add `- NAME:{target}`; declare NAME under the "
            f"top-level `volumes:` with `labels: {{{wanted}}}`.",
        )
    has = ((read.get("volumes") or {}).get(named) or {}).get("labels") or {}
    if any(has.get(key) != value for key, value in labels.items()):
        _fail(
            f"The volume {named} is declared without the label {wanted}: cleanup by label would miss it.",
            hint or f"Under the top-level `volumes:`, give {named} `labels: {{{wanted}}}`.",
        )
    _pass(f"compose.yaml keeps {target} of {service} in the named volume {named}, with the lab's label.")
    return str(named)


def secret_not_in_image(ref: str, secret: str, hint: str | None = None) -> None:
    """`secret` appears nowhere in the image's configuration (ENV, labels, commands) or build history."""
    info = _image(ref)
    config = image_info.config(info)
    places = {
        "its environment (ENV)": " ".join(config.get("Env") or []),
        "its labels": json.dumps(config.get("Labels") or {}),
        "its command": json.dumps([config.get("Entrypoint"), config.get("Cmd")]),
        "its build history (ARG, RUN)": " ".join(step.get("CreatedBy", "") for step in client().api.history(ref)),
    }
    found = [place for place, text in places.items() if secret in text]
    if found:
        _fail(
            f"The secret is in the image {ref}: in {' and '.join(found)}.",
            hint
            or "Anyone who pulls the image can read it (`docker history --no-trunc`, `docker image inspect`). "
            "Remove it from the Dockerfile, rebuild, and pass it when the container starts (`environment:`).",
        )
    _pass(f"The secret is not in the image {ref}'s configuration or history.")


def secret_in_no_layer(ref: str, secret: str | bytes, hint: str | None = None) -> None:
    """`secret` is nowhere in the image: not in its configuration (Env, Labels, command), not in a history
    entry, not in any file of any layer (read from `docker save`). The failure names each place."""
    _image(ref)
    found = image_files.leaks(ref, secret)
    if found:
        places = "; ".join(str(leak) for leak in found)
        _fail(
            f"The secret is in the image {ref}, in {places}.",
            hint
            or "Anyone who has the image reads it there (`docker history --no-trunc`, `docker save`). Pass it as a "
            "build secret (`docker build --secret id=NAME,src=FILE`) and read it only in the RUN that needs it "
            "(`RUN --mount=type=secret,id=NAME ...`), never through ARG, ENV or COPY.",
        )
    _pass(f"The secret is in no layer, history entry or configuration of {ref}.")


# --- TLS ---


def tls_verified(
    host: str, port: int, cafile: str | Path, timeout: float = 30, hint: str | None = None
) -> dict[str, Any]:
    """127.0.0.1:`port` speaks TLS with a certificate that chains to `cafile` and names `host`; returns
    the certificate as `ssl` reads it (subject, issuer, notAfter, serialNumber). Waits up to `timeout`
    seconds for a server that is still starting."""
    if not Path(cafile).is_file():
        _fail(
            f"There is no CA certificate {cafile}.",
            "Run the cell that makes the lab's CA again (`openssl req -x509 ...`).",
        )
    context = ssl.create_default_context(cafile=str(cafile))
    refused = ""

    def handshake() -> dict[str, Any] | None:
        nonlocal refused
        try:
            with (
                socket.create_connection((names.LOOPBACK, port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname=host) as tls,
            ):
                return dict(tls.getpeercert() or {})
        except ssl.SSLCertVerificationError as exc:
            _fail(
                f"The certificate on port {port} does not verify for {host}: {exc.verify_message}.",
                hint
                or f"Serve a certificate signed by the lab's CA ({Path(cafile).name}) whose subjectAltName "
                f"names {host}, and point Kestrel__Certificates__Default__Path at it.",
            )
        except ssl.SSLEOFError as exc:  # Docker's proxy accepts, then closes, while the app is still starting
            refused = str(exc) or type(exc).__name__
            return None
        except ssl.SSLError as exc:
            _fail(
                f"Port {port} does not speak TLS ({exc.__class__.__name__}: {exc}); plain HTTP answers there.",
                hint
                or "Listen with HTTPS on the port you publish: ASPNETCORE_HTTPS_PORTS=8081 with a certificate "
                "(Kestrel__Certificates__Default__Path), and publish 8081, not the HTTP port 8080.",
            )
        except OSError as exc:  # refused, reset: nothing listens yet
            refused = str(exc) or type(exc).__name__
            return None

    try:
        cert = wait_until(handshake, timeout=timeout, interval=0.5, what=f"a TLS handshake on port {port}")
    except TimedOut:
        _fail(
            f"No TLS handshake on 127.0.0.1:{port} within {timeout:.0f} s ({refused}).",
            hint
            or "Check that the container runs (`docker ps`), which port it publishes (`docker port NAME`), "
            "and what `docker logs NAME` says (a certificate Kestrel cannot read stops the app at start).",
        )
    _pass(f"TLS on port {port} verifies against {Path(cafile).name} for {host}: {describe_certificate(cert)}.")
    return cert


def describe_certificate(cert: dict[str, Any]) -> str:
    """ "subject CN=localhost, issuer CN=..., expires ..." from a certificate as `ssl` reads it."""

    def name(field: str) -> str:
        return ", ".join(f"{key}={value}" for part in cert.get(field, ()) for key, value in part)

    return f"subject {name('subject')}, issuer {name('issuer')}, expires {cert.get('notAfter', '?')}"


# --- tags and Dockerfiles ---


def tag_supported(image_ref: str, today: date | None = None, hint: str | None = None) -> releases.Channel:
    """The .NET channel in the tag (10.0 in "aspnet:10.0-noble-chiseled", "sdk:10.0.401") is not
    end of life according to the .NET release metadata; returns that channel's record."""
    verdict = releases.tag_support(refs.tag(image_ref), today)
    advice = ", ".join(c.channel_version for c in releases.supported_channels(today, verdict.index))
    if verdict.version is None:
        _fail(
            f"The tag of {image_ref} names no .NET version.",
            hint or f"Use a versioned tag (supported now: {advice}) so the image cannot change .NET version under you.",
        )
    if verdict.channel is None:
        _fail(
            f".NET {verdict.version} (in {image_ref}) is not in the .NET release metadata.",
            hint or f"Check the tag: supported now are {advice}.",
        )
    channel = verdict.channel
    if not verdict.supported:
        _fail(
            f".NET {verdict.version} (in {image_ref}) is out of support since {channel.eol_date}.",
            hint
            or f"Move to a supported channel ({advice}): change the tag (the DOTNET_TAG build argument) and rebuild.",
        )
    until = f"until {channel.eol_date}" if channel.eol_date else "(no end date announced yet)"
    kind = channel.release_type.upper()
    _pass(f".NET {verdict.version} ({kind}) in {image_ref} is supported {until} ({verdict.index.source} release data).")
    return channel


def dockerfile_restores_before_sources(path: str | Path, hint: str | None = None) -> dockerfile.Instruction:
    """The build stage copies only project files, runs `dotnet restore`, then copies the sources.

    That order keeps the restore in its own cached layer. Returns the restore instruction.
    """
    if not Path(path).is_file():
        _fail(
            f"There is no Dockerfile at {path}.",
            hint or "Run the check from the lab folder, or pass the Dockerfile's path.",
        )
    stage = _build_stage(dockerfile.read_stages(path))
    if stage is None:
        _fail(
            f"{path} has no build stage (no stage runs `dotnet restore`, `build` or `publish`).", hint or RESTORE_HINT
        )
    restore = next((i for i in stage.instructions if i.keyword == "RUN" and _runs(i, "restore")), None)
    if restore is None:
        _fail(f"The build stage of {path} never runs `dotnet restore` by itself.", hint or RESTORE_HINT)
    before = [sources for i, sources in _copies(stage) if i.line < restore.line]
    after = [sources for i, sources in _copies(stage) if i.line > restore.line]
    early_sources = [s for sources in before for s in sources if not _is_project_file(s)]
    if early_sources:
        _fail(
            f"{path} copies {', '.join(early_sources)} before `dotnet restore` (line {restore.line}).",
            hint or RESTORE_HINT,
        )
    if not before:
        _fail(f"{path} copies no project file before `dotnet restore` (line {restore.line}).", hint or RESTORE_HINT)
    if not any(not _is_project_file(s) for sources in after for s in sources):
        _fail(f"{path} never copies the sources after `dotnet restore` (line {restore.line}).", hint or RESTORE_HINT)
    _pass(f"{path} restores (line {restore.line}) after copying only project files and before copying the sources.")
    return restore


def _runs(instruction: dockerfile.Instruction, verb: str) -> bool:
    return re.search(rf"\bdotnet\s+{verb}\b", instruction.args) is not None


def _build_stage(stages: list[dockerfile.Stage]) -> dockerfile.Stage | None:
    """The first stage that restores, builds or publishes .NET code."""
    verbs = ("restore", "build", "publish")
    return next(
        (s for s in stages if any(i.keyword == "RUN" and _runs(i, v) for i in s.instructions for v in verbs)), None
    )


def _copies(stage: dockerfile.Stage) -> list[tuple[dockerfile.Instruction, list[str]]]:
    """COPY/ADD instructions that take files from the build context (not --from another stage)."""
    found = []
    for instruction in stage.instructions:
        if instruction.keyword in ("COPY", "ADD"):
            flags, sources, _ = dockerfile.copy_parts(instruction)
            if "from" not in flags:
                found.append((instruction, sources))
    return found


def _is_project_file(source: str) -> bool:
    name = source.rstrip("/").rsplit("/", 1)[-1].lower()
    return any(fnmatch(name, pattern) for pattern in PROJECT_FILES)


# --- shipping: tests in the build, labels, a registry's digests, referrers and signatures, CI files ---


def stage_runs_tests(path: str | Path, stage: str = "test", hint: str | None = None) -> dockerfile.Instruction:
    """The Dockerfile has a stage `stage` whose RUN runs `dotnet test`, and that RUN does not swallow its exit
    code (`|| true`, `; exit 0`): a failing test fails the build."""
    wanted = hint or (
        f"Add a stage `FROM build AS {stage}` that copies the tests and runs them in a RUN: "
        "`RUN dotnet test tests/Api.Tests.csproj --no-restore`. A RUN that fails stops the build; an ENTRYPOINT "
        "would only run the tests when someone starts a container."
    )
    found = next((s for s in dockerfile.read_stages(path) if (s.name or "").lower() == stage), None)
    if found is None:
        _fail(f"{path} has no stage named {stage}.", wanted)
    test_run = next((i for i in found.instructions if i.keyword == "RUN" and _runs(i, "test")), None)
    if test_run is None:
        _fail(f"The {stage} stage of {path} never runs `dotnet test` in a RUN.", wanted)
    if re.search(r"(\|\||;)\s*(true|:|exit 0)(?!\w)", test_run.args):
        _fail(
            f"The RUN on line {test_run.line} of {path} lets a failing test pass ({test_run.args.strip()[:80]}).",
            hint or "Drop `|| true` (or `; exit 0`): the RUN must fail when `dotnet test` does, so the build stops.",
        )
    _pass(f"The {stage} stage of {path} runs `dotnet test` (line {test_run.line}): a failing test fails the build.")
    return test_run


def image_labels(ref: str, expected: dict[str, str], hint: str | None = None) -> dict[str, str]:
    """The image carries each label of `expected` with that value; returns all its labels."""
    labels: dict[str, str] = image_info.config(_image(ref)).get("Labels") or {}
    for key, value in expected.items():
        if key not in labels:
            _fail(f"The image {ref} has no label {key}.", hint or f"Set `{key}` in the bake target's `labels`.")
        if labels[key] != value:
            _fail(
                f"The image {ref} has {key}={labels[key]!r}, expected {value!r}.",
                hint or f"Set `{key}` from the bake variable that holds it, and build again.",
            )
    shown = ", ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in expected.items())
    _pass(f"The image {ref} carries {shown}.")
    return labels


def pushed(address: str, repository: str, reference: str, hint: str | None = None) -> str:
    """The registry at `address` has `repository:reference` (a tag or a digest); returns its digest."""
    try:
        found = Registry(address).find_manifest(repository, reference)
    except RegistryError as exc:
        _fail(f"The registry at {address} did not answer ({exc}).", hint or "Start the lab's registry (Step 3).")
    separator = "@" if reference.startswith("sha256:") else ":"
    if found is None:
        _fail(
            f"The registry at {address} has no {repository}{separator}{reference}.",
            hint or "Push it: `docker buildx bake image --push` with REGISTRY set to the lab's registry.",
        )
    named = f"{repository}@{reference[:19]}..." if reference.startswith("sha256:") else f"{repository}:{reference}"
    _pass(f"The registry at {address} has {named} ({found.digest[:19]}...).")
    return str(found.digest)


def signed(address: str, repository: str, digest: str, hint: str | None = None) -> str:
    """cosign's signature of `digest` is in the registry (the tag `sha256-<hex>.sig` beside the image);
    returns the signature manifest's digest."""
    tag = referrers_tag(digest) + ".sig"
    found = Registry(address).find_manifest(repository, tag)
    if found is None:
        _fail(
            f"There is no signature of {repository}@{digest[:19]}... in the registry at {address}.",
            hint or "Sign the digest: `cosign sign --key cosign.key --tlog-upload=false REPOSITORY@sha256:...`.",
        )
    _pass(f"The registry at {address} holds a cosign signature of {repository}@{digest[:19]}...")
    return str(found.digest)


def attached(address: str, repository: str, digest: str, artifact_type: str, hint: str | None = None) -> bytes:
    """An artifact of `artifact_type` refers to `digest` in the registry (OCI referrers, or the fallback
    tag); returns its first layer's content, read back from the registry."""
    registry = Registry(address)
    found = registry.referrers(repository, digest, artifact_type)
    if not found:
        _fail(
            f"Nothing of type {artifact_type} is attached to {repository}@{digest[:19]}... at {address}.",
            hint
            or f"Attach it: `oras attach --plain-http --artifact-type {artifact_type} REPOSITORY@sha256:... FILE`.",
        )
    manifest = registry.manifest(repository, str(found[-1]["digest"]))
    layers = manifest.data.get("layers") or []
    if not layers:
        _fail(f"The {artifact_type} attached to {digest[:19]}... holds no file.", hint or "Attach the file itself.")
    content: bytes = registry.blob_bytes(repository, str(layers[0]["digest"]))
    _pass(f"{artifact_type} ({len(content)} bytes) is attached to {repository}@{digest[:19]}..., read back.")
    return content


def runs_image(name: str, reference: str, hint: str | None = None) -> Container:
    """The container `name` is running, started from exactly `reference` (e.g. repository@sha256:...)."""
    found = container_running(name, hint)
    started = str(found.attrs["Config"]["Image"])
    if started != reference:
        _fail(
            f"The container {name} was started from {started}, not {reference}.",
            hint or f"Start it from the digest you verified: `docker run ... {reference}`.",
        )
    _pass(f"The container {name} runs {reference[:60]}...")
    return found


def valid_ci_file(path: str | Path, schema: str, hint: str | None = None) -> Any:
    """The YAML file is valid against a vendored SchemaStore schema (ci_files.WORKFLOW or DEPENDABOT);
    returns the parsed document."""
    try:
        document = ci_files.load(Path(path))
    except ci_files.UnreadableFile as exc:
        _fail(str(exc), hint or "Write the file, as YAML, and run the check again.")
    problems = ci_files.problems(document, schema)
    if problems:
        _fail(
            f"{path} is not valid against SchemaStore's {schema} schema: {'; '.join(problems[:3])}.",
            hint or "Fix the key named first (GitHub's documentation lists each key and its type).",
        )
    _pass(f"{path} is valid against SchemaStore's {schema} schema.")
    return document
