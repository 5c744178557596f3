"""Plain helpers for every test under tests/ (the Docker fixtures are in tests/conftest.py)."""

import http.server
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import APIError, ContainerError, NotFound
from docker.models.containers import Container

from labkit import catalog, names, run
from labkit.docker_access import client
from labkit.engine import image_info
from offline_world.machine import SWITCH
from tests.locks import solutions_at_rest

ROOT = Path(__file__).resolve().parents[1]  # the repository: tests/<kind>/ modules take it from here
TEST_LAB = "labkit-tests"
LABELS = names.labels(TEST_LAB)
LABEL_FLAGS = names.label_flags(TEST_LAB)
BUILDKIT_DOCKER = "DOCKER_BUILDKIT=1 docker"  # the client on PATH (`offline_world env` puts Debian's first)
# The offline world's own tests: right to skip on a runner that reaches the real registries (labs.yml).
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(\{[^}]*\})?")  # a MyST fence: code, or a directive such as ```{note}
WORLD_SWITCHED_ON = pytest.mark.skipif(
    os.environ.get(SWITCH) != "1", reason=f"the offline world is switched off ({SWITCH} is not 1) [skip: world-off]"
)

BuildImage = Callable[..., str]  # the build_image fixture
StartContainer = Callable[..., Any]  # the start_container fixture
MakeLabResources = Callable[[str], dict[str, str]]  # the lab_resources fixture
WEB_IMAGE = """\
FROM {base}
COPY index.html /www/index.html
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""
WEB_FILES = {"index.html": "<h1>hello labkit</h1>\n"}
Answer = Callable[[http.server.BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


@dataclass
class Made:
    """What this session created, removed at its end."""

    run_tag: str
    containers: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def remove_all(self, docker_client: docker.DockerClient) -> None:
        # Also course-labelled containers named with this session's tag that a failed start never returned.
        strays = docker_client.containers.list(all=True, filters={"label": names.LABEL_KEY, "name": self.run_tag})
        for container in [*self.containers, *(c.id for c in strays)]:
            with suppress(NotFound):
                docker_client.containers.get(container).remove(force=True, v=True)
        for image in reversed(self.images):  # derived images before their bases
            with suppress(NotFound, APIError):
                docker_client.images.remove(image, force=True)
        for network in self.networks:
            with suppress(NotFound):
                docker_client.networks.get(network).remove()
        for volume in self.volumes:
            with suppress(NotFound):
                docker_client.volumes.get(volume).remove(force=True)


def copy_solution(part: str, destination: Path, *ignore: str) -> Path:
    """solutions/<part> (a lab's folder, or a folder in it) copied into `destination`, less what the
    `ignore` patterns match: taken while no notebook edits that lab's folder (tests/locks.py)."""
    with solutions_at_rest(Path(part).parts[0]):
        copied = shutil.copytree(
            ROOT / "solutions" / part, destination, ignore=shutil.ignore_patterns(*ignore), dirs_exist_ok=True
        )
    return Path(copied)


@contextmanager
def http_server(answer: Answer) -> Iterator[str]:
    """Serve on a free loopback port in a thread; `answer(request)` gives (status, headers, body)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        # A request it cannot parse (a TLS handshake: Docker's containerd store tries HTTPS first, even on
        # 127.0.0.1) gets a status line, as a Go server answers; Python's default (HTTP/0.9) sends none,
        # and then the engine never falls back to plain HTTP.
        default_request_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, headers, body = answer(self)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve(Handler) as url:
        yield url


class _Server(http.server.ThreadingHTTPServer):
    """A browser opens a page's scripts and styles on many connections at once: with the default
    backlog of 5, a loaded machine can drop some, and a script of the page never arrives."""

    request_queue_size = 64


@contextmanager
def serve(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Run an HTTP server with this handler on a free loopback port in a thread; yields its URL."""
    server = _Server((names.LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{names.LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def started(arguments: str, docker: str = BUILDKIT_DOCKER) -> Iterator[str]:
    """A detached, labelled container (`docker run -d ARGUMENTS`); removed afterwards."""
    container = run(f"{docker} run -d {LABEL_FLAGS} {arguments}", quiet=True).strip().splitlines()[-1]
    try:
        yield container
    finally:
        run(f"{docker} rm -f -v {container}", quiet=True)  # -v: and the anonymous volumes its image's VOLUME made


def catalog_file(folder: Path, refs: dict[str, str]) -> Path:
    """An images.toml with these keys and refs (for LABKIT_CATALOG)."""
    sections = ['[dotnet]\nchannel = "10.0"\ntag = "10.0"\n']
    sections += [f'[images.{key}]\nref = "{ref}"\nrole = "test"\n' for key, ref in refs.items()]
    path = folder / "images.toml"
    path.write_text("\n".join(sections))
    return path


def exists(docker_client: docker.DockerClient, kind: str, resource_id: str) -> bool:
    collection = getattr(docker_client, f"{kind}s")
    try:
        collection.get(resource_id)
    except NotFound:
        return False
    return True


def labkit(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m labkit ARGS` from the repository root, as a learner runs it: never raises on a
    failure, so a test can look at the exit status and the one line it printed."""
    return subprocess.run(
        [sys.executable, "-m", "labkit", *args],
        cwd=ROOT,
        env={**(os.environ if env is None else env), **extra_env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def engine_tags() -> list[str]:
    """Every image tag on the engine, from one listing. (`images.list()` inspects each image after listing
    them, so an image another test removes in between fails it: tests run side by side.)"""
    tags = (tag for summary in image_info.summaries() for tag in summary.get("RepoTags") or [])
    return [tag for tag in tags if tag != "<none>:<none>"]


# Runs the command with its output going to files in /.out, through the static busybox output_of
# copies there: its `sh` finds the command's file on the image's PATH (a bare name would run
# busybox's own applet of that name), then execs it, so the exit code is the command's.
_TO_FILES = [
    "/.out/busybox",
    "sh",
    "-c",
    'command=$1; shift; case $command in */*) ;; *) command=$(/.out/busybox which "$command") || exit 127;; esac; '
    'exec "$command" "$@" > /.out/stdout 2> /.out/stderr',
    "sh",
]


def output_of(image: str, command: list[str], **options: Any) -> str:
    """The standard output of a throwaway labelled container run to its end; ContainerError when it fails.

    The output comes through files on a bind mount, not the container's stdout: Docker Engine 26 now
    and then loses the whole stdout of a process that ends as soon as it starts, when the machine is
    busy (2 of 600 `sh -c "id -u"` runs lost it with both cores busy; their exit code was 0). The
    image's entrypoint still runs first, as its user. docker-py's `containers.run(remove=True)` would
    not remove the anonymous volumes that the image's VOLUME gave it (postgres, registry:2)."""
    if "network" not in options:
        options.setdefault("network_mode", "none")
    if not image_info.exists(image):
        client().images.pull(image)
    entrypoint = image_info.inspect(image)["Config"].get("Entrypoint") or []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        out.chmod(0o777)  # whichever user the image runs as writes its output here
        shutil.copy(shutil.which("busybox") or "/bin/busybox", out / "busybox")
        container = client().containers.run(
            image,
            [*entrypoint, *command],
            entrypoint=_TO_FILES,
            detach=True,
            labels=LABELS,
            **{**options, "volumes": {**options.get("volumes", {}), folder: {"bind": "/.out", "mode": "rw"}}},
        )
        try:
            status = container.wait()["StatusCode"]
        finally:
            container.remove(force=True, v=True)
        stdout, stderr = ((out / name).read_bytes() if (out / name).is_file() else b"" for name in ("stdout", "stderr"))
        if status != 0:
            raise ContainerError(container, status, command, image, stderr)
        return stdout.decode()


def prose_and_code_lines(text: str, is_markdown: bool) -> Iterator[tuple[int, str, bool]]:
    """(line number, line, is prose) for each line; only Markdown outside code fences is prose.

    Directive fences such as ```{note} hold prose; ```{code-block} and plain fences hold code.
    Fences nest as in MyST: a fence closes with a line of at least as many of the same character.
    """
    open_fences: list[tuple[str, bool]] = []  # (fence characters, holds code)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        in_code = any(holds_code for _, holds_code in open_fences)
        if not is_markdown:
            yield number, line, False
        elif open_fences and _closes(stripped, open_fences[-1][0]):
            open_fences.pop()
            yield number, line, False
        elif (match := FENCE.match(line)) and not in_code:
            directive = match.group(2) or ""
            open_fences.append((match.group(1), not directive or directive.startswith("{code")))
            yield number, line, False
        else:
            yield number, line, not in_code


def _closes(stripped: str, fence: str) -> bool:
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


@contextmanager
def created(key: str) -> Iterator[Container]:
    """A container that never starts: its files can be read even when the image has no shell."""
    # runtime-deps-chiseled has no entrypoint, and creating a container needs some command
    ref = key if ":" in key else catalog.image(key)
    container = client().containers.create(ref, ["never-run"], labels=LABELS, network_mode="none")
    try:
        yield container
    finally:
        container.remove(force=True)


def archive(container: Container, path: str) -> bytes | None:
    """The tar `docker cp` would give of a file or folder, or None when it does not exist."""
    try:
        chunks, _ = container.get_archive(path)
    except NotFound:
        return None
    return b"".join(chunks)


def read_bytes(container: Container, path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    found = archive(container, path)
    if found is None:
        return None
    with tarfile.open(fileobj=io.BytesIO(found)) as tar:
        member = tar.next()
        assert member is not None
        handle = tar.extractfile(member)
        return b"" if handle is None else handle.read()


def read_file(container: Container, path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    found = read_bytes(container, path)
    return None if found is None else found.decode()
