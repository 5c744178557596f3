"""labkit: run, check, inspect and clean up the Containerizing .NET labs.

In a notebook:

    from labkit import Lab, catalog, checks, run
    lab = Lab("03-dockerfiles")
    run(f"docker build {lab.label_flags} -t {lab.image('api')} .")
    checks.image_exists(lab.image("api"))
"""

from labkit import catalog, notebook
from labkit.errors import CheckFailed, CommandFailed, DockerUnavailable, LabError
from labkit.lab import Lab
from labkit.shell import run

__all__ = ["CheckFailed", "CommandFailed", "DockerUnavailable", "Lab", "LabError", "catalog", "run"]

notebook.install()
