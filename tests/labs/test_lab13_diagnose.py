"""Lab 13's check cells fail, with their hints, on a wrong learner state."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from labkit import CheckFailed, catalog, diagnostics, names, shell, web
from labkit.docker_access import client
from tests.helpers import ROOT
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "13-diagnose" / "lab.ipynb"
LAB_ID = "test-lab13"
LAB = ROOT / "solutions" / "13-diagnose"
ELF_CORE_HEADER = b"\x7fELF\x02\x01\x01" + bytes(9) + (4).to_bytes(2, "little")  # 18 bytes, e_type ET_CORE
HEAP_COUNTER = "dotnet.gc.last_collection.heap.size (By)"
docker = pytest.mark.docker


def _counters(heap_mib: list[float], work_items: list[float], process: str = "Api") -> str:
    """A counters file as `dotnet-counters collect --format json` writes it: heap per generation, work items."""
    events: list[dict[str, Any]] = []
    for heap, added in zip(heap_mib, work_items, strict=True):
        for generation, share in (("gen0", 0.5), ("gen2", 0.5)):
            tags = f"gc.heap.generation={generation}"
            events.append({"name": HEAP_COUNTER, "tags": tags, "value": heap * share * 1024 * 1024})
        events.append({"name": "dotnet.thread_pool.work_item.count ({work_item} / 1 sec)", "tags": "", "value": added})
    return json.dumps({"TargetProcess": process, "StartTime": "2026-12-05T10:00:00+00:00", "Events": events})


# --- Step 1 and 2: the images ---


@pytest.fixture(scope="module")
def app_with_tools(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The app's chiseled image with a diagnostics tool copied in: what the lab tells you not to ship."""
    dockerfile = f"FROM {catalog.image('aspnet-chiseled')}\nCOPY dotnet-dump /tools/dotnet-dump\n"
    return wrong_state.build(LAB_ID, tmp_path_factory.mktemp("tools-in-app"), dockerfile, {"dotnet-dump": "tool\n"})


@docker
def test_image_check_fails_on_an_image_with_a_shell(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match="noble-chiseled"):
        check_cells.run_check(NOTEBOOK, 1, namespace, APP=catalog.image("aspnet"))


@docker
def test_image_check_fails_when_the_app_image_holds_a_tool(namespace: dict[str, Any], app_with_tools: str) -> None:
    with pytest.raises(CheckFailed, match="keep them out of its Dockerfile"):
        check_cells.run_check(NOTEBOOK, 1, namespace, APP=app_with_tools)


@docker
def test_tools_check_fails_without_the_tools(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match="dotnet tool install --tool-path /tools"):
        check_cells.run_check(NOTEBOOK, 2, namespace, TOOLS_IMAGE=catalog.image("runtime"))


def test_the_tools_version_is_pinned_once() -> None:
    """The Dockerfile's TOOLS_VERSION default and Tools.csproj's ToolsVersion name the same version."""
    argument = re.search(r"^ARG TOOLS_VERSION=(\S+)$", (LAB / "tools" / "Dockerfile").read_text(), re.M)
    project = re.search(r"<ToolsVersion>([^<]+)</ToolsVersion>", (LAB / "tools" / "Tools.csproj").read_text())
    assert argument and project and argument[1] == project[1]


# --- Step 3: the sidecar ---


@pytest.fixture(scope="module")
def app_container() -> str:
    return str(wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps")).name)


@docker
def test_sidecar_check_fails_without_the_apps_processes(namespace: dict[str, Any], app_container: str) -> None:
    alone = wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps"))
    with pytest.raises(CheckFailed, match=re.escape(f"--pid container:{app_container}")):
        check_cells.run_check(NOTEBOOK, 3, namespace, NAME=app_container, TOOLS=alone.name, TMP="none")


@docker
def test_sidecar_check_fails_without_the_shared_tmp(namespace: dict[str, Any], app_container: str) -> None:
    beside = wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps"), pid_mode=f"container:{app_container}")
    with pytest.raises(CheckFailed, match="mount the same volume on /tmp in both"):
        check_cells.run_check(NOTEBOOK, 3, namespace, NAME=app_container, TOOLS=beside.name, TMP="cdn-no-such-volume")


@docker
def test_sidecar_check_fails_when_pid_1_is_not_the_app(namespace: dict[str, Any], app_container: str) -> None:
    volume = client().volumes.create(wrong_state.unique(LAB_ID, "tmp"), labels=names.labels(LAB_ID)).name
    beside = wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps"), pid_mode=f"container:{app_container}",
                                 volumes={volume: {"bind": "/tmp", "mode": "rw"}})  # fmt: skip
    with pytest.raises(CheckFailed, match="must join"):
        check_cells.run_check(NOTEBOOK, 3, namespace, NAME=app_container, TOOLS=beside.name, TMP=volume)


