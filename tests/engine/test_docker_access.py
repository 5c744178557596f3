"""labkit reaches the engine the `docker` CLI reaches: DOCKER_HOST, else the current context.

The resolution tests write context stores as the CLI writes them; the Docker tests make real
contexts with `docker context create` in a temporary DOCKER_CONFIG (never ~/.docker).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from labkit import catalog
from labkit.docker_access import endpoint
from labkit.errors import DockerUnavailable
from tests.helpers import ROOT, engine_tags, labkit

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
ENGINE_ENV = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


def write_context(config: Path, name: str, host: str, skip_tls_verify: bool = False) -> Path:
    """A context as `docker context create` stores it; returns its TLS folder."""
    key = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / key / "meta.json"
    meta.parent.mkdir(parents=True)
    endpoints = {"docker": {"Host": host, "SkipTLSVerify": skip_tls_verify}}
    meta.write_text(json.dumps({"Name": name, "Metadata": {}, "Endpoints": endpoints}))
    return config / "contexts" / "tls" / key / "docker"


def write_config(config: Path, current: str | None) -> None:
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.json").write_text(json.dumps({"currentContext": current} if current else {}))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake home with no Docker settings, and no engine variables set."""
    for name in ENGINE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_no_settings_means_the_default_socket(home: Path) -> None:
    found = endpoint()
    assert (found.host, found.source) == (DEFAULT_SOCKET, "default socket")


def test_current_context_of_the_home_config(home: Path) -> None:
    write_context(home / ".docker", "colima", "unix:///home/me/.colima/default/docker.sock")
    write_config(home / ".docker", "colima")
    found = endpoint()
    assert (found.host, found.source) == ("unix:///home/me/.colima/default/docker.sock", "context colima")


def test_docker_config_moves_the_config_and_the_store(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_context(home / ".docker", "colima", "unix:///colima.sock")
    write_config(home / ".docker", "colima")
    write_context(tmp_path / "cfg", "orbstack", "unix:///orbstack.sock")
    write_config(tmp_path / "cfg", "orbstack")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    assert endpoint().host == "unix:///orbstack.sock"


def test_docker_context_beats_the_current_context(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_context(home / ".docker", "colima", "unix:///colima.sock")
    write_context(home / ".docker", "orbstack", "unix:///orbstack.sock")
    write_config(home / ".docker", "colima")
    monkeypatch.setenv("DOCKER_CONTEXT", "orbstack")
    assert endpoint().source == "context orbstack"
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert endpoint().source == "default socket"


def test_docker_host_beats_every_context(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_context(home / ".docker", "colima", "unix:///colima.sock")
    write_config(home / ".docker", "colima")
    monkeypatch.setenv("DOCKER_CONTEXT", "colima")
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    found = endpoint()
    assert (found.host, found.source) == ("tcp://127.0.0.1:2375", "DOCKER_HOST")


def test_a_context_that_does_not_exist_is_refused_in_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(home / ".docker", "colima")  # as after `colima delete`: docker-py alone would use the default socket
    with pytest.raises(DockerUnavailable, match=r"context 'colima' does not exist.*docker context ls") as raised:
        endpoint()
    assert "\n" not in str(raised.value)


def test_a_store_without_its_config_json_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docker-py would look for the store beside ~/.docker/config.json and reach the wrong engine."""
    write_context(home / ".docker", "colima", "unix:///colima.sock")
    write_config(home / ".docker", None)
    write_context(tmp_path / "cfg", "colima", "unix:///other-colima.sock")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    monkeypatch.setenv("DOCKER_CONTEXT", "colima")
    with pytest.raises(DockerUnavailable, match=r"config.json is missing.*docker context use colima"):
        endpoint()


def test_a_tls_context_carries_its_certificates(home: Path) -> None:
    tls = write_context(home / ".docker", "remote", "tcp://build.example:2376")
    tls.mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tls / name).write_text("not checked before connecting\n")
    write_config(home / ".docker", "remote")
    found = endpoint()
    assert found.tls.ca_cert == str(tls / "ca.pem") and found.tls.cert == (str(tls / "cert.pem"), str(tls / "key.pem"))
    assert found.tls.verify is True


def cli_env(config: Path) -> dict[str, str]:
    """This environment with no engine settings but DOCKER_CONFIG: the CLI and labkit must agree on their own."""
    env = {key: value for key, value in os.environ.items() if key not in ENGINE_ENV}
    return {**env, "DOCKER_CONFIG": str(config)}


def docker_cli(env: dict[str, str], *args: str) -> str:
    cli = shutil.which("docker")
    if cli is None:
        pytest.skip("no docker CLI on PATH")
    done = subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def python(config: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=cli_env(config), capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def engine_socket(docker_client: docker.DockerClient) -> Path:
    """The engine's socket on this host, as the CLI finds it in this environment."""
    host = docker_cli(dict(os.environ), "context", "inspect", "--format", "{{.Endpoints.docker.Host}}")
    if not host.startswith("unix://"):
        pytest.skip(f"the engine is not behind a local socket here ({host})")
    return Path(host.removeprefix("unix://"))


@pytest.fixture
def present(docker_client: docker.DockerClient) -> str:
    """A tag already on the engine (the test pulls and builds nothing), one no other test removes."""
    tags = [tag for tag in engine_tags() if tag in {entry.ref for entry in catalog.images()}]
    if not tags:
        pytest.skip("no tagged image on this engine")
    return str(tags[0])


@pytest.mark.docker
def test_checks_pass_through_a_context_at_an_unusual_path(engine_socket: Path, present: str, tmp_path: Path) -> None:
    unusual = tmp_path / "engine.sock"
    unusual.symlink_to(engine_socket)
    config = tmp_path / "cfg"
    docker_cli(cli_env(config), "context", "create", "odd", "--docker", f"host=unix://{unusual}")
    docker_cli(cli_env(config), "context", "use", "odd")
    assert docker_cli(cli_env(config), "context", "inspect", "--format", "{{.Name}}") == "odd"
    code = (
        f"from labkit import checks, docker_access\nprint(docker_access.endpoint())\nchecks.image_exists({present!r})\n"
    )
    done = python(config, code)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"host='unix://{unusual}', source='context odd'" in done.stdout
    assert f"Image {present} exists" in done.stdout


@pytest.mark.docker
def test_a_context_at_a_dead_socket_fails_in_one_line_naming_it(engine_socket: Path, tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    docker_cli(cli_env(config), "context", "create", "gone", "--docker", f"host=unix://{tmp_path / 'dead.sock'}")
    docker_cli(cli_env(config), "context", "use", "gone")
    done = labkit("doctor", env=cli_env(config))
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0 and len(output.splitlines()) == 1, output
    assert f"Docker is not reachable at unix://{tmp_path / 'dead.sock'} (context gone)" in output
