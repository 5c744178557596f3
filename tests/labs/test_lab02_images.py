"""Lab 2's check cells fail, with their hints, on a wrong learner state."""

import re
from pathlib import Path
from typing import Any

import pytest

from labkit import CheckFailed, catalog, images
from labkit.docker_access import client
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "02-images" / "lab.ipynb"
LAB_ID = "test-lab02"
NEVER_PULLED = catalog.image("sdk").rpartition("/")[0] + "/never-pulled:10.0"  # a name in the .NET registry


@pytest.fixture(scope="module")
def unrelated(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Three small images that share no layer with each other or with the .NET images."""
    return [
        wrong_state.build(
            LAB_ID, tmp_path_factory.mktemp(f"scratch{n}"), "FROM scratch\nCOPY n.txt /\n", {"n.txt": str(n)}
        )
        for n in range(3)
    ]


def _inspect(field: str, ref: str) -> str:
    """The learner's `docker image inspect --format` command for one field."""
    return "docker image inspect --format '{{json ." + field + "}}' " + ref


def _on(base: str, tmp_path: Path, instructions: str) -> str:
    """A labelled image FROM `base` with `instructions` added."""
    return wrong_state.build(LAB_ID, tmp_path, f"FROM {base}\n{instructions}\n", {"extra.txt": "extra\n"})


@pytest.mark.docker
def test_pull_check_fails_when_an_image_was_not_pulled(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker pull {NEVER_PULLED}`")):
        check_cells.run_check(NOTEBOOK, 1, namespace, DOTNET_IMAGES=[NEVER_PULLED])


@pytest.mark.docker
def test_pull_check_fails_when_the_pulls_were_left_to_prepull(namespace: dict[str, Any]) -> None:
    """The images are all present (prepull), but the learner's cell pulled nothing."""
    with pytest.raises(CheckFailed, match=re.escape("you pulled")):
        check_cells.run_check(NOTEBOOK, 1, namespace)


def test_pull_check_fails_when_the_pulls_were_only_echoed(namespace: dict[str, Any]) -> None:
    wrong_state.echoed(*(f"docker pull {ref}" for ref in namespace["DOTNET_IMAGES"]))
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker pull {namespace['RUNTIME']}`")):
        check_cells.run_check(NOTEBOOK, 1, namespace)


@pytest.mark.docker
def test_pull_check_fails_on_an_unsupported_tag(namespace: dict[str, Any]) -> None:
    old_sdk = catalog.image("sdk").rpartition(":")[0] + ":8.0"  # end of support: 2026-11-10
    wrong_state.ran(f"docker pull {namespace['RUNTIME']}")
    with pytest.raises(CheckFailed, match="out of support"):
        check_cells.run_check(NOTEBOOK, 1, namespace, DOTNET_IMAGES=[namespace["RUNTIME"]], SDK=old_sdk)


@pytest.mark.docker
def test_history_check_fails_when_no_history_was_shown(namespace: dict[str, Any]) -> None:
    wrong_state.ran(f"docker image inspect {namespace['ASPNET']}")
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker history {namespace['ASPNET']}`")):
        check_cells.run_check(NOTEBOOK, 2, namespace)


def test_history_check_fails_when_the_history_was_only_echoed(namespace: dict[str, Any]) -> None:
    wrong_state.echoed(f"docker history {namespace['ASPNET']}")
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker history {namespace['ASPNET']}`")):
        check_cells.run_check(NOTEBOOK, 2, namespace)


@pytest.mark.docker
def test_history_check_fails_for_an_unrelated_image(namespace: dict[str, Any], unrelated: list[str]) -> None:
    wrong_state.ran(f"docker history {unrelated[0]}")
    with pytest.raises(CheckFailed, match="share no layers"):
        check_cells.run_check(NOTEBOOK, 2, namespace, ASPNET=unrelated[0])


@pytest.mark.docker
def test_sharing_check_fails_for_an_unrelated_image(namespace: dict[str, Any], unrelated: list[str]) -> None:
    with pytest.raises(CheckFailed, match="share no layers"):
        check_cells.run_check(NOTEBOOK, 3, namespace, SDK=unrelated[0])


def _listed(sdk: str) -> None:
    """The learner listed the sdk repository and asked for the disk usage."""
    wrong_state.ran(f"docker image ls {sdk.rpartition(':')[0]}", "docker system df")


@pytest.mark.docker
def test_disk_check_fails_without_docker_system_df(namespace: dict[str, Any]) -> None:
    wrong_state.ran(f"docker image ls {namespace['SDK'].rpartition(':')[0]}")
    check_cells.run_cell(NOTEBOOK, 4, 1, namespace)
    with pytest.raises(CheckFailed, match=re.escape("Run `docker system df`")):
        check_cells.run_check(NOTEBOOK, 4, namespace)


@pytest.mark.docker
@pytest.mark.parametrize("echoed", [0, 1], ids=["image-ls", "system-df"])
def test_disk_check_fails_when_a_listing_was_only_echoed(namespace: dict[str, Any], echoed: int) -> None:
    repository = namespace["SDK"].rpartition(":")[0]
    commands = [f"docker image ls {repository}", "docker system df"]
    wrong_state.ran(commands[1 - echoed])
    wrong_state.echoed(commands[echoed])
    with pytest.raises(CheckFailed, match=re.escape(f"Run `{commands[echoed]}`")):
        check_cells.run_check(NOTEBOOK, 4, namespace)


@pytest.mark.docker
def test_disk_check_fails_when_the_images_share_nothing(namespace: dict[str, Any], unrelated: list[str]) -> None:
    namespace.update(DOTNET_IMAGES=unrelated, SDK=unrelated[-1])
    _listed(namespace["SDK"])
    check_cells.run_cell(NOTEBOOK, 4, 1, namespace)  # measures the disk use
    with pytest.raises(CheckFailed, match=re.escape("same .NET version")):
        check_cells.run_check(NOTEBOOK, 4, namespace)


@pytest.mark.docker
def test_disk_check_fails_when_the_largest_image_does_not_hold_the_others(
    namespace: dict[str, Any], tmp_path: Path
) -> None:
    on_runtime = _on(namespace["RUNTIME"], tmp_path, "COPY extra.txt /")  # shares runtime's layers, not aspnet's
    namespace.update(DOTNET_IMAGES=[namespace["RUNTIME"], namespace["ASPNET"], on_runtime], SDK=on_runtime)
    _listed(on_runtime)
    check_cells.run_cell(NOTEBOOK, 4, 1, namespace)
    with pytest.raises(CheckFailed, match="every runtime and aspnet layer is also an sdk layer"):
        check_cells.run_check(NOTEBOOK, 4, namespace)


@pytest.mark.docker
def test_digest_check_fails_for_another_images_digest(namespace: dict[str, Any]) -> None:
    runtime_repository = namespace["RUNTIME"].rpartition(":")[0]
    digests = [d for d in images.inspect(namespace["RUNTIME"])["RepoDigests"] if d.startswith(runtime_repository)]
    if not digests:
        pytest.skip("the runtime image was not pulled from a registry, so it has no digest")
    wrong_state.ran(_inspect("RepoDigests", namespace["SDK"]), f"docker pull {digests[0]}")
    with pytest.raises(CheckFailed, match="not from another image"):
        check_cells.run_check(
            NOTEBOOK, 5, namespace, SDK_BY_DIGEST=digests[0], SDK_REPOSITORY=namespace["SDK"].rpartition(":")[0]
        )


@pytest.mark.docker
def test_digest_check_fails_when_the_digest_was_not_pulled(namespace: dict[str, Any]) -> None:
    """The image by digest resolves locally anyway: only the learner's own pull proves the step."""
    sdk_repository = namespace["SDK"].rpartition(":")[0]
    by_digest = next(d for d in images.inspect(namespace["SDK"])["RepoDigests"] if d.startswith(sdk_repository + "@"))
    wrong_state.ran(_inspect("RepoDigests", namespace["SDK"]))
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker pull {by_digest}`")):
        check_cells.run_check(NOTEBOOK, 5, namespace, SDK_BY_DIGEST=by_digest, SDK_REPOSITORY=sdk_repository)


@pytest.mark.docker
def test_digest_check_fails_when_the_pull_was_only_echoed(namespace: dict[str, Any]) -> None:
    sdk_repository = namespace["SDK"].rpartition(":")[0]
    by_digest = next(d for d in images.inspect(namespace["SDK"])["RepoDigests"] if d.startswith(sdk_repository + "@"))
    wrong_state.ran(_inspect("RepoDigests", namespace["SDK"]))
    wrong_state.echoed(f"docker pull {by_digest}")
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker pull {by_digest}`")):
        check_cells.run_check(NOTEBOOK, 5, namespace, SDK_BY_DIGEST=by_digest, SDK_REPOSITORY=sdk_repository)


@pytest.mark.docker
def test_config_check_fails_when_the_port_was_changed(namespace: dict[str, Any], tmp_path: Path) -> None:
    changed = _on(namespace["ASPNET"], tmp_path, "ENV ASPNETCORE_HTTP_PORTS=5000")
    with pytest.raises(CheckFailed, match="ASPNETCORE_HTTP_PORTS='5000'"):
        check_cells.run_check(NOTEBOOK, 6, namespace, ASPNET=changed)


@pytest.mark.docker
def test_config_check_fails_when_a_user_was_set(namespace: dict[str, Any], tmp_path: Path) -> None:
    changed = _on(namespace["ASPNET"], tmp_path, "USER app")
    wrong_state.ran(_inspect("Config.Env", changed), _inspect("Config.User", changed))
    with pytest.raises(CheckFailed, match="this one was changed"):
        check_cells.run_check(NOTEBOOK, 6, namespace, ASPNET=changed)


@pytest.mark.docker
def test_config_check_fails_when_the_configuration_was_not_read(namespace: dict[str, Any]) -> None:
    wrong_state.ran(f"docker image inspect {namespace['ASPNET']}")  # no --format: not what the step asks
    with pytest.raises(CheckFailed, match="you read the aspnet image's environment"):
        check_cells.run_check(NOTEBOOK, 6, namespace)


@pytest.mark.docker
def test_config_check_fails_when_the_user_was_only_echoed(namespace: dict[str, Any]) -> None:
    wrong_state.ran(_inspect("Config.Env", namespace["ASPNET"]))
    wrong_state.echoed(_inspect("Config.User", namespace["ASPNET"]))
    with pytest.raises(CheckFailed, match="you read the aspnet image's user"):
        check_cells.run_check(NOTEBOOK, 6, namespace)


@pytest.mark.docker
def test_challenge_check_fails_on_another_step(namespace: dict[str, Any]) -> None:
    smallest = min(client().api.history(namespace["SDK"]), key=lambda step: step["Size"] or 10**12)
    with pytest.raises(CheckFailed, match="HEAVIEST names the step"):
        check_cells.run_check(NOTEBOOK, check_cells.OUTSIDE, namespace, HEAVIEST=smallest["CreatedBy"][-60:])
