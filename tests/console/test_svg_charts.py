"""Server-drawn SVG charts: well-formed, escaped, one shape per value, gaps for missing values."""

import xml.etree.ElementTree as ET

import pytest

from jobs.svg_charts import Series, bar_chart, line_chart, nice_axis

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything that is not well-formed XML


def tooltips(root: ET.Element, tag: str) -> list[str]:
    titles = (el.find(f"{SVG}title") for el in root.iter(f"{SVG}{tag}"))
    return [title.text or "" for title in titles if title is not None]


@pytest.mark.parametrize(
    ("value", "whole", "axis"),
    [
        (0, True, (1, 1)),
        (1, True, (1, 1)),
        (3, True, (3, 1)),
        (4, True, (4, 1)),
        (5, True, (6, 2)),
        (7, True, (8, 2)),
        (180, True, (200, 50)),
        (4999, True, (6000, 2000)),
        (0.3, False, (0.3, 0.1)),
        (42.5, False, (60, 20)),
    ],
)
def test_nice_axis__round_steps_whole_for_counts(value, whole, axis):
    top, step = nice_axis(value, whole=whole)

    assert (top, step) == pytest.approx(axis)
    assert top >= value and top / step <= 4 + 1e-9


def test_bar_chart__one_rect_per_nonzero_segment_with_exact_values():
    svg = bar_chart(
        title="Throughput",
        labels=["Mon", "Tue", "Wed"],
        series=[Series("Completed", [3, 0, 5], "#198754"), Series("Failed", [1, 0, 0], "#dc3545")],
    )

    root = parse(svg)
    assert root.find(f"{SVG}title").text == "Throughput"
    assert tooltips(root, "rect") == ["Mon — Completed: 3", "Mon — Failed: 1", "Wed — Completed: 5"]


def test_bar_chart__stacked_segments_touch_and_scale_to_the_axis():
    root = parse(bar_chart(title="t", labels=["a"], series=[Series("x", [2], "#000000"), Series("y", [2], "#ffffff")]))

    bottom, top = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert float(top.get("y")) + float(top.get("height")) == pytest.approx(float(bottom.get("y")))
    # 4 on an axis of 0..4: the stack reaches the top gridline.
    axis_top = min(float(line.get("y1")) for line in root.iter(f"{SVG}line"))
    assert float(top.get("y")) == pytest.approx(axis_top)


def test_bar_chart__per_bar_colours():
    root = parse(
        bar_chart(title="t", labels=["a", "b"], series=[Series("n", [1, 2], "#000000", colors=["#111111", "#222222"])])
    )

    assert [r.get("fill") for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None] == [
        "#111111",
        "#222222",
    ]


def test_bar_chart__all_zero_says_so():
    svg = bar_chart(title="t", labels=["a"], series=[Series("n", [0], "#000000")], empty_text="Nothing yet")

    assert "Nothing yet" in svg


def test_charts__escape_every_text():
    evil = '<script>alert("x")</script>&'
    svg = bar_chart(title=evil, labels=[evil], series=[Series(evil, [1], "#000000"), Series("b", [1], "#000000")])
    svg += line_chart(title=evil, labels=[evil], series=[Series(evil, [1], "#000000")])

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    for part in svg.split("</svg>")[:-1]:
        parse(part + "</svg>")


@pytest.mark.parametrize("color", ["red", "#fff", '#000000" onload="x', "url(#a)"])
def test_series__refuses_anything_but_hex_colours(color):
    with pytest.raises(ValueError, match="#rrggbb"):
        Series("n", [1], color)


def test_line_chart__none_breaks_the_line_and_has_no_point():
    root = parse(
        line_chart(
            title="Failure rate",
            labels=["1", "2", "3", "4", "5"],
            series=[Series("Failed %", [10, 20, None, 50, 40], "#b02a37")],
            y_max=100,
            y_suffix="%",
        )
    )

    lines = [p.get("points").split() for p in root.iter(f"{SVG}polyline")]
    assert [len(points) for points in lines] == [2, 2]
    assert tooltips(root, "circle") == [
        "1 — Failed %: 10%",
        "2 — Failed %: 20%",
        "4 — Failed %: 50%",
        "5 — Failed %: 40%",
    ]
    axis_labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "100%" in axis_labels and "0%" in axis_labels


def test_line_chart__no_values_says_so():
    svg = line_chart(title="t", labels=["a", "b"], series=[Series("n", [None, None], "#000000")], empty_text="Idle")

    assert "Idle" in svg
    assert "<polyline" not in svg


def test_axis_labels__thinned_to_at_most_eight():
    labels = [f"{h:02d}:00" for h in range(24)]
    root = parse(bar_chart(title="t", labels=labels, series=[Series("n", [1] * 24, "#000000")]))

    shown = [t.text for t in root.iter(f"{SVG}text") if t.text in labels]
    assert shown == labels[::3]
