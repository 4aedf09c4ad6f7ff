"""The benchmark's results as a markdown table: one row per figure, ours beside a peer's
(django-tasks-db, or Procrastinate / Celery on the rows they join), their ratio, and the
issue's target where it sets one."""

from dataclasses import dataclass


@dataclass
class Figure:
    value: float
    n: int | None = None  # jobs (or samples) the figure was measured over


@dataclass
class Target:
    limit: float
    at_least: bool  # True: value must be >= limit; False: value must be <= limit
    text: str
    extra_ok: bool = True  # a second condition (e.g. memory stays flat)
    extra_text: str = ""

    def met(self, value: float) -> bool:
        ok = value >= self.limit if self.at_least else value <= self.limit
        return ok and self.extra_ok


@dataclass
class Row:
    db: str
    metric: str
    unit: str  # "/s", "ms", "MB"
    ours: Figure | None
    theirs: Figure | None = None
    target: Target | None = None
    vs: str = "django-tasks-db"  # the peer in the theirs column
    theirs_error: str | None = None  # why the peer could not run: printed loudly in its cell


def fmt(value: float, unit: str) -> str:
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    return f"{value:,.1f} {unit}"


def _cell(f: Figure | None, unit: str) -> tuple[str, str]:
    if f is None:
        return "—", "—"
    return fmt(f.value, unit), (f"{f.n:,}" if f.n is not None else "—")


def _ratio(x: float) -> str:
    if x >= 10:
        return f"{x:,.0f}×"
    if x >= 1:
        return f"{x:.2f}×"
    return f"{x:.2g}×"  # two significant digits: 0.0044×, not 0.00×


def render(rows: list[Row]) -> str:
    lines = [
        "| DB | Metric | ours | N | vs | theirs | N | ours / theirs | target |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        ours, ours_n = _cell(r.ours, r.unit)
        theirs, theirs_n = _cell(r.theirs, r.unit)
        vs = r.vs if r.theirs or r.theirs_error else "—"
        if r.theirs_error:
            theirs = f"**could not run here**: {r.theirs_error}"
        ratio = _ratio(r.ours.value / r.theirs.value) if r.ours and r.theirs and r.theirs.value else "—"
        target = "—"
        if r.target and r.ours:
            verdict = "met" if r.target.met(r.ours.value) else "**NOT met**"
            extra = f" {r.target.extra_text}" if r.target.extra_text else ""
            target = f"{r.target.text}{extra}: {verdict}"
        lines.append(f"| {r.db} | {r.metric} | {ours} | {ours_n} | {vs} | {theirs} | {theirs_n} | {ratio} | {target} |")
    return "\n".join(lines)
