"""The served names point at the loopback registry (/etc/hosts), and dockerd trusts its CA (certs.d)."""

from pathlib import Path

from labkit.names import LOOPBACK
from offline_world.machine import SERVED_HOSTS, read

MARKER = "# containerizing-dotnet-offline"
HOSTS = Path("/etc/hosts")
CERTS_D = Path("/etc/docker/certs.d")


def hosts_line() -> str:
    return f"{LOOPBACK} {' '.join(SERVED_HOSTS)} {MARKER}"


def without_our_lines(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if MARKER not in line)


def hosts_entry_present() -> bool:
    return hosts_line() in read(HOSTS).splitlines()


def add_hosts_entry() -> None:
    """Point the served names at the registry (written in place: /etc/hosts may be a bind mount)."""
    if hosts_entry_present():
        return
    text = without_our_lines(read(HOSTS))
    if text and not text.endswith("\n"):
        text += "\n"
    HOSTS.write_text(text + hosts_line() + "\n")


def remove_hosts_entry() -> bool:
    text = read(HOSTS)
    kept = without_our_lines(text)
    if kept != text:
        HOSTS.write_text(kept)
    return kept != text


def ca_file(host: str) -> Path:
    """Where dockerd looks for the CA of `host`'s registry."""
    return CERTS_D / host / "ca.crt"


def certs_installed(ca: str | None) -> bool:
    return ca is not None and all(read(ca_file(host)) == ca for host in SERVED_HOSTS)


def install_certs(ca: str) -> None:
    for host in SERVED_HOSTS:
        target = ca_file(host)
        if read(target) != ca:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(ca)


def remove_certs(ca: str | None) -> bool:
    """Remove `ca` (the world's own) from certs.d; a CA someone else put there stays."""
    removed = False
    for host in SERVED_HOSTS:
        target = ca_file(host)
        if ca is not None and read(target) == ca:
            target.unlink()
            removed = True
            if not any(target.parent.iterdir()):
                target.parent.rmdir()
    if removed and not any(CERTS_D.iterdir()):
        CERTS_D.rmdir()  # an empty certs.d means nothing; up made it
    return removed
