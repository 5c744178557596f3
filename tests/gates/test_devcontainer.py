"""The dev container opens the course ready to run: Python 3.11+, Docker, the README's install, doctor."""

import json
import re
from typing import Any

import pytest

from tests.helpers import ROOT

DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
README = ROOT / "README.md"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEVCONTAINER.read_text())  # plain JSON: no comments to strip
    return loaded


def readme_install_command() -> str:
    """The one command in the README's Install section's first bash block."""
    section = README.read_text().split("\n## Install", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "README's Install section has no bash block"
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 1, commands
    return commands[0]


def test_it_installs_with_the_readme_command(config: dict[str, Any]) -> None:
    assert config["postCreateCommand"] == readme_install_command()


def test_the_readme_install_includes_jupyterlab_and_ci_installs_without_it() -> None:
    assert readme_install_command() == 'pip install -r requirements.txt -e ".[lab]"'
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"pip install -q -r requirements.txt -e \.\s", ci) and ".[lab]" not in ci


def test_it_runs_python_3_11_or_newer_with_a_docker_engine_inside(config: dict[str, Any]) -> None:
    version = re.search(r"python:(\d+)\.(\d+)", config["image"])
    assert version and (int(version.group(1)), int(version.group(2))) >= (3, 11), config["image"]
    assert any("docker-in-docker" in feature for feature in config["features"])


def test_it_checks_the_machine_and_brings_the_notebook_extensions(config: dict[str, Any]) -> None:
    assert config["postStartCommand"] == "python -m labkit doctor"
    extensions = config["customizations"]["vscode"]["extensions"]
    assert {"ms-python.python", "ms-toolsai.jupyter"} <= set(extensions)


def test_the_readme_links_to_codespaces() -> None:
    assert "https://codespaces.new/containerizing-dotnet/containerizing-dotnet" in README.read_text()