# --- Steps 4 to 7: what the tools wrote, copied out ---


def test_counters_check_fails_when_nothing_was_copied_out(namespace: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match=re.escape("docker cp")):
        check_cells.run_check(NOTEBOOK, 4, namespace, OUT=tmp_path, TOOLS="tools")


def test_counters_check_fails_on_counters_of_an_idle_app(namespace: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "counters.json").write_text(_counters([2.0] * 10, [20.0] * 10))
    with pytest.raises(CheckFailed, match=r"GC heap grew under load.*so they overlap"):
        check_cells.run_check(NOTEBOOK, 4, namespace, OUT=tmp_path, TOOLS="tools")


def test_counters_check_fails_when_only_the_leak_ran(namespace: dict[str, Any], tmp_path: Path) -> None:
    """The heap grew, but the thread pool stayed idle: /block's load did not overlap the collection."""
    (tmp_path / "counters.json").write_text(_counters([0, 0, 4, 9, 15, 15, 15], [20.0] * 7))
    with pytest.raises(CheckFailed, match=r"work items a second under load.*so they overlap"):
        check_cells.run_check(NOTEBOOK, 4, namespace, OUT=tmp_path, TOOLS="tools")


def test_counters_check_fails_on_another_process(namespace: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "counters.json").write_text(_counters([2.0, 30.0] * 5, [500.0] * 10, process="dotnet-counters"))
    with pytest.raises(CheckFailed, match="collect from PID 1"):
        check_cells.run_check(NOTEBOOK, 4, namespace, OUT=tmp_path, TOOLS="tools")


def test_counters_check_passes_on_a_heap_that_grew(namespace: dict[str, Any], tmp_path: Path) -> None:
    """The other tests' files differ from this one in one figure each: the check reads them right."""
    (tmp_path / "counters.json").write_text(_counters([0, 0, 4, 9, 15, 15, 15], [20, 900, 4800, 300, 0, 0, 0]))
    check_cells.run_check(NOTEBOOK, 4, namespace, OUT=tmp_path, TOOLS="tools")


def test_trace_check_fails_on_a_file_that_is_no_trace(namespace: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "app.nettrace").write_text(_counters([1.0], [0.0]))
    with pytest.raises(CheckFailed, match="is an EventPipe trace"):
        check_cells.run_check(NOTEBOOK, 5, namespace, OUT=tmp_path, TOOLS="tools")


def test_dump_check_fails_on_a_file_that_is_no_core_dump(namespace: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "app.dmp").write_bytes(b"Nettrace" + bytes(64))
    with pytest.raises(CheckFailed, match="is a core dump"):
        check_cells.run_check(NOTEBOOK, 6, namespace, OUT=tmp_path, NAME="api", TOOLS="tools")


@docker
def test_dump_check_fails_on_a_sidecar_given_a_capability(namespace: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "app.dmp").write_bytes(ELF_CORE_HEADER + bytes(64))
    app = wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps"), cap_drop=["ALL"])
    privileged = wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps"), cap_drop=["ALL"], cap_add=["SYS_PTRACE"])
    with pytest.raises(CheckFailed, match=re.escape(f"start {privileged.name} with --cap-drop ALL and no --cap-add")):
        check_cells.run_check(NOTEBOOK, 6, namespace, OUT=tmp_path, NAME=app.name, TOOLS=privileged.name)


