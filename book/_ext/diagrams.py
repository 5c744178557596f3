"""The book's diagrams, drawn with matplotlib while the book builds.

The pictures are code, so they build offline with nothing but the course's Python packages and
stay in step with the text. In MyST:

    ```{diagram} layer-stack
    :alt: One or two sentences that say what the picture shows.

    An optional caption.
    ```

The HTML builders write each diagram to ``_images/diagrams/<name>.svg`` in the build output;
other builders (LaTeX, text) leave the picture out and keep the caption.
"""

from __future__ import annotations

import html
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import matplotlib
from docutils import nodes
from docutils.parsers.rst import directives
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective, SphinxTranslator

INK = "#1f2933"
SHARED = "#d9e8f5"
SDK = "#f6d9a8"
APP = "#b9e4c9"
BASE = "#e4e7eb"
STAGE = "#f7f7f2"


class DiagramNode(nodes.General, nodes.Element):  # type: ignore[misc]  # docutils has no type stubs
    """A placeholder for one named diagram; the HTML translator renders it."""


# -- drawing helpers ---------------------------------------------------------------------------


def _canvas(width: float, height: float) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), facecolor="white")
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(0, height)
    axes.set_axis_off()
    return figure, axes


def _text(axes: Axes, x: float, y: float, text: str, size: float = 11, **style: Any) -> None:
    axes.text(x, y, text, ha="center", va="center", fontsize=size, color=INK, parse_math=False, **style)


def _box(
    axes: Axes,
    xy: tuple[float, float],
    size: tuple[float, float],
    color: str,
    title: str,
    detail: str = "",
    dashed: bool = False,
) -> None:
    """A rounded box with a bold title and an optional line of detail under it."""
    (x, y), (width, height) = xy, size
    axes.add_patch(
        FancyBboxPatch(
            (x, y),
            width,
            height,
            boxstyle="round,pad=0,rounding_size=0.08",
            facecolor=color,
            edgecolor=INK,
            linewidth=1.2,
            linestyle="--" if dashed else "-",
        )
    )
    if detail:
        _text(axes, x + width / 2, y + height * 0.66, title, 13, weight="bold")
        _text(axes, x + width / 2, y + height * 0.3, detail, 10.5)
    else:
        _text(axes, x + width / 2, y + height / 2, title, 12.5, weight="bold")


def _arrow(
    axes: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    offset: tuple[float, float] = (0, 0.18),
) -> None:
    axes.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": INK, "linewidth": 1.4, "shrinkA": 2, "shrinkB": 2},
    )
    if label:
        middle = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        _text(axes, *middle, label, 10.5, style="italic")


# -- the diagrams ------------------------------------------------------------------------------


def draw_layer_stack() -> Figure:
    """runtime-deps -> runtime -> aspnet -> sdk, with an app image beside the sdk."""
    figure, axes = _canvas(10, 6.2)
    left, width, height, gap = 0.2, 7.0, 0.9, 0.16
    layers = [
        (BASE, "Ubuntu 24.04 \u201cnoble\u201d", "the distribution of the default 10.0 tags"),
        (SHARED, "runtime-deps:10.0", "native libraries, user app (UID 1654),\nASPNETCORE_HTTP_PORTS=8080"),
        (SHARED, "runtime:10.0", ".NET runtime in /usr/share/dotnet"),
        (SHARED, "aspnet:10.0", "ASP.NET Core shared framework"),
    ]
    for row, (color, title, detail) in enumerate(layers):
        _box(axes, (left, 0.2 + row * (height + gap)), (width, height), color, title, detail)
    top = 0.2 + len(layers) * (height + gap) + 0.1
    half = (width - gap) / 2
    _box(axes, (left, top), (half, 1.5), SDK, "sdk:10.0", "SDK, git, curl,\nPowerShell: builds\nyour app")
    _box(axes, (left + half + gap, top), (half, 1.5), APP, "your app", "publish output:\nthe image you ship")
    axes.plot([left, left + width], [top - 0.13] * 2, color=INK, linestyle=":", linewidth=1.5)
    note_x = left + width + 1.4
    _text(axes, note_x, top + 0.75, "two images,\none shared\nbase", 12, weight="bold")
    _text(axes, note_x, top - 1.3, "below the dotted\nline: stored and\npulled once,\nused by both")
    _text(axes, note_x, 1.0, "each box: one or\nmore read-only\nlayers on top of\nthe image below")
    return figure


