"""Sigstore's cosign and ORAS, run as containers from their official images (the catalog's), so a
learner installs neither. Each function returns the start of a `docker run` command line, to which a
notebook adds the tool's own arguments and hands to `run(...)`: what the learner sees is the real
command.

Both run as you (`--user`), so the files they write in your folder (keys, an SBOM) are yours; with
HOME in /tmp, which any user may write (cosign's image's home belongs to its user, 65532, oras's to
root). Both run on the host's network: the lab's registry is published on 127.0.0.1 of this machine,
which is not the container's own 127.0.0.1 on any other network.
"""

import hashlib
import subprocess
from pathlib import Path

from labkit import catalog, names

WORKDIR = "/work"
_AS_YOU = '--user "$(id -u):$(id -g)" -e HOME=/tmp'


def _tool(lab_id: str, image_key: str, folder: Path, *env: str) -> str:
    passed = "".join(f" -e {name}" for name in env)  # `-e NAME`: the value comes from run()'s environment
    return (
        f"docker run --rm {names.label_flags(lab_id)} {_AS_YOU}{passed} --network host "
        f"-v {folder}:{WORKDIR} -w {WORKDIR} {catalog.image(image_key)}"
    )


def cosign(lab_id: str, folder: Path) -> str:
    """`docker run ... cosign-image` in `folder`; COSIGN_PASSWORD, the private key's password, is
    passed from the environment run() gets (`run(..., env={"COSIGN_PASSWORD": ...})`), never typed."""
    return _tool(lab_id, "cosign", folder, "COSIGN_PASSWORD")


def oras(lab_id: str, folder: Path) -> str:
    """`docker run ... oras-image` in `folder`."""
    return _tool(lab_id, "oras", folder)


def revision(folder: Path, sources: tuple[str, ...] = ("api", "tests")) -> str:
    """The commit `folder` is checked out at (`git rev-parse HEAD`, as CI's GITHUB_SHA); outside a git
    checkout (a copy of the lab), a SHA-1 of the `sources` folders' files stands in for it."""
    try:
        answer = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        answer = None
    if answer is not None and answer.returncode == 0 and len(answer.stdout.strip()) == 40:
        return answer.stdout.strip()
    digest = hashlib.sha1(usedforsecurity=False)
    for path in sorted(p for source in sources for p in (folder / source).rglob("*") if p.is_file()):
        if not {"bin", "obj"} & set(path.relative_to(folder).parts):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
