"""`python -m labkit`: doctor, prepull, clean and generate, run as a learner runs them."""

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from docker import DockerClient

from labkit import names
from labkit.errors import InvalidName
from labkit.lab import Lab
from labkit.names import LABEL_KEY, LOOPBACK, free_port
from labkit.tools import cli, doctor
from tests.helpers import (
    BuildImage,
    Made,
    MakeLabResources,
    StartContainer,
    catalog_file,
    exists,
    http_server,
    labkit,
)

docker = pytest.mark.docker


@pytest.mark.parametrize("command", [[], ["doctor"], ["prepull"], ["clean"], ["generate"], ["book"], ["tags"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = labkit(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m labkit {' '.join(command)}".rstrip())


def test_generate_forwards_its_arguments() -> None:
    result = labkit("generate", "--help")
    assert "--check" in result.stdout


def test_doctor_without_docker_prints_one_line_and_fails() -> None:
    result = labkit("doctor", DOCKER_HOST="unix:///nonexistent.sock")
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert len(output.splitlines()) == 1, output
    assert "Docker is not reachable" in output and "Traceback" not in output


def test_doctor_needs_bash_and_says_where_to_run_without_it(tmp_path: Path) -> None:
    assert doctor.shell_row().status == "pass"
    row = doctor.shell_row(path=str(tmp_path))  # a PATH with no bash on it
    assert row.status == "fail" and row.blocks and "WSL 2" in row.detail


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(doctor, "main", interrupted)
    assert cli.main(["doctor"]) == 130


@docker
def test_doctor_passes_when_the_catalog_images_are_here(busybox: str, tmp_path: Path) -> None:
    result = labkit("doctor", LABKIT_CATALOG=str(catalog_file(tmp_path, {"base": busybox})))
    assert result.returncode == 0, result.stdout + result.stderr
    for row in ("Docker engine", "Linux containers", "Free disk", "Loopback ports", "Port 8080", f"Image {busybox}"):
        assert row in result.stdout
    assert "Ready for the labs." in result.stdout


@docker
def test_doctor_fails_when_an_image_is_missing_and_its_registry_is_down(tmp_path: Path, run_tag: str) -> None:
    ref = f"{LOOPBACK}:{free_port()}/labkit-tests/absent:{run_tag}"
    result = labkit("doctor", LABKIT_CATALOG=str(catalog_file(tmp_path, {"absent": ref})))
    assert result.returncode == 1
    assert "does not answer" in result.stdout and "Not ready" in result.stdout


@docker
def test_doctor_rows_mark_what_blocks(busybox: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_CATALOG", str(catalog_file(tmp_path, {"base": busybox})))
    rows = {row.check: row for row in doctor.rows()}
    assert rows["Linux containers"].status == "pass" and rows["Linux containers"].required
    assert rows[f"Image {busybox}"].status == "pass"
    assert not rows["Registry docker.io"].required  # nothing to pull from it
    assert not any(row.blocks for row in rows.values())


@docker
def test_prepull_skips_images_that_are_here(busybox: str, tmp_path: Path) -> None:
    result = labkit("prepull", LABKIT_CATALOG=str(catalog_file(tmp_path, {"base": busybox})))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{busybox} is already here" in result.stdout


def test_prepull_rejects_an_unknown_key_in_one_line() -> None:
    result = labkit("prepull", "--only", "jdk")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("✘ labkit: No image 'jdk' in images.toml")
    assert len(result.stderr.strip().splitlines()) == 1


@docker
def test_prepull_says_when_the_registry_cannot_be_reached(tmp_path: Path, run_tag: str) -> None:
    host = f"{LOOPBACK}:{free_port()}"
    catalog = catalog_file(tmp_path, {"absent": f"{host}/labkit-tests/absent:{run_tag}"})
    result = labkit("prepull", "--only", "absent", LABKIT_CATALOG=str(catalog))
    assert result.returncode == 1
    assert f"cannot reach {host}" in result.stdout


def _registry_without_images(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    headers = {"Docker-Distribution-API-Version": "registry/2.0", "Content-Type": "application/json"}
    if request.path == "/v2/":
        return 200, headers, b"{}"
    return 404, headers, json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode()


@docker
def test_prepull_says_when_the_image_is_not_in_the_registry(tmp_path: Path, run_tag: str) -> None:
    with http_server(_registry_without_images) as base:
        ref = f"{base.removeprefix('http://')}/labkit-tests/absent:{run_tag}"
        result = labkit("prepull", LABKIT_CATALOG=str(catalog_file(tmp_path, {"absent": ref})))
    assert result.returncode == 1
    assert f"{ref} is not in its registry" in result.stdout
    assert "Check the tag in images.toml" in result.stdout


@docker
def test_clean_removes_only_labelled_resources(
    lab_resources: MakeLabResources, build_image: BuildImage, docker_client: DockerClient, run_tag: str, made: Made
) -> None:
    before = _unlabelled_container_and_image(docker_client, build_image, made, run_tag)
    lab_id = f"labkit-tests-clean-{run_tag}"
    labelled = lab_resources(lab_id)

    listed = labkit("clean", "--lab", lab_id, "--dry-run")
    assert listed.returncode == 0 and "Would remove 4 resource(s)" in listed.stdout
    assert all(exists(docker_client, kind, rid) for kind, rid in labelled.items())

    everything = labkit("clean", "--dry-run")  # all labs: only lists, so other sessions' resources are safe
    assert lab_id in everything.stdout and before["name"] not in everything.stdout

    cleaned = labkit("clean", "--lab", lab_id)
    assert cleaned.returncode == 0 and "Removed 4 resource(s)" in cleaned.stdout
    assert not any(exists(docker_client, kind, rid) for kind, rid in labelled.items())
    assert exists(docker_client, "container", before["container"]) and exists(docker_client, "image", before["image"])


def test_clean_refuses_a_lab_id_a_notebook_refuses_in_one_line() -> None:
    with pytest.raises(InvalidName) as refused:
        Lab("Lab 3")
    result = labkit("clean", "--lab", "Lab 3", DOCKER_HOST="unix:///nonexistent.sock")  # checked before Docker
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [f"✘ labkit: {refused.value}"]


@docker
@pytest.mark.holds("classroom")  # `classroom serve` elsewhere would take this container for the room's registry
def test_clean_keeps_a_running_classroom_registry_unless_asked_for_it_by_name(
    busybox: str, start_container: StartContainer
) -> None:
    """Both runs are dry: on a shared engine a real `clean` would take other tests' (and rooms') resources."""
    room = start_container(busybox, ["sleep", "300"], what="classroom", labels=names.labels(names.CLASSROOM_LAB))
    try:
        every_lab = labkit("clean", "--dry-run", COLUMNS="250")
        by_name = labkit("clean", "--lab", names.CLASSROOM_LAB, "--dry-run", COLUMNS="250")
    finally:
        room.remove(force=True)
    kept = f"Would keep the classroom registry {room.name} (`python -m labkit classroom stop` removes it)."
    assert every_lab.returncode == 0 and kept in every_lab.stdout.splitlines()
    assert every_lab.stdout.count(room.name) == 1  # in that line, not in the table of what goes
    assert by_name.returncode == 0 and room.name in by_name.stdout and "Would keep" not in by_name.stdout


def _unlabelled_container_and_image(
    docker_client: DockerClient, build_image: BuildImage, made: Made, run_tag: str
) -> dict[str, str]:
    """What a learner had before the course: no course label on either."""
    ref = build_image("unlabelled", "FROM scratch\nCOPY note.txt /\n", {"note.txt": "mine\n"}, labels={})
    image = docker_client.images.get(ref)
    assert LABEL_KEY not in (image.labels or {})
    name = f"learner-own-{run_tag}"
    container = docker_client.containers.create(image.id, ["/nothing"], name=name)
    made.containers.append(container.id)
    return {"container": container.id, "image": image.id, "name": name}
