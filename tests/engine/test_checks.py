"""Every check passes on the right Docker state and fails, with its hint, on a wrong one."""

import re
from datetime import date
from pathlib import Path

import pytest
from docker import DockerClient

from labkit import catalog, checks, compose, names, releases, run, shell
from labkit.containers import run_web
from labkit.errors import CheckFailed
from labkit.names import free_port
from tests.helpers import LABELS, WEB_FILES, WEB_IMAGE, BuildImage, StartContainer

docker = pytest.mark.docker
TODAY = date(2026, 11, 21)


APP_IMAGE = """\
FROM {base}
LABEL org.opencontainers.image.base.name="{base}"
ENV GREETING=hello APP_UID=1654
COPY hello.txt /app/hello.txt
EXPOSE 8080
USER $APP_UID
"""
HEALTH_IMAGE = """\
FROM {base}
HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD ["%s"]
CMD ["sleep", "300"]
"""
SCRATCH_IMAGE = "FROM scratch\nCOPY hello.txt /app/hello.txt\n"


@pytest.fixture(scope="module")
def app_image(build_image: BuildImage) -> str:
    return build_image("app", APP_IMAGE, {"hello.txt": "hello\n"})


@pytest.fixture(scope="module")
def scratch_image(build_image: BuildImage) -> str:
    """No shell, no user, one file: what path_in_image must handle."""
    return build_image("scratch", SCRATCH_IMAGE, {"hello.txt": "hello\n"})


def fails_with(hint_part: str) -> pytest.RaisesExc[CheckFailed]:
    return pytest.raises(CheckFailed, match=f"Hint: .*{hint_part}")


# --- the reporter ---


def test_a_pass_prints_a_green_tick(capsys: pytest.CaptureFixture[str]) -> None:
    assert checks.that("the answer is 42", 6 * 7 == 42, "Multiply again.") is True
    assert "✔ the answer is 42" in capsys.readouterr().out


def test_a_fail_prints_a_red_cross_and_the_hint_and_raises(capsys: pytest.CaptureFixture[str]) -> None:
    with fails_with("Multiply again"):
        checks.that("the answer is 42", 6 * 9 == 42, "Multiply again.")
    out = capsys.readouterr().out
    assert "✘ Not yet: the answer is 42." in out
    assert "Hint: Multiply again." in out


# --- commands the learner ran ---

ANSWER = "echo $((6 * 7))"  # prints 42, a number its own text does not hold
DISK_USAGE = re.compile(r"^Images\s+\d", re.MULTILINE)  # the row `docker system df` prints


@pytest.mark.parametrize(
    ("command", "words", "output_has"),
    [
        (f"{ANSWER}; exit 3", ("echo",), "42"),
        (ANSWER, ("echo", "bye"), "42"),
        (ANSWER, ("echo",), "43"),
        (ANSWER, ("echo",), ""),
        ("echo 42", ("echo",), "42"),
        ("echo 42", ("echo",), re.compile(r"\d+")),
    ],
    ids=["failed", "another-command", "another-output", "no-evidence", "echoed-evidence", "echoed-match"],
)
def test_ran_refuses_a_command_that_failed_is_not_the_one_asked_for_or_only_echoed(
    command: str, words: tuple[str, ...], output_has: str | re.Pattern[str]
) -> None:
    shell.forget()  # a new kernel's record
    run(command, quiet=True, check=False)
    with fails_with("Run the answer cell"):
        checks.ran("you asked", *words, output_has=output_has, hint="Run the answer cell.")


def test_ran_refuses_the_echo_of_a_docker_command() -> None:
    shell.forget()
    run("echo docker system df", quiet=True)
    with fails_with("Run `docker system df`"):
        checks.ran("your disk usage", "docker system df", output_has=DISK_USAGE, hint="Run `docker system df`.")


def test_ran_returns_the_output_of_the_latest_command_that_succeeded() -> None:
    shell.forget()
    run(f"{ANSWER}; echo first", quiet=True)
    run(f"{ANSWER}; echo second", quiet=True)
    run(f"{ANSWER}; exit 3", quiet=True, check=False)
    assert checks.ran("you asked", "echo", output_has="42", hint="Run the answer cell.") == "42\nsecond\n"
    assert checks.ran("you asked", "echo", output_has=re.compile("^first$", re.M), hint="Again.") == "42\nfirst\n"


# --- images ---


@docker
def test_image_exists(app_image: str) -> None:
    assert checks.image_exists(app_image)["RepoTags"] == [app_image]


