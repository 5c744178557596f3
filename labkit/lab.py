"""The notebook's handle on one lab run: its id, labels, unique names, published ports, folders and cleanup."""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from labkit import containers, names
from labkit.engine import cleanup
from labkit.engine.cleanup import Resource
from labkit.errors import LabError

FOLDER_MODE = 0o700  # yours alone, as tempfile.mkdtemp makes a folder


class FolderNotEmptied(LabError):
    """A lab folder holds files this user may not delete (a container wrote them as another user)."""


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

    @property
    def folders(self) -> Path:
        """Where this lab's folders on this machine live: one place per lab and user, in the temp folder."""
        return Path(tempfile.gettempdir()) / f"containerizing-dotnet-{os.getuid()}" / self.id

    def folder(self, what: str) -> Path:
        """An empty folder of this machine, for a bind mount or a backup, readable by you alone (mode
        0700). The same path on every run, emptied first: a cell run again leaves nothing behind, and
        cleanup() removes it."""
        path = self.folders / names.check_lab_id(what)
        try:
            if path.exists():
                shutil.rmtree(path)
        except OSError as exc:
            raise FolderNotEmptied(
                f"{path} holds files you may not delete ({exc.strerror}: {exc.filename}), written by a container "
                f"that ran as another user. Remove the folder as root (`sudo rm -rf {path}`), then run the cell again."
            ) from exc
        path.mkdir(mode=FOLDER_MODE, parents=True)
        path.chmod(FOLDER_MODE)  # the umask may have taken bits away; mode is what the lab explains
        return path

    def cleanup(self, dry_run: bool = False) -> list[Resource]:
        """Remove every resource labelled with this lab's id, then the lab's folders; print what went."""
        removed = cleanup.remove(self.id, dry_run=dry_run)
        verb = "Would remove" if dry_run else "Removed"
        print(f"{verb} {len(removed)} resource(s) labelled {names.LABEL_KEY}={self.id}.")
        for resource in removed:
            print(f"  {resource.kind:9} {resource.name}")
        if self.folders.exists():
            removed.append(self.remove_folders(dry_run))
        return removed

    def remove_folders(self, dry_run: bool = False) -> Resource:
        """Remove the lab's folders (cleanup() does it too), and print what went."""
        if not dry_run:
            shutil.rmtree(self.folders, ignore_errors=True)
            with contextlib.suppress(OSError):  # the user's folder of all labs, once it is empty
                self.folders.parent.rmdir()
        if self.folders.exists():
            print(f"Kept the folder {self.folders}: it holds files you may not delete (`sudo rm -rf` removes it).")
        else:
            print(f"{'Would remove' if dry_run else 'Removed'} the lab's folders, {self.folders}.")
        return Resource("folder", str(self.folders), str(self.folders), self.id)
