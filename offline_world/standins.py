"""The stand-in images: which ones, what they are made of (the recipe hash), building and pushing them.

To serve another tag, add it to the image's tags in `standins`; the recipe hash covers the list,
so the next `up` rebuilds and pushes.
"""

import contextlib
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from labkit.errors import CommandFailed, LabError
from offline_world.engine import docker, find_image
from offline_world.machine import CACHE, DOCKER_HUB, GHCR, LABEL, MCR, RECIPE, recipe_digest, run, say
from offline_world.preflight import DotnetInstall
from offline_world.registry import PUSH_HOST, REGISTRY_BINARY, served_ids

RECIPE_LABEL = "org.containerizing-dotnet.offline.recipe"
ABOUT_LABEL = "org.containerizing-dotnet.offline.about"  # what the image is, for anyone inspecting it
POWERSHELL = "7.6.9"  # the PowerShell global tool in the sdk image: the NuGet feed serves this one
# Docker Hub's docker/dockerfile tags that BuildKit 0.13's Dockerfile frontend (Debian's docker.io 26) answers to
DOCKERFILE_FRONTEND = ("1", "1.7", "latest")
EXTRA_CA = Path("/usr/local/share/ca-certificates")
BUILDS_AT_ONCE = 3  # stand-in builds side by side: most of a build waits on the archive, the disk or the engine
# The release tools of lab 11, on ghcr.io: recipe name -> (repository, Debian package, build argument)
TOOLS = {
    "cosign": ("sigstore/cosign/cosign", "cosign", "COSIGN_VERSION"),
    "oras": ("oras-project/oras", "oras", "ORAS_VERSION"),
}  # where Debian's update-ca-certificates takes local CAs


@dataclass(frozen=True)
class Standin:
    """One image: its recipe folder, its names, and what its build context holds.

    Its repr is part of the recipe hash: renaming the class or a field rebuilds every stand-in."""

    repo: str  # as the registry serves it: dotnet/sdk, library/registry, sigstore/cosign/cosign
    tags: tuple[str, ...]
    recipe: str
    args: dict[str, str]
    payload: tuple[tuple[Path, str], ...] = ()  # (file or folder on this machine, path in the context)
    links: dict[str, str] = field(default_factory=dict)  # symlinks to make in the context
    target: str = ""  # the Dockerfile stage to build, when not the last one
    note: str = ""  # how it differs from the image it stands in for, beyond "not the publisher's build"
    host: str = DOCKER_HUB  # the registry that publishes it: MCR for dotnet/*, GHCR, or Docker Hub

    @property
    def local(self) -> str:
        """The name `docker image ls` shows (Docker Hub's official images drop `library/`)."""
        return self.repo.removeprefix("library/") if self.host == DOCKER_HUB else f"{self.host}/{self.repo}"

    def ref(self, tag: str | None = None) -> str:
        return f"{self.local}:{tag or self.tags[0]}"


@dataclass(frozen=True)
class Archive:
    """A Debian base image, and the version its archive has of each package a stand-in installs from it."""

    base: str
    versions: dict[str, str]


