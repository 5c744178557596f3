"""`python -m labkit open LAB`: a lab's notebook in JupyterLab, in one step."""

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

from labkit.errors import LabError

LABS = Path(__file__).resolve().parents[2] / "labs"  # beside labkit/, from labkit/tools/open_lab.py
INSTALL_HINT = (
    'JupyterLab is not installed: run `pip install -e ".[lab]"` (or `pip install jupyterlab`), '
    "or open {notebook} in VS Code with its Jupyter extension."
)


class NoSuchLab(LabError):
    """The name given matches no folder in labs/."""


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "open",
        help="open a lab's notebook in JupyterLab",
        description="Open labs/<LAB>/lab.ipynb in JupyterLab (`jupyter lab`). LAB is 01 or 01-containers.",
    )
    parser.add_argument("lab", metavar="LAB", help="the lab's number or folder name, e.g. 01 or 01-containers")
    parser.set_defaults(run=lambda args: open_lab(args.lab))


def notebook(lab: str, labs: Path = LABS) -> Path:
    """labs/<folder>/lab.ipynb for "01" or "01-containers"."""
    folders = sorted(p.name for p in labs.iterdir() if (p / "lab.ipynb").is_file()) if labs.is_dir() else []
    found = [name for name in folders if name == lab or name.split("-", 1)[0] == lab.zfill(2)]
    if len(found) != 1:
        raise NoSuchLab(f"No lab {lab!r} in {labs}: give one of {', '.join(folders) or '(none found)'}.")
    return labs / found[0] / "lab.ipynb"


def jupyterlab_installed() -> bool:
    return importlib.util.find_spec("jupyterlab") is not None


def open_lab(lab: str) -> int:
    path = notebook(lab)
    if not jupyterlab_installed():
        print(INSTALL_HINT.format(notebook=path.relative_to(LABS.parent)), file=sys.stderr)
        return 1
    # `python -m jupyterlab` is `jupyter lab` from this very environment, whatever PATH says.
    return subprocess.run([sys.executable, "-m", "jupyterlab", str(path)], check=False).returncode
