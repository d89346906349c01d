"""The inbox Overview charts: local days, top topics, escaping, empty data, percentiles, a11y."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from bot.inbox.overview import LABEL_KEYS, Chart, overview, percentile

SVG = "{http://www.w3.org/2000/svg}"
LONDON = "Europe/London"
# Friday 10 July 2026, 12:00 UTC (13:00 in London, summer time: UTC+1).
NOW = datetime(2026, 7, 10, 12, 0, tzinfo=timezone.utc)
LABELS = {key: f"«{key}»" for key in LABEL_KEYS} | {
    "topics_summary": "«{total} in {days}, top {top} {top_count}»",
    "gaps_summary": "«{count} of {total} ({share}%) {top}»",
    "levels_summary": "«{total}: {question}/{urgent}/{emergency}»",
    "ack_summary": "«{count}: {median} / {p90}»",
    "ack_waiting": "«{waiting} waiting»",
}


@dataclass(frozen=True)
class Esc:
    """The attributes of `bot.storage.escalations.Escalation` the overview reads."""

    level: str
    created_at: datetime
    acknowledged_at: datetime | None = None
    status: str = "open"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def acked(level: str, created_at: datetime, minutes: float) -> Esc:
    return Esc(level, created_at, created_at + timedelta(minutes=minutes), "acknowledged")


def charts(turns=(), escalations=(), labels=None, days=14) -> dict[str, Chart]:
    made = overview(list(turns), list(escalations), NOW, LONDON, labels or LABELS, days)
    return {chart.key: chart for chart in made}


def row_for(chart: Chart, day: str) -> dict[str, str]:
    (row,) = (row for row in chart.rows if row[0] == day)
    return dict(zip(chart.headers, row, strict=True))


def test_the_overview_has_four_charts_in_page_order():
    assert [c.key for c in overview([], [], NOW, LONDON, LABELS)] == [
        "topics",
        "gaps",
        "levels",
        "ack",
    ]


def test_counts_land_on_the_clinics_local_day_across_midnight():
    turns = [
        (utc(2026, 7, 9, 23, 30), "makeup", "answered"),  # 00:30 on the 10th in London
        (utc(2026, 7, 9, 22, 30), "makeup", "answered"),  # 23:30 on the 9th in London
        (utc(2026, 6, 26, 23, 30), "makeup", "answered"),  # 00:30 on 27 June: the first day
        (utc(2026, 6, 26, 22, 30), "makeup", "answered"),  # 23:30 on 26 June: before the window
    ]
    escalations = [Esc("urgent", utc(2026, 7, 9, 23, 30))]
    made = charts(turns, escalations)

    topics = made["topics"]
    assert [row[0] for row in topics.rows][0] == "2026-06-27"
    assert [row[0] for row in topics.rows][-1] == "2026-07-10"
    assert row_for(topics, "2026-07-10")["makeup"] == "1"
    assert row_for(topics, "2026-07-09")["makeup"] == "1"
    assert row_for(topics, "2026-06-27")["makeup"] == "1"
    assert sum(int(row[-1]) for row in topics.rows) == 3
    assert row_for(made["levels"], "2026-07-10")["«level_urgent»"] == "1"
    assert row_for(made["levels"], "2026-07-09")["«level_urgent»"] == "0"


def test_days_follow_the_clinics_zone_in_winter_too():
    now = utc(2026, 1, 10, 12)
    turn = (utc(2026, 1, 9, 23, 30), "makeup", "answered")  # London is on UTC in winter
    (topics, *_) = overview([turn], [], now, LONDON, LABELS, days=2)
    assert [row[0] for row in topics.rows] == ["2026-01-09", "2026-01-10"]
    assert topics.rows[0][1] == "1"


def test_the_six_most_asked_topics_are_shown_and_the_rest_is_other():
    counts = {"a": 9, "b": 8, "c": 7, "d": 6, "e": 5, "f": 4, "g": 3, "h": 3, None: 2}
    turns = [(NOW, topic, "answered") for topic, n in counts.items() for _ in range(n)]
    topics = charts(turns)["topics"]

    assert topics.headers == ("«day»", "a", "b", "c", "d", "e", "f", "«other»", "«total»")
    assert row_for(topics, "2026-07-10")["«other»"] == "8"  # g, h and no topic
    assert row_for(topics, "2026-07-10")["«total»"] == str(sum(counts.values()))
    legend = [t.text for t in ET.fromstring(topics.svg).iter(f"{SVG}text") if t.text in counts]
    assert legend == ["a", "b", "c", "d", "e", "f"]
    assert topics.summary == "«47 in 14, top a 9»"


def test_topics_are_named_by_their_label_or_their_key_with_spaces():
    turns = [(NOW, "sun_exposure", "answered"), (NOW, "makeup", "answered")]
    labels = LABELS | {"topic_makeup": "Make-up"}
    topics = charts(turns, labels=labels)["topics"]
    assert set(topics.headers) >= {"sun exposure", "Make-up"}


def test_other_is_not_drawn_when_every_topic_fits():
    topics = charts([(NOW, "makeup", "answered")])["topics"]
    assert "«other»" not in topics.headers
    assert "«other»" not in topics.svg


def test_markup_in_a_topic_or_a_label_is_escaped_in_the_svg_and_the_table():
    evil = "<script>alert(1)</script>"
    turns = [(NOW, evil, "no_guidance")]
    labels = LABELS | {"topics_title": evil, "level_urgent": evil, "ack_title": f'"{evil}'}
    made = charts(turns, [acked("urgent", NOW - timedelta(hours=1), 5)], labels=labels)

    for chart in made.values():
        for markup in (chart.svg, chart.table_html()):
            assert "<script" not in markup
            ET.fromstring(markup)  # still well-formed
    assert "&lt;script&gt;" in made["topics"].svg
    assert "&lt;script&gt;" in made["topics"].table_html()
    assert "&lt;script&gt;" in made["levels"].svg
    assert evil in made["topics"].headers  # the plain-text table keeps the raw value
    title = ET.fromstring(made["topics"].svg).find(f"{SVG}title")
    assert title is not None and title.text == evil


def test_empty_data_gives_a_no_data_chart_with_valid_svg():
    for chart in overview([], [], NOW, LONDON, LABELS):
        root = ET.fromstring(chart.svg)
        assert "«no_data»" in [t.text for t in root.iter(f"{SVG}text")]
        assert chart.rows == ()
        assert chart.summary == "«no_data»"
        ET.fromstring(chart.table_html())


def test_data_outside_the_window_counts_as_no_data():
    old = NOW - timedelta(days=30)
    made = charts([(old, "makeup", "no_guidance")], [acked("urgent", old, 3)])
    assert all(chart.summary == "«no_data»" for chart in made.values())


def test_a_one_day_window_and_a_zero_window_do_not_crash():
    for days in (1, 0):
        made = charts([(NOW, "makeup", "answered")], [acked("urgent", NOW, 2)], days=days)
        assert len(made["topics"].rows) == 1
        for chart in made.values():
            ET.fromstring(chart.svg)


def test_content_gaps_count_no_guidance_per_day_with_their_share_in_the_summary():
    turns = [
        (NOW, "makeup", "no_guidance"),
        (NOW, "makeup", "answered"),
        (NOW, "sun_exposure", "red_flag"),
        (NOW - timedelta(days=1), None, "answered"),
    ]
    gaps = charts(turns)["gaps"]
    assert gaps.headers == ("«day»", "«no_guidance»", "«questions»")
    assert row_for(gaps, "2026-07-10") == {
        "«day»": "2026-07-10",
        "«no_guidance»": "1",
        "«questions»": "3",
    }
    assert gaps.summary == "«1 of 4 (25%) makeup»"


def test_no_content_gaps_is_a_zero_not_no_data():
    gaps = charts([(NOW, "makeup", "answered")])["gaps"]
    assert gaps.summary == "«0 of 1 (0%) »"
    assert len(gaps.rows) == 14


def test_escalations_are_stacked_by_level_in_distinct_colours():
    escalations = [Esc("question", NOW), Esc("urgent", NOW), Esc("urgent", NOW)]
    escalations += [Esc("emergency", NOW - timedelta(days=2)), Esc("unknown", NOW)]
    levels = charts([], escalations)["levels"]
    assert levels.headers[1:] == (
        "«level_question»",
        "«level_urgent»",
        "«level_emergency»",
        "«total»",
    )
    assert row_for(levels, "2026-07-10")["«total»"] == "3"
    assert levels.summary == "«4: 1/2/1»"
    bars = ET.fromstring(levels.svg).iter(f"{SVG}rect")
    fills = {bar.get("fill") for bar in bars if bar.get("class") == "chart-bar"}
    assert len(fills) == 3


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5, 5.5),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9.1),
        ([10, 1, 5], 0.5, 5),
        ([10, 1, 5], 0.9, 9),
        ([7], 0.9, 7),
        ([2, 4], 0.5, 3),
    ],
)
def test_percentiles_interpolate_linearly_between_ranks(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_time_to_acknowledge_gives_the_median_and_90th_percentile_per_day():
    created = NOW - timedelta(hours=2)
    escalations = [acked("urgent", created, m) for m in (1, 2, 3, 4, 5)]
    escalations += [acked("emergency", created, m) for m in (6, 7, 8, 9, 10)]
    escalations += [
        acked("question", created, 500),  # questions have no deadline: left out
        Esc("urgent", created),  # still waiting
        Esc("emergency", created, status="resolved"),  # resolved without acknowledging
    ]
    ack = charts([], escalations, days=7)["ack"]
    assert ack.headers == ("«day»", "«acknowledged»", "«median»", "«p90»")
    assert row_for(ack, "2026-07-10") == {
        "«day»": "2026-07-10",
        "«acknowledged»": "10",
        "«median»": "5.5",
        "«p90»": "9.1",
    }
    assert row_for(ack, "2026-07-09")["«acknowledged»"] == "0"
    assert ack.summary == "«10: 5.5 / 9.1» «1 waiting»"


def test_sparse_acknowledgements_are_grouped_into_weeks_ending_today():
    escalations = [acked("urgent", NOW, 30), acked("urgent", NOW - timedelta(days=10), 90)]
    ack = charts([], escalations)["ack"]
    assert ack.headers[0] == "«week»"
    assert [row[:2] for row in ack.rows] == [
        ("2026-06-27 – 2026-07-03", "1"),
        ("2026-07-04 – 2026-07-10", "1"),
    ]
    assert ack.rows[0][2:] == ("90", "90")


def test_only_waiting_escalations_say_so_in_a_no_data_chart():
    ack = charts([], [Esc("emergency", NOW), Esc("urgent", NOW)])["ack"]
    assert ack.rows == ()
    assert ack.summary == "«2 waiting»"
    assert "«no_data»" in ack.svg


def test_every_chart_is_an_accessible_image_that_fits_a_phone():
    turns = [(NOW, "makeup", "answered"), (NOW, "sun_exposure", "no_guidance")]
    escalations = [acked("urgent", NOW, 4), Esc("question", NOW)]
    for chart in [*charts(turns, escalations).values(), *charts().values()]:
        root = ET.fromstring(chart.svg)
        assert root.get("role") == "img"
        assert root.get("width") == "100%"
        assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox", ""))
        ids = {element.get("id") for element in root.iter() if element.get("id")}
        title = root.find(f"{SVG}title")
        assert title is not None and title.text == chart.title
        assert root.get("aria-labelledby") == title.get("id")
        assert set(root.get("aria-labelledby", "").split()) <= ids
        assert set(root.get("aria-describedby", "").split()) <= ids
        assert not [element for element in root.iter() if element.get("style") is not None]
        assert "<script" not in chart.svg


def test_chart_ids_are_unique_on_the_page():
    made = overview([(NOW, "makeup", "answered")], [], NOW, LONDON, LABELS)
    ids = [e.get("id") for c in made for e in ET.fromstring(c.svg).iter() if e.get("id")]
    assert len(ids) == len(set(ids))


def test_every_word_in_the_charts_comes_from_labels():
    turns = [(NOW, "makeup", "answered"), (NOW, None, "no_guidance")]
    escalations = [acked("urgent", NOW, 4), acked("emergency", NOW, 40), Esc("question", NOW)]
    labels = LABELS | {"topic_makeup": "«topic_makeup»"}
    for chart in [*charts(turns, escalations, labels).values(), *charts(labels=labels).values()]:
        root = ET.fromstring(chart.svg)
        texts = [
            e.text or ""
            for e in root.iter()
            if e.tag in {f"{SVG}text", f"{SVG}title", f"{SVG}desc"}
        ]
        texts += [cell for row in (chart.headers, *chart.rows) for cell in row]
        for text in texts:
            leftover = text
            while re.search("«[^«»]*»", leftover):  # summaries nest label values
                leftover = re.sub("«[^«»]*»", "", leftover)
            assert re.fullmatch(r"[\d\s.:·–-]*", leftover), (chart.key, text)


def test_every_label_key_is_documented_in_the_module():
    import bot.inbox.overview as module

    for key in LABEL_KEYS:
        assert key in (module.__doc__ or "")
