"""Lab 4's check cells fail, with their hints, on a wrong learner state."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labkit import CheckFailed, catalog, names
from labkit.docker_access import client
from tests.helpers import http_server
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "04-dev-vs-prod" / "lab.ipynb"
LAB_ID = "test-lab04"
LABELS = names.labels(LAB_ID)
GREETING = '{"message":"Hello from ASP.NET Core in a container!"}'


@pytest.fixture(scope="module")
def on_sdk(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A final image that is still the sdk image, with an app file in /app."""
    return wrong_state.build(
        LAB_ID, tmp_path_factory.mktemp("on-sdk"), f"FROM {catalog.image('sdk')}\nCOPY Api /app/Api\n", {"Api": "x"}
    )


def _answering(body: str) -> Any:
    """A local web server whose every answer is `body` (stands in for a container's app)."""
    return http_server(lambda request: (200, {"Content-Type": "application/json"}, body.encode()))


@pytest.mark.docker
def test_single_stage_check_fails_when_the_image_has_no_sdk(namespace: dict[str, Any], tmp_path: Path) -> None:
    no_sdk = wrong_state.build(LAB_ID, tmp_path, f"FROM {catalog.image('runtime-deps')}\nLABEL stage=single\n")
    with pytest.raises(CheckFailed, match="/usr/share/dotnet/sdk is not in the image"):
        check_cells.run_check(NOTEBOOK, 1, namespace, SINGLE=no_sdk)


@pytest.mark.docker
def test_multi_stage_check_fails_when_the_final_stage_is_the_sdk(namespace: dict[str, Any], on_sdk: str) -> None:
    with pytest.raises(CheckFailed, match=re.escape("Start the final stage FROM the aspnet image")):
        check_cells.run_check(NOTEBOOK, 2, namespace, PROD=on_sdk)


@pytest.mark.docker
def test_multi_stage_check_fails_when_the_base_is_not_aspnet(namespace: dict[str, Any], tmp_path: Path) -> None:
    unrelated = wrong_state.build(LAB_ID, tmp_path, "FROM scratch\nCOPY Api /app/Api\n", {"Api": "x"})
    with pytest.raises(CheckFailed, match="share no layers"):
        check_cells.run_check(NOTEBOOK, 2, namespace, PROD=unrelated)


@pytest.mark.docker
def test_size_check_fails_for_an_image_on_the_sdk(namespace: dict[str, Any], on_sdk: str) -> None:
    with pytest.raises(CheckFailed, match=re.escape("start FROM a runtime image")):
        check_cells.run_check(NOTEBOOK, 3, namespace, PROD=on_sdk)


@pytest.mark.docker
def test_port_check_fails_when_the_image_moves_the_port(namespace: dict[str, Any], tmp_path: Path) -> None:
    moved = wrong_state.build(LAB_ID, tmp_path, f"FROM {namespace['ASPNET']}\nENV ASPNETCORE_HTTP_PORTS=5000\n")
    with _answering(GREETING) as url, pytest.raises(CheckFailed, match="ASPNETCORE_HTTP_PORTS='5000'"):
        check_cells.run_check(NOTEBOOK, 4, namespace, PROD=moved, URL=url)


@pytest.mark.docker
def test_user_check_fails_when_the_image_runs_as_root(namespace: dict[str, Any], tmp_path: Path) -> None:
    as_root = wrong_state.build(LAB_ID, tmp_path, f"FROM {namespace['ASPNET']}\nLABEL user=root\n")
    check_cells.run_cell(NOTEBOOK, 5, 1, namespace)
    with pytest.raises(CheckFailed, match=re.escape("USER $APP_UID")):
        check_cells.run_check(NOTEBOOK, 5, namespace, PROD=as_root)


@pytest.mark.docker
def test_user_check_fails_when_the_container_runs_as_root(namespace: dict[str, Any], tmp_path: Path) -> None:
    non_root = wrong_state.build(LAB_ID, tmp_path, f"FROM {namespace['ASPNET']}\nUSER 1654\n")
    started_as_root = wrong_state.sleeper(LAB_ID, non_root, user="0")
    check_cells.run_cell(NOTEBOOK, 5, 1, namespace)
    with pytest.raises(CheckFailed, match="runs as UID 1654"):
        check_cells.run_check(NOTEBOOK, 5, namespace, PROD=non_root, WEB=started_as_root.name)


@pytest.mark.docker
def test_dev_check_fails_when_the_dev_container_has_exited(namespace: dict[str, Any]) -> None:
    ended = client().containers.run(
        namespace["SDK"], ["true"], name=wrong_state.unique(LAB_ID, "dev"), labels=LABELS, detach=True
    )
    ended.wait()
    with pytest.raises(CheckFailed, match="is exited"):
        check_cells.run_cell(NOTEBOOK, 6, 1, {**namespace, "DEV": ended.name, "DEV_URL": "http://127.0.0.1:9"})


