"""Lab 12's check cells fail, with their hints, on a wrong learner state.

The TLS servers are `openssl s_server` in the sdk image (which has openssl), with certificates the
tests make the way the lab does; a plain HTTP server is the registry image."""

import re
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from labkit import CheckFailed, CommandFailed, catalog, compose, containers, names, shell
from labkit.engine import image_files
from tests.labs import check_cells, wrong_state

NOTEBOOK = check_cells.SOLUTIONS / "12-https-secrets" / "lab.ipynb"
LAB_ID = "test-lab12"
SECRET = "not-a-real-feed-key-4711"
ASPNET = catalog.image("aspnet")
SDK = catalog.image("sdk")
FEED_URL = "http://127.0.0.1:1/v3/index.json"
KEY_FILE = Path("feedkey")
SERVER_EXT = "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
NON_ROOT = f"FROM {ASPNET}\nUSER $APP_UID\n"


def openssl(folder: Path, arguments: str) -> None:
    mounted = f"--network none -v {folder}:/work -w /work"
    shell.run(f"docker run --rm {names.label_flags(LAB_ID)} {mounted} {SDK} openssl {arguments}", quiet=True)


def certificates(folder: Path, *, signed: bool = True, ext: str = SERVER_EXT) -> Path:
    """A CA (ca.crt) and a server certificate for localhost (server.crt, server.key) in `folder`: signed by
    that CA, or (signed=False) self-signed; with `ext`'s extensions."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.ext").write_text(ext)
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    openssl(folder, f'req -x509 {ec} -keyout ca.key -out ca.crt -days 2 -subj "/CN=test CA"')
    if signed:
        openssl(folder, f'req {ec} -keyout server.key -out server.csr -subj "/CN=localhost"')
        openssl(folder, "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
                "-extfile server.ext -out server.crt")  # fmt: skip
    else:
        openssl(folder, f'req -x509 {ec} -keyout server.key -out server.crt -days 2 -subj "/CN=localhost"')
    return folder


def tls_server(folder: Path) -> tuple[Container, int]:
    """`openssl s_server` with folder's server.crt, on a loopback port published for the container's 8081."""
    server = wrong_state.started(
        LAB_ID,
        SDK,
        ["openssl", "s_server", "-accept", "8081", "-cert", "/work/server.crt", "-key", "/work/server.key", "-www"],
        volumes={str(folder): {"bind": "/work", "mode": "ro"}},
        network_mode="bridge",
        ports={"8081/tcp": (names.LOOPBACK, None)},
    )
    return server, containers.host_port(server.name, 8081)


# --- Step 1: the feed ---


@pytest.mark.docker
def test_feed_check_fails_when_the_feed_asks_no_key(namespace: dict[str, Any]) -> None:
    feed, address = wrong_state.registry(LAB_ID)
    with pytest.raises(CheckFailed, match=re.escape("-v ") + ".*:/run/secrets:ro"):
        check_cells.run_check(
            NOTEBOOK,
            1,
            namespace,
            FEED=feed.name,
            FEED_URL=f"http://{address}/v2/",
            FEED_KEY=SECRET,
            FEED_KEYS=Path("k"),
        )


# --- Step 3: the build without the key ---


def test_build_check_fails_when_the_build_without_the_key_succeeded(namespace: dict[str, Any]) -> None:
    wrong_state.ran(f"echo docker build --build-arg FEED_URL={FEED_URL} .")
    with pytest.raises(CheckFailed, match=re.escape("without `--secret`")):
        check_cells.run_check(NOTEBOOK, 3, namespace, FEED_URL=FEED_URL)


def test_build_check_fails_when_the_build_could_not_reach_the_feed(namespace: dict[str, Any]) -> None:
    """Without --network host, 127.0.0.1 is the build's own container: the restore finds nothing there."""
    unreachable = f"error NU1301: Unable to load the service index for source {FEED_URL}. Connection refused"
    shell.run(f"echo docker build {FEED_URL}; echo '{unreachable}'; exit 1", quiet=True, check=False)
    with pytest.raises(CheckFailed, match=re.escape("Build with `--network host`")):
        check_cells.run_check(NOTEBOOK, 3, namespace, FEED_URL=FEED_URL)


def test_build_check_fails_when_the_refusal_was_only_echoed(namespace: dict[str, Any]) -> None:
    shell.run(f"echo 'docker build {FEED_URL}: 401 (Unauthorized)'; exit 1", quiet=True, check=False)
    with pytest.raises(CheckFailed, match="Not yet: the build without the feed's key fails"):
        check_cells.run_check(NOTEBOOK, 3, namespace, FEED_URL=FEED_URL)


def test_build_check_passes_on_the_feeds_401(namespace: dict[str, Any]) -> None:
    refused = f"error NU1301: Unable to load the service index for source {FEED_URL}.\\n  40''1 (Unauthorized)."
    shell.run(f"echo docker build {FEED_URL}; printf '{refused}\\n'; exit 1", quiet=True, check=False)
    check_cells.run_check(NOTEBOOK, 3, namespace, FEED_URL=FEED_URL)


