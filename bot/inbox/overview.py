"""The charts of the staff inbox's Overview page, as server-rendered inline SVG.

`overview()` turns the anonymous turn counts (`TurnStats.since`) and the escalations into four
`Chart`s over the last `days` local days (clinic time zone): questions by topic, questions the
knowledge base could not answer, escalations by level, and time to acknowledge. Pure: no web
framework, no database, no JavaScript, no style attributes (Content-Security-Policy): colours
are presentation attributes, text is currentColor, CSS classes allow overrides. viewBox and
width="100%" fit a phone; role="img" with <title>/<desc> named by aria-labelledby/-describedby.

Every staff-facing word comes from `labels` (a missing key shows the key itself); the
`*_summary` and `ack_waiting` ones are str.format templates with the fields shown:

    topics_title, gaps_title, levels_title, ack_title   chart titles
    no_data    in a chart with nothing to draw, and as its summary
    other      topics outside the six most asked, and questions without a topic
    day, week, total, questions, no_guidance, acknowledged, median, p90   table/legend words
    level_question, level_urgent, level_emergency   escalation levels
    topic_<key>   optional name of a topic (else the key, "_" as spaces)
    topics_summary {total} {top} {top_count}; gaps_summary {count} {total} {share} (%) {top}
    (the topic most often unanswered, empty if none had a topic)
    levels_summary {total} {question} {urgent} {emergency}; ack_summary {count} {median} {p90}
    (minutes); all with {days}. ack_waiting {waiting}: urgent/emergency still open, unacknowledged
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.storage.escalations import Escalation

Turn = tuple[datetime, "str | None", str]  # (time, topic, outcome), as TurnStats.since
Counts = dict[Any, list[int]]  # per key, a count per day of the window
Body = tuple[list[str], float]  # SVG elements, and the height they need
Head = tuple[str, str, str, str]  # a chart's key, title, summary, and word for "day"
Column = tuple[str, list[int]]  # a table column's header and values
Minutes = tuple[list[list[float]], int]  # minutes to acknowledge per day, and still waiting

LABEL_KEYS = tuple(
    """topics_title gaps_title levels_title ack_title no_data other day week total questions
    no_guidance acknowledged median p90 level_question level_urgent level_emergency
    topics_summary gaps_summary levels_summary ack_summary ack_waiting""".split()
)
TOP_TOPICS = 6
LEVELS = ("question", "urgent", "emergency")
TIMED_LEVELS = ("urgent", "emergency")
# Okabe-Ito: told apart by people with the common forms of colour blindness.
TOPIC_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
OTHER_COLOUR = "#999999"
LEVEL_COLOURS = {"question": "#56B4E9", "urgent": "#E69F00", "emergency": "#D55E00"}
GAP_COLOUR = "#CC79A7"
MEDIAN_COLOUR, P90_COLOUR = "#0072B2", "#D55E00"
WIDTH, LEFT, RIGHT, TOP, PLOT_H, FONT = 420, 36, 6, 12, 160, 14
NAME_CHARS = 36  # longest legend entry before it is shortened


@dataclass(frozen=True)
class Chart:
    """One chart: complete <svg> markup, its data as a plain-text table (`table_html()`: escaped
    HTML; no rows when there is no data yet), and a one-line key figure."""

    key: str
    title: str
    svg: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    summary: str

    def table_html(self) -> str:
        """The data as an escaped <table> (for a <details> under the chart)."""
        head = "".join(f'<th scope="col">{_esc(h)}</th>' for h in self.headers)
        cells = ("".join(f"<td>{_esc(cell)}</td>" for cell in row) for row in self.rows)
        body = "".join(f"<tr>{row}</tr>" for row in cells)
        return (
            f'<table class="chart-data"><caption>{_esc(self.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


@dataclass(frozen=True)
class _Series:
    name: str
    colour: str
    values: tuple[float | None, ...]  # one per period; None: nothing to draw


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _label(labels: dict[str, str], key: str) -> str:
    return str(labels.get(key, key))


def _fill(labels: dict[str, str], key: str, **values: object) -> str:
    """A label template with its {fields} filled in (as written if it names an unknown one)."""
    template = _label(labels, key)
    try:
        return template.format(**values)
    except (KeyError, ValueError, IndexError, AttributeError):
        return template


def _topic_name(labels: dict[str, str], topic: str | None) -> str:
    """A topic's display name: its label, else its key with spaces ("other" for None)."""
    if topic is None:
        return _label(labels, "other")
    return str(labels.get(f"topic_{topic}", topic.replace("_", " ")))


