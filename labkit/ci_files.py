"""A CI workflow and a Dependabot file, read and validated offline.

The schemas are SchemaStore's, vendored in labkit/schemas/ (its README says from where): the same ones
editors use to underline a mistake in `.github/workflows/*.yml` and `.github/dependabot.yml`.
"""

import json
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from labkit.errors import LabError

SCHEMAS = Path(__file__).parent / "schemas"
WORKFLOW = "github-workflow"
DEPENDABOT = "dependabot-2.0"
BAKE = ("docker", "buildx", "bake")
_BAKE_VALUE_OPTIONS = {"-f", "--file", "--set", "--metadata-file", "--builder", "--progress", "--provenance", "--sbom"}


class _Yaml12Loader(yaml.SafeLoader):
    """YAML as GitHub reads it: only true and false are booleans (YAML 1.2), so `on:` stays a key and
    does not become True, as PyYAML's YAML 1.1 would have it."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class UnreadableFile(LabError):
    """A YAML file that is missing or not YAML; the message says which and where."""


def load(path: Path) -> Any:
    """The YAML document at `path`, or UnreadableFile with the line of the mistake."""
    try:
        return yaml.load(path.read_text(), Loader=_Yaml12Loader)  # a SafeLoader
    except FileNotFoundError as exc:
        raise UnreadableFile(f"There is no file {path}.") from exc
    except yaml.YAMLError as exc:
        raise UnreadableFile(f"{path} is not valid YAML: {exc}") from exc


@cache
def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{name}.json").read_text())
    return schema


def problems(document: Any, schema: str) -> list[str]:
    """What the schema (WORKFLOW or DEPENDABOT) finds wrong with `document`, each with where; none: valid."""
    validator = jsonschema.validators.validator_for(_schema(schema))(_schema(schema))
    found = sorted(validator.iter_errors(document), key=lambda error: [str(p) for p in error.absolute_path])
    return [_describe(jsonschema.exceptions.best_match([error])) for error in found]


def _describe(error: jsonschema.exceptions.ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(top)"
    return f"{where}: {error.message[:200]}"


def run_lines(workflow: Any) -> list[str]:
    """Every command line of every `run:` step of every job, continuation lines joined."""
    lines: list[str] = []
    jobs = workflow.get("jobs", {}) if isinstance(workflow, dict) else {}
    for job in jobs.values():
        for step in (job or {}).get("steps") or []:
            script = str((step or {}).get("run", "")).replace("\\\n", " ")
            lines += [line.strip() for line in script.splitlines() if line.strip()]
    return lines


def bake_targets(workflow: Any) -> list[str]:
    """The bake targets the workflow builds, in order: those its `docker buildx bake` lines name, and
    those of its docker/bake-action steps (`with: targets:`)."""
    found: list[str] = []
    for line in run_lines(workflow):
        words = _words(line)
        for start in range(len(words) - 2):
            if tuple(words[start : start + 3]) == BAKE:
                found += _targets(words[start + 3 :])
    jobs = workflow.get("jobs", {}) if isinstance(workflow, dict) else {}
    for job in jobs.values():
        for step in (job or {}).get("steps") or []:
            if str((step or {}).get("uses", "")).startswith("docker/bake-action"):
                targets = str(((step or {}).get("with") or {}).get("targets", "default"))
                found += [t.strip() for t in targets.replace(",", "\n").splitlines() if t.strip()]
    return found


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return line.split()


def _targets(arguments: list[str]) -> list[str]:
    """The targets of one bake command line (its words after `bake`): words that are no option nor an
    option's value, up to the end of the command (`&&`, `;`, `|`)."""
    found: list[str] = []
    skip = False
    for word in arguments:
        if word in ("&&", ";", "|", "||"):
            break
        if skip:
            skip = False
        elif word in _BAKE_VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            found.append(word)
    return found or ["default"]


def ecosystems(dependabot: Any) -> dict[str, list[str]]:
    """The package ecosystems a Dependabot file updates, each with its directories."""
    found: dict[str, list[str]] = {}
    for update in (dependabot or {}).get("updates") or []:
        directories = update.get("directories") or [update.get("directory", "")]
        found.setdefault(str(update.get("package-ecosystem")), []).extend(str(d) for d in directories)
    return found
