"""labkit.engine.cleanup: find and remove exactly what carries the course label of one lab."""

import pytest
from docker import DockerClient

from labkit import names
from labkit.engine import cleanup
from labkit.errors import InvalidName
from tests.helpers import BuildImage, Made, MakeLabResources, StartContainer, exists

KINDS = ["container", "image", "network", "volume"]


@pytest.mark.docker
def test_find_lists_a_labs_resources_containers_first(lab_resources: MakeLabResources, run_tag: str) -> None:
    lab_id = f"labkit-tests-find-{run_tag}"
    made = lab_resources(lab_id)
    found = cleanup.find(lab_id)
    assert [r.kind for r in found] == KINDS
    assert {r.kind: r.id for r in found} == made
    assert {r.lab for r in found} == {lab_id}
    assert found[0].name == lab_id


@pytest.mark.docker
def test_dry_run_removes_nothing_and_remove_removes_everything(
    lab_resources: MakeLabResources, run_tag: str, docker_client: DockerClient
) -> None:
    lab_id = f"labkit-tests-remove-{run_tag}"
    made = lab_resources(lab_id)
    assert [r.kind for r in cleanup.remove(lab_id, dry_run=True)] == KINDS
    assert all(exists(docker_client, kind, made[kind]) for kind in KINDS)
    assert [r.kind for r in cleanup.remove(lab_id)] == KINDS
    assert not any(exists(docker_client, kind, made[kind]) for kind in KINDS)
    assert cleanup.remove(lab_id) == []


@pytest.mark.docker
def test_find_lists_nothing_of_another_lab_or_without_the_course_label(
    lab_resources: MakeLabResources, run_tag: str, docker_client: DockerClient, made: Made
) -> None:
    lab_id = f"labkit-tests-mine-{run_tag}"
    mine, theirs = lab_resources(lab_id), lab_resources(f"labkit-tests-theirs-{run_tag}")
    volume = docker_client.volumes.create(f"labkit-tests-unlabelled-{run_tag}")
    network = docker_client.networks.create(f"labkit-tests-unlabelled-{run_tag}")
    made.volumes.append(volume.id)
    made.networks.append(network.id)
    assert {r.id for r in cleanup.find(lab_id)} == set(mine.values())
    every_lab = {r.id for r in cleanup.find()}
    assert set(theirs.values()) <= every_lab and not {volume.id, network.id} & every_lab


@pytest.mark.docker
def test_remove_removes_an_image_and_the_image_it_was_built_from(
    build_image: BuildImage, run_tag: str, docker_client: DockerClient
) -> None:
    """build_image uses the legacy builder, which makes the first image the second's parent."""
    lab_id = f"labkit-tests-parent-{run_tag}"
    labels = names.labels(lab_id)
    base = build_image(f"cleanup-base-{run_tag}", "FROM {base}\nRUN echo base > /base.txt\n", labels=labels)
    built_on = build_image(f"cleanup-built-on-{run_tag}", f"FROM {base}\nRUN echo on > /on.txt\n", labels=labels)
    assert [r.kind for r in cleanup.remove(lab_id)] == ["image", "image"]
    assert not exists(docker_client, "image", base) and not exists(docker_client, "image", built_on)


def test_images_built_on_others_come_first_through_unlisted_step_images() -> None:
    parents = {"base": "", "step": "base", "labelled": "step", "unrelated": "elsewhere", "top": "labelled"}
    summaries = [{"Id": image_id} for image_id in ("base", "labelled", "unrelated", "top")]  # "step": no label
    order = [summary["Id"] for summary in cleanup.children_first(summaries, parents)]
    assert order.index("top") < order.index("labelled") < order.index("base")
    assert sorted(order) == ["base", "labelled", "top", "unrelated"]


def test_label_filter() -> None:
    assert cleanup.label_filter(None) == "org.containerizing-dotnet.lab"
    assert cleanup.label_filter("03-dockerfiles") == "org.containerizing-dotnet.lab=03-dockerfiles"
    with pytest.raises(InvalidName, match="'Lab 3'"):
        cleanup.label_filter("Lab 3")


def test_all_labs_keep_a_running_classroom_registry_and_say_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    room = cleanup.Resource("container", "1", "classroom-registry", names.CLASSROOM_LAB, running=True)
    served = cleanup.Resource("volume", "classroom-registry", "classroom-registry", names.CLASSROOM_LAB)
    lab = cleanup.Resource("container", "3", "cdn-01-containers-web", "01-containers", running=True)
    found = [room, served, lab]
    monkeypatch.setattr(cleanup, "find", lambda lab_id=None: found)
    removing: list[cleanup.Resource] = []
    monkeypatch.setattr(cleanup, "_remove_one", removing.append)  # None: removed

    assert cleanup.remove() == [lab] == removing  # the registry and the volume of images it serves stay
    kept = "Kept the classroom registry classroom-registry (`python -m labkit classroom stop` removes it).\n"
    assert capsys.readouterr().out == kept
    removing.clear()
    assert cleanup.remove(names.CLASSROOM_LAB) == found == removing  # asked for by name
    assert capsys.readouterr().out == ""
    removing.clear()
    found[0] = cleanup.Resource("container", "1", "classroom-registry", names.CLASSROOM_LAB, running=False)
    assert cleanup.remove() == found == removing  # a stopped registry serves nobody: all of it goes


@pytest.mark.docker
def test_a_resource_in_use_by_something_else_is_kept_with_a_message(
    busybox: str,
    start_container: StartContainer,
    run_tag: str,
    docker_client: DockerClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lab_id = f"labkit-tests-in-use-{run_tag}"
    network = docker_client.networks.create(f"{lab_id}-net", labels=names.labels(lab_id))
    other = start_container(busybox, ["sleep", "60"], what="joiner", network_mode=network.name)
    try:
        assert cleanup.remove(lab_id) == []
        assert f"Kept network {network.name}" in capsys.readouterr().out
        assert exists(docker_client, "network", network.id)
    finally:
        other.remove(force=True)
        network.remove()
