"""The notebook's handle on one lab run: its id, labels, unique names, published ports and cleanup."""

from labkit import containers, names
from labkit.engine import cleanup
from labkit.engine.cleanup import Resource


class Lab:
    """One run of one lab notebook.

    >>> lab = Lab("03-dockerfiles")
    >>> lab.image("api")          # stable per lab: a rebuild overwrites it
    'containerizing-dotnet/03-dockerfiles-api:latest'
    """

    def __init__(self, lab_id: str) -> None:
        self.id = names.check_lab_id(lab_id)
        self.run_id = names.run_id()

    @property
    def labels(self) -> dict[str, str]:
        return names.labels(self.id)

    @property
    def label_flags(self) -> str:
        """`--label ...` flags for docker build/run/network create/volume create."""
        return names.label_flags(self.id)

    def name(self, what: str) -> str:
        """A container (or network, volume) name unique to this run."""
        return names.container_name(self.id, what, self.run_id)

    def image(self, what: str, tag: str = "latest") -> str:
        return names.image_tag(self.id, what, tag)

    def host_port(self, container: str, container_port: int = 8080) -> int:
        """The port of 127.0.0.1 Docker picked for `container`'s `container_port` (`-p 127.0.0.1::8080`)."""
        return containers.host_port(container, container_port)

    def cleanup(self, dry_run: bool = False) -> list[Resource]:
        """Remove every resource labelled with this lab's id, and print what went."""
        removed = cleanup.remove(self.id, dry_run=dry_run)
        verb = "Would remove" if dry_run else "Removed"
        print(f"{verb} {len(removed)} resource(s) labelled {names.LABEL_KEY}={self.id}.")
        for resource in removed:
            print(f"  {resource.kind:9} {resource.name}")
        return removed
