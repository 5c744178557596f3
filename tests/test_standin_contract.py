"""The .NET images keep the contract of Microsoft's (facts: research/dotnet-images.md, sections 1 and 7).

Every image is pulled by its catalog name (mcr.microsoft.com/dotnet/...), so the same test checks
the offline world's stand-ins in CI and Microsoft's own images on a machine that reaches MCR:

    COURSE_OFFLINE_WORLD= /work/venv/bin/pytest tests/test_standin_contract.py

Facts that legitimately differ between the two (exact versions, Debian 12 vs Ubuntu 24.04,
PowerShell) are not compared with constants: versions are checked against what .NET inside the
image reports.
"""

import io
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from docker.errors import NotFound
from docker.models.containers import Container
from docker.models.images import Image

from labkit import catalog, image_info
from labkit.docker_access import client
from tests.helpers import LABELS

pytestmark = pytest.mark.docker

FULL = ("runtime-deps", "runtime", "aspnet", "sdk")
WITH_DOTNET = ("runtime", "aspnet", "sdk")
CHISELED = ("runtime-deps-chiseled", "aspnet-chiseled")
EVERY_ENV = {"APP_UID": "1654", "ASPNETCORE_HTTP_PORTS": "8080", "DOTNET_RUNNING_IN_CONTAINER": "true"}
SDK_ENV = {
    "DOTNET_GENERATE_ASPNET_CERTIFICATE": "false",
    "DOTNET_NOLOGO": "true",
    "DOTNET_USE_POLLING_FILE_WATCHER": "true",
    "NUGET_XMLDOC_MODE": "skip",
}
NEVER_SET = (
    "ASPNETCORE_URLS",
    "ASPNETCORE_HTTPS_PORTS",
    "DOTNET_ROOT",
    "DOTNET_CLI_TELEMETRY_OPTOUT",
    "DOTNET_ROLL_FORWARD",
)
NO_SHELL_OR_PACKAGE_MANAGER = ("/bin/sh", "/usr/bin/sh", "/usr/bin/dpkg", "/usr/bin/apt")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Pull = Callable[[str], Image]


@pytest.fixture(scope="module")
def pull() -> Pull:
    """pull(catalog key) -> the image, pulled by its name once per module."""
    pulled: dict[str, Image] = {}

    def get(key: str) -> Image:
        if key not in pulled:
            repository, tag = catalog.image(key).rsplit(":", 1)
            pulled[key] = client().images.pull(repository, tag=tag)
        return pulled[key]

    return get


def env(image: Image) -> dict[str, str]:
    return image_info.env(image.attrs)


def sh(key: str, script: str) -> str:
    """Output of `sh -c script` in a throwaway container of a full image, as its default user."""
    output = client().containers.run(
        catalog.image(key), ["sh", "-c", script], remove=True, network_mode="none", labels=LABELS
    )
    return bytes(output).decode().strip()


def dotnet(key: str, *arguments: str) -> str:
    """Output of the image's own `dotnet` (the chiseled images have it as their entrypoint)."""
    command = list(arguments) if key.endswith("-chiseled") else ["dotnet", *arguments]
    output = client().containers.run(catalog.image(key), command, remove=True, network_mode="none", labels=LABELS)
    return bytes(output).decode()


def runtime_versions(key: str) -> dict[str, str]:
    """{framework name: version} from `dotnet --list-runtimes` inside the image."""
    return {line.split()[0]: line.split()[1] for line in dotnet(key, "--list-runtimes").splitlines() if line.strip()}


@contextmanager
def created(key: str) -> Iterator[Container]:
    """A container that never starts: its files can be read even when the image has no shell."""
    # runtime-deps-chiseled has no entrypoint, and creating a container needs some command
    container = client().containers.create(catalog.image(key), ["never-run"], labels=LABELS, network_mode="none")
    try:
        yield container
    finally:
        container.remove(force=True)