def standins(dotnet: DotnetInstall, base: str, registry_version: str, newer: Archive) -> list[Standin]:
    """Every image, bottom up: each one is built FROM an earlier one.

    `newer` is the Debian release (trixie) whose packages serve postgres, cosign and oras."""
    root, version, channel = dotnet.root, dotnet.runtime, dotnet_tag(dotnet.runtime)
    full, chiseled, extra = (noble_tags(channel, version, variant) for variant in ("", "chiseled", "chiseled-extra"))
    aot = (*noble_tags(channel, dotnet.sdk, "aot"), f"{dotnet.sdk}-aot", f"{channel}-aot")
    powershell = nuget_package(dotnet, "PowerShell", POWERSHELL)
    runtime = ["dotnet", "host", f"shared/Microsoft.NETCore.App/{version}", "LICENSE.txt", "ThirdPartyNotices.txt"]
    aspnet = [f"shared/Microsoft.AspNetCore.App/{version}"]
    sdk = ["dnx", "packs", f"sdk/{dotnet.sdk}", "sdk-manifests", "templates", "LICENSE.txt", "ThirdPartyNotices.txt"]

    def files(names: list[str]) -> tuple[tuple[Path, str], ...]:
        return tuple((root / name, f"dotnet/{name}") for name in names if (root / name).exists())

    mcr = partial(Standin, host=MCR)

    def on(repo: str, tag: str) -> dict[str, str]:
        return {"REPO": f"{MCR}/dotnet/{repo}", "TAG": tag}

    def chiseled_stack(tags: tuple[str, ...], variant: str, packages: str = "") -> list[Standin]:
        """runtime-deps, runtime and aspnet of one chiseled variant; aspnet also answers to -composite."""
        composite = variant.replace("chiseled", "chiseled-composite")
        deps = {"BASE_IMAGE": base, "EXTRA_PACKAGES": packages}
        return [
            mcr("dotnet/runtime-deps", tags, "runtime-deps-chiseled", deps, target=variant),
            mcr(
                "dotnet/runtime",
                tags,
                "runtime-chiseled",
                {**on("runtime-deps", tags[1]), "DOTNET_VERSION": version},
                files(runtime),
                {"bin/dotnet": "/usr/share/dotnet/dotnet"},
            ),
            mcr(
                "dotnet/aspnet",
                (*tags, *noble_tags(channel, version, composite)),
                "aspnet",
                {**on("runtime", tags[1]), "ASPNET_VERSION": version},
                files(aspnet),
                note=f"also served as -noble-{composite}: the same image, its framework not compiled composite",
            ),
        ]

    return [
        mcr("dotnet/runtime-deps", full, "runtime-deps", {"BASE_IMAGE": base}, extra_ca()),
        mcr(
            "dotnet/runtime",
            full,
            "runtime",
            {**on("runtime-deps", version), "DOTNET_VERSION": version},
            files(runtime),
        ),
        mcr("dotnet/aspnet", full, "aspnet", {**on("runtime", version), "ASPNET_VERSION": version}, files(aspnet)),
        mcr(
            "dotnet/sdk",
            noble_tags(channel, dotnet.sdk),
            "sdk",
            {**on("aspnet", version), "DOTNET_SDK_VERSION": dotnet.sdk, "POWERSHELL_VERSION": POWERSHELL},
            (*files(sdk), (powershell, f"nupkg/{powershell.name}")),
        ),
        mcr("dotnet/sdk", aot, "sdk-aot", on("sdk", dotnet.sdk), note="Debian 12's clang 14 and llvm 14"),
        *chiseled_stack(chiseled, "chiseled"),
        *chiseled_stack(extra, "chiseled-extra", "libicu72 tzdata"),
        Standin(
            "library/registry",
            registry_tags(registry_version),
            "registry",
            {"BASE_IMAGE": base},
            ((Path(REGISTRY_BINARY), "docker-registry"),),
        ),
        Standin(
            "library/postgres",
            postgres_tags(newer.versions["postgresql-17"]),
            "postgres",
            {"BASE_IMAGE": newer.base, "PG_VERSION": newer.versions["postgresql-17"]},
        ),
        Standin(
            "docker/dockerfile",
            DOCKERFILE_FRONTEND,
            "dockerfile-frontend",
            {"BASE_IMAGE": base},
            note="BuildKit 0.13's frontend from the source of Debian's docker.io, built with Debian's Go",
        ),
        *(tool(newer, name) for name in TOOLS),
    ]


def tool(newer: Archive, name: str) -> Standin:
    """A release tool's image on ghcr.io, from Debian's package of the same release (TOOLS)."""
    repo, package, argument = TOOLS[name]
    version = newer.versions[package]
    args = {"BASE_IMAGE": newer.base, argument: version}
    return Standin(repo, (release_tag(version),), name, args, host=GHCR, note=f"Debian's {package} {version}")