def _number(value: float) -> str:
    """A count or a number of minutes: whole from 10 up, else at most one decimal."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".rstrip("0").rstrip(".")


def percentile(values: list[float], q: float) -> float:
    """The q-th quantile (0..1), interpolating linearly between ranks (as numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _nice_top(value: float) -> tuple[float, float]:
    """An axis maximum at or above value, and a whole-number step giving at most ~5 lines."""
    if value <= 0:
        return 1.0, 1.0
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1.0, float(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)))
    return math.ceil(value / step) * step, step


def _y(value: float, top: float) -> float:
    return TOP + PLOT_H - PLOT_H * value / top


def _axes(top: float, step: float, ticks: list[str]) -> list[str]:
    """Gridlines with their values, the baseline, and the period labels under the plot."""
    base, parts = TOP + PLOT_H, []
    for value in (step * n for n in range(round(top / step) + 1)):
        y = _y(value, top)
        parts.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="currentColor" stroke-opacity="0.15"/>'
            f'<text class="chart-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="currentColor">{value:g}</text>'
        )
    slot, every = (WIDTH - LEFT - RIGHT) / max(len(ticks), 1), math.ceil(len(ticks) / 15)
    for n, tick in enumerate(ticks):
        if (len(ticks) - 1 - n) % every == 0:  # always label the latest period
            parts.append(
                f'<text class="chart-tick" x="{LEFT + slot * (n + 0.5):.1f}" y="{base + 16}" '
                f'text-anchor="middle" fill="currentColor">{_esc(tick)}</text>'
            )
    parts.append(
        f'<line class="chart-axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" '
        'stroke="currentColor"/>'
    )
    return parts


def _legend(entries: list[tuple[str, str, str]], y: float) -> Body:
    """Swatch + name entries (name, colour, "bar" or "dot") wrapped into rows from y down."""
    parts, x, row_h = [], float(LEFT), FONT + 9
    for name, colour, shape in entries:
        shown = name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"
        width = 14 + 6 + len(shown) * FONT * 0.6 + 16
        if x > LEFT and x + width > WIDTH - RIGHT:
            x, y = float(LEFT), y + row_h
        swatch = (
            f'<circle cx="{x + 6}" cy="{y - 4}" r="5" fill="{colour}"/>'
            if shape == "dot"
            else f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
        )
        parts.append(
            f'<g class="chart-legend">{swatch}<text x="{x + 18}" y="{y}" '
            f'fill="currentColor">{_esc(shown)}</text></g>'
        )
        x += width
    return parts, y + row_h


def _svg(key: str, title: str, summary: str, body: list[str], height: float) -> str:
    ids = _esc(f"overview-{key}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{_esc(key)}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
        f'aria-labelledby="{ids}-title" aria-describedby="{ids}-desc" '
        f'font-family="sans-serif" font-size="{FONT}">'
        f'<title id="{ids}-title">{_esc(title)}</title>'
        f'<desc id="{ids}-desc">{_esc(summary)}</desc>' + "".join(body) + "</svg>"
    )


def _empty(key: str, title: str, labels: dict[str, str], summary: str = "") -> Chart:
    """A chart with nothing to draw: a framed "no data yet"."""
    message = _label(labels, "no_data")
    body = [
        f'<rect class="chart-empty" x="1" y="1" width="{WIDTH - 2}" height="118" rx="6" '
        'fill="none" stroke="currentColor" stroke-opacity="0.3"/>',
        f'<text x="{WIDTH / 2}" y="64" text-anchor="middle" fill="currentColor">'
        f"{_esc(message)}</text>",
    ]
    summary = summary or message
    return Chart(key, title, _svg(key, title, summary, body, 120), (), (), summary)


def _tip(period: str, name: str, value: float) -> str:
    return f"<title>{_esc(period)} · {_esc(name)}: {_number(value)}</title>"