def _edited_source(tmp_path: Path) -> tuple[Path, str]:
    program = tmp_path / "Program.cs"
    original = 'app.MapGet("/", () => "Hello from ASP.NET Core in a container!");\n'
    program.write_text(original.replace("ASP.NET Core in a container", "dotnet watch (test)"))
    return program, original


def test_edit_check_fails_when_the_app_does_not_see_the_edit(namespace: dict[str, Any], tmp_path: Path) -> None:
    program, original = _edited_source(tmp_path)
    namespace.update(program=program, original=original, EDITED="Hello from dotnet watch (test)", WATCH_TIMEOUT=2)
    with _answering(GREETING) as url, pytest.raises(CheckFailed, match=re.escape("-v ...:/src:ro -w /src")):
        check_cells.run_cell(NOTEBOOK, 6, 3, {**namespace, "DEV_URL": url})
    assert program.read_text() == original, "the check cell puts Program.cs back, even when it fails"


@pytest.mark.docker
def test_edit_check_fails_when_a_new_container_served_it(namespace: dict[str, Any], tmp_path: Path) -> None:
    program, original = _edited_source(tmp_path)
    restarted = wrong_state.sleeper(LAB_ID, namespace["ASPNET"])
    started_before = restarted.attrs["State"]["StartedAt"]
    restarted.restart(timeout=0)
    edited = "Hello from dotnet watch (test)"
    namespace.update(program=program, original=original, EDITED=edited, WATCH_TIMEOUT=2)
    namespace.update(DEV=restarted.name, started_at=started_before)
    with _answering(edited) as url, pytest.raises(CheckFailed, match="no image was built and no container started"):
        check_cells.run_cell(NOTEBOOK, 6, 3, {**namespace, "DEV_URL": url})


@pytest.mark.docker
def test_source_check_fails_when_a_container_wrote_build_output(namespace: dict[str, Any], tmp_path: Path) -> None:
    mount = {str(tmp_path): {"bind": "/src"}}
    as_root = {"volumes": mount, "labels": LABELS, "remove": True}  # root in the container, like the sdk's default
    client().containers.run(namespace["SDK"], ["mkdir", "/src/bin", "/src/obj"], **as_root)
    try:
        with pytest.raises(CheckFailed, match=re.escape("-e ArtifactsPath=/artifacts")):
            check_cells.run_check(NOTEBOOK, 6, namespace, SOURCE=tmp_path)
    finally:
        client().containers.run(namespace["SDK"], ["rm", "-rf", "/src/bin", "/src/obj"], **as_root)


@pytest.mark.docker
@pytest.mark.parametrize(
    ("record", "asked"),
    [(wrong_state.ran, "true"), (wrong_state.echoed, "id")],
    ids=["did-not-ask-the-container", "only-echoed-the-question"],
)
def test_user_check_fails_without_the_containers_own_answer(
    namespace: dict[str, Any], tmp_path: Path, record: Callable[[str], None], asked: str
) -> None:
    non_root = wrong_state.build(LAB_ID, tmp_path, f"FROM {namespace['ASPNET']}\nUSER 1654\n")
    web = wrong_state.sleeper(LAB_ID, non_root)
    record(f"docker exec {web.name} {asked}")
    check_cells.run_cell(NOTEBOOK, 5, 1, namespace)
    with pytest.raises(CheckFailed, match=re.escape(f"Run `docker exec {web.name} id`")):
        check_cells.run_check(NOTEBOOK, 5, namespace, PROD=non_root, WEB=web.name)


@pytest.mark.docker
def test_challenge_check_fails_when_the_endpoint_is_missing(namespace: dict[str, Any], tmp_path: Path) -> None:
    registry, address = wrong_state.registry(LAB_ID)  # answers HTTP, but not at /version
    program = tmp_path / "Program.cs"
    program.write_text('app.MapGet("/version", () => Environment.Version.ToString());\n')  # saved, not served
    with pytest.raises(CheckFailed, match=re.escape("before `app.Run();` in api/Program.cs")):
        check_cells.run_check(
            NOTEBOOK,
            check_cells.OUTSIDE,
            namespace,
            VERSION_URL=f"http://{address}/version",
            WATCH_TIMEOUT=2,
            program=program,
            original="as it was\n",
            DEV=registry.name,
        )
    assert program.read_text() == "as it was\n"  # the check puts Program.cs back


def test_challenge_check_fails_at_once_when_the_edit_is_not_saved(namespace: dict[str, Any], tmp_path: Path) -> None:
    """No waiting for dotnet watch (WATCH_TIMEOUT is far longer than the test may take): the file says it all."""
    program = tmp_path / "Program.cs"
    program.write_text("app.Run();\n")
    with pytest.raises(CheckFailed, match=re.escape("Program.cs maps GET /version, saved")):
        check_cells.run_check(
            NOTEBOOK,
            check_cells.OUTSIDE,
            namespace,
            VERSION_URL="http://127.0.0.1:9/version",
            WATCH_TIMEOUT=600,
            program=program,
            original="app.Run();\n",
            DEV="unused",
        )