@docker
def test_image_exists_fails_for_a_missing_image(run_tag: str) -> None:
    with fails_with("docker build"):
        checks.image_exists(f"containerizing-dotnet/never-built-{run_tag}:latest")
    with fails_with("docker pull"):
        checks.image_exists(f"example.org/never-pulled-{run_tag}:1")
    with fails_with("Build it in step 2"):
        checks.image_exists(f"example.org/never-pulled-{run_tag}:1", hint="Build it in step 2.")


@docker
@pytest.mark.parametrize(
    ("name", "user_line", "user"),
    [
        ("user-app", "USER app", "app"),
        ("user-ids", "USER 1654:1654", "1654:1654"),
        ("user-env", "USER $APP_UID", "1654"),
    ],
)
def test_image_user_not_root_accepts_a_named_or_numeric_user(
    build_image: BuildImage, name: str, user_line: str, user: str
) -> None:
    ref = build_image(name, f"FROM {{base}}\nENV APP_UID=1654\n{user_line}\n")
    assert checks.image_user_not_root(ref) == user


@docker
@pytest.mark.parametrize(
    ("name", "user_line"),
    [("root-unset", ""), ("root-name", "USER root"), ("root-id", "USER 0"), ("root-ids", "USER 0:0")],
)
def test_image_user_not_root_fails_for_root(build_image: BuildImage, name: str, user_line: str) -> None:
    ref = build_image(name, f"FROM {{base}}\n{user_line}\n")
    with fails_with(r"Add `USER \$APP_UID` as the last instruction of the final stage"):
        checks.image_user_not_root(ref)


@docker
def test_image_size_below(app_image: str) -> None:
    assert 1.0 < checks.image_size_below(app_image, 10) < 10
    with fails_with("runtime image"):
        checks.image_size_below(app_image, 1)


@docker
def test_env_equals(app_image: str) -> None:
    assert checks.env_equals(app_image, "GREETING", "hello") == "hello"
    with fails_with("ENV GREETING=bonjour"):
        checks.env_equals(app_image, "GREETING", "bonjour")
    with fails_with("Add `ENV DOTNET_NOLOGO=1`"):
        checks.env_equals(app_image, "DOTNET_NOLOGO", "1")


@docker
def test_path_in_image_works_without_a_shell(scratch_image: str) -> None:
    stat = checks.path_in_image(scratch_image, "/app/hello.txt")
    assert stat is not None and stat["name"] == "hello.txt" and stat["size"] == 6
    assert checks.path_in_image(scratch_image, "/app/obj", present=False) is None


@docker
def test_path_in_image_fails_both_ways(scratch_image: str) -> None:
    with fails_with("dotnet publish -o"):
        checks.path_in_image(scratch_image, "/app/App.dll")
    with fails_with(r"COPY --from=build /app \."):
        checks.path_in_image(scratch_image, "/app/hello.txt", present=False)


@docker
def test_path_in_image_leaves_no_container_behind(scratch_image: str, docker_client: DockerClient) -> None:
    checks.path_in_image(scratch_image, "/app/hello.txt")
    leftovers = docker_client.containers.list(all=True, filters={"ancestor": scratch_image})
    assert leftovers == []


@docker
def test_images_share_base(app_image: str, busybox: str, build_image: BuildImage) -> None:
    assert len(checks.images_share_base(app_image, busybox)) == 1
    sibling = build_image("sibling", "FROM {base}\nCOPY other.txt /other.txt\n", {"other.txt": "other\n"})
    assert len(checks.images_share_base(app_image, sibling)) == 1  # same first layer, then they differ


@docker
def test_images_share_base_fails_for_unrelated_images(app_image: str, scratch_image: str) -> None:
    with fails_with(f"Build {app_image} FROM {scratch_image}"):
        checks.images_share_base(app_image, scratch_image)


# --- containers ---


@docker
def test_container_running(busybox: str, start_container: StartContainer) -> None:
    container = start_container(busybox, ["sleep", "300"], what="running")
    assert checks.container_running(container.name).id == container.id


@docker
def test_container_running_fails_for_a_stopped_or_missing_container(
    busybox: str, start_container: StartContainer, run_tag: str
) -> None:
    container = start_container(busybox, ["sh", "-c", "echo starting; exit 3"], what="exits")
    container.wait(timeout=30)
    with pytest.raises(CheckFailed, match=r"exited \(exit code 3\)[\s\S]*starting[\s\S]*Hint: .*docker logs"):
        checks.container_running(container.name)
    with fails_with("docker run --name"):
        checks.container_running(f"labkit-tests-no-such-container-{run_tag}")


