"""The offline world's setup refuses bad input: one line that says what is missing, a non-zero
exit, no traceback, and the machine left as it was (offline_world/preflight.py).

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
from labkit.boundary import EXIT_FAILED, guarded
from labkit.errors import CommandFailed, LabError
from labkit.names import LOOPBACK, free_port
from offline_world import commands, engine, ghcr, hosts, hub, preflight, registry
from offline_world.__main__ import PROGRAM, main
from offline_world.machine import ADDRESSES, DOCKER_HUB, DOCKER_HUB_AUTH, GHCR, MCR, SWITCH
from tests.helpers import ROOT, http_server

NOBODY = 65534
WORLD = f"{sys.executable} -m offline_world"

as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root (it runs the setup as root or as nobody) [skip: not-root]"
)


def refusal(command: str) -> str:
    """Run a setup command that must refuse: its output, after checking how it failed."""
    with pytest.raises(CommandFailed) as failed:
        run(command, quiet=True, timeout=120, cwd=ROOT)
    assert failed.value.returncode == EXIT_FAILED, failed.value.tail
    assert "Traceback" not in failed.value.tail
    return failed.value.tail


# ---------------------------------------------------------------- preflight facts, one at a time


def test_hosts_addresses_leave_out_the_lines_the_setup_added() -> None:
    text = "\n".join(["127.0.0.1 localhost", f"10.1.2.3 {MCR}", *hosts.hosts_lines()]) + "\n"
    assert preflight.hosts_addresses(MCR, text) == ["10.1.2.3"]
    assert preflight.hosts_addresses(DOCKER_HUB, text) == []
    assert preflight.hosts_addresses(DOCKER_HUB_AUTH, text) == []


def test_the_hosts_entry_gives_each_name_its_own_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MCR, Docker Hub's registry and its token service each answer on 443 of their own address;
    an older entry (every name on 127.0.0.1) is replaced, and down leaves the file as it was."""
    hosts_file = tmp_path / "hosts"
    before = f"127.0.0.1 localhost\n127.0.0.1 {MCR} {DOCKER_HUB} {hosts.MARKER}\n"
    hosts_file.write_text(before)
    monkeypatch.setattr(hosts, "HOSTS", hosts_file)
    assert not hosts.hosts_entry_present()
    hosts.add_hosts_entry()
    assert hosts.hosts_entry_present()
    lines = hosts_file.read_text().splitlines()
    assert lines[0] == "127.0.0.1 localhost" and len(lines) == 1 + len(ADDRESSES)
    for name, address in ADDRESSES.items():
        assert preflight.hosts_addresses(name, "\n".join(line.split("#")[0] for line in lines)) == [address]
    assert len(set(ADDRESSES.values())) == len(ADDRESSES)
    assert hosts.remove_hosts_entry()
    assert hosts_file.read_text() == "127.0.0.1 localhost\n"