def _plot(periods: list[tuple[str, str]], series: list[_Series], dots: _Series | None) -> Body:
    """Per period (tick, full name): the series stacked bottom-up as a bar, and optionally a
    dot; with the legend under the plot."""
    heights = [sum(s.values[n] or 0 for s in series) for n in range(len(periods))]
    top, step = _nice_top(max(heights + [v or 0 for v in (dots.values if dots else ())]))
    body = _axes(top, step, [tick for tick, _ in periods])
    slot = (WIDTH - LEFT - RIGHT) / max(len(periods), 1)
    for n, (_, period) in enumerate(periods):
        base = 0.0
        for s in (s for s in series if s.values[n]):
            y0, y1 = _y(base, top), _y(base + s.values[n], top)
            body.append(
                f'<rect class="chart-bar" x="{LEFT + slot * (n + 0.15):.1f}" y="{y1:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{y0 - y1:.1f}" fill="{s.colour}" stroke='
                f'"#ffffff" stroke-width="0.5">{_tip(period, s.name, s.values[n])}</rect>'
            )
            base += s.values[n]
        if dots and dots.values[n] is not None:
            body.append(
                f'<circle class="chart-dot" cx="{LEFT + slot * (n + 0.5):.1f}" cy="'
                f'{_y(dots.values[n], top):.1f}" r="5" fill="{dots.colour}" stroke="#ffffff" '
                f'stroke-width="1">{_tip(period, dots.name, dots.values[n])}</circle>'
            )
    entries = [(s.name, s.colour, "bar") for s in series]
    entries += [(dots.name, dots.colour, "dot")] if dots else []
    legend, height = _legend(entries, TOP + PLOT_H + 42)
    return body + legend, height


def _period(first: date, last: date) -> tuple[str, str]:
    """A period's tick under the plot (day of month) and its full name (ISO dates)."""
    if first == last:
        return str(first.day), first.isoformat()
    return f"{first.day}–{last.day}", f"{first.isoformat()} – {last.isoformat()}"


def _count(pairs: Iterable[tuple[datetime, Any]], zone: ZoneInfo, window: list[date]) -> Counts:
    """Per key, how many of the (time, key) pairs fall on each local day of the window."""
    counts: Counts = {}
    for at, key in pairs:
        n = (at.astimezone(zone).date() - window[0]).days
        if 0 <= n < len(window):
            counts.setdefault(key, [0] * len(window))[n] += 1
    return counts


def _stacked(head: Head, window: list[date], series: list[_Series], last: Column) -> Chart:
    """Stacked bars per day of the (key, title, summary, day word) chart; its table has the
    day, each series, and a `last` (name, values) column."""
    key, title, summary, day_word = head
    headers = (day_word, *(s.name for s in series), last[0])
    rows = tuple(
        (day.isoformat(), *(_number(s.values[n] or 0) for s in series), str(last[1][n]))
        for n, day in enumerate(window)
    )
    body, height = _plot([_period(day, day) for day in window], series, None)
    return Chart(key, title, _svg(key, title, summary, body, height), headers, rows, summary)


def _topic_chart(by_topic: Counts, window: list[date], labels: dict[str, str]) -> Chart:
    """Questions per local day, stacked by the six most asked topics and "other"."""
    title = _label(labels, "topics_title")
    totals = {t: sum(c) for t, c in by_topic.items() if t is not None}
    top = sorted(totals, key=lambda t: (-totals[t], t))[:TOP_TOPICS]
    series = [
        _Series(_topic_name(labels, t), c, tuple(by_topic[t]))
        for t, c in zip(top, TOPIC_COLOURS, strict=False)
    ]
    other = [sum(c[n] for t, c in by_topic.items() if t not in top) for n in range(len(window))]
    if any(other):
        series.append(_Series(_label(labels, "other"), OTHER_COLOUR, tuple(other)))
    per_day = [sum(c[n] for c in by_topic.values()) for n in range(len(window))]
    if not sum(per_day):
        return _empty("topics", title, labels)
    first = series[0]  # the most asked topic ("other" only when no question had a topic)
    figures = {"total": sum(per_day), "top": first.name, "top_count": sum(first.values)}
    summary = _fill(labels, "topics_summary", days=len(window), **figures)
    last = (_label(labels, "total"), per_day)
    return _stacked(("topics", title, summary, _label(labels, "day")), window, series, last)


def _gap_chart(by_outcome: Counts, gap_topics: Counts, window: list[date], labels: dict) -> Chart:
    """Questions per local day the knowledge base had no guidance for."""
    title = _label(labels, "gaps_title")
    asked = [sum(c[n] for c in by_outcome.values()) for n in range(len(window))]
    gaps = by_outcome.get("no_guidance", [0] * len(window))
    total, count = sum(asked), sum(gaps)
    if not total:
        return _empty("gaps", title, labels)
    named = {t: sum(c) for t, c in gap_topics.items() if t is not None}
    figures = {"count": count, "total": total, "share": round(100 * count / total)}
    top_name = _topic_name(labels, max(named, key=named.__getitem__)) if named else ""
    summary = _fill(labels, "gaps_summary", days=len(window), top=top_name, **figures)
    series = [_Series(_label(labels, "no_guidance"), GAP_COLOUR, tuple(gaps))]
    last = (_label(labels, "questions"), asked)
    return _stacked(("gaps", title, summary, _label(labels, "day")), window, series, last)


