"""The web channel's pure rules: tokens and conversation ids, origins, colours, what clients
type, and the chat history the widget shows."""

from __future__ import annotations

import pytest

from bot.channels.cleaning import clean_text
from bot.channels.limits import RateLimiter as _RateLimiter
from bot.channels.web.format import (
    contrast_ratio,
    conversation_id_for,
    history_messages,
    new_token,
    origin_allowed,
    parse_origins,
    text_colour_on,
)
from bot.channels.web.requests import after_of as _after
from bot.serve.demo_site import render_css, render_page, widget_tag
from bot.settings import PROJECT_DIR


def test_chats_are_random_and_name_a_hashed_conversation():
    first, second = new_token(), new_token()
    assert first != second and len(first) == 43
    conversation = conversation_id_for(first)
    assert conversation.startswith("web-") and len(conversation) == 36
    assert first not in conversation  # staff see the id; it cannot be used as the token
    assert conversation == conversation_id_for(first) != conversation_id_for(second)
    # A signed token names its chat's conversation (its random part, not its expiry).
    assert conversation_id_for(f"{first}.1700000000.sig") == conversation


def test_only_the_listed_sites_are_allowed():
    allowed = ("https://www.clinic.example", "http://127.0.0.1:8080")
    assert origin_allowed("https://www.clinic.example", allowed)
    assert origin_allowed("HTTPS://WWW.Clinic.Example/", allowed)
    assert origin_allowed("http://127.0.0.1:8080", allowed)
    assert not origin_allowed("http://127.0.0.1:8081", allowed)
    assert not origin_allowed("https://www.clinic.example.evil.com", allowed)
    assert not origin_allowed("http://www.clinic.example", allowed)  # another scheme
    assert not origin_allowed("null", allowed)  # sandboxed frames and files
    assert origin_allowed(None, allowed)  # not a browser's cross-site request


def test_extra_origins_come_from_a_comma_separated_variable():
    assert parse_origins(" https://a.example/, http://B.example:81 ,,") == (
        "https://a.example",
        "http://b.example:81",
    )
    assert parse_origins(None) == ()
    with pytest.raises(ValueError, match="https://a.example/chat"):
        parse_origins("https://ok.example,https://a.example/chat")


@pytest.mark.parametrize(
    "background, text",
    [
        ("#1f6f78", "#ffffff"),
        ("#ffffff", "#000000"),
        ("#f4c430", "#000000"),
        ("#000080", "#ffffff"),
    ],
)
def test_text_on_the_clinic_colour_is_black_or_white_whichever_reads_better(background, text):
    assert text_colour_on(background) == text


@pytest.mark.parametrize("red", range(0, 256, 15))
def test_text_on_any_clinic_colour_meets_wcag_aa(red):
    for green in range(0, 256, 51):
        for blue in range(0, 256, 51):
            colour = f"#{red:02x}{green:02x}{blue:02x}"
            assert contrast_ratio(colour, text_colour_on(colour)) >= 4.5, colour


def test_contrast_ratio_matches_wcag():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize(
    "typed, read",
    [
        ("can I wear makeup?", "can I wear makeup?"),
        ("  two\nlines\there  ", "two lines here"),
        (
            '/give_treatment_date{"treatment_date": "2026-01-01"}',
            'give_treatment_date{"treatment_date": "2026-01-01"}',
        ),
        ("//affirm", "affirm"),
        ("/ /affirm", "affirm"),
        (' / /give_treatment_date{"day": "3"}', 'give_treatment_date{"day": "3"}'),
        ("zero\u200bwidth\u0000nul", "zerowidthnul"),
        (
            "family \U0001f468\u200d\U0001f469\u200d\U0001f467",
            "family \U0001f468\u200d\U0001f469\u200d\U0001f467",
        ),
        ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),
        ("/", ""),
    ],
)
def test_typed_text_is_cleaned_and_cannot_forge_an_intent(typed, read):
    assert clean_text(typed) == read


def user(text, time, **metadata):
    return {"event": "user", "text": text, "timestamp": time, "metadata": metadata}


def bot(text, time, buttons=None, **metadata):
    return {
        "event": "bot",
        "text": text,
        "timestamp": time,
        "data": {"buttons": buttons},
        "metadata": metadata,
    }


