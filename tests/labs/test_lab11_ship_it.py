"""Lab 11's check cells fail, with their hints, on a wrong learner state: a test stage that lets a failing
test through, a tag where a digest belongs, an SBOM not attached, an unsigned image, a tag that did not
move, a workflow that does not call the build definition's targets, a Dependabot file without the base
image. The registry is the catalog's registry:2; the image pushed to it a small labelled one."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit import CheckFailed, catalog, names, registry, release, shell
from labkit.docker_access import client
from tests.helpers import copy_solution
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "11-ship-it" / "lab.ipynb"
LAB_ID = "test-lab11"
REPOSITORY = "ship/api"
VERSION = "1.0.0"
PASSWORD = {"COSIGN_PASSWORD": "not-a-real-password"}
SOLUTION = NOTEBOOK.parent


# --- the fixtures: a registry with an image in it, and a key pair ---


@pytest.fixture(scope="module")
def registry_address() -> Iterator[str]:
    container, address = wrong_state.registry(LAB_ID)
    yield address
    container.remove(force=True, v=True)


def _push(address: str, repository: str, folder: Path) -> Iterator[dict[str, str]]:
    """A small image, its own (a label says which repository), pushed as repository:1.0.0: its names and digest."""
    base = catalog.image("runtime-deps")  # it has `sleep`: a container of it stays up
    local = wrong_state.build(LAB_ID, folder, f"FROM {base}\nLABEL release={repository}\n")
    remote = f"{address}/{repository}:{VERSION}"
    client().images.get(local).tag(remote)
    shell.run(f"docker push {remote}", quiet=True, record=False)
    digest = registry.manifest_digest(address, repository, VERSION) or ""
    pinned = f"{address}/{repository}@{digest}"
    yield {"REGISTRY": address, "REPOSITORY": repository, "DIGEST": digest, "IMAGE_VERSION": remote, "PINNED": pinned}
    client().images.remove(remote)


@pytest.fixture(scope="module")
def pushed(registry_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An image no test signs, pushed as ship/api:1.0.0 (tests run in any order: `signed` signs another)."""
    yield from _push(registry_address, REPOSITORY, tmp_path_factory.mktemp("unsigned"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cosign key pair, as the lab makes one."""
    folder = tmp_path_factory.mktemp("keys")
    folder.chmod(0o755)
    shell.run(f"{release.cosign(LAB_ID, folder)} generate-key-pair", env=PASSWORD, quiet=True, record=False)
    return folder


def _state(pushed: dict[str, str], **more: Any) -> dict[str, Any]:
    return {"VERSION": VERSION, **pushed, **more}


# --- Steps 1 and 2: the tests inside the build ---


def _lab_files(folder: Path, dockerfile: str | None = None) -> Path:
    copy_solution(SOLUTION.name, folder, "*.ipynb", "bin", "obj")
    if dockerfile is not None:
        (folder / "Dockerfile").write_text(dockerfile)
    return folder


def test_test_stage_check_fails_when_a_failing_test_is_let_through(
    namespace: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    let_through = (SOLUTION / "Dockerfile").read_text().replace("--no-restore\n", "--no-restore || true\n", 1)
    monkeypatch.chdir(_lab_files(tmp_path, let_through))
    with pytest.raises(CheckFailed, match=re.escape("Drop `|| true`")):
        check_cells.run_check(NOTEBOOK, 1, namespace)


def test_test_stage_check_fails_when_the_tests_are_only_the_entrypoint(
    namespace: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Microsoft's complexapp way: the tests run when someone starts the image, never during the build."""
    solution = (SOLUTION / "Dockerfile").read_text()
    entrypoint = re.sub(r"RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \\\n    dotnet test",
                        'ENTRYPOINT ["dotnet", "test"]\n# dotnet test', solution)  # fmt: skip
    monkeypatch.chdir(_lab_files(tmp_path, entrypoint))
    with pytest.raises(CheckFailed, match=re.escape("never runs `dotnet test` in a RUN")):
        check_cells.run_check(NOTEBOOK, 1, namespace)


def test_broken_test_check_fails_when_the_build_went_through(namespace: dict[str, Any]) -> None:
    """A test stage whose RUN ends `|| true`: the build with the broken test succeeds, and nothing failed."""
    wrong_state.ran("echo '#14 [test 2/2] RUN dotnet test || true' && echo docker buildx bake test")
    with pytest.raises(CheckFailed, match=re.escape("drop any `|| true`")):
        check_cells.run_check(NOTEBOOK, 2, namespace)


def test_broken_test_check_fails_when_the_failure_was_only_echoed(namespace: dict[str, Any]) -> None:
    shell.run("echo 'docker buildx bake test: Failed!  - Failed:     1'; exit 1", quiet=True, check=False)
    with pytest.raises(CheckFailed, match="Not yet: the build stops at the failing test"):
        check_cells.run_check(NOTEBOOK, 2, namespace)


# --- Step 5: the digest ---


def test_digest_check_fails_on_a_tag_instead_of_a_digest(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match=re.escape("DIGEST = manifest_digest(REGISTRY, REPOSITORY, VERSION)")):
        check_cells.run_check(NOTEBOOK, 5, namespace, DIGEST=VERSION, REGISTRY="127.0.0.1:1", REVISION="0" * 40)


@pytest.mark.docker
def test_digest_check_fails_when_the_commit_tag_was_not_pushed(
    namespace: dict[str, Any], pushed: dict[str, str]
) -> None:
    with pytest.raises(CheckFailed, match=re.escape("has no ship/api:sha-ffffffffffff. Hint: Push it")):
        check_cells.run_check(NOTEBOOK, 5, namespace, **_state(pushed, REVISION="f" * 40))


# --- Step 6: the SBOM in the registry ---


@pytest.mark.docker
def test_sbom_check_fails_when_no_sbom_is_attached(namespace: dict[str, Any], pushed: dict[str, str]) -> None:
    with pytest.raises(CheckFailed, match=re.escape("oras attach --plain-http --artifact-type")):
        check_cells.run_check(NOTEBOOK, 6, namespace, **_state(pushed))


@pytest.mark.docker
def test_sbom_check_fails_when_the_sbom_has_no_os_packages(
    namespace: dict[str, Any], tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    """The CycloneDX tool's file attached as it is: the app's packages, not the image's."""
    container, address = wrong_state.registry(LAB_ID)
    try:
        remote = f"{address}/{REPOSITORY}:{VERSION}"
        client().images.get(catalog.image("runtime-deps-chiseled")).tag(remote)
        shell.run(f"docker push {remote}", quiet=True, record=False)
        digest = registry.manifest_digest(address, REPOSITORY, VERSION) or ""
        tmp_path.chmod(0o755)
        (tmp_path / "app.cdx.json").write_text(
            '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": '
            '[{"type": "library", "name": "Microsoft.OpenApi", "purl": "pkg:nuget/Microsoft.OpenApi@2.0.0"}]}\n'
        )
        media = "application/vnd.cyclonedx+json"
        shell.run(f"{release.oras(LAB_ID, tmp_path)} attach --plain-http --artifact-type {media} "
                  f"{address}/{REPOSITORY}@{digest} app.cdx.json:{media}", quiet=True, record=False)  # fmt: skip
        with pytest.raises(CheckFailed, match=re.escape("sbom.image_sbom adds the image's packages")):
            check_cells.run_check(NOTEBOOK, 6, namespace, REGISTRY=address, REPOSITORY=REPOSITORY, DIGEST=digest)
    finally:
        client().images.remove(f"{address}/{REPOSITORY}:{VERSION}")
        container.remove(force=True, v=True)


# --- Step 7: signed, verified, run by digest ---


@pytest.mark.docker
def test_signature_check_fails_on_an_unsigned_image(namespace: dict[str, Any], pushed: dict[str, str]) -> None:
    with pytest.raises(CheckFailed, match=re.escape("Sign the digest: `cosign sign --key cosign.key")):
        check_cells.run_check(NOTEBOOK, 7, namespace, **_state(pushed, APP="cdn-none"))


@pytest.fixture(scope="module")
def signed(registry_address: str, keys: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Another image, pushed as ship/signed:1.0.0 and signed by the key pair."""
    for image in _push(registry_address, "ship/signed", tmp_path_factory.mktemp("signed")):
        sign = f"{release.cosign(LAB_ID, keys)} sign --key cosign.key --tlog-upload=false --yes {image['PINNED']}"
        shell.run(sign, env=PASSWORD, quiet=True)
        yield image


@pytest.mark.docker
def test_run_check_fails_when_the_container_runs_the_tag(
    namespace: dict[str, Any], signed: dict[str, str], keys: Path
) -> None:
    shell.run(f"{release.cosign(LAB_ID, keys)} verify --key cosign.pub --insecure-ignore-tlog=true {signed['PINNED']}",
              quiet=True)  # fmt: skip
    by_tag = wrong_state.sleeper(LAB_ID, signed["IMAGE_VERSION"])
    with pytest.raises(CheckFailed, match=re.escape("not the tag")):
        check_cells.run_check(NOTEBOOK, 7, namespace, **_state(signed, APP=by_tag.name))


@pytest.mark.docker
def test_verify_check_fails_when_the_tag_was_verified(
    namespace: dict[str, Any], signed: dict[str, str], keys: Path
) -> None:
    cosign = release.cosign(LAB_ID, keys)
    shell.run(f"{cosign} verify --key cosign.pub --insecure-ignore-tlog=true {signed['IMAGE_VERSION']}", quiet=True)
    with pytest.raises(CheckFailed, match=re.escape("Verify the digest, not the tag")):
        check_cells.run_check(NOTEBOOK, 7, namespace, **_state(signed, APP="cdn-none"))


# --- Step 8: the tag moves, the unsigned image is refused ---


@pytest.mark.docker
def test_refusal_check_fails_when_the_tag_did_not_move(namespace: dict[str, Any], pushed: dict[str, str]) -> None:
    with pytest.raises(CheckFailed, match=re.escape("pushes the next commit's image under the same tag")):
        check_cells.run_check(NOTEBOOK, 8, namespace, **_state(pushed))


@pytest.mark.docker
def test_refusal_check_fails_when_the_signed_tag_was_verified(
    namespace: dict[str, Any], signed: dict[str, str], keys: Path
) -> None:
    """The tag still names the signed image: cosign accepts it, and nothing was refused."""
    cosign = release.cosign(LAB_ID, keys)
    shell.run(f"{cosign} verify --key cosign.pub --insecure-ignore-tlog=true {signed['IMAGE_VERSION']}", quiet=True)
    moved = {**signed, "DIGEST": "sha256:" + "0" * 64}  # as if the kept digest were another: the tag "moved"
    with pytest.raises(CheckFailed, match=re.escape("with check=False: the refusal is the point")):
        check_cells.run_check(NOTEBOOK, 8, namespace, **_state(moved))


# --- Step 9: the workflow and Dependabot ---


def _github(folder: Path, workflow: str | None = None, dependabot: str | None = None) -> Path:
    (folder / ".github" / "workflows").mkdir(parents=True)
    source = SOLUTION / ".github"
    (folder / ".github" / "workflows" / "ci.yml").write_text(workflow or (source / "workflows" / "ci.yml").read_text())
    (folder / ".github" / "dependabot.yml").write_text(dependabot or (source / "dependabot.yml").read_text())
    return folder


WORKFLOW_WITHOUT_BAKE = """
name: ship
on:
  push:
    branches: [main]
jobs:
  ship:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: dotnet test tests/Api.Tests.csproj
      - run: docker build -t ghcr.io/example/api:latest . && docker push ghcr.io/example/api:latest
"""


def test_workflow_check_fails_when_it_does_not_call_the_targets(
    namespace: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_github(tmp_path, workflow=WORKFLOW_WITHOUT_BAKE))
    with pytest.raises(CheckFailed, match=re.escape("`docker buildx bake test`, then")):
        check_cells.run_check(NOTEBOOK, 9, namespace)


def test_workflow_check_fails_when_the_image_is_built_before_the_tests(
    namespace: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    solution = (SOLUTION / ".github" / "workflows" / "ci.yml").read_text()
    tests_last = solution.replace("run: docker buildx bake test", "run: echo the tests come last")
    tests_last = tests_last.replace("run: docker buildx bake sbom", "run: docker buildx bake sbom test")
    monkeypatch.chdir(_github(tmp_path, workflow=tests_last))
    with pytest.raises(CheckFailed, match=re.escape("test first (image, sbom, test)")):
        check_cells.run_check(NOTEBOOK, 9, namespace)


def test_workflow_check_fails_on_a_workflow_the_schema_refuses(
    namespace: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_github(tmp_path, workflow=WORKFLOW_WITHOUT_BAKE.replace("runs-on:", "runs_on:")))
    with pytest.raises(CheckFailed, match="not valid against SchemaStore's github-workflow schema"):
        check_cells.run_check(NOTEBOOK, 9, namespace)


def test_dependabot_check_fails_without_the_docker_ecosystem(
    namespace: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nuget_only = (
        "version: 2\nupdates:\n  - package-ecosystem: nuget\n    directory: /\n    schedule: {interval: weekly}\n"
    )
    monkeypatch.chdir(_github(tmp_path, dependabot=nuget_only))
    with pytest.raises(CheckFailed, match=re.escape("`package-ecosystem: docker`")):
        check_cells.run_check(NOTEBOOK, 9, namespace)


def test_the_workflow_calls_the_targets_the_notebook_builds() -> None:
    """The notebook and the workflow build the same targets of the same file, in the same order."""
    from labkit import ci_files

    workflow = ci_files.load(SOLUTION / ".github" / "workflows" / "ci.yml")
    assert ci_files.bake_targets(workflow) == ["test", "image", "sbom"]
    assert names.LABEL_KEY not in (SOLUTION / "docker-bake.hcl").read_text()  # the course's label is the notebook's


def test_the_sbom_tool_installed_is_the_one_the_restore_downloads() -> None:
    """The sbom stage installs CycloneDX from NuGet's cache, where the test project's PackageDownload (and
    `labkit prepull`) put it: both must name the same version."""
    downloaded = re.search(r'PackageDownload Include="CycloneDX" Version="\[([^]]+)\]"',
                           (SOLUTION / "tests" / "Api.Tests.csproj").read_text())  # fmt: skip
    installed = re.search(r"CycloneDX --version (\S+)", (SOLUTION / "Dockerfile").read_text())
    assert downloaded and installed and downloaded[1] == installed[1]