@docker
def test_container_healthy(build_image: BuildImage, start_container: StartContainer) -> None:
    container = start_container(build_image("healthy", HEALTH_IMAGE % "true"), what="healthy")
    assert checks.container_healthy(container.name, timeout=30).id == container.id


@docker
def test_container_healthy_fails_when_unhealthy(build_image: BuildImage, start_container: StartContainer) -> None:
    container = start_container(build_image("unhealthy", HEALTH_IMAGE % "false"), what="unhealthy")
    with pytest.raises(CheckFailed, match="is unhealthy"):
        checks.container_healthy(container.name, timeout=30)


@docker
def test_container_healthy_says_when_the_image_has_no_healthcheck(
    busybox: str, start_container: StartContainer
) -> None:
    container = start_container(busybox, ["sleep", "300"], what="nohealth")
    with fails_with("Its image has no HEALTHCHECK"):
        checks.container_healthy(container.name, timeout=5)


@docker
def test_http_contains(build_image: BuildImage, run_tag: str) -> None:
    image = build_image("web", WEB_IMAGE, WEB_FILES)
    container, base = run_web(image, name=f"labkit-tests-web-{run_tag}", labels=LABELS, timeout=30)
    try:
        assert checks.http_contains(base + "/", "hello labkit").status == 200
        with pytest.raises(CheckFailed, match=r"answers HTTP 200, but without 'goodbye'.*Hint: .*endpoint"):
            checks.http_contains(base + "/", "goodbye", timeout=1)
    finally:
        container.remove(force=True)


def test_http_contains_fails_when_nothing_answers() -> None:
    with fails_with("-p 127.0.0.1:PORT:8080"):
        checks.http_contains(f"http://127.0.0.1:{free_port()}/", "hello", timeout=1)


# --- compose projects and secrets ---


def api_service(start_container: StartContainer, busybox: str, project: str, *replicas: tuple[str, ...]) -> None:
    """The compose service `api` of `project` (containers labelled as Compose labels them), one container
    per replica, publishing port 8080 on each of its addresses on a host port Docker picks. Nothing listens."""
    for number, addresses in enumerate(replicas, 1):
        labels = {compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: "api", compose.NUMBER_LABEL: str(number)}
        start_container(
            busybox,
            ["sleep", "300"],
            what="api",
            labels={**LABELS, **labels},
            network_mode="bridge",
            ports={"8080/tcp": [(address, None) for address in addresses]},
        )


@docker
def test_service_on_loopback_gives_the_host_ports(busybox: str, start_container: StartContainer, run_tag: str) -> None:
    project = f"labkit-tests-loopback-{run_tag}"
    api_service(start_container, busybox, project, ("127.0.0.1",), ("127.0.0.1",))
    ports = checks.service_on_loopback(project, "api")
    assert len(set(ports)) == 2 and all(port > 0 for port in ports)


@docker
@pytest.mark.parametrize(
    "replicas",
    [(("0.0.0.0",),), (("127.0.0.1",), ("0.0.0.0",)), (("127.0.0.1", "0.0.0.0"),)],
    ids=["everywhere", "one-replica-everywhere", "also-everywhere"],
)
def test_service_on_loopback_refuses_a_port_on_every_interface(
    busybox: str, start_container: StartContainer, run_tag: str, replicas: tuple[tuple[str, ...], ...]
) -> None:
    project = f"labkit-tests-everywhere-{run_tag}-{names.run_id()}"
    api_service(start_container, busybox, project, *replicas)
    with pytest.raises(CheckFailed, match=r"publishes port 8080 as .*0\.0\.0\.0:\d+->8080/tcp.*127\.0\.0\.1::8080"):
        checks.service_on_loopback(project, "api")


SECRET = "labkit-s3cret"


@docker
@pytest.mark.parametrize(
    ("name", "line", "place"),
    [
        ("secret-env", f"ENV PASSWORD={SECRET}", "its environment"),
        ("secret-label", f"LABEL password={SECRET}", "its labels"),
        ("secret-command", f'CMD ["echo", "{SECRET}"]', "its command"),
        ("secret-run", f"RUN echo {SECRET} > /dev/null", "its build history"),
    ],
)
def test_secret_not_in_image_finds_it_wherever_a_pull_shows_it(
    build_image: BuildImage, name: str, line: str, place: str
) -> None:
    ref = build_image(name, f"FROM {{base}}\n{line}\n")
    with pytest.raises(CheckFailed, match=f"The secret is in the image {ref}: in {place}.*Hint: Anyone who pulls"):
        checks.secret_not_in_image(ref, SECRET)


