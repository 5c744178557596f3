"""labkit.sbom (dpkg records to CycloneDX components) and labkit.ci_files (a workflow and a Dependabot
file, read as GitHub reads them and validated against SchemaStore's schemas): no engine."""

from pathlib import Path

from labkit import ci_files, sbom

STATUS_D = """Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.39-0ubuntu8.4
Description: GNU C Library: Shared libraries
 Contains the standard libraries.

Package: tzdata
Status: deinstall ok config-files
Version: 2025b
"""


def test_dpkg_records_are_read_paragraph_by_paragraph_with_continuation_lines_skipped() -> None:
    records = sbom.records(STATUS_D)
    assert [record["Package"] for record in records] == ["libc6", "tzdata"]
    assert records[0]["Description"] == "GNU C Library: Shared libraries"


def test_a_deb_package_has_the_purl_scanners_match_on() -> None:
    package = sbom.Package("libstdc++6", "14.2.0-4ubuntu2~24.04", "amd64")
    assert package.purl("ubuntu", "24.04") == (
        "pkg:deb/ubuntu/libstdc%2B%2B6@14.2.0-4ubuntu2~24.04?arch=amd64&distro=ubuntu-24.04"
    )


def test_counts_are_by_package_type_nested_components_too() -> None:
    document = {
        "components": [
            {"name": "Api", "components": [{"purl": "pkg:nuget/Microsoft.OpenApi@2.0.0"}]},
            {"purl": "pkg:deb/ubuntu/libc6@2.39?arch=amd64"},
            {"purl": "pkg:deb/ubuntu/tzdata@2025b?arch=all"},
        ]
    }
    assert sbom.counts(document) == {"nuget": 1, "deb": 2}


WORKFLOW = """
name: ship
on:
  push:
    branches: [main]
jobs:
  ship:
    runs-on: ubuntu-latest
    steps:
      - run: docker buildx bake --set '*.labels.a=b' -f docker-bake.hcl test
      - run: |
          docker buildx bake image --push \\
            --metadata-file bake.json && echo done
      - uses: docker/bake-action@v6
        with:
          targets: sbom,docs
"""


def test_on_stays_a_key_as_github_reads_it_and_the_workflow_is_valid(tmp_path: Path) -> None:
    (tmp_path / "ci.yml").write_text(WORKFLOW)
    workflow = ci_files.load(tmp_path / "ci.yml")
    assert "on" in workflow
    assert ci_files.problems(workflow, ci_files.WORKFLOW) == []


def test_bake_targets_are_read_from_run_lines_and_the_bake_action(tmp_path: Path) -> None:
    (tmp_path / "ci.yml").write_text(WORKFLOW)
    assert ci_files.bake_targets(ci_files.load(tmp_path / "ci.yml")) == ["test", "image", "sbom", "docs"]


def test_a_step_the_schema_refuses_is_named_with_where_it_is() -> None:
    broken = {"on": "push", "jobs": {"ship": {"runs-on": "ubuntu-latest", "steps": [{"run": 1}]}}}
    assert ci_files.problems(broken, ci_files.WORKFLOW) == ["jobs/ship/steps/0/run: 1 is not of type 'string'"]


def test_dependabot_ecosystems_and_their_directories() -> None:
    document = {
        "version": 2,
        "updates": [
            {"package-ecosystem": "docker", "directory": "/", "schedule": {"interval": "weekly"}},
            {"package-ecosystem": "nuget", "directories": ["/api", "/tests"], "schedule": {"interval": "weekly"}},
        ],
    }
    assert ci_files.problems(document, ci_files.DEPENDABOT) == []
    assert ci_files.ecosystems(document) == {"docker": ["/"], "nuget": ["/api", "/tests"]}
