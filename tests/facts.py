"""Facts of Microsoft's .NET images that the stand-ins, the contract test and the book must agree on.

Source: the runtime-deps Dockerfiles of dotnet/dotnet-docker (see research/dotnet-images.md, 1.3).
"""

APP_USER = "app"
APP_UID = "1654"
HTTP_PORT = "8080"
EVERY_ENV = {"APP_UID": APP_UID, "ASPNETCORE_HTTP_PORTS": HTTP_PORT, "DOTNET_RUNNING_IN_CONTAINER": "true"}

# Tags MCR serves for the 10.0 Linux images on Ubuntu 24.04, amd64 (dotnet/dotnet-docker README.<repo>.md):
# {c} is the channel (10.0), {v} the patch version (the sdk's: its feature band version, 10.0.400).
CHANNEL = "10.0"
NOBLE_TAGS = ("{c}", "{v}", "latest", "{c}-noble", "{v}-noble", "{c}-noble-amd64", "{v}-noble-amd64")
NOBLE_VARIANTS = {
    "runtime-deps": ("chiseled", "chiseled-extra"),
    "runtime": ("chiseled", "chiseled-extra"),
    "aspnet": ("chiseled", "chiseled-extra", "chiseled-composite", "chiseled-composite-extra"),
    "sdk": ("aot",),
}
EXTRA_SDK_TAGS = ("{v}-aot", "{c}-aot")  # the sdk's AOT image also drops "noble"


def noble_tags(repo: str, version: str) -> set[str]:
    """Every 10.0 noble amd64 tag of dotnet/<repo>, for the version the image reports."""
    variants = [f"{{c}}-noble-{name}{arch}" for name in NOBLE_VARIANTS[repo] for arch in ("", "-amd64")]
    templates = [*NOBLE_TAGS, *variants, *(template.replace("{c}", "{v}") for template in variants)]
    templates += list(EXTRA_SDK_TAGS) if repo == "sdk" else []
    return {template.format(c=CHANNEL, v=version) for template in templates}


# The sdk image's PowerShell (src/sdk/10.0/noble/amd64/Dockerfile): a global tool in /usr/share/powershell
POWERSHELL_CHANNEL = "PSDocker-DotnetSDK-Ubuntu-24.04"
POWERSHELL_MAJOR = "7"

# What chisel leaves for scanners in a chiseled image: its manifest (jsonwall, zstd) and a dpkg record per
# package; the packages every chiseled image lists (Ubuntu's names end in t64 and carry gcc-14, Debian's not).
CHISEL_MANIFEST = "/var/lib/chisel/manifest.wall"
CHISELED_PACKAGES = (
    r"base-files",
    r"ca-certificates",
    r"gcc-\d+-base",
    r"libc6",
    r"libgcc-s1",
    r"libssl3(t64)?",
    r"libstdc\+\+6",
    r"openssl",
)
EXTRA_PACKAGES = (r"libicu\d+", r"tzdata")  # what -extra adds