def draw_multi_stage() -> Figure:
    """An sdk build stage whose publish output is copied into an aspnet final stage."""
    figure, axes = _canvas(10, 5.8)
    width, step_height, right = 4.3, 0.66, 5.6
    stages = [
        (
            0.1,
            SDK,
            "build stage",
            "FROM sdk:10.0 AS build",
            ["COPY *.csproj .", "RUN dotnet restore", "COPY . .", "RUN dotnet publish -o /app"],
        ),
        (
            right,
            APP,
            "final stage",
            "FROM aspnet:10.0",
            ["WORKDIR /app", "COPY --from=build /app .", "USER $APP_UID", 'ENTRYPOINT ["./App"]'],
        ),
    ]

    def step_middle(index: int) -> float:
        return 3.85 - index * (step_height + 0.2)

    for x, color, title, base, steps in stages:
        _box(axes, (x, 0.75), (width, 4.95), STAGE, "")
        _text(axes, x + width / 2, 5.3, title, 13, weight="bold")
        _text(axes, x + width / 2, 4.85, base, 11, family="monospace")
        for index, step in enumerate(steps):
            y = step_middle(index)
            _box(axes, (x + 0.25, y - step_height / 2), (width - 0.5, step_height), color, "")
            _text(axes, x + width / 2, y, step, 11, family="monospace")
    _arrow(axes, (0.1 + width - 0.25, step_middle(3)), (right + 0.25, step_middle(1)))
    _text(axes, 4.95, 3.5, "only /app\ncrosses", 10.5, style="italic")
    _text(axes, 0.1 + width / 2, 0.35, "left behind: SDK, sources, obj/", style="italic")
    _text(axes, right + width / 2, 0.35, "the image you tag, push and run", style="italic")
    return figure


def draw_docker_architecture() -> Figure:
    """Client, daemon with images and containers, and a registry."""
    figure, axes = _canvas(10, 4.9)
    _box(axes, (0.1, 1.65), (2.2, 1.6), BASE, "client", "docker build,\nrun, pull,\npush, ...")
    _box(axes, (2.95, 0.1), (4.2, 4.7), STAGE, "")
    _text(axes, 5.05, 4.45, "Docker host: the daemon", 12.5, weight="bold")
    _box(axes, (3.2, 2.35), (3.7, 1.7), SHARED, "images", "read-only layers\n+ run settings")
    for index in range(2):
        _box(axes, (3.2 + index * 1.9, 0.3), (1.8, 1.4), APP, f"container {index + 1}", "own files,\nmemory,\nnetwork")
    _box(axes, (7.8, 1.65), (2.1, 1.6), SDK, "registry", "repositories\nof tagged\nimages")
    _arrow(axes, (2.3, 2.45), (2.95, 2.45), "API", offset=(0, 0.22))
    _arrow(axes, (7.8, 3.0), (6.9, 3.0), "pull", offset=(0.02, 0.22))
    _arrow(axes, (6.9, 2.6), (7.8, 2.6), "push", offset=(0.02, -0.24))
    _arrow(axes, (5.05, 2.35), (5.05, 1.7), "run", offset=(0.35, 0))
    return figure


DIAGRAMS: dict[str, Callable[[], Figure]] = {
    "layer-stack": draw_layer_stack,
    "multi-stage": draw_multi_stage,
    "docker-architecture": draw_docker_architecture,
}


def render(name: str, target: Path) -> Path:
    """Write diagram `name` as SVG to `target`, unless an up-to-date copy is already there."""
    if target.exists() and target.stat().st_mtime >= Path(__file__).stat().st_mtime:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": name, "font.family": "DejaVu Sans"}):
        DIAGRAMS[name]().savefig(target, format="svg", metadata={"Date": None})
    return target


# -- Sphinx glue -------------------------------------------------------------------------------


class DiagramDirective(SphinxDirective):
    """``{diagram} <name>`` with a required ``:alt:`` and an optional caption as content."""

    required_arguments = 1
    has_content = True
    option_spec: ClassVar[dict[str, Callable[[str], str]]] = {
        "alt": directives.unchanged_required,
        "name": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        if name not in DIAGRAMS:
            raise self.error(f"unknown diagram {name!r}; known: {', '.join(sorted(DIAGRAMS))}")
        alt = " ".join(self.options.get("alt", "").split())
        if not alt:
            raise self.error(f"diagram {name!r} needs :alt: text")
        self.env.note_dependency(__file__)
        figure = nodes.figure(classes=["diagram"])
        figure += DiagramNode(name=name, alt=alt)
        if self.content:
            parsed = nodes.Element()
            self.state.nested_parse(self.content, self.content_offset, parsed)
            first = parsed.children[0] if parsed.children else nodes.paragraph()
            figure += nodes.caption(first.rawsource, "", *first.children)
        self.add_name(figure)
        return [figure]


def visit_diagram_html(translator: SphinxTranslator, node: DiagramNode) -> None:
    builder: Any = translator.builder
    file_name = f"{node['name']}.svg"
    render(node["name"], Path(builder.outdir, "_images", "diagrams", file_name))
    source = posixpath.join(builder.imgpath, "diagrams", file_name)
    translator.body.append(f'<img src="{html.escape(source)}" alt="{html.escape(node["alt"])}" class="diagram" />')
    raise nodes.SkipNode


def skip_diagram(translator: SphinxTranslator, node: DiagramNode) -> None:
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_node(
        DiagramNode,
        html=(visit_diagram_html, None),
        latex=(skip_diagram, None),
        text=(skip_diagram, None),
        man=(skip_diagram, None),
        texinfo=(skip_diagram, None),
    )
    app.add_directive("diagram", DiagramDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