EVENTS = [
    {"event": "action", "name": "action_session_start", "timestamp": 1.0},
    bot("Hi!", 2.0, response_key="chat.greet"),
    user("/day_summary", 3.0, web={}),
    bot("When was your treatment?", 4.0),
    user("3 days ago", 5.0),
    {"event": "slot", "name": "treatment_date", "value": "2026-11-18", "timestamp": 5.5},
    bot("Pus can be a sign of infection...", 6.0, escalation="urgent"),
    bot(
        "No guidance. Pass it on?",
        7.0,
        [{"title": "Yes", "payload": "/affirm"}],
        escalation="question",
    ),
    user("/affirm", 8.0, web={"title": "Yes"}),
    bot("CALL 999 NOW.", 9.0, escalation="emergency"),
    bot(None, 10.0),
    bot("Please call the clinic now.", 11.0, escalation="urgent", alert_unsent=True),
]


def test_history_shows_what_was_said_and_hides_internal_requests():
    messages = history_messages(EVENTS)
    assert [(m["from"], m["text"]) for m in messages] == [
        ("bot", "Hi!"),
        ("bot", "When was your treatment?"),
        ("client", "3 days ago"),
        ("bot", "Pus can be a sign of infection..."),
        ("bot", "No guidance. Pass it on?"),
        ("client", "Yes"),  # a button press shows its title
        ("bot", "CALL 999 NOW."),
        ("bot", "Please call the clinic now."),
    ]
    assert [m["escalation"] for m in messages] == [
        None,
        None,
        None,
        "urgent",
        None,
        None,
        "emergency",
        "urgent",
    ]
    # Only the red flag staff could not be alerted to says so (the banner then says to call).
    assert [m["alert_unsent"] for m in messages] == [False] * 7 + [True]
    assert messages[4]["buttons"] == [{"title": "Yes", "payload": "/affirm"}]
    assert len({m["id"] for m in messages}) == len(messages)
    assert [m["time"] for m in messages] == sorted(m["time"] for m in messages)


def test_history_after_a_point_and_at_most_the_last_messages():
    assert [m["text"] for m in history_messages(EVENTS, after=6.0)] == [
        "No guidance. Pass it on?",
        "Yes",
        "CALL 999 NOW.",
        "Please call the clinic now.",
    ]
    assert [m["text"] for m in history_messages(EVENTS, limit=2)] == [
        "CALL 999 NOW.",
        "Please call the clinic now.",
    ]


def test_widget_cursor_accepts_only_numbers():
    assert _after({"after": 12.5}) == 12.5
    assert _after({"after": 3}) == 3.0
    for bad in (
        {"after": "12"},
        {"after": True},
        {"after": None},
        {},
        {"after": float("nan")},
        {"after": float("inf")},
    ):
        assert _after(bad) == 0.0


def test_rate_limiter_allows_a_burst_then_refuses_until_the_window_passes():
    limiter = _RateLimiter(limit=3, seconds=10)
    assert [limiter.allow("a", now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert limiter.allow("b", now=3)  # per conversation
    assert limiter.allow("a", now=10.5)


def test_rate_limiter_memory_is_bounded_and_forgets_the_longest_idle():
    limiter = _RateLimiter(limit=1, seconds=60, max_keys=100)
    assert limiter.allow("busy", now=0)
    for n in range(1, 500):
        limiter.allow(f"token-{n}", now=n / 1000)
        assert not limiter.allow("busy", now=n / 1000)  # still limited: recently used
    assert len(limiter._seen) == 100


def test_demo_page_shows_the_clinic_and_its_widget_escaped(clinic):
    page = render_page("/", clinic.settings, "http://127.0.0.1:5005/")
    assert f"<title>Home | {clinic.settings.name}</title>" in page
    assert '<script src="http://127.0.0.1:5005/webhooks/web/widget.js" defer></script>' in page
    assert "&lt;script src=" in page  # the snippet to copy is shown, not run
    assert render_page("/nothing", clinic.settings, "http://x") is None
    assert widget_tag("https://bot.clinic.example/") == (
        '<script src="https://bot.clinic.example/webhooks/web/widget.js" defer></script>'
    )
    assert "--brand: #1f6f78; --on-brand: #ffffff;" in render_css(clinic.settings)


def test_demo_page_escapes_a_clinic_name_with_markup(clinic):
    from dataclasses import replace

    settings = replace(clinic.settings, name='Skin & Co <script>alert("x")</script>')
    page = render_page("/aftercare", settings, "http://127.0.0.1:5005")
    assert "<script>alert" not in page
    assert "Skin &amp; Co &lt;script&gt;" in page


def test_widget_script_never_parses_text_as_html():
    source = (PROJECT_DIR / "bot" / "channels" / "web" / "static" / "widget.js").read_text()
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert risky not in source