def test_a_restore_the_feed_refuses_says_to_pass_a_build_secret() -> None:
    log = f"error NU1301: Unable to load the service index for source {FEED_URL}.\n  401 (Unauthorized)."
    with pytest.raises(CommandFailed) as failed:
        shell.run(f"printf '%s\\n' '{log}' | tr -d '\\n'; echo; exit 1", quiet=True)
    assert failed.value.advice == shell.NUGET_UNAUTHORIZED_ADVICE


# --- Step 2: the key in no layer ---


@pytest.mark.docker
def test_secret_check_fails_when_an_arg_puts_the_key_in_the_history(namespace: dict[str, Any], tmp_path: Path) -> None:
    leaky = wrong_state.build(LAB_ID, tmp_path, f"{NON_ROOT}ARG FEED_KEY={SECRET}\nRUN echo $FEED_KEY > /dev/null\n")
    with pytest.raises(
        CheckFailed, match=r"The secret is in the image .* in history: .*FEED_KEY=<the secret>"
    ) as failed:
        check_cells.run_check(NOTEBOOK, 2, namespace, APP=leaky, APP_BUILD=leaky, FEED_KEY=SECRET, KEY_FILE=KEY_FILE)
    assert SECRET not in str(failed.value), "the check must not print the secret it found"


@pytest.mark.docker
def test_secret_check_fails_when_a_copy_puts_the_key_in_a_layer(namespace: dict[str, Any], tmp_path: Path) -> None:
    config = f'<configuration><labfeed><add key="ClearTextPassword" value="{SECRET}" /></labfeed></configuration>'
    leaky = wrong_state.build(
        LAB_ID, tmp_path, f"{NON_ROOT}COPY nuget.config /source/\n", files={"nuget.config": config}
    )
    with pytest.raises(CheckFailed, match=r"in layer \d+ \(.*COPY .*\): /source/nuget\.config"):
        check_cells.run_check(NOTEBOOK, 2, namespace, APP=leaky, APP_BUILD=leaky, FEED_KEY=SECRET, KEY_FILE=KEY_FILE)


@pytest.mark.docker
def test_package_check_fails_when_the_app_lacks_the_feeds_package(namespace: dict[str, Any], tmp_path: Path) -> None:
    clean = wrong_state.build(LAB_ID, tmp_path, NON_ROOT)
    with pytest.raises(CheckFailed, match=re.escape("/app/Greetings.dll is not in the image")):
        check_cells.run_check(NOTEBOOK, 2, namespace, APP=clean, APP_BUILD=clean, FEED_KEY=SECRET, KEY_FILE=KEY_FILE)


# --- Step 4: where an ARG puts the key ---


def test_leak_check_fails_until_the_leaky_build_stage_was_checked(namespace: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match=re.escape("--target build")):
        check_cells.run_check(NOTEBOOK, 4, namespace, LEAKY="a", LEAKY_BUILD="b", LEAKS={})


def test_leak_check_fails_when_the_final_stage_holds_the_key(namespace: dict[str, Any]) -> None:
    history = [image_files.Leak("history", "RUN |1 FEED_KEY=x")]
    with pytest.raises(CheckFailed, match=re.escape("look for an ARG or COPY in it")):
        check_cells.run_check(NOTEBOOK, 4, namespace, LEAKY="a", LEAKY_BUILD="b", LEAKS={"a": history, "b": history})


# --- Step 5: the certificate ---


@pytest.mark.docker
def test_certificate_check_fails_for_a_self_signed_certificate(namespace: dict[str, Any], tmp_path: Path) -> None:
    folder = certificates(tmp_path / "ca", signed=False)
    with pytest.raises(CheckFailed, match=re.escape("Sign the CSR with the CA")):
        check_cells.run_check(NOTEBOOK, 5, namespace, CA_DIR=folder, HTTPS_DIR=tmp_path)


@pytest.mark.docker
def test_certificate_check_fails_without_the_host_name_in_subject_alt_name(
    namespace: dict[str, Any], tmp_path: Path
) -> None:
    folder = certificates(tmp_path / "ca", ext="basicConstraints=CA:FALSE\n")
    with pytest.raises(CheckFailed, match=re.escape("-extfile server.ext")):
        check_cells.run_check(NOTEBOOK, 5, namespace, CA_DIR=folder, HTTPS_DIR=tmp_path)


# --- Step 6: HTTPS, the certificate mounted ---


def https_state(folder: Path, web: Container, port: int) -> dict[str, Any]:
    (folder / "server.pfx").write_bytes(b"a certificate's bytes " + SECRET.encode())
    (folder / "password").write_text("pfx-password-4711")
    return {"WEB": web.name, "HTTPS_PORT": port, "HTTPS_DIR": folder, "PASSWORD_FILE": folder / "password"}