def release_tag(package_version: str) -> str:
    """The tag a Go tool's project publishes for a Debian package version: 2.5.0-2+b5 -> v2.5.0."""
    return "v" + package_version.split("-")[0]


def noble_tags(channel: str, version: str, variant: str = "") -> tuple[str, ...]:
    """MCR's tags of one amd64 Ubuntu 24.04 image (dotnet/dotnet-docker's README.<repo>.md), channel
    first: 10.0-noble-chiseled, 10.0.12-noble-chiseled and both with -amd64; the default image
    (no variant) also answers to 10.0, 10.0.12 and latest."""
    suffix = f"-noble-{variant}" if variant else "-noble"
    named = (f"{channel}{suffix}", f"{version}{suffix}")
    plain = () if variant else (channel, version, "latest")
    return (*plain, *named, *(f"{tag}-amd64" for tag in named))


def nuget_package(dotnet: DotnetInstall, package: str, version: str) -> Path:
    """A .nupkg from the machine's NuGet feed, fetched once by the machine's dotnet into CACHE
    (a build container would not trust a TLS-inspecting proxy the machine trusts)."""
    folder = CACHE / "nuget"
    nupkg = folder / package.lower() / version / f"{package.lower()}.{version}.nupkg"
    if not nupkg.exists():
        say(f"fetching {package} {version} from the machine's NuGet feed")
        folder.mkdir(parents=True, exist_ok=True)
        download = [str(dotnet.root / "dotnet"), "package", "download", f"{package}@{version}", "--output", str(folder)]
        run(download, cwd=folder, timeout=600, quiet=True)
    return nupkg


def extra_ca(folder: Path = EXTRA_CA) -> tuple[tuple[Path, str], ...]:
    """The machine's extra CA certificates, for the stand-in base to trust (recipe/runtime-deps)."""
    return tuple((path, f"extra-ca/{path.name}") for path in sorted(folder.rglob("*.crt")))


def postgres_tags(package_version: str) -> tuple[str, ...]:
    """Docker Hub's tags for a Debian postgresql-17 version: 17.12-0+deb13u1 -> 17, 17.12."""
    version = package_version.split("-")[0]
    return (version.split(".")[0], version)


def archive(base: str) -> Archive:
    """The versions the archive of `base` (a Debian image) has now of the packages it serves stand-ins."""
    packages = ["postgresql-17", *(package for _, package, _ in TOOLS.values())]
    script = f"apt-get update -qq >/dev/null && apt-cache show --no-all-versions {' '.join(packages)}"
    found = docker(["run", "--rm", "--network", "host", base, "sh", "-c", script], quiet=True, timeout=300)
    versions: dict[str, str] = {}
    for record in found.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in record.splitlines() if ": " in line and line[0] != " ")
        if "Package" in fields and "Version" in fields:
            versions.setdefault(fields["Package"], fields["Version"])
    missing = [package for package in packages if package not in versions]
    if missing:
        raise LabError(f"The Debian archive of {base} has no {', '.join(missing)} package: check its apt sources.")
    return Archive(base, versions)


def dotnet_tag(version: str) -> str:
    """The channel tag of a version: 10.0.12 -> 10.0."""
    return ".".join(version.split(".")[:2])


def registry_tags(version: str) -> tuple[str, ...]:
    major, minor = version.split(".")[:2]
    return (major, f"{major}.{minor}", version)


def parent(standin: Standin, images: Sequence[Standin]) -> Standin | None:
    """The stand-in `standin` is built FROM (its REPO and TAG build arguments); None: FROM a Debian base."""
    if "REPO" not in standin.args:
        return None
    wanted = f"{standin.args['REPO']}:{standin.args['TAG']}"
    return next(image for image in images if wanted in (image.ref(tag) for tag in image.tags))


