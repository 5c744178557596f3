"""An image's software bill of materials (SBOM) as CycloneDX JSON: the app's NuGet packages, as the
CycloneDX .NET tool lists them, and the image's OS packages, as its dpkg records list them.

The OS packages are what Trivy and Syft read: `/var/lib/dpkg/status`, and in a distroless or
chiseled image one record per package in `/var/lib/dpkg/status.d/`. Each becomes a component with a
package URL (purl, `pkg:deb/ubuntu/libc6@2.39-0ubuntu8?arch=amd64&distro=ubuntu-24.04`), the name
a vulnerability database matches on. Written with the standard library, no SBOM tool needed.
"""

import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from labkit.engine import image_files

MEDIA_TYPE = "application/vnd.cyclonedx+json"  # the artifact type of an attached CycloneDX JSON SBOM
DPKG_RECORDS = ("/var/lib/dpkg/status", "/var/lib/dpkg/status.d")
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$")


@dataclass(frozen=True)
class Package:
    """One installed OS package, as its dpkg record names it."""

    name: str
    version: str
    architecture: str

    def purl(self, distro_id: str, distro_version: str) -> str:
        qualifiers = f"arch={self.architecture}&distro={distro_id}-{distro_version}"
        return f"pkg:deb/{distro_id}/{quote(self.name)}@{quote(self.version)}?{qualifiers}"


def records(text: str) -> list[dict[str, str]]:
    """The paragraphs of a dpkg status file (RFC 822 style: `Field: value`, blank lines between)."""
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        field = _FIELD.match(line)
        if not line.strip():
            if current:
                found.append(current)
            current = {}
        elif field and not line[0].isspace():
            current[field[1]] = field[2].strip()
    if current:
        found.append(current)
    return found


def os_packages(ref: str) -> list[Package]:
    """The installed packages the image's dpkg records name, sorted by name (none: no dpkg records)."""
    found: dict[str, Package] = {}
    for where in DPKG_RECORDS:
        for content in image_files.read_files(ref, where).values():
            for record in records(content.decode("utf-8", "replace")):
                if "Package" in record and "installed" in record.get("Status", "installed"):
                    package = Package(record["Package"], record.get("Version", ""), record.get("Architecture", ""))
                    found[package.name] = package
    return sorted(found.values(), key=lambda package: package.name)


def distro(ref: str) -> tuple[str, str]:
    """(ID, VERSION_ID) from the image's os-release, e.g. ("ubuntu", "24.04"); ("unknown", "") without one."""
    for path in OS_RELEASE:
        content = image_files.read_files(ref, path).get(path)
        if content is not None:
            pairs = dict(line.split("=", 1) for line in content.decode("utf-8", "replace").splitlines() if "=" in line)
            return pairs.get("ID", "unknown").strip('"'), pairs.get("VERSION_ID", "").strip('"')
    return "unknown", ""


def os_components(ref: str) -> list[dict[str, Any]]:
    """The image's OS packages as CycloneDX components."""
    distro_id, distro_version = distro(ref)
    return [
        {
            "type": "library",
            "bom-ref": package.purl(distro_id, distro_version),
            "name": package.name,
            "version": package.version,
            "purl": package.purl(distro_id, distro_version),
        }
        for package in os_packages(ref)
    ]


def image_sbom(app_sbom: Path, ref: str, image: str) -> dict[str, Any]:
    """One CycloneDX document for the image: the app's SBOM (the CycloneDX .NET tool's JSON) with the
    image's OS packages added; `image` (a name@digest) becomes the document's subject."""
    document: dict[str, Any] = json.loads(app_sbom.read_text())
    app = document.get("metadata", {}).get("component")
    metadata = {
        **document.get("metadata", {}),
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "component": {"type": "container", "bom-ref": image, "name": image.split("@")[0], "version": image},
    }
    app_components = document.get("components") or []
    if app:
        app_components = [{**app, "components": app_components}]
    return {
        **document,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "metadata": metadata,
        "components": app_components + os_components(ref),
    }


def write(document: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def counts(document: dict[str, Any]) -> Counter[str]:
    """How many components of each package type (nuget, deb, ...) the document lists, nested ones too."""
    found: Counter[str] = Counter()
    pending = list(document.get("components") or [])
    while pending:
        component = pending.pop()
        pending += component.get("components") or []
        purl = str(component.get("purl", ""))
        if purl.startswith("pkg:"):
            found[purl[4:].split("/", 1)[0]] += 1
    return found