def _level_chart(by_level: Counts, window: list[date], labels: dict[str, str]) -> Chart:
    """Escalations per local day, stacked by level (question, urgent, emergency)."""
    title = _label(labels, "levels_title")
    counts = {level: by_level.get(level, [0] * len(window)) for level in LEVELS}
    per_level = {level: sum(c) for level, c in counts.items()}
    total = sum(per_level.values())
    if not total:
        return _empty("levels", title, labels)
    summary = _fill(labels, "levels_summary", total=total, days=len(window), **per_level)
    series = [
        _Series(_label(labels, f"level_{v}"), LEVEL_COLOURS[v], tuple(counts[v])) for v in LEVELS
    ]
    last = (_label(labels, "total"), [sum(c) for c in zip(*counts.values(), strict=True)])
    return _stacked(("levels", title, summary, _label(labels, "day")), window, series, last)


def _ack_minutes(escalations: list[Escalation], zone: ZoneInfo, window: list[date]) -> Minutes:
    """Per local day of raising, the minutes to acknowledge urgent and emergency escalations;
    and how many raised in the window are still open and unacknowledged."""
    minutes: list[list[float]] = [[] for _ in window]
    waiting = 0
    for e in escalations:
        n = (e.created_at.astimezone(zone).date() - window[0]).days
        if e.level not in TIMED_LEVELS or not 0 <= n < len(window):
            continue
        if e.acknowledged_at is not None:
            delay = (e.acknowledged_at - e.created_at).total_seconds() / 60
            minutes[n].append(max(0.0, delay))
        elif e.status == "open":
            waiting += 1
    return minutes, waiting


def _ack_chart(minutes: list[list[float]], waiting: int, window: list[date], labels: dict) -> Chart:
    """Minutes from raised to acknowledged: per day, or per week (ending today) when sparse."""
    title = _label(labels, "ack_title")
    every = [m for day in minutes for m in day]
    pending = _fill(labels, "ack_waiting", waiting=waiting) if waiting else ""
    if not every:
        return _empty("ack", title, labels, pending)
    size = 7 if len(window) > 7 and len(every) < len(window) else 1  # sparse: per week
    spans = [(max(0, end - size), end) for end in range(len(window), 0, -size)][::-1]
    periods = [_period(window[a], window[b - 1]) for a, b in spans]  # the first may be shorter
    values = [[m for day in minutes[a:b] for m in day] for a, b in spans]
    median, p90 = (
        _Series(_label(labels, k), colour, tuple(percentile(v, q) if v else None for v in values))
        for k, colour, q in (("median", MEDIAN_COLOUR, 0.5), ("p90", P90_COLOUR, 0.9))
    )
    figures = {"median": _number(percentile(every, 0.5)), "p90": _number(percentile(every, 0.9))}
    figure = _fill(labels, "ack_summary", count=len(every), days=len(window), **figures)
    summary = f"{figure} {pending}".strip()
    columns = ("week" if size > 1 else "day", "acknowledged", "median", "p90")
    rows = tuple(
        (full, str(len(v)), *("" if s is None else _number(s) for s in (m, p)))
        for (_, full), v, m, p in zip(periods, values, median.values, p90.values, strict=True)
    )
    body, height = _plot(periods, [median], p90)
    svg = _svg("ack", title, summary, body, height)
    return Chart("ack", title, svg, tuple(_label(labels, c) for c in columns), rows, summary)


def overview(
    turns: list[Turn],
    escalations: list[Escalation],
    now: datetime,
    time_zone: str,
    labels: dict[str, str],
    days: int = 14,
) -> list[Chart]:
    """The Overview page's four charts for the `days` local days (clinic zone) ending today."""
    zone = ZoneInfo(time_zone)
    today = now.astimezone(zone).date()
    window = [today - timedelta(days=n) for n in range(max(days, 1) - 1, -1, -1)]
    count = partial(_count, zone=zone, window=window)
    gap_topics = count((at, topic) for at, topic, outcome in turns if outcome == "no_guidance")
    return [
        _topic_chart(count((at, topic) for at, topic, _ in turns), window, labels),
        _gap_chart(count((at, outcome) for at, _, outcome in turns), gap_topics, window, labels),
        _level_chart(count((e.created_at, e.level) for e in escalations), window, labels),
        _ack_chart(*_ack_minutes(escalations, zone, window), window, labels),
    ]
