"""The release tools' images (cosign, oras) keep the contract of the official ones, as far as lab 11 relies on it.

Facts from the projects' own build files: cosign's image is built by ko (sigstore/cosign, `.ko.yaml`:
the binary at /ko-app/cosign on gcr.io/distroless/static-debian12:nonroot, so no shell and user 65532);
oras's from oras-project/oras's `Dockerfile` (/bin/oras as the entrypoint, WORKDIR /workspace, root).
Both are pulled by their catalog names, so the same test checks Sigstore's and ORAS's own images on a
machine that reaches ghcr.io:

    COURSE_OFFLINE_WORLD= python -m pytest tests/offline_world/test_standin_contract_tools.py

The lab runs both with `--network host` against a registry on 127.0.0.1, gives them the registry's
credentials in a Docker config file (DOCKER_CONFIG) and, for a registry with its own CA, the CA file.
Exact version strings differ (Debian builds cosign without the release's ldflags: `GitVersion: devel`),
so only the version lines' presence and oras's number are compared.
"""

import base64
import http.server
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from docker.errors import ContainerError
from docker.models.images import Image

from labkit import catalog
from labkit.docker_access import client
from offline_world.machine import GHCR, SWITCH
from offline_world.registry import TLS_DIR
from tests.helpers import created, http_server, output_of, read_file

pytestmark = pytest.mark.docker

USER, PASSWORD = "course", "contract-test"
NO_SHELL = ("/bin/sh", "/usr/bin/sh", "/bin/bash")
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@pytest.fixture(scope="module", params=["cosign", "oras"])
def tool(request: pytest.FixtureRequest) -> str:
    """A catalog key, its image pulled by name."""
    repository, tag = catalog.image(request.param).rsplit(":", 1)
    client().images.pull(repository, tag=tag)
    return str(request.param)


def config(key: str) -> dict[str, object]:
    image: Image = client().images.get(catalog.image(key))
    return dict(image.attrs["Config"])


def run_tool(key: str, *arguments: str, **options: object) -> str:
    """The tool's output (stdout), run as the lab runs it: its image's entrypoint, the host's network."""
    return output_of(catalog.image(key), list(arguments), network_mode="host", **options)


def test_cosign_runs_from_ko_app_as_nonroot_without_a_shell() -> None:
    found = config("cosign")
    assert found["Entrypoint"] == ["/ko-app/cosign"]
    assert str(found["User"]).split(":")[0] == "65532", "distroless nonroot: the lab passes --user to write keys"
    with created("cosign") as container:
        assert [path for path in NO_SHELL if read_file(container, path) is not None] == []


def test_oras_runs_from_bin_in_workspace() -> None:
    found = config("oras")
    assert found["Entrypoint"] == ["/bin/oras"]
    assert found["WorkingDir"] == "/workspace", "the lab mounts its files at /workspace and names them relatively"
    assert found["User"] in ("", "root", "0")


def test_version_output() -> None:
    assert "GitVersion:" in run_tool("cosign", "version")
    tag = catalog.image("oras").rsplit(":", 1)[1]
    assert f"Version:    {tag.removeprefix('v')}" in run_tool("oras", "version")


def credential_probe(
    seen: list[str],
) -> Callable[[http.server.BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]:
    """A registry that asks for basic credentials and notes the Authorization each request carried."""

    def answer(request: http.server.BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != BASIC:
            return 401, {"WWW-Authenticate": 'Basic realm="contract"'}, b""
        if request.path == "/v2/":
            return 200, {"Docker-Distribution-API-Version": "registry/2.0"}, b"{}"
        return 404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'

    return answer


FETCH = {
    "cosign": lambda ref: ["triangulate", ref],
    "oras": lambda ref: ["manifest", "fetch", "--plain-http", ref],
}


def test_each_takes_registry_credentials_from_the_docker_config(tool: str, tmp_path: Path) -> None:
    """Both read $DOCKER_CONFIG/config.json, as `docker login` writes it: the lab logs in nowhere else."""
    seen: list[str] = []
    with http_server(credential_probe(seen)) as url:
        host = url.removeprefix("http://")
        (tmp_path / "config.json").write_text(json.dumps({"auths": {host: {"auth": BASIC.split()[1]}}}))
        tmp_path.chmod(0o755)
        (tmp_path / "config.json").chmod(0o644)
        with pytest.raises(ContainerError):  # the manifest is unknown: only the credentials are the point
            run_tool(
                tool,
                *FETCH[tool](f"{host}/app:1"),
                environment={"DOCKER_CONFIG": "/config"},
                volumes={str(tmp_path): {"bind": "/config", "mode": "ro"}},
            )
    assert BASIC in seen, f"{tool} never sent the credentials of the Docker config: it sent {set(seen)}"


def with_ca(tool: str, ref: str) -> tuple[list[str], dict[str, object]]:
    """The tool's fetch of `ref` given the CA as the lab gives it: cosign (Go's TLS) by SSL_CERT_FILE,
    oras by its --ca-file flag."""
    mount = {str(TLS_DIR / "ca.crt"): {"bind": "/ca/ca.crt", "mode": "ro"}}
    if tool == "cosign":
        return ["triangulate", ref], {"environment": {"SSL_CERT_FILE": "/ca/ca.crt"}, "volumes": mount}
    return ["manifest", "fetch", "--ca-file", "/ca/ca.crt", ref], {"volumes": mount}


@pytest.mark.offline_world
@pytest.mark.skipif(os.environ.get(SWITCH) != "1", reason="needs the offline world's own CA")
def test_each_trusts_the_ca_it_is_given_and_no_other(tool: str) -> None:
    """A registry with its own CA (the world's ghcr.io here): trusted with the CA file, refused without it."""
    ref = catalog.image(tool)
    assert ref.startswith(f"{GHCR}/")
    command, options = with_ca(tool, ref)
    fetched = run_tool(tool, *command, **options)
    assert ("sha256-" in fetched) if tool == "cosign" else ('"schemaVersion"' in fetched), fetched
    without = [argument for argument in command if argument not in ("--ca-file", "/ca/ca.crt")]
    with pytest.raises(ContainerError, match=r"x509|certificate"):
        run_tool(tool, *without)
