"""The .NET images keep the contract of Microsoft's (facts: research/dotnet-images.md, sections 1 and 7).

Every image is pulled by its catalog name (mcr.microsoft.com/dotnet/...), so the same test checks
the offline world's stand-ins in CI and Microsoft's own images on a machine that reaches MCR:

    COURSE_OFFLINE_WORLD= /work/venv/bin/pytest tests/offline_world/test_standin_contract.py

Facts that legitimately differ between the two (exact versions, Debian 12 vs Ubuntu 24.04 package
names) are not compared with constants: versions are checked against what .NET inside the image
reports, package names by pattern. The tag lists come from the registry the catalog names: the
world's in CI, Microsoft's when online, so the same test checks upstream's tag list.
"""

import ctypes
import ctypes.util
import json
import os
import re
from collections.abc import Callable

import pytest
from docker.models.images import Image

from labkit import catalog
from labkit.docker_access import client
from labkit.engine import image_info
from labkit.tools.maintain import tags
from offline_world.machine import MCR, SWITCH
from offline_world.registry import TLS_DIR
from tests.facts import (
    CHANNEL,
    CHISEL_MANIFEST,
    CHISELED_PACKAGES,
    EVERY_ENV,
    EXTRA_PACKAGES,
    NOBLE_VARIANTS,
    POWERSHELL_CHANNEL,
    POWERSHELL_MAJOR,
    noble_tags,
)
from tests.helpers import created, output_of, read_bytes, read_file

pytestmark = pytest.mark.docker

