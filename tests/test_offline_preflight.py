"""The offline world's setup refuses bad input: one line that says what is missing, a non-zero
exit, no traceback, and the machine left as it was (tests/offline/world.py, preflight).

Each check is a function of the facts it is given; the end-to-end tests run the real command in
the real bad condition: as nobody, with no `dotnet` on PATH, switched off, and with another program
listening on 127.0.0.1:443.
"""

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from labkit import run
from labkit.errors import CommandFailed, LabError
from labkit.names import LOOPBACK, free_port
from tests.helpers import http_server
from tests.offline import world

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "offline" / "world.py"
WORLD = f"{sys.executable} {SCRIPT}"

switched_on = pytest.mark.skipif(
    os.environ.get(world.SWITCH) != "1", reason=f"the offline world is switched off ({world.SWITCH} is not 1)"
)
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (it runs the setup as root or as nobody)")


def refusal(command: str) -> str:
    """Run a setup command that must refuse: its output, after checking how it failed."""
    with pytest.raises(CommandFailed) as failed:
        run(command, quiet=True, timeout=120)
    assert failed.value.returncode == 2, failed.value.tail
    assert "Traceback" not in failed.value.tail
    return failed.value.tail


# ---------------------------------------------------------------- preflight facts, one at a time


def test_hosts_addresses_leave_out_the_lines_the_setup_added() -> None:
    text = f"127.0.0.1 localhost\n10.1.2.3 {world.MCR}\n{world.hosts_line()}\n"
    assert world.hosts_addresses(world.MCR, text) == ["10.1.2.3"]
    assert world.hosts_addresses(world.DOCKER_HUB, text) == []


def test_debian_mirrors_come_from_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n"
    )
    assert world.debian_mirrors([tmp_path]) == world.DebianMirrors(
        "http://mirror.example/debian", "http://security.example/debian-security"
    )
    one_line = tmp_path / "sources.list"
    one_line.write_text("# a comment\ndeb [arch=amd64] http://other.example/debian bookworm main\n")
    assert world.debian_mirrors([one_line]) == world.DebianMirrors("http://other.example/debian", None)
    one_line.write_text("deb http://other.example/debian trixie main\n")
    assert world.debian_mirrors([one_line]) is None


def test_archive_problem_names_the_mirror_when_nothing_listens() -> None:
    closed = f"http://{LOOPBACK}:{free_port()}/debian"
    problem = world.archive_problem(closed, timeout=2)
    assert problem is not None and "Debian archive does not answer" in problem and closed in problem


def test_archive_problem_is_none_when_the_release_file_answers() -> None:
    with http_server(lambda request: (200, {}, b"Origin: Debian\n")) as mirror:
        assert world.archive_problem(mirror) is None
    with http_server(lambda request: (404, {}, b"")) as mirror:
        assert "HTTP 404" in (world.archive_problem(mirror) or "")


def test_port_problem_sees_a_real_listener() -> None:
    with socket.socket() as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert f"{LOOPBACK}:{port} is already taken" in (world.port_problem(LOOPBACK, port, ours=False) or "")
        assert world.port_problem(LOOPBACK, port, ours=True) is None
    assert world.port_problem(LOOPBACK, port, ours=False) is None


def test_switch_root_and_dotnet_problems_say_what_is_missing() -> None:
    assert f"{world.SWITCH}=1" in (world.switch_problem({}) or "")
    assert world.switch_problem({world.SWITCH: "1"}) is None
    assert "must run as root" in (world.root_problem(65534) or "")
    assert world.root_problem(0) is None
    assert "no .NET SDK" in (world.dotnet_problem(None) or "")


def test_find_dotnet_follows_path(tmp_path: Path) -> None:
    assert world.find_dotnet(str(tmp_path)) is None
    if shutil.which("dotnet") is None:
        pytest.skip("no dotnet on PATH")
    found = world.find_dotnet(os.environ["PATH"])
    assert found is not None
    assert found.sdk == run("dotnet --version", quiet=True, cwd=tmp_path).strip()


def test_a_failing_up_undoes_its_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """up either finishes or leaves the machine as down leaves it (here on a copy of the machine's files)."""
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.crt").write_text("local CA\n")
    for name, path in {
        "STATE": tmp_path,
        "HOSTS": hosts,
        "CERTS_D": tmp_path / "certs.d",
        "TLS_DIR": tmp_path / "tls",
        "MIRROR_RECORD": tmp_path / "mirror-record",
        "REGISTRY_PID": tmp_path / "registry.pid",
    }.items():
        monkeypatch.setattr(world, name, path)

    def half_way(install: object, mirrors: object) -> Path:
        world.install_certs("local CA\n")
        world.add_hosts_entry()
        raise LabError("the sdk build failed")

    monkeypatch.setattr(world, "preflight", lambda environ: ([], object(), object()))
    monkeypatch.setattr(world, "_bring_up", half_way)
    assert world.main(["up"]) == 1
    assert hosts.read_text() == "127.0.0.1 localhost\n"
    assert not (tmp_path / "certs.d").exists()


# ---------------------------------------------------------------- bad input, end to end


def test_up_refuses_when_switched_off() -> None:
    before = world.HOSTS.read_text()
    output = refusal(f"env -u {world.SWITCH} {WORLD} up")
    assert f"set {world.SWITCH}=1" in output
    assert world.HOSTS.read_text() == before


@as_root
def test_up_refuses_without_root() -> None:
    python = interpreter_for("nobody")
    before = world.HOSTS.read_text()
    output = refusal(f"runuser -u nobody -- env {world.SWITCH}=1 {python} {SCRIPT} up")
    assert "must run as root" in output
    assert world.HOSTS.read_text() == before


def interpreter_for(user: str) -> str:
    """This interpreter, or the system's with this environment's packages on PYTHONPATH when `user`
    cannot run it (e.g. a virtual environment made from a Python under /root)."""
    site = next(path for path in sys.path if path.endswith("site-packages"))
    for python in (sys.executable, f"env PYTHONPATH={site}:{ROOT} /usr/bin/python3"):
        try:
            run(f"runuser -u {user} -- {python} -c 'import labkit, docker'", quiet=True, cwd="/")
            return python
        except CommandFailed:
            continue
    pytest.skip(f"no Python that {user} can run with labkit and docker-py")


def test_up_refuses_without_a_dotnet_sdk(tmp_path: Path) -> None:
    before = world.HOSTS.read_text()
    output = refusal(f"env {world.SWITCH}=1 PATH={tmp_path} {WORLD} up")
    assert "no .NET SDK: `dotnet` is not on PATH" in output
    assert world.HOSTS.read_text() == before


@pytest.mark.offline_world
@switched_on
@as_root
def test_up_refuses_when_another_program_holds_port_443() -> None:
    """Stops the world's registry first (it holds 443 while the world is up), `up` again at the end.

    Only the registry stops: the certificates stay as they are, so the running engine's BuildKit
    still trusts them for the tests that come after this one."""
    world.stop_registry()
    try:
        before = world.HOSTS.read_text()
        with listening(LOOPBACK, world.HTTPS_PORT):
            output = refusal(f"{WORLD} up")
        assert f"{LOOPBACK}:{world.HTTPS_PORT} is already taken by another program" in output
        assert world.HOSTS.read_text() == before
    finally:
        run(f"{WORLD} up", quiet=True, timeout=1800)


@contextmanager
def listening(host: str, port: int) -> Iterator[None]:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen()
        yield
