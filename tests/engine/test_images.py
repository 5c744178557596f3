"""Image insight: tables, plots, shared layers, history and disk use, against real images."""

import pytest
from docker import DockerClient
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from labkit import images
from labkit.engine import image_info
from tests.helpers import BuildImage

docker = pytest.mark.docker

APP = """\
FROM {base}
LABEL org.opencontainers.image.base.name="{base}"
COPY big.txt /app/big.txt
EXPOSE 8080 9090
USER 1654
"""
OTHER = "FROM {base}\nCOPY other.txt /other.txt\n"
BIG = "x" * 500_000


@pytest.fixture(scope="module")
def app(build_image: BuildImage) -> str:
    return build_image("insight-app", APP, {"big.txt": BIG})


@pytest.fixture(scope="module")
def other(build_image: BuildImage) -> str:
    return build_image("insight-other", OTHER, {"other.txt": "other\n"})


@docker
def test_table(app: str, busybox: str, docker_client: DockerClient) -> None:
    frame = images.table([app, busybox])
    assert list(frame.columns) == ["image", "size_mb", "layers", "base", "user", "ports", "created"]
    app_row, base_row = frame.to_dict("records")
    assert app_row["image"] == app
    assert app_row["size_mb"] == image_info.size_mb(image_info.inspect(app))
    assert app_row["size_mb"] - base_row["size_mb"] == pytest.approx(0.5, abs=0.1)
    assert (app_row["layers"], base_row["layers"]) == (2, 1)
    assert app_row["base"] == busybox  # from the OCI base-name label
    base_layer = docker_client.images.get(busybox).attrs["RootFS"]["Layers"][0]
    assert base_row["base"] == base_layer.split(":")[1][:12]  # no label: the first layer's digest
    assert (app_row["user"], base_row["user"]) == ("1654", "(root)")
    assert (app_row["ports"], base_row["ports"]) == ("8080/tcp, 9090/tcp", "")
    assert app_row["created"] >= base_row["created"]


@docker
def test_plot_sizes_draws_one_labelled_bar_per_image(app: str, busybox: str) -> None:
    figure = images.plot_sizes([app, busybox], title="sizes")
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    assert axes.get_title() == "sizes"
    assert [bar.get_width() for bar in axes.patches if isinstance(bar, Rectangle)] == [
        image_info.size_mb(image_info.inspect(r)) for r in (app, busybox)
    ]
    assert [label.get_text() for label in axes.get_yticklabels()] == [app, busybox]
    assert all(text.get_text().endswith(" MB") for text in axes.texts)


@docker
def test_shared_layers(app: str, other: str, busybox: str, docker_client: DockerClient) -> None:
    base_layers = docker_client.images.get(busybox).attrs["RootFS"]["Layers"]
    assert images.shared_layers(app, busybox) == base_layers
    assert images.shared_layers(app, other) == base_layers
    assert images.shared_layers(app, app) == docker_client.images.get(app).attrs["RootFS"]["Layers"]


@docker
def test_layer_sharing_marks_which_image_uses_which_layer(app: str, other: str, busybox: str) -> None:
    frame = images.layer_sharing([app, other, busybox])
    assert list(frame.columns) == ["position", "layer", app, other, busybox, "shared_by"]
    assert frame["position"].tolist() == [1, 2, 2]
    assert frame["shared_by"].tolist() == [3, 1, 1]
    assert frame[app].tolist() == [True, True, False]
    assert frame[other].tolist() == [True, False, True]


@docker
def test_history_reads_like_the_dockerfile(app: str, busybox: str) -> None:
    frame = images.history(app)
    assert list(frame.columns) == ["created_by", "size_mb", "created"]
    steps = frame["created_by"].tolist()  # built by the classic builder (docker-py), which adds LABELs last
    assert steps[0] == "Imported from -"
    assert steps[1] == f"LABEL org.opencontainers.image.base.name={busybox}"
    assert steps[2].startswith("COPY file:") and steps[2].endswith(" in /app/big.txt")
    assert steps[3:5] == ["EXPOSE 8080 9090", "USER 1654"]
    assert frame["size_mb"].tolist()[:3] == [image_info.size_mb(image_info.inspect(busybox)), 0.0, 0.5]


@docker
def test_stored_layers_of_an_image_start_with_those_of_its_base(app: str, busybox: str) -> None:
    base, built = images.stored_layers(busybox), images.stored_layers(app)
    assert base and len(built) > len(base)
    assert built[: len(base)] == base
    assert all(mb > 0 for _, mb in built)


@pytest.mark.docker
def test_disk_usage_counts_shared_layers_once(app: str, other: str, busybox: str) -> None:
    sizes = {ref: sum(image_info.layer_bytes(image_info.inspect(ref))) for ref in (app, other, busybox)}
    usage = images.disk_usage([app, other, busybox, app])
    assert usage.sum_of_sizes_mb == pytest.approx(sum(sizes.values()) / 1_000_000, abs=0.15)
    expected = sizes[busybox] + (sizes[app] - sizes[busybox]) + (sizes[other] - sizes[busybox])
    assert usage.on_disk_mb == round(expected / 1_000_000, 1)
    assert usage.saved_mb == pytest.approx(2 * sizes[busybox] / 1_000_000, abs=0.15)


@pytest.mark.parametrize(
    ("created_by", "short"),
    [
        ("RUN /bin/sh -c dotnet restore # buildkit", "RUN dotnet restore"),
        ("RUN |1 TARGETARCH=amd64 /bin/sh -c dotnet publish -a amd64 # buildkit", "RUN dotnet publish -a amd64"),
        ("/bin/sh -c #(nop)  ENV DOTNET_VERSION=10.0.12", "ENV DOTNET_VERSION=10.0.12"),
        ("/bin/sh -c apt-get update", "RUN apt-get update"),
        (
            "RUN /bin/sh -c apt-get update     && apt-get install -y \tcurl # buildkit",
            "RUN apt-get update && apt-get install -y curl",
        ),
        ("WORKDIR /app", "WORKDIR /app"),
        ("COPY /app . # buildkit", "COPY /app ."),
        ("/bin/sh -c #(nop) COPY file:" + "0123456789ab" + "c" * 52 + " in /app ", "COPY file:0123456789ab in /app"),
    ],
)
def test_shorten_created_by(created_by: str, short: str) -> None:
    assert images.shorten_created_by(created_by) == short


def test_shorten_created_by_cuts_long_lines() -> None:
    short = images.shorten_created_by("RUN /bin/sh -c " + "a" * 200)
    assert len(short) == images.CREATED_BY_WIDTH and short.endswith("…")


def test_images_offers_the_inspect_helpers_notebooks_use() -> None:
    for name in ("inspect", "exists", "size_mb", "layers", "config", "user", "env", "short_digest", "ImageMissing"):
        assert getattr(images, name) is getattr(image_info, name)
