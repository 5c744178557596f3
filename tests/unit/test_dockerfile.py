"""labkit.dockerfile: instructions and stages, as the checks need them."""

import pytest

from labkit import dockerfile

TEXT = """\
# syntax=docker/dockerfile:1
ARG DOTNET_TAG=10.0
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:$DOTNET_TAG AS build
WORKDIR /source

# copy the project file and restore as distinct layers
COPY --link --chown=app:app App/*.csproj App/
RUN dotnet restore \\
    # a comment inside a continuation is dropped
    -a $TARGETARCH

COPY ["App/", "App dir/"]
RUN <<END
dotnet publish --no-restore -o /app
END

FROM mcr.microsoft.com/dotnet/aspnet:$DOTNET_TAG
COPY --from=build /app .
"""


def test_parse_joins_continuations_and_skips_comments() -> None:
    found = dockerfile.parse(TEXT)
    assert [(i.line, i.keyword) for i in found] == [
        (2, "ARG"), (3, "FROM"), (4, "WORKDIR"), (7, "COPY"), (8, "RUN"), (12, "COPY"), (13, "RUN"), (17, "FROM"),
        (18, "COPY"),
    ]  # fmt: skip
    assert str(found[4]) == "RUN dotnet restore -a $TARGETARCH"


def test_parse_keeps_a_heredoc_body_with_its_instruction() -> None:
    run = dockerfile.parse(TEXT)[6]
    assert run.args == "<<END\ndotnet publish --no-restore -o /app"


def test_stages_have_their_base_name_and_instructions() -> None:
    build, final = dockerfile.stages(TEXT)
    assert (build.base, build.name) == ("mcr.microsoft.com/dotnet/sdk:$DOTNET_TAG", "build")
    assert (final.base, final.name) == ("mcr.microsoft.com/dotnet/aspnet:$DOTNET_TAG", None)
    assert [i.keyword for i in build.instructions] == ["WORKDIR", "COPY", "RUN", "COPY", "RUN"]


@pytest.mark.parametrize(
    ("index", "parts"),
    [
        (3, ({"link": "", "chown": "app:app"}, ["App/*.csproj"], "App/")),
        (5, ({}, ["App/"], "App dir/")),
        (8, ({"from": "build"}, ["/app"], ".")),
    ],
)
def test_copy_parts(index: int, parts: tuple[dict[str, str], list[str], str]) -> None:
    assert dockerfile.copy_parts(dockerfile.parse(TEXT)[index]) == parts


@pytest.mark.parametrize(
    "run",
    ["RUN echo $((1 << 3))", "RUN echo $((1<<3))", "RUN cat <<< 'a here-string'", "RUN echo '<< EOF is not one'"],
)
def test_shell_arithmetic_and_here_strings_are_not_heredocs(run: str) -> None:
    found = dockerfile.parse(f"FROM scratch\n{run}\nCOPY app /app\nUSER 1654\n")
    assert [(i.line, i.keyword) for i in found] == [(1, "FROM"), (2, "RUN"), (3, "COPY"), (4, "USER")]


@pytest.mark.parametrize("opener", ["<<EOF", "<<-EOF", '<<"EOF"', "<<'EOF'", "<<_EOF1"])
def test_every_heredoc_form_is_read(opener: str) -> None:
    marker = opener.lstrip("<-").strip("\"'")
    found = dockerfile.parse(f"FROM scratch\nRUN {opener}\necho hi\n{marker}\nUSER 1654\n")
    assert [i.keyword for i in found] == ["FROM", "RUN", "USER"]
    assert found[1].args.endswith("echo hi")