@pytest.mark.docker
def test_https_check_fails_for_plain_http_on_the_https_port(namespace: dict[str, Any], tmp_path: Path) -> None:
    registry, address = wrong_state.registry(LAB_ID)
    state = https_state(tmp_path, registry, int(address.rsplit(":", 1)[1]))
    ca = certificates(tmp_path / "ca") / "ca.crt"
    with pytest.raises(CheckFailed, match=re.escape("ASPNETCORE_HTTPS_PORTS=8081")):
        check_cells.run_check(NOTEBOOK, 6, namespace, CA=ca, **state)


@pytest.mark.docker
def test_https_check_fails_for_a_certificate_baked_into_the_image(namespace: dict[str, Any], tmp_path: Path) -> None:
    state = https_state(tmp_path, wrong_state.sleeper(LAB_ID, ASPNET), 1)
    baked = wrong_state.build(LAB_ID, tmp_path, f"{NON_ROOT}COPY server.pfx /https/\n")
    state["WEB"] = wrong_state.sleeper(LAB_ID, baked).name
    with pytest.raises(CheckFailed, match=r"in layer \d+ \(.*COPY .*\): /https/server\.pfx.*mount it"):
        check_cells.run_check(NOTEBOOK, 6, namespace, CA=tmp_path / "ca.crt", **state)


@pytest.mark.docker
def test_https_check_fails_when_the_password_is_an_environment_variable(
    namespace: dict[str, Any], tmp_path: Path
) -> None:
    password = {"Kestrel__Certificates__Default__Password": "pfx-password-4711"}
    web = wrong_state.sleeper(LAB_ID, ASPNET, environment=password)
    state = https_state(tmp_path, web, 1)
    with pytest.raises(CheckFailed, match=re.escape("not `-e`")):
        check_cells.run_check(NOTEBOOK, 6, namespace, CA=tmp_path / "ca.crt", **state)


@pytest.mark.docker
def test_https_check_fails_for_a_certificate_of_another_ca(namespace: dict[str, Any], tmp_path: Path) -> None:
    served = certificates(tmp_path / "served")
    other = certificates(tmp_path / "other")  # the CA the learner's client trusts: not the one that signed
    server, port = tls_server(served)
    (tmp_path / "https").mkdir()
    state = https_state(tmp_path / "https", server, port)
    with pytest.raises(CheckFailed, match=r"does not verify for localhost: .*Serve a certificate signed by the lab"):
        check_cells.run_check(NOTEBOOK, 6, namespace, CA=other / "ca.crt", **state)


# --- Step 7: a new certificate, the same image ---


@pytest.mark.docker
def test_rotation_check_fails_while_the_old_certificate_is_served(namespace: dict[str, Any], tmp_path: Path) -> None:
    served = certificates(tmp_path)
    server, _ = tls_server(served)
    cert = namespace["checks"].tls_verified("localhost", containers.host_port(server.name, 8081), served / "ca.crt")
    with pytest.raises(CheckFailed, match=re.escape("Call issue_server_certificate(), then `docker restart")):
        check_cells.run_check(
            NOTEBOOK, 7, namespace, WEB=server.name, CA=served / "ca.crt", OLD_SERIAL=cert["serialNumber"],
            OLD_IMAGE=server.image.id,
        )  # fmt: skip


@pytest.mark.docker
def test_rotation_check_fails_when_the_container_runs_another_image(namespace: dict[str, Any], tmp_path: Path) -> None:
    served = certificates(tmp_path)
    server, _ = tls_server(served)
    with pytest.raises(CheckFailed, match=re.escape("Rotating a certificate needs no new image")):
        check_cells.run_check(
            NOTEBOOK, 7, namespace, WEB=server.name, CA=served / "ca.crt", OLD_SERIAL="0", OLD_IMAGE="sha256:other"
        )


# --- Step 8: the Compose secret ---


def api_service(project: str, **options: Any) -> Container:
    labels = {compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: "api"}
    return wrong_state.started(LAB_ID, ASPNET, ["sleep", "infinity"], labels=labels, **options)


@pytest.mark.docker
def test_compose_check_fails_when_the_secret_is_in_the_environment(namespace: dict[str, Any]) -> None:
    project = wrong_state.unique(LAB_ID, "project")
    api_service(project, environment={"ConnectionStrings__Notes": SECRET})
    with pytest.raises(CheckFailed, match=re.escape("not under `environment:`")):
        check_cells.run_check(NOTEBOOK, 8, namespace, PROJECT=project, NOTES_SECRET=SECRET)


@pytest.mark.docker
def test_compose_check_fails_when_the_secret_is_not_mounted(namespace: dict[str, Any]) -> None:
    project = wrong_state.unique(LAB_ID, "project")
    api_service(project)
    with pytest.raises(CheckFailed, match=re.escape("`secrets: [ConnectionStrings__Notes]`")):
        check_cells.run_check(NOTEBOOK, 8, namespace, PROJECT=project, NOTES_SECRET=SECRET)
