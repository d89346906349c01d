"""Check-ins in the staff inbox: a conversation's check-ins for its side panel, and the
Overview's check-in figures (how many were sent in the period, the share answered, the share
that led to an escalation) as a chart in the style of `bot.inbox.overview`.

Pure: the pages read storage and pass the rows in. Every staff-facing word comes from
`labels` (a missing key shows the key itself); `checkins_summary` and `checkins_bar` are
str.format templates:

    checkins_title   the chart's title, and the header of its table's first column
    checkins_sent, checkins_answered, checkins_escalated   the figures' names
    checkins_count, checkins_share   the table's other headers
    checkins_summary {sent} {answered} {escalated} {answered_share} {escalated_share} {days}
    checkins_none    {days}: the summary when none was sent (the chart says `no_data`)
    checkins_bar     {name} {count} {sent} {share}: a bar's caption
    percent          {share}: a share in the table
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.inbox.overview import FONT, WIDTH, Chart, _empty, _esc, _fill, _label, _svg
from bot.storage.checkins import PENDING, SENDING, SENT, CheckinView

CHECKIN_LABEL_KEYS = tuple(
    """checkins_title checkins_sent checkins_answered checkins_escalated checkins_count
    checkins_share checkins_summary checkins_none checkins_bar percent""".split()
)
# Okabe-Ito, as the other charts.
ANSWERED_COLOUR, ESCALATED_COLOUR = "#009E73", "#D55E00"
MARGIN, BAR_H, ROW_H = 4, 16, FONT + 6 + 16 + 16


# --- a conversation's side panel ------------------------------------------------------------


@dataclass(frozen=True)
class PanelCheckin:
    """One check-in in the side panel; `at`: when it was sent (or is due), clinic time."""

    day: int
    at: datetime
    answer: str | None = None  # fine | worried | wrong | text | none; None: not yet
    escalated: bool = False
    late: bool = False


@dataclass(frozen=True)
class CheckinPanel:
    """A conversation's check-ins: the sent ones (in order), the next one due (none while
    they are off), and who turned them off (client | clinic | None)."""

    sent: tuple[PanelCheckin, ...] = ()
    next: PanelCheckin | None = None
    off: str | None = None


def checkin_panel(checkins: Iterable[CheckinView], off: str | None, zone: str) -> CheckinPanel:
    """The side panel's check-ins from the conversation's rows (`Checkins.listing`)."""
    local = ZoneInfo(zone)
    rows = list(checkins)
    sent = sorted((c for c in rows if c.status == SENT and c.sent_at), key=lambda c: c.sent_at)
    due = sorted((c for c in rows if c.status in (PENDING, SENDING)), key=lambda c: c.due_at)
    return CheckinPanel(
        tuple(
            PanelCheckin(c.day, c.sent_at.astimezone(local), c.answer, c.escalated, c.late)
            for c in sent
        ),
        PanelCheckin(due[0].day, due[0].due_at.astimezone(local)) if due and not off else None,
        off,
    )


# --- the Overview's figures ---------------------------------------------------------------


def period_start(now: datetime, time_zone: str, days: int) -> datetime:
    """The start (UTC) of the Overview's period: midnight, clinic time, of the first of the
    `days` local days ending today (as `bot.inbox.overview.overview` counts them)."""
    zone = ZoneInfo(time_zone)
    first = now.astimezone(zone).date() - timedelta(days=max(days, 1) - 1)
    return datetime.combine(first, time(), tzinfo=zone).astimezone(timezone.utc)


def share(count: int, total: int) -> int:
    """`count` of `total` in whole percent (0 when there is no total)."""
    return round(100 * count / total) if total else 0


def _bars(rows: list[tuple[str, int, int, str]], sent: int, labels: dict) -> tuple[list, float]:
    """A caption and a 0-100% bar per (name, count, share, colour) row."""
    body, track = [], WIDTH - 2 * MARGIN
    for n, (name, count, percent, colour) in enumerate(rows):
        top = MARGIN + n * ROW_H
        caption = _fill(labels, "checkins_bar", name=name, count=count, sent=sent, share=percent)
        body.append(
            f'<text x="{MARGIN}" y="{top + FONT}" fill="currentColor">{_esc(caption)}</text>'
            f'<rect class="chart-track" x="{MARGIN}" y="{top + FONT + 6}" width="{track}" '
            f'height="{BAR_H}" rx="3" fill="none" stroke="currentColor" stroke-opacity="0.3"/>'
            f'<rect class="chart-bar" x="{MARGIN}" y="{top + FONT + 6}" '
            f'width="{track * percent / 100:.1f}" height="{BAR_H}" rx="3" fill="{colour}">'
            f"<title>{_esc(caption)}</title></rect>"
        )
    return body, MARGIN + len(rows) * ROW_H


def checkin_chart(shares: tuple[int, int, int], days: int, labels: dict) -> Chart:
    """The Overview's check-in figures from `Checkins.shares` over its period of `days`."""
    sent, answered, escalated = shares
    title = _label(labels, "checkins_title")
    if not sent:
        return _empty("checkins", title, labels, _fill(labels, "checkins_none", days=days))
    figures = {
        "sent": sent,
        "answered": answered,
        "escalated": escalated,
        "answered_share": share(answered, sent),
        "escalated_share": share(escalated, sent),
    }
    summary = _fill(labels, "checkins_summary", days=days, **figures)
    rows = [
        (_label(labels, "checkins_answered"), answered, figures["answered_share"], ANSWERED_COLOUR),
        (_label(labels, "checkins_escalated"), escalated, share(escalated, sent), ESCALATED_COLOUR),
    ]
    body, height = _bars(rows, sent, labels)
    headers = tuple(
        _label(labels, k) for k in ("checkins_title", "checkins_count", "checkins_share")
    )
    table = ((_label(labels, "checkins_sent"), str(sent), ""),) + tuple(
        (name, str(count), _fill(labels, "percent", share=percent))
        for name, count, percent, _ in rows
    )
    return Chart(
        "checkins", title, _svg("checkins", title, summary, body, height), headers, table, summary
    )
