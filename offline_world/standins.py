"""The stand-in images: which ones, what they are made of (the recipe hash), building and pushing them.

To serve another tag, add it to the image's tags in `standins`; the recipe hash covers the list,
so the next `up` rebuilds and pushes.
"""

import contextlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labkit.errors import CommandFailed
from offline_world.engine import docker, find_image
from offline_world.machine import CACHE, LABEL, MCR, RECIPE, recipe_digest, say
from offline_world.preflight import DotnetInstall
from offline_world.registry import PUSH_HOST, REGISTRY_BINARY, served_config_digest

RECIPE_LABEL = "org.containerizing-dotnet.offline.recipe"


@dataclass(frozen=True)
class Standin:
    """One image: its recipe folder, its names, and what its build context holds.

    Its repr is part of the recipe hash: renaming the class or a field rebuilds every stand-in."""

    repo: str  # as the registry serves it: dotnet/sdk, library/registry
    tags: tuple[str, ...]
    recipe: str
    args: dict[str, str]
    payload: tuple[tuple[Path, str], ...] = ()  # (file or folder on this machine, path in the context)
    links: dict[str, str] = field(default_factory=dict)  # symlinks to make in the context

    @property
    def local(self) -> str:
        """The name `docker image ls` shows (Docker Hub's official images drop `library/`)."""
        return self.repo.removeprefix("library/") if self.repo.startswith("library/") else f"{MCR}/{self.repo}"

    def ref(self, tag: str | None = None) -> str:
        return f"{self.local}:{tag or self.tags[0]}"


def standins(dotnet: DotnetInstall, base: str, registry_version: str) -> list[Standin]:
    """Every image, bottom up: each one is built FROM an earlier one."""
    root, version, channel = dotnet.root, dotnet.runtime, dotnet_tag(dotnet.runtime)
    full, chiseled = (channel, version, "latest"), (f"{channel}-noble-chiseled", f"{version}-noble-chiseled")
    runtime = ["dotnet", "host", f"shared/Microsoft.NETCore.App/{version}", "LICENSE.txt", "ThirdPartyNotices.txt"]
    aspnet = [f"shared/Microsoft.AspNetCore.App/{version}"]
    sdk = ["dnx", "packs", f"sdk/{dotnet.sdk}", "sdk-manifests", "templates", "LICENSE.txt", "ThirdPartyNotices.txt"]

    def files(names: list[str]) -> tuple[tuple[Path, str], ...]:
        return tuple((root / name, f"dotnet/{name}") for name in names if (root / name).exists())

    def on(repo: str, tag: str) -> dict[str, str]:
        return {"REPO": f"{MCR}/dotnet/{repo}", "TAG": tag}

    return [
        Standin("dotnet/runtime-deps", full, "runtime-deps", {"BASE_IMAGE": base}),
        Standin(
            "dotnet/runtime",
            full,
            "runtime",
            {**on("runtime-deps", version), "DOTNET_VERSION": version},
            files(runtime),
        ),
        Standin("dotnet/aspnet", full, "aspnet", {**on("runtime", version), "ASPNET_VERSION": version}, files(aspnet)),
        Standin(
            "dotnet/sdk",
            (channel, dotnet.sdk, "latest"),
            "sdk",
            {**on("aspnet", version), "DOTNET_SDK_VERSION": dotnet.sdk},
            files(sdk),
        ),
        Standin("dotnet/runtime-deps", chiseled, "runtime-deps-chiseled", {"BASE_IMAGE": base}),
        Standin(
            "dotnet/runtime",
            chiseled,
            "runtime-chiseled",
            {**on("runtime-deps", chiseled[1]), "DOTNET_VERSION": version},
            files(runtime),
            {"bin/dotnet": "/usr/share/dotnet/dotnet"},
        ),
        Standin(
            "dotnet/aspnet",
            chiseled,
            "aspnet",
            {**on("runtime", chiseled[1]), "ASPNET_VERSION": version},
            files(aspnet),
        ),
        Standin(
            "library/registry",
            registry_tags(registry_version),
            "registry",
            {"BASE_IMAGE": base},
            ((Path(REGISTRY_BINARY), "docker-registry"),),
        ),
    ]


def dotnet_tag(version: str) -> str:
    """The channel tag of a version: 10.0.12 -> 10.0."""
    return ".".join(version.split(".")[:2])


def registry_tags(version: str) -> tuple[str, ...]:
    major, minor = version.split(".")[:2]
    return (major, f"{major}.{minor}", version)


def recipe_hash(images: Sequence[Standin], base: str) -> str:
    """What the stand-ins are made of (recipe files, versions, tags, payload, base image id):
    a change in any of these rebuilds them."""
    files = [path for path in RECIPE.rglob("*") if path.is_file()]
    return recipe_digest(files, base, *(repr(standin) for standin in images))


def build(standin: Standin, recipe: str) -> tuple[str, str | None]:
    """Build `standin` unless its first tag already carries this recipe hash, and tag it.

    Returns its id, and the id of the image it replaced (if it was rebuilt)."""
    image = find_image(standin.ref())
    replaced = None
    if image is None or image.labels.get(RECIPE_LABEL) != recipe:
        replaced = None if image is None else str(image.id)
        context = _stage(standin)
        say(f"building {standin.ref()}")
        # host network: apt reaches the archive as the host does (checked in preflight), NAT or not
        command = ["build", "--network", "host", "--progress=plain"]
        command += ["--label", f"{LABEL}=standin", "--label", f"{RECIPE_LABEL}={recipe}"]
        for key, value in standin.args.items():
            command += ["--build-arg", f"{key}={value}"]
        for tag in standin.tags:
            command += ["-t", standin.ref(tag)]
        docker([*command, str(context)], timeout=1800)
        shutil.rmtree(context)
        image = find_image(standin.ref())
    assert image is not None
    for tag in standin.tags[1:]:
        image.tag(standin.local, tag)
    return str(image.id), replaced


def remove_if_untagged(image_id: str) -> None:
    """Drop a stand-in this setup built before, once no tag names it; kept while images use it."""
    image = find_image(image_id)
    if image is not None and not image.tags:
        with contextlib.suppress(CommandFailed):
            docker(["rmi", image_id], quiet=True)


def _stage(standin: Standin) -> Path:
    """The build context under CACHE: the recipe files plus hard links to the machine's .NET files."""
    context = CACHE / "context" / f"{standin.recipe}-{standin.tags[0]}"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(RECIPE / standin.recipe, context, symlinks=True)
    for source, target in standin.payload:
        destination = context / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(source), str(destination))
    for target, points_to in standin.links.items():
        (context / target).parent.mkdir(parents=True, exist_ok=True)
        (context / target).symlink_to(points_to)
    return context


def _link_or_copy(source: str, destination: str) -> str:
    """A hard link (the SDK's files are not copied for every build), a copy across file systems."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
    return destination


def push(standin: Standin, image_id: str) -> None:
    """Put every tag of `standin` in the registry, unless it already serves exactly this image.

    Pushed as localhost/<repo> (the same registry and storage): `docker push` of a Docker Hub name
    would go to the real Hub, and this way the hosts entries come last, once everything is served."""
    if all(served_config_digest(standin.repo, tag) == image_id for tag in standin.tags):
        return
    staging = f"{PUSH_HOST}/{standin.repo}"
    for tag in standin.tags:
        docker(["tag", image_id, f"{staging}:{tag}"], quiet=True)
    try:
        docker(["push", "--all-tags", staging], quiet=True, timeout=1800)
    finally:
        docker(["rmi", *(f"{staging}:{tag}" for tag in standin.tags)], quiet=True)