@docker
def test_dump_check_fails_on_an_app_with_its_capabilities(namespace: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "app.dmp").write_bytes(ELF_CORE_HEADER + bytes(64))
    app = wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps"))
    tools = wrong_state.sleeper(LAB_ID, catalog.image("runtime-deps"), cap_drop=["ALL"])
    with pytest.raises(CheckFailed, match=re.escape(f"start {app.name} with --cap-drop ALL")):
        check_cells.run_check(NOTEBOOK, 6, namespace, OUT=tmp_path, NAME=app.name, TOOLS=tools.name)


HEAP_STAT_WITHOUT_THE_LEAK = """\
Statistics:
          MT Count TotalSize Class Name
7fdcf396dd58 12,187 1,171,756 System.String
7fdcf45f81b8  4,998 9,375,132 System.Byte[]
Total 17,185 objects, 10,546,888 bytes
"""


def test_analysis_check_fails_when_the_leaking_type_is_not_there(namespace: dict[str, Any], tmp_path: Path) -> None:
    """A dump taken before the load (or of another process) holds no LeakyCacheEntry."""
    (tmp_path / "dumpheap-stat.txt").write_text(HEAP_STAT_WITHOUT_THE_LEAK)
    leak = web.Load("http://127.0.0.1:9/leak", answered=300)
    with pytest.raises(CheckFailed, match="take the dump of the app after Step 4"):
        check_cells.run_check(
            NOTEBOOK, 7, namespace, HEAP_STAT=tmp_path / "dumpheap-stat.txt", leak=leak, TOOLS="tools"
        )


def test_analysis_check_fails_when_the_output_was_not_kept(namespace: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match="write the output of"):
        check_cells.run_check(NOTEBOOK, 7, namespace, HEAP_STAT=tmp_path / "dumpheap-stat.txt", TOOLS="tools")


# --- Step 8: a clean stop ---


@pytest.fixture(scope="module")
def shell_form_image() -> str:
    """The lab's app with its shell-form ENTRYPOINT (the Dockerfile's `shell-form` stage, on aspnet)."""
    tag = names.image_tag(LAB_ID, "shell-form")
    flags = names.label_flags(LAB_ID)
    shell.run(f"docker build -q {flags} --target shell-form -t {tag} {LAB}", quiet=True, record=False)
    return tag


@docker
def test_stop_check_fails_when_a_shell_form_entrypoint_gets_the_signal(
    namespace: dict[str, Any], shell_form_image: str
) -> None:
    """The shell is PID 1 and ignores SIGTERM: docker stop waits its 10 s and kills (exit code 137)."""
    name = wrong_state.unique(LAB_ID, "shell-form")
    shell.run(f"docker run -d --name {name} {names.label_flags(LAB_ID)} -p 127.0.0.1::8080 {shell_form_image}",
              quiet=True, record=False)  # fmt: skip
    url = f"http://127.0.0.1:{namespace['lab'].host_port(name, 8080)}"
    web.wait_for_http(f"{url}/healthz")
    short = web.get_later(f"{url}/slow?seconds=3")
    with diagnostics.stop_events(name):
        shell.run(f"docker stop {name}", quiet=True, record=False)
    with pytest.raises(CheckFailed, match="SIGKILL, exit code 137"):
        check_cells.run_check(NOTEBOOK, 8, namespace, STOPPING=name, short=short)


# --- the challenge ---


def test_challenge_check_fails_when_the_report_was_only_echoed(namespace: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "app.gcdump").write_bytes(b"Nettrace")
    wrong_state.echoed("docker exec tools dotnet-gcdump report /tmp/app.gcdump | grep -i -E 'count|leaky'")
    with pytest.raises(CheckFailed, match=re.escape("dotnet-gcdump report /tmp/app.gcdump")):
        check_cells.run_check(NOTEBOOK, check_cells.OUTSIDE, namespace, OUT=tmp_path, TOOLS="tools")


@docker
def test_stop_check_fails_when_the_container_still_runs(namespace: dict[str, Any], app_container: str) -> None:
    with pytest.raises(CheckFailed, match=re.escape(f"it stops {app_container} with `docker stop`")):
        check_cells.run_check(NOTEBOOK, 8, namespace, STOPPING=app_container)