@docker
def test_secret_not_in_image_passes_when_it_is_nowhere(app_image: str, capsys: pytest.CaptureFixture[str]) -> None:
    checks.secret_not_in_image(app_image, SECRET)
    assert f"✔ The secret is not in the image {app_image}'s configuration or history." in capsys.readouterr().out


# --- tags and Dockerfiles (no Docker needed) ---


def test_tag_supported_reads_the_channel_from_the_tag() -> None:
    assert checks.tag_supported(catalog.image("aspnet-chiseled"), today=TODAY).channel_version == "10.0"
    assert checks.tag_supported("mcr.microsoft.com/dotnet/sdk:10.0.401", today=TODAY).release_type == "lts"
    assert checks.tag_supported("127.0.0.1:5000/dotnet/sdk:10.0", today=TODAY).channel_version == "10.0"


def test_tag_supported_fails_for_an_end_of_life_channel() -> None:
    with pytest.raises(CheckFailed, match=r"\.NET 8\.0 .* out of support since 2026-11-10.*Hint: .*10\.0"):
        checks.tag_supported("mcr.microsoft.com/dotnet/aspnet:8.0-bookworm-slim", today=TODAY)


def test_tag_supported_fails_without_a_version_or_for_an_unknown_one() -> None:
    with fails_with("versioned tag"):
        checks.tag_supported("mcr.microsoft.com/dotnet/sdk", today=TODAY)
    with fails_with("Check the tag"):
        checks.tag_supported("mcr.microsoft.com/dotnet/sdk:99.0", today=TODAY)


def test_tag_supported_uses_the_end_of_support_date(monkeypatch: pytest.MonkeyPatch) -> None:
    ending = releases.Channel("10.0", "maintenance", date(2028, 11, 14), "10.0.99", "10.0.999", "lts", None)
    index = releases.ReleaseIndex((ending,), "snapshot", "test")
    monkeypatch.setattr(releases, "load", lambda: index)
    assert checks.tag_supported("sdk:10.0", today=date(2028, 11, 13)) == ending
    with fails_with("supported channel"):
        checks.tag_supported("sdk:10.0", today=date(2028, 11, 14))


GOOD_DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG DOTNET_TAG=10.0
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:$DOTNET_TAG AS build
ARG TARGETARCH
WORKDIR /source

# copy the project file and restore as distinct layers
COPY --link App/*.csproj App/
RUN dotnet restore -a $TARGETARCH App/App.csproj

COPY --link App/. App/
RUN dotnet publish -a $TARGETARCH --no-restore -o /app App/App.csproj

FROM mcr.microsoft.com/dotnet/aspnet:$DOTNET_TAG
WORKDIR /app
COPY --from=build /app .
USER $APP_UID
ENTRYPOINT ["./App"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return path


def test_dockerfile_restores_before_sources(tmp_path: Path) -> None:
    restore = checks.dockerfile_restores_before_sources(write(tmp_path, GOOD_DOCKERFILE))
    assert restore.line == 9 and "dotnet restore" in restore.args


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (("COPY --link App/*.csproj App/\n", "COPY . .\n"), r"copies \. before `dotnet restore`"),
        (("COPY --link App/*.csproj App/\n", ""), "copies no project file before"),
        (("COPY --link App/. App/\n", ""), "never copies the sources after"),
        (("RUN dotnet restore -a $TARGETARCH App/App.csproj\n", ""), "never runs `dotnet restore` by itself"),
    ],
    ids=["sources-first", "no-project-copy", "no-source-copy", "no-restore"],
)
def test_dockerfile_restores_before_sources_fails(tmp_path: Path, wrong: tuple[str, str], message: str) -> None:
    path = write(tmp_path, GOOD_DOCKERFILE.replace(*wrong))
    with pytest.raises(CheckFailed, match=f"{message}.*Hint: Copy only the project file"):
        checks.dockerfile_restores_before_sources(path)


def test_dockerfile_restores_before_sources_without_a_dockerfile(tmp_path: Path) -> None:
    with fails_with("lab folder"):
        checks.dockerfile_restores_before_sources(tmp_path / "Dockerfile")