def test_the_ca_goes_into_the_machines_store_and_out_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a packaged CA (a line of ca-certificates.conf), not in /usr/local/share/ca-certificates,
    whose CAs the stand-ins carry; update-ca-certificates runs only when something changed."""
    conf, bundle = tmp_path / "ca-certificates.conf", tmp_path / "ca-certificates.crt"
    conf.write_text("# comment\nmozilla/Some_Root.crt\n")
    ran: list[list[str]] = []

    def update(command: list[str], **_: object) -> str:
        ran.append(command)
        bundle.write_text((tmp_path / "store" / hosts.SYSTEM_CA).read_text() if "--fresh" not in command else "")
        return ""

    for name, value in [("CA_CONF", conf), ("CA_STORE", tmp_path / "store"), ("CA_BUNDLE", bundle), ("run", update)]:
        monkeypatch.setattr(hosts, name, value)
    ca = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert not hosts.system_trusts(ca)
    hosts.trust_in_system(ca)
    hosts.trust_in_system(ca)
    assert hosts.system_trusts(ca) and not hosts.system_trusts("another CA")
    assert conf.read_text() == f"# comment\nmozilla/Some_Root.crt\n{hosts.SYSTEM_CA}\n"
    assert ran == [["update-ca-certificates"]]
    assert hosts.untrust_in_system()
    assert conf.read_text() == "# comment\nmozilla/Some_Root.crt\n"
    assert not (tmp_path / "store").joinpath(hosts.SYSTEM_CA).parent.exists()
    assert ran[-1] == ["update-ca-certificates", "--fresh"]
    assert not hosts.untrust_in_system()


def test_debian_mirrors_come_from_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n"
    )
    assert preflight.debian_mirrors([tmp_path]) == preflight.DebianMirrors(
        "http://mirror.example/debian", "http://security.example/debian-security"
    )
    one_line = tmp_path / "sources.list"
    one_line.write_text("# a comment\ndeb [arch=amd64] http://other.example/debian bookworm main\n")
    assert preflight.debian_mirrors([one_line]) == preflight.DebianMirrors("http://other.example/debian", None)
    one_line.write_text("deb http://other.example/debian trixie main\n")
    assert preflight.debian_mirrors([one_line]) is None


def test_archive_problem_names_the_mirror_when_nothing_listens() -> None:
    closed = f"http://{LOOPBACK}:{free_port()}/debian"
    problem = preflight.archive_problem(closed, timeout=2)
    assert problem is not None and "Debian archive does not answer" in problem and closed in problem


def test_archive_problem_is_none_when_the_release_file_answers() -> None:
    with http_server(lambda request: (200, {}, b"Origin: Debian\n")) as mirror:
        assert preflight.archive_problem(mirror) is None
    with http_server(lambda request: (404, {}, b"")) as mirror:
        assert "HTTP 404" in (preflight.archive_problem(mirror) or "")


def test_port_problem_sees_a_real_listener() -> None:
    with socket.socket() as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert f"{LOOPBACK}:{port} is already taken" in (preflight.port_problem(LOOPBACK, port, ours=False) or "")
        assert preflight.port_problem(LOOPBACK, port, ours=True) is None
    assert preflight.port_problem(LOOPBACK, port, ours=False) is None


def test_switch_root_and_dotnet_problems_say_what_is_missing() -> None:
    assert f"{SWITCH}=1" in (preflight.switch_problem({}) or "")
    assert preflight.switch_problem({SWITCH: "1"}) is None
    assert "must run as root" in (preflight.root_problem(65534) or "")
    assert preflight.root_problem(0) is None
    assert "no .NET SDK" in (preflight.dotnet_problem(None) or "")


def test_find_dotnet_follows_path(tmp_path: Path) -> None:
    assert preflight.find_dotnet(str(tmp_path)) is None
    if shutil.which("dotnet") is None:
        pytest.skip("no dotnet on PATH")
    found = preflight.find_dotnet(os.environ["PATH"])
    assert found is not None
    assert found.sdk == run("dotnet --version", quiet=True, cwd=tmp_path).strip()


def test_a_failing_up_undoes_its_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """up either finishes or leaves the machine as down leaves it (here on a copy of the machine's
    files), and the failure is one line."""
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("127.0.0.1 localhost\n")
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.crt").write_text("local CA\n")
    (tmp_path / "ca-certificates.conf").write_text("mozilla/Some_Root.crt\n")
    for module, name, path in [
        (commands, "LOCK", tmp_path / "lock"),
        (hosts, "HOSTS", hosts_file),
        (hosts, "CERTS_D", tmp_path / "certs.d"),
        (registry, "TLS_DIR", tmp_path / "tls"),
        (registry, "REGISTRY_PID", tmp_path / "registry.pid"),
        (hub, "HUB_PID", tmp_path / "hub-registry.pid"),  # else the undo stops the world's own servers
        (hub, "TOKEN_PID", tmp_path / "token-service.pid"),
        (ghcr, "GHCR_PID", tmp_path / "ghcr-registry.pid"),
        (hosts, "CA_CONF", tmp_path / "ca-certificates.conf"),
        (hosts, "CA_STORE", tmp_path / "ca-store"),
        (hosts, "run", lambda command, **_: ""),  # update-ca-certificates would rebuild the real bundle
        (engine, "MIRROR_RECORD", tmp_path / "mirror-record"),
        (engine, "STORE_RECORD", tmp_path / "store-record"),  # else the undo switches the real engine's store
        (engine, "DAEMON_JSON", tmp_path / "daemon.json"),
        (engine, "APT_SOURCE", tmp_path / "trixie.list"),
        (engine, "APT_PIN", tmp_path / "trixie-pin"),
    ]:
        monkeypatch.setattr(module, name, path)

    def half_way(install: object, mirrors: object) -> Path:
        hosts.install_certs("local CA\n")
        hosts.trust_in_system("local CA\n")
        hosts.add_hosts_entry()
        raise LabError("the sdk build failed")

    monkeypatch.setattr(commands, "preflight", lambda environ: ([], object(), object()))
    monkeypatch.setattr(commands, "bring_up", half_way)
    assert guarded(PROGRAM, main, ["up"]) == EXIT_FAILED
    assert capsys.readouterr().err == f"✘ {PROGRAM}: the sdk build failed\n"
    assert hosts_file.read_text() == "127.0.0.1 localhost\n"
    assert not (tmp_path / "certs.d").exists()
    assert (tmp_path / "ca-certificates.conf").read_text() == "mozilla/Some_Root.crt\n"
    assert not (tmp_path / "ca-store" / hosts.SYSTEM_CA).parent.exists()


# ---------------------------------------------------------------- bad input, end to end


def test_up_refuses_when_switched_off() -> None:
    before = hosts.HOSTS.read_text()
    output = refusal(f"env -u {SWITCH} {WORLD} up")
    assert f"set {SWITCH}=1" in output
    assert hosts.HOSTS.read_text() == before


@as_root
def test_up_refuses_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """`up` in a child process that gave up root: forked after the imports, so nobody need be able to
    read this checkout or its interpreter (a CI clone may sit where only root can)."""
    monkeypatch.setenv(SWITCH, "1")
    before = hosts.HOSTS.read_text()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        sys.stderr = os.fdopen(write_end, "w")
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        code = guarded(PROGRAM, main, ["up"])
        sys.stderr.flush()
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as child_err:
        output = child_err.read()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == EXIT_FAILED, output
    assert "must run as root" in output and "Traceback" not in output
    assert hosts.HOSTS.read_text() == before


def test_up_refuses_without_a_dotnet_sdk(tmp_path: Path) -> None:
    before = hosts.HOSTS.read_text()
    output = refusal(f"env {SWITCH}=1 PATH={tmp_path} {WORLD} up")
    assert "no .NET SDK: `dotnet` is not on PATH" in output
    assert hosts.HOSTS.read_text() == before


def test_up_refuses_when_another_program_holds_the_registry_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A free port stands for 443, so the world's own registry (which holds 443) keeps serving the
    tests that run meanwhile; `up` goes through its real preflight and refuses in one line."""
    port = free_port()
    monkeypatch.setattr(preflight, "HTTPS_PORT", port)
    monkeypatch.setattr(preflight, "registry_pid", lambda: None)  # the listener below is not the world's
    before = hosts.HOSTS.read_text()
    with listening(LOOPBACK, port):
        assert guarded(PROGRAM, main, ["up"]) == EXIT_FAILED
    assert f"{LOOPBACK}:{port} is already taken by another program" in capsys.readouterr().err
    assert hosts.HOSTS.read_text() == before