def read_file(container: Container, path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        chunks, _ = container.get_archive(path)
    except NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.next()
        assert member is not None
        handle = tar.extractfile(member)
        return "" if handle is None else handle.read().decode()


@pytest.mark.parametrize("key", FULL + CHISELED)
def test_every_image_sets_the_three_runtime_deps_variables_and_no_others(pull: Pull, key: str) -> None:
    found = env(pull(key))
    assert {name: found.get(name) for name in EVERY_ENV} == EVERY_ENV
    assert [name for name in NEVER_SET if name in found] == []
    assert found.get("PATH", DEFAULT_PATH) == DEFAULT_PATH


@pytest.mark.parametrize("key", FULL)
def test_full_images_set_no_user_workdir_entrypoint_or_port(pull: Pull, key: str) -> None:
    config = pull(key).attrs["Config"]
    assert config.get("User") == ""
    assert not config.get("WorkingDir")
    assert not config.get("Entrypoint")
    assert not config.get("ExposedPorts")
    assert "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT" not in env(pull(key))
    assert sh(key, "id -u") == "0"


@pytest.mark.parametrize("key", FULL)
def test_full_images_have_the_app_user_and_group_1654(pull: Pull, key: str) -> None:
    pull(key)
    name, _, uid, gid, _, home, shell = sh(key, "getent passwd app").split(":")
    assert (name, uid, gid, home, shell) == ("app", "1654", "1654", "/home/app", "/bin/sh")
    assert sh(key, "getent group app").split(":")[2] == "1654"
    assert sh(key, "stat -c %u:%g /home/app") == "1654:1654"


@pytest.mark.parametrize("key", WITH_DOTNET)
def test_dotnet_lives_in_usr_share_dotnet_with_a_usr_bin_link(pull: Pull, key: str) -> None:
    pull(key)
    assert sh(key, "readlink /usr/bin/dotnet") == "/usr/share/dotnet/dotnet"
    assert sh(key, "command -v dotnet") == "/usr/bin/dotnet"


@pytest.mark.parametrize("key", (*WITH_DOTNET, "aspnet-chiseled"))
def test_version_variables_match_the_runtimes_inside(pull: Pull, key: str) -> None:
    found, runtimes = env(pull(key)), runtime_versions(key)
    assert found["DOTNET_VERSION"] == runtimes["Microsoft.NETCore.App"]
    if key != "runtime":
        assert found["ASPNET_VERSION"] == runtimes["Microsoft.AspNetCore.App"]
    else:
        assert "Microsoft.AspNetCore.App" not in runtimes


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("runtime-deps", "runtime"),
        ("runtime", "aspnet"),
        ("aspnet", "sdk"),
        ("runtime-deps-chiseled", "aspnet-chiseled"),
    ],
)
def test_each_image_is_built_on_the_one_below(pull: Pull, lower: str, upper: str) -> None:
    below, above = pull(lower).attrs["RootFS"]["Layers"], pull(upper).attrs["RootFS"]["Layers"]
    assert len(above) > len(below)
    assert above[: len(below)] == below


def test_sdk_sets_its_variables_and_reports_its_version(pull: Pull) -> None:
    found = env(pull("sdk"))
    assert {name: found.get(name) for name in SDK_ENV} == SDK_ENV
    assert found["DOTNET_SDK_VERSION"] == dotnet("sdk", "--version").strip()


def test_sdk_has_git_curl_wget_and_dnx(pull: Pull) -> None:
    pull("sdk")
    assert sh("sdk", "git --version").startswith("git version")
    assert sh("sdk", "command -v curl && command -v wget") == "/usr/bin/curl\n/usr/bin/wget"
    assert sh("sdk", "readlink /usr/bin/dnx") == "/usr/share/dotnet/dnx"


@pytest.mark.parametrize("key", ("runtime-deps", "runtime", "aspnet"))
def test_runtime_images_have_no_curl_or_wget(pull: Pull, key: str) -> None:
    pull(key)
    assert sh(key, "command -v curl; command -v wget; true") == ""


@pytest.mark.parametrize("key", CHISELED)
def test_chiseled_images_run_as_1654_without_shell_or_package_manager(pull: Pull, key: str) -> None:
    image = pull(key)
    assert image.attrs["Config"].get("User") == "1654"
    assert env(image).get("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT") == "true"
    with created(key) as container:
        assert [path for path in NO_SHELL_OR_PACKAGE_MANAGER if read_file(container, path) is not None] == []
        passwd = read_file(container, "/etc/passwd") or ""
    app = next(line for line in passwd.splitlines() if line.startswith("app:")).split(":")
    assert (app[2], app[3], app[5]) == ("1654", "1654", "/home/app")


def test_chiseled_aspnet_starts_dotnet_info_by_default(pull: Pull) -> None:
    config = pull("aspnet-chiseled").attrs["Config"]
    assert (config.get("Entrypoint"), config.get("Cmd")) == (["/usr/bin/dotnet"], ["--info"])
    assert not pull("runtime-deps-chiseled").attrs["Config"].get("Entrypoint")
