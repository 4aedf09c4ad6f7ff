"""Bar and line charts drawn on the server as inline SVG: no JavaScript, no CDN, no network.

Every piece of text (titles, labels, series names) is escaped; colours must be #rrggbb.
Axis text uses `currentColor`, so the charts follow the admin's light or dark theme.
Each bar and point carries a <title> with its exact value (the browser shows it on hover).
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 460
HEIGHT = 220
MARGIN_LEFT = 44
MARGIN_RIGHT = 12
MARGIN_TOP = 34
MARGIN_BOTTOM = 30
MAX_X_LABELS = 8
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str
    # Per-point colours (a bar per category, each its own colour); None: `color` for all.
    colors: Sequence[str] | None = None

    def __post_init__(self) -> None:
        for c in [self.color, *(self.colors or [])]:
            if not _COLOR.match(c):
                raise ValueError(f"Colour must be #rrggbb, got {c!r}")


def nice_axis(value: float, *, whole: bool = True, ticks: int = 4) -> tuple[float, float]:
    """(top, step) of a y axis over 0..value: step is 1, 2 or 5 × 10^k, at most `ticks` steps.

    `whole` (counts): steps of at least 1, so no tick reads "2.5 jobs".
    """
    if value <= 0:
        return 1, 1
    rough = value / ticks
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    if whole:
        step = max(1, step)
    return step * math.ceil(value / step), step


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


class _Canvas:
    def __init__(
        self, *, title: str, labels: Sequence[str], axis: tuple[float, float], y_suffix: str, width: int, height: int
    ):
        self.title, self.labels, self.y_suffix = title, list(labels), y_suffix
        self.y_max, self.y_step = axis
        self.width, self.height = width, height
        self.plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
        self.plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
        self.parts: list[str] = []

    def x_slot(self, i: int) -> tuple[float, float]:
        """Left edge and width of category i."""
        slot = self.plot_w / max(1, len(self.labels))
        return MARGIN_LEFT + i * slot, slot

    def y(self, value: float) -> float:
        return MARGIN_TOP + self.plot_h - (value / self.y_max) * self.plot_h

    def axes(self) -> None:
        for k in range(round(self.y_max / self.y_step) + 1):
            value = k * self.y_step
            y = self.y(value)
            self.parts.append(
                f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{MARGIN_LEFT + self.plot_w}" y2="{y:.1f}" '
                f'stroke="currentColor" stroke-opacity="{0.5 if k == 0 else 0.15}"/>'
                f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                f'fill="currentColor">{escape(_fmt(value) + self.y_suffix)}</text>'
            )
        every = max(1, math.ceil(len(self.labels) / MAX_X_LABELS))
        last = len(self.labels) - 1
        for i, label in enumerate(self.labels):
            # Counted from the end, so the newest bucket (this hour, today) always has its label.
            if (last - i) % every:
                continue
            left, slot = self.x_slot(i)
            self.parts.append(
                f'<text x="{left + slot / 2:.1f}" y="{MARGIN_TOP + self.plot_h + 16}" text-anchor="middle" '
                f'font-size="11" fill="currentColor">{escape(label)}</text>'
            )

    def legend(self, series: Sequence[Series]) -> None:
        x = self.width - MARGIN_RIGHT
        for s in reversed(series):
            width = 14 + 7 * len(s.name)
            x -= width
            self.parts.append(
                f'<rect x="{x}" y="12" width="10" height="10" fill="{s.color}"/>'
                f'<text x="{x + 14}" y="21" font-size="11" fill="currentColor">{escape(s.name)}</text>'
            )
            x -= 8

    def note(self, text: str) -> None:
        self.parts.append(
            f'<text x="{MARGIN_LEFT + self.plot_w / 2:.1f}" y="{MARGIN_TOP + self.plot_h / 2:.1f}" '
            f'text-anchor="middle" font-size="12" fill="currentColor" fill-opacity="0.6">{escape(text)}</text>'
        )

    def render(self, *, css_class: str, show_title: bool = True) -> SafeString:
        # show_title=False: the page's heading already names the chart; it stays the SVG's
        # accessible name and tooltip.
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" role="img" '
            f'aria-label="{escape(self.title)}" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" font-family="sans-serif">'
            f"<title>{escape(self.title)}</title>"
        )
        if show_title:
            head += (
                f'<text x="{MARGIN_LEFT}" y="21" font-size="13" font-weight="bold" '
                f'fill="currentColor">{escape(self.title)}</text>'
            )
        return mark_safe(head + "".join(self.parts) + "</svg>")  # noqa: S308 - every text part is escaped


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    y_suffix: str = "",
    y_max: float | None = None,
    whole_numbers: bool = True,
    empty_text: str = "No data",
    show_title: bool = True,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """Stacked bars: one bar per label, one segment per series (in order, bottom up).

    A bar, not a point, per bucket: a single bucket with data reads as clearly as many.
    """
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    canvas = _Canvas(
        title=title,
        labels=labels,
        axis=(y_max, y_max / 4) if y_max else nice_axis(max(totals, default=0), whole=whole_numbers),
        y_suffix=y_suffix,
        width=width,
        height=height,
    )
    canvas.axes()
    if len(series) > 1:
        canvas.legend(series)
    for i, label in enumerate(labels):
        left, slot = canvas.x_slot(i)
        bar_w = slot * 0.7
        base = 0.0
        for s in series:
            value = s.values[i] or 0
            if value <= 0:
                continue
            top, bottom = canvas.y(base + value), canvas.y(base)
            color = s.colors[i] if s.colors else s.color
            tip = f"{label}: {_fmt(value)}{y_suffix}" if len(series) == 1 else f"{label} — {s.name}: {_fmt(value)}"
            canvas.parts.append(
                f'<rect x="{left + (slot - bar_w) / 2:.1f}" y="{top:.1f}" width="{bar_w:.1f}" '
                f'height="{bottom - top:.1f}" fill="{color}"><title>{escape(tip)}</title></rect>'
            )
            base += value
    if not any(totals):
        canvas.note(empty_text)
    return canvas.render(css_class="chart bar-chart", show_title=show_title)


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    y_max: float | None = None,
    y_suffix: str = "",
    empty_text: str = "No data",
    show_title: bool = True,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """One line per series; a None value is a gap (the line breaks there)."""
    present = [v for s in series for v in s.values if v is not None]
    canvas = _Canvas(
        title=title,
        labels=labels,
        axis=(y_max, y_max / 4) if y_max else nice_axis(max(present, default=0), whole=False),
        y_suffix=y_suffix,
        width=width,
        height=height,
    )
    canvas.axes()
    if len(series) > 1:
        canvas.legend(series)
    for s in series:
        runs: list[list[str]] = [[]]
        dots = []
        for i, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            left, slot = canvas.x_slot(i)
            x, y = left + slot / 2, canvas.y(value)
            runs[-1].append(f"{x:.1f},{y:.1f}")
            tip = f"{labels[i]} — {s.name}: {_fmt(value)}{y_suffix}"
            dots.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{s.color}"><title>{escape(tip)}</title></circle>'
            )
        for points in runs:
            if len(points) > 1:
                canvas.parts.append(
                    f'<polyline points="{" ".join(points)}" fill="none" stroke="{s.color}" stroke-width="2"/>'
                )
        canvas.parts.extend(dots)  # over the line, so each point's tooltip is reachable
    if not present:
        canvas.note(empty_text)
    return canvas.render(css_class="chart line-chart", show_title=show_title)