@pytest.mark.parametrize(
    ("name", "server"),
    [
        (DOCKER_HUB, "the Docker Hub stand-in"),
        (DOCKER_HUB_AUTH, "the Docker Hub token service"),
        (GHCR, "the ghcr.io stand-in"),
    ],
)
def test_up_refuses_when_another_program_holds_a_served_address(
    name: str, server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Docker Hub's registry and token service and ghcr.io's registry need port 443 of their own
    addresses too (a free port stands for 443 here, as above)."""
    port = free_port()
    monkeypatch.setattr(preflight, "HTTPS_PORT", port)
    monkeypatch.setattr(hub, "HUB_PID", Path("/nonexistent/hub-registry.pid"))  # the listener is not the world's
    monkeypatch.setattr(hub, "TOKEN_PID", Path("/nonexistent/token-service.pid"))
    monkeypatch.setattr(ghcr, "GHCR_PID", Path("/nonexistent/ghcr-registry.pid"))
    with listening(ADDRESSES[name], port):
        assert guarded(PROGRAM, main, ["up"]) == EXIT_FAILED
    assert f"{ADDRESSES[name]}:{port} is already taken by another program; {server} must listen there" in (
        capsys.readouterr().err
    )


@contextmanager
def listening(host: str, port: int) -> Iterator[None]:
    """A listener as a real server makes one (SO_REUSEADDR: connections in TIME_WAIT do not block it)."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen()
        yield


@pytest.mark.parametrize("store", engine.STORES)
def test_an_engine_that_gives_up_on_its_build_cache_is_named_with_the_way_out(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Docker 26 under the containerd store exits 10 s after starting when its build cache is large
    (moby/moby#48569); the log's last line alone ("context deadline exceeded") would not say that."""
    log = tmp_path / "dockerd.log"
    log.write_text('level=info msg="Daemon has completed initialization"\ncontext deadline exceeded\n')
    monkeypatch.setattr(engine, "DOCKERD_LOG", log)
    monkeypatch.setattr(
        engine, "_daemon_config", lambda: {"features": {engine.CONTAINERD_FEATURE: store == "containerd"}}
    )
    monkeypatch.setattr(engine, "reachable", lambda: "Docker is not reachable")
    why = engine._why_not_answering()
    if store == "containerd":
        assert "moby/moby#48569" in why and "python -m offline_world store classic" in why, why
    else:
        assert why == f"Docker is not reachable; last line of {log}: context deadline exceeded"
