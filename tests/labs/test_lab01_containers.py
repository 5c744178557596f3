"""Lab 1's check cells fail, with their hints, on a wrong learner state."""

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from labkit import CheckFailed, catalog, names
from labkit.docker_access import client
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "01-containers" / "lab.ipynb"
LAB_ID = "test-lab01"
OTHER_UID = 1654  # the .NET images' app user: not the user running the tests


@pytest.fixture
def namespace(namespace: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield namespace
    shutil.rmtree(namespace["WORK"], ignore_errors=True)  # the scratch folder the setup cells made


def _exited(image: str, command: list[str], **options: Any) -> Container:
    """A labelled container of `image` that ran `command` to its end."""
    container = client().containers.run(
        image, command, name=wrong_state.unique(LAB_ID, "ran"), labels=names.labels(LAB_ID), detach=True, **options
    )
    container.wait()
    container.reload()
    return container


def _remove_as_root(folder: Path) -> None:
    """Remove what a container wrote into `folder`, whoever owns it."""
    _exited(
        catalog.image("runtime-deps"), ["sh", "-c", "rm -rf /scratch/*"], volumes={str(folder): {"bind": "/scratch"}}
    )


def test_sdk_check_fails_when_nothing_was_created(namespace: dict[str, Any], tmp_path: Path) -> None:
    check_cells.run_cell(NOTEBOOK, 1, 2, namespace)
    with pytest.raises(CheckFailed, match=re.escape("`dotnet new console ...` and then `dotnet run`")):
        check_cells.run_check(NOTEBOOK, 1, namespace, HELLO=tmp_path)


@pytest.mark.docker
@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == OTHER_UID, reason="needs a user other than 1654")
def test_sdk_check_fails_when_the_files_belong_to_the_container_user(namespace: dict[str, Any], tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    built = f"/src/bin/Debug/net{namespace['TAG']}"
    _exited(
        namespace["RUNTIME"],
        ["sh", "-c", f"mkdir -p {built} && touch /src/Hello.csproj {built}/Hello.dll"],
        user=str(OTHER_UID),
        volumes={str(tmp_path): {"bind": "/src"}},
    )
    check_cells.run_cell(NOTEBOOK, 1, 2, namespace)
    try:
        with pytest.raises(CheckFailed, match=re.escape("--user $(id -u):$(id -g)")):
            check_cells.run_check(NOTEBOOK, 1, namespace, HELLO=tmp_path)
    finally:
        _remove_as_root(tmp_path)


@pytest.mark.docker
def test_files_check_fails_when_the_writer_wrote_nothing(namespace: dict[str, Any]) -> None:
    note = "/note-test.txt"
    writer = _exited(namespace["RUNTIME"], ["true"])
    reader = _exited(namespace["RUNTIME"], ["ls", note])
    check_cells.run_cell(NOTEBOOK, 2, 2, namespace)
    with pytest.raises(CheckFailed, match="Run the WRITER container again"):
        check_cells.run_check(NOTEBOOK, 2, namespace, NOTE=note, WRITER=writer.name, READER=reader.name)


@pytest.mark.docker
def test_files_check_fails_when_the_reader_is_the_writer(namespace: dict[str, Any]) -> None:
    note = "/note-test.txt"
    writer = _exited(namespace["RUNTIME"], ["sh", "-c", f"echo hi > {note}"])
    check_cells.run_cell(NOTEBOOK, 2, 2, namespace)
    with pytest.raises(CheckFailed, match="Start READER as a new container"):
        check_cells.run_check(NOTEBOOK, 2, namespace, NOTE=note, WRITER=writer.name, READER=writer.name)


@pytest.mark.docker
def test_files_check_fails_when_the_file_is_on_the_host(namespace: dict[str, Any], tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("written through a bind mount\n")
    writer = _exited(namespace["RUNTIME"], ["sh", "-c", f"mkdir -p {tmp_path} && echo hi > {note}"])
    reader = _exited(namespace["RUNTIME"], ["ls", str(note)])
    check_cells.run_cell(NOTEBOOK, 2, 2, namespace)
    with pytest.raises(CheckFailed, match="not into a folder mounted with -v"):
        check_cells.run_check(NOTEBOOK, 2, namespace, NOTE=str(note), WRITER=writer.name, READER=reader.name)


@pytest.fixture(scope="module")
def report_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The namespace after the lab's own publish cell (Step 3) ran in a scratch folder."""
    namespace = check_cells.setup(NOTEBOOK, LAB_ID)
    shutil.rmtree(namespace["WORK"])
    namespace["WORK"] = tmp_path_factory.mktemp("work")
    here = Path.cwd()
    os.chdir(NOTEBOOK.parent)  # the cell copies the app from the lab folder
    try:
        check_cells.run_cell(NOTEBOOK, 3, 0, namespace)
    finally:
        os.chdir(here)
    yield namespace
    _remove_as_root(namespace["WORK"])


def _report_run(namespace: dict[str, Any], **limits: Any) -> str:
    """Run the published report app with `limits`; returns the container's name."""
    out = namespace["REPORT"] / "out"
    container = _exited(
        namespace["RUNTIME"],
        ["dotnet", "/app/Report.dll"],
        volumes={str(out): {"bind": "/app", "mode": "ro"}},
        **limits,
    )
    return str(container.name)


@pytest.mark.docker
@pytest.mark.parametrize(
    ("limits", "hint"),
    [({"nano_cpus": 10**9}, "--memory 256m"), ({"mem_limit": "256m"}, "--cpus 1")],
    ids=["no-memory-limit", "no-cpu-limit"],
)
def test_limits_check_fails_without_the_limit(report_app: dict[str, Any], limits: dict[str, Any], hint: str) -> None:
    name = _report_run(report_app, **limits)
    report_app.update(UNLIMITED=name, LIMITED=name)
    check_cells.run_cell(NOTEBOOK, 3, 2, report_app)  # defines report(), shows both runs
    with pytest.raises(CheckFailed, match=re.escape(hint)):
        check_cells.run_check(NOTEBOOK, 3, report_app)


@pytest.mark.docker
def test_identity_check_fails_when_containers_share_a_network_namespace(namespace: dict[str, Any]) -> None:
    first = wrong_state.sleeper(LAB_ID, namespace["RUNTIME"], network_mode="bridge")
    second = wrong_state.sleeper(LAB_ID, namespace["RUNTIME"], network_mode=f"container:{first.id}")
    check_cells.run_cell(NOTEBOOK, 4, 1, namespace)
    with pytest.raises(CheckFailed, match=re.escape("without `--network container:...`")):
        check_cells.run_check(NOTEBOOK, 4, namespace, FIRST=first.name, SECOND=second.name)


@pytest.mark.docker
def test_identity_check_fails_when_the_learner_did_not_look_inside(namespace: dict[str, Any]) -> None:
    first = wrong_state.sleeper(LAB_ID, namespace["RUNTIME"], network_mode="bridge")
    second = wrong_state.sleeper(LAB_ID, namespace["RUNTIME"], network_mode="bridge")
    wrong_state.ran(f"docker exec {first.name} hostname -i", f"docker exec {second.name} cat /etc/hostname")
    check_cells.run_cell(NOTEBOOK, 4, 1, namespace)
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker exec {first.name} cat /etc/hostname`")):
        check_cells.run_check(NOTEBOOK, 4, namespace, FIRST=first.name, SECOND=second.name)


@pytest.mark.docker
def test_a_container_started_with_rm_is_one_red_line_not_a_traceback(namespace: dict[str, Any]) -> None:
    gone = wrong_state.unique(LAB_ID, "removed")
    with pytest.raises(CheckFailed, match=re.escape("Did you start it with --rm")):
        check_cells.run_check(NOTEBOOK, 7, namespace, OVERRIDE=gone)


@pytest.mark.docker
def test_running_check_fails_when_the_app_has_exited(namespace: dict[str, Any]) -> None:
    ended = _exited(namespace["RUNTIME"], ["true"])
    with pytest.raises(CheckFailed, match="is exited"):
        check_cells.run_check(NOTEBOOK, 5, namespace, TICKER=ended.name)


@pytest.mark.docker
def test_stop_check_fails_when_the_container_was_killed(namespace: dict[str, Any]) -> None:
    killed = wrong_state.sleeper(LAB_ID, namespace["RUNTIME"])
    killed.kill()
    killed.wait()
    with pytest.raises(CheckFailed, match=re.escape("not `docker kill`")):
        check_cells.run_cell(NOTEBOOK, 6, 1, {**namespace, "TICKER": killed.name})


@pytest.mark.docker
def test_remove_check_fails_while_the_container_exists(namespace: dict[str, Any]) -> None:
    stopped = _exited(namespace["RUNTIME"], ["true"])
    namespace["TICKER"] = stopped.name
    check_cells.run_cell(NOTEBOOK, 6, 3, namespace)
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker rm {stopped.name}`")):
        check_cells.run_check(NOTEBOOK, 6, namespace)


@pytest.mark.docker
def test_entrypoint_check_fails_when_only_the_command_was_replaced(namespace: dict[str, Any]) -> None:
    replaced_cmd = _exited(namespace["RUNTIME"], ["dotnet", "--list-runtimes"])
    with pytest.raises(CheckFailed, match=re.escape("--entrypoint dotnet")):
        check_cells.run_check(NOTEBOOK, 7, namespace, OVERRIDE=replaced_cmd.name)


@pytest.mark.docker
def test_challenge_check_fails_on_a_writable_root(namespace: dict[str, Any]) -> None:
    writable = _exited(namespace["RUNTIME"], ["sh", "-c", "echo ok > /tmp/ok"], tmpfs={"/tmp": ""})
    with pytest.raises(CheckFailed, match=re.escape("--read-only")):
        check_cells.run_check(NOTEBOOK, check_cells.OUTSIDE, namespace, CHALLENGE=writable.name)


@pytest.mark.docker
def test_challenge_check_fails_without_a_tmpfs(namespace: dict[str, Any]) -> None:
    failed = _exited(namespace["RUNTIME"], ["sh", "-c", "echo ok > /tmp/ok"], read_only=True)
    with pytest.raises(CheckFailed, match=re.escape("--tmpfs")):
        check_cells.run_check(NOTEBOOK, check_cells.OUTSIDE, namespace, CHALLENGE=failed.name)
