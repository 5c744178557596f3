"""The served names point at their loopback addresses (/etc/hosts), and the world's CA is trusted:
by dockerd for its registries (certs.d), and by the machine (its CA store).

The machine's trust stands for the public CA that signs the real names: Docker Hub's token service
is asked by the docker client itself (BuildKit lets the client fetch tokens), which trusts only the
system's CAs. The CA goes in as a packaged CA does (/usr/share/ca-certificates and a line of
/etc/ca-certificates.conf), not in /usr/local/share/ca-certificates, whose CAs the stand-ins carry.
"""

from pathlib import Path

from offline_world.machine import ADDRESSES, SERVED_HOSTS, SYSTEM_PATH, read, run

MARKER = "# containerizing-dotnet-offline"
HOSTS = Path("/etc/hosts")
CERTS_D = Path("/etc/docker/certs.d")
CA_STORE = Path("/usr/share/ca-certificates")
CA_CONF = Path("/etc/ca-certificates.conf")
SYSTEM_CA = "containerizing-dotnet-offline/containerizing-dotnet-offline.crt"  # in CA_STORE, and its line in CA_CONF
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def hosts_lines() -> list[str]:
    """One line a name: mcr.microsoft.com, registry-1.docker.io and auth.docker.io each at its address."""
    return [f"{address} {name} {MARKER}" for name, address in ADDRESSES.items()]


def without_our_lines(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if MARKER not in line)


def hosts_entry_present() -> bool:
    """The lines this setup adds are there, and no others it once added (an older entry)."""
    return [line for line in read(HOSTS).splitlines() if MARKER in line] == hosts_lines()


def add_hosts_entry() -> None:
    """Point the served names at their servers (written in place: /etc/hosts may be a bind mount),
    replacing any lines an earlier setup added."""
    if hosts_entry_present():
        return
    text = without_our_lines(read(HOSTS))
    if text and not text.endswith("\n"):
        text += "\n"
    HOSTS.write_text(text + "".join(f"{line}\n" for line in hosts_lines()))


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


def system_trusts(ca: str | None) -> bool:
    """The machine's CA store holds `ca`, listed and in the bundle that TLS clients read."""
    listed = SYSTEM_CA in read(CA_CONF).splitlines()
    return ca is not None and listed and read(CA_STORE / SYSTEM_CA) == ca and ca.strip() in read(CA_BUNDLE)


def trust_in_system(ca: str) -> None:
    if system_trusts(ca):
        return
    (CA_STORE / SYSTEM_CA).parent.mkdir(parents=True, exist_ok=True)
    (CA_STORE / SYSTEM_CA).write_text(ca)
    conf = read(CA_CONF)
    if SYSTEM_CA not in conf.splitlines():
        CA_CONF.write_text(conf + ("" if conf.endswith("\n") or not conf else "\n") + SYSTEM_CA + "\n")
    run(["update-ca-certificates"], quiet=True, env=SYSTEM_PATH)


def untrust_in_system() -> bool:
    """Take the world's CA out of the machine's CA store again; False when it was not there."""
    conf = read(CA_CONF)
    kept = "".join(line for line in conf.splitlines(keepends=True) if line.strip() != SYSTEM_CA)
    present = kept != conf or (CA_STORE / SYSTEM_CA).exists()
    if not present:
        return False
    CA_CONF.write_text(kept)
    (CA_STORE / SYSTEM_CA).unlink(missing_ok=True)
    folder = (CA_STORE / SYSTEM_CA).parent
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    run(["update-ca-certificates", "--fresh"], quiet=True, env=SYSTEM_PATH)  # --fresh: its links go too
    return True