def recipe_hashes(images: Sequence[Standin], bases: str) -> list[str]:
    """What each stand-in is made of: its recipe folder, its tags, arguments and payload, the Debian
    bases' ids, the machine's extra CAs, and the hash of the stand-in below it. A change rebuilds that
    image and those built FROM it, and no other."""
    trusted = [path.read_text(errors="replace") for path, _ in extra_ca()]  # a renewed CA rebuilds too
    hashes: dict[str, str] = {}
    for standin in images:  # bottom up: the image below comes first
        below = parent(standin, images)
        files = [path for path in (RECIPE / standin.recipe).rglob("*") if path.is_file()]
        below_hash = "" if below is None else hashes[below.ref()]
        hashes[standin.ref()] = recipe_digest(files, bases, repr(standin), below_hash, *trusted)
    return [hashes[standin.ref()] for standin in images]


def build_all(images: Sequence[Standin], recipes: Sequence[str]) -> list[tuple[Standin, str, str | None]]:
    """`build` every stand-in, BUILDS_AT_ONCE at a time, each as soon as the one below it is built: on a
    bare machine the Dockerfile frontend's Go build, postgres's and the tools' apt installs and the .NET
    stack overlap instead of queueing. Returns (stand-in, its id, the id it replaced) in `images` order."""
    above: dict[int, list[int]] = {index: [] for index in range(len(images))}
    roots: list[int] = []
    for index, standin in enumerate(images):
        below = parent(standin, images)
        (roots if below is None else above[images.index(below)]).append(index)
    done: dict[int, tuple[str, str | None]] = {}
    with ThreadPoolExecutor(BUILDS_AT_ONCE) as pool:
        pending = {pool.submit(build, images[index], recipes[index]): index for index in roots}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                index = pending.pop(future)
                try:
                    done[index] = future.result()
                except BaseException:
                    pool.shutdown(cancel_futures=True)
                    raise
                pending |= {pool.submit(build, images[child], recipes[child]): child for child in above[index]}
    return [(standin, *done[index]) for index, standin in enumerate(images)]


def build(standin: Standin, recipe: str) -> tuple[str, str | None]:
    """Build `standin` unless its first tag already carries this recipe hash, and tag it.

    Returns its id, and the id of the image it replaced (if it was rebuilt)."""
    image = find_image(standin.ref())
    replaced = None
    if image is None or image.labels.get(RECIPE_LABEL) != recipe:
        replaced = None if image is None else str(image.id)
        context = _stage(standin)
        say(f"building {standin.ref()}")
        started = time.monotonic()
        # host network: apt reaches the archive as the host does (checked in preflight), NAT or not
        command = ["build", "--network", "host", "--progress=plain"]
        command += ["--label", f"{LABEL}=standin", "--label", f"{RECIPE_LABEL}={recipe}"]
        command += ["--label", f"{ABOUT_LABEL}={about(standin)}"]
        command += ["--target", standin.target] if standin.target else []
        for key, value in standin.args.items():
            command += ["--build-arg", f"{key}={value}"]
        for tag in standin.tags:
            command += ["-t", standin.ref(tag)]
        docker([*command, str(context)], quiet=True, timeout=1800)  # builds run side by side: a failure shows its tail
        shutil.rmtree(context)
        say(f"built {standin.ref()} in {time.monotonic() - started:.0f} s")
        image = find_image(standin.ref())
    assert image is not None
    for tag in standin.tags[1:]:
        image.tag(standin.local, tag)
    return str(image.id), replaced


def about(standin: Standin) -> str:
    """The image's own account of what it is."""
    made = f"built on Debian from offline_world/recipe/{standin.recipe}; not the publisher's"
    return f"a stand-in for {standin.ref()} {made}" + (f"; {standin.note}" if standin.note else "")


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
    if all(image_id in served_ids(standin.repo, tag) for tag in standin.tags):
        return
    staging = f"{PUSH_HOST}/{standin.repo}"
    say(f"pushing {standin.ref()} ({len(standin.tags)} tags)")
    for tag in standin.tags:
        docker(["tag", image_id, f"{staging}:{tag}"], quiet=True)
    try:
        docker(["push", "--all-tags", staging], quiet=True, timeout=1800)
    finally:
        docker(["rmi", *(f"{staging}:{tag}" for tag in standin.tags)], quiet=True)