FULL = ("runtime-deps", "runtime", "aspnet", "sdk")
WITH_DOTNET = ("runtime", "aspnet", "sdk")
CHISELED = ("runtime-deps-chiseled", "aspnet-chiseled")
SDK_ENV = {
    "DOTNET_GENERATE_ASPNET_CERTIFICATE": "false",
    "DOTNET_NOLOGO": "true",
    "DOTNET_USE_POLLING_FILE_WATCHER": "true",
    "NUGET_XMLDOC_MODE": "skip",
    "POWERSHELL_DISTRIBUTION_CHANNEL": POWERSHELL_CHANNEL,
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
CHISELED_VARIANTS = [
    f"{MCR}/dotnet/{repo}:{CHANNEL}-noble-{variant}"
    for variant in ("chiseled", "chiseled-extra")
    for repo in ("runtime-deps", "runtime", "aspnet")
]
Pull = Callable[[str], Image]


@pytest.fixture(scope="module")
def pull() -> Pull:
    """pull(catalog key) -> the image, pulled by its name once per module."""
    pulled: dict[str, Image] = {}

    def get(key: str) -> Image:
        """`key` is a catalog key or a full image reference."""
        if key not in pulled:
            repository, tag = (key if ":" in key else catalog.image(key)).rsplit(":", 1)
            pulled[key] = client().images.pull(repository, tag=tag)
        return pulled[key]

    return get


def env(image: Image) -> dict[str, str]:
    return image_info.env(image.attrs)


def sh(key: str, script: str) -> str:
    """Output of `sh -c script` in a throwaway container of a full image, as its default user."""
    return output_of(catalog.image(key), ["sh", "-c", script]).strip()


def dotnet(key: str, *arguments: str) -> str:
    """Output of the image's own `dotnet` (the chiseled images have it as their entrypoint)."""
    command = list(arguments) if key.endswith("-chiseled") else ["dotnet", *arguments]
    return output_of(catalog.image(key), command)


def runtime_versions(key: str) -> dict[str, str]:
    """{framework name: version} from `dotnet --list-runtimes` inside the image."""
    return {line.split()[0]: line.split()[1] for line in dotnet(key, "--list-runtimes").splitlines() if line.strip()}


class _ZstdBuffer(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("size", ctypes.c_size_t), ("pos", ctypes.c_size_t)]


def unzstd(data: bytes) -> bytes:
    """zstd decompression by the system's libzstd (dpkg itself needs it): Python 3.11 has no zstd."""
    lib = ctypes.CDLL(ctypes.util.find_library("zstd") or "libzstd.so.1")
    lib.ZSTD_createDStream.restype = ctypes.c_void_p
    lib.ZSTD_freeDStream.argtypes = [ctypes.c_void_p]
    lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
    lib.ZSTD_decompressStream.restype = ctypes.c_size_t
    lib.ZSTD_decompressStream.argtypes = [ctypes.c_void_p, ctypes.POINTER(_ZstdBuffer), ctypes.POINTER(_ZstdBuffer)]
    source, chunk = ctypes.create_string_buffer(data, len(data)), ctypes.create_string_buffer(1 << 16)
    given = _ZstdBuffer(ctypes.cast(source, ctypes.c_void_p), len(data), 0)
    stream, found = lib.ZSTD_createDStream(), bytearray()
    try:
        while True:
            out = _ZstdBuffer(ctypes.cast(chunk, ctypes.c_void_p), len(chunk), 0)
            left = lib.ZSTD_decompressStream(stream, ctypes.byref(out), ctypes.byref(given))
            assert not lib.ZSTD_isError(left), "not zstd-compressed data"
            found += chunk.raw[: out.pos]
            if left == 0 or (given.pos == given.size and out.pos < out.size):
                return bytes(found)
    finally:
        lib.ZSTD_freeDStream(stream)


def served_tags(repo: str, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The tags the registry lists for dotnet/<repo> (the offline world's is trusted through its CA)."""
    if os.environ.get(SWITCH) == "1":
        monkeypatch.setenv("SSL_CERT_FILE", str(TLS_DIR / "ca.crt"))
    return set(tags.published_tags(f"{MCR}/dotnet/{repo}:{CHANNEL}"))


def tag_version(pull: Pull, repo: str) -> str:
    """The version in the repository's versioned tags, as the images report it."""
    return env(pull("sdk"))["DOTNET_SDK_VERSION"] if repo == "sdk" else env(pull("runtime"))["DOTNET_VERSION"]


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


@pytest.mark.parametrize("repo", sorted(NOBLE_VARIANTS))
def test_every_10_0_noble_amd64_tag_is_served(pull: Pull, repo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = noble_tags(repo, tag_version(pull, repo))
    assert sorted(expected - served_tags(repo, monkeypatch)) == []


def test_the_catalog_names_only_these_tags(pull: Pull) -> None:
    named = [image.ref.removeprefix(f"{MCR}/dotnet/").split(":") for image in catalog.images()]
    dotnet = [(repo, tag) for repo, tag in (ref for ref in named if len(ref) == 2) if repo in NOBLE_VARIANTS]
    assert dotnet
    assert [(repo, tag) for repo, tag in dotnet if tag not in noble_tags(repo, tag_version(pull, repo))] == []


@pytest.mark.parametrize("repo", FULL)
def test_noble_and_architecture_tags_are_the_channel_image(pull: Pull, repo: str) -> None:
    same = {tag: pull(f"{MCR}/dotnet/{repo}:{tag}").id for tag in (f"{CHANNEL}-noble", f"{CHANNEL}-noble-amd64")}
    assert same == dict.fromkeys(same, pull(repo).id)


def test_sdk_has_powershell_as_a_global_tool(pull: Pull) -> None:
    pull("sdk")
    assert re.fullmatch(rf"PowerShell {POWERSHELL_MAJOR}\.\d+\.\d+", sh("sdk", "pwsh --version"))
    assert sh("sdk", "readlink /usr/bin/pwsh") == "/usr/share/powershell/pwsh"
    assert sh("sdk", "find /usr/share/powershell -iname '*.nupkg'") == ""


def test_the_aot_sdk_has_the_native_toolchain(pull: Pull) -> None:
    aot = f"{MCR}/dotnet/sdk:{CHANNEL}-noble-aot"
    below = pull("sdk").attrs["RootFS"]["Layers"]
    assert pull(aot).attrs["RootFS"]["Layers"][: len(below)] == below
    script = "command -v clang && test -f /usr/include/zlib.h && echo zlib"
    assert output_of(aot, ["sh", "-c", script]).split() == ["/usr/bin/clang", "zlib"]
    # A Native AOT publish splits the debug symbols into a .dbg file with the llvm-objcopy beside
    # clang (llvm's own folder); Lab 14's Dockerfile removes that file.
    beside_clang = 'test -x "$(dirname "$(readlink -f "$(command -v clang)")")/llvm-objcopy" && echo objcopy'
    assert output_of(aot, ["sh", "-c", beside_clang]).split() == ["objcopy"]


@pytest.mark.parametrize("ref", CHISELED_VARIANTS)
def test_chiseled_images_carry_the_chisel_manifest_and_package_records(pull: Pull, ref: str) -> None:
    extra = ref.endswith("-extra")
    assert ("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT" in env(pull(ref))) is not extra
    with created(ref) as container:
        wall = read_bytes(container, CHISEL_MANIFEST)
        assert wall is not None, f"{ref} has no {CHISEL_MANIFEST}"
        records = read_file(container, "/var/lib/dpkg/status")
    assert records is not None, f"{ref} has no /var/lib/dpkg/status (chisel-wrapper --generate-dpkg-status writes it)"
    lines = unzstd(wall).decode().splitlines()
    header, entries = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert (header["jsonwall"], header["schema"], header["count"]) == ("1.0", "1.0", len(lines))
    assert lines[1:] == sorted(lines[1:])
    packages = {entry["name"] for entry in entries if entry["kind"] == "package"}
    wanted = CHISELED_PACKAGES + (EXTRA_PACKAGES if extra else ())
    assert [name for name in wanted if not any(re.fullmatch(name, package) for package in packages)] == []
    recorded = set(re.findall(r"^Package: (\S+)$", records, re.MULTILINE))
    assert sorted(packages - recorded) == []
    contents = {(entry["slice"], entry["path"]) for entry in entries if entry["kind"] == "content"}
    paths = [entry for entry in entries if entry["kind"] == "path"]
    assert {(sliced, entry["path"]) for entry in paths for sliced in entry["slices"]} == contents
