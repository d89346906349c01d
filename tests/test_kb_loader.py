"""The knowledge base loader: the shipped KB is valid and complete; every mistake is located."""

from __future__ import annotations

import re

import pytest

from bot.kb.loader import KnowledgeBaseError, load_clinic, parse_day_range
from tests.conftest import PROTOCOL, SHIPPED_CLINIC, edit


def errors_of(clinic_dir, known_topics) -> list[str]:
    with pytest.raises(KnowledgeBaseError) as info:
        load_clinic(clinic_dir, known_topics)
    return [str(e) for e in info.value.errors]


def line_of(path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not found in {path}")


def test_shipped_knowledge_base_is_valid(clinic):
    assert clinic.kb.version.startswith("2026.11.1+")
    assert clinic.settings.time_zone == "Europe/London"


def test_every_protocol_topic_is_in_the_knowledge_base(clinic):
    text = PROTOCOL.read_text() if PROTOCOL.exists() else ""
    if not text:
        pytest.skip("../shared/aftercare-protocol.md is not beside the repo")
    protocol_keys = set(re.findall(r"^\| `(\w+)`", text, flags=re.M))
    general = text.split("## General questions", 1)[1]
    protocol_keys |= set(re.findall(r"`(\w+)`\s+\(", general))
    assert len(protocol_keys) >= 31
    assert protocol_keys <= set(clinic.kb.topics), protocol_keys - set(clinic.kb.topics)


def test_every_topic_intent_has_an_entry_except_what_the_protocol_leaves_to_the_team(
    clinic, known_topics
):
    # The protocol has no guidance on combining other treatments (Botox, laser...): the shipped
    # KB leaves that intent without an entry, so it gets the no-guidance reply and the offer.
    assert set(clinic.kb.topics) <= known_topics
    assert known_topics - set(clinic.kb.topics) == {"other_treatment"}


def test_every_window_cites_a_known_source(clinic):
    for topic in clinic.kb.topics.values():
        for window in topic.windows:
            assert window.sources and set(window.sources) <= set(clinic.kb.sources), topic.key


def test_version_changes_when_a_file_changes(clinic_dir, known_topics):
    before = load_clinic(clinic_dir, known_topics).kb.version
    edit(
        clinic_dir / "knowledge" / "general.yml",
        "Many people notice a glow",
        "Most people notice a glow",
    )
    after = load_clinic(clinic_dir, known_topics).kb.version
    assert before != after and before.split("+")[0] == after.split("+")[0]


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [(3, 3, 3), ("0-2", 0, 2), ("7+", 7, None), ("before", None, -1), ("any", None, None)],
)
def test_day_range_forms(text, start, end):
    parsed = parse_day_range(text)
    assert (parsed.start, parsed.end) == (start, end)


@pytest.mark.parametrize("text", ["3-1", "soon", "", True, 2.5])
def test_bad_day_ranges_are_rejected(text):
    assert parse_day_range(text) is None


def test_yaml_syntax_error_names_file_and_line(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "symptoms.yml"
    target = line_of(path, 'label: "any oozing or weeping"')
    lines = path.read_text().splitlines()
    lines[target - 1] = '    label: "any oozing or weeping'
    path.write_text("\n".join(lines) + "\n")
    (error,) = errors_of(clinic_dir, known_topics)
    assert error.startswith("clinic/knowledge/symptoms.yml:")
    assert "YAML syntax error" in error
    assert int(error.split(":")[1]) >= target


def test_duplicate_topic_key_is_reported_with_its_line(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "general.yml"
    path.write_text(
        path.read_text()
        + "\n  results:\n    type: general\n    answer: again\n    sources: [s000]\n"
    )
    (error,) = errors_of(clinic_dir, known_topics)
    assert "duplicate key 'results'" in error
    assert error.startswith(
        f"clinic/knowledge/general.yml:{len(path.read_text().splitlines()) - 3}:"
    )


def test_unknown_key_names_file_line_and_allowed_keys(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "activities_skincare.yml"
    edit(path, "        status: caution\n", "        statuss: caution\n")
    errors = errors_of(clinic_dir, known_topics)
    line = line_of(path, "statuss: caution")
    assert any(
        e.startswith(f"clinic/knowledge/activities_skincare.yml:{line}: unknown key 'statuss'")
        for e in errors
    ), errors
    assert any("missing 'status'" in e for e in errors)


def test_unknown_topic_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "general.yml"
    edit(path, "  results:\n", "  resluts:\n")
    errors = errors_of(clinic_dir, known_topics)
    assert any(
        f"general.yml:{line_of(path, 'resluts:')}: unknown topic 'resluts'" in e for e in errors
    )


def test_overlapping_day_ranges_are_rejected(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "activities_skincare.yml"
    edit(
        path,
        "      - days: 4-6\n        status: allowed",
        "      - days: 3-6\n        status: allowed",
    )
    errors = errors_of(clinic_dir, known_topics)
    assert any("topic 'makeup': days 3-6 overlap days 3" in e for e in errors), errors


def test_missing_day_range_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "activities_skincare.yml"
    edit(
        path,
        "      - days: 4-6\n        status: allowed",
        "      - days: 5-6\n        status: allowed",
    )
    errors = errors_of(clinic_dir, known_topics)
    assert any(
        e.endswith("topic 'makeup': days 4 are not covered by any window") for e in errors
    ), errors


def test_open_ended_last_window_is_required(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "activities_lifestyle.yml"
    edit(
        path,
        '      - days: 3+\n        status: allowed\n        answer: "Yes, you can exercise',
        '      - days: 3-30\n        status: allowed\n        answer: "Yes, you can exercise',
    )
    errors = errors_of(clinic_dir, known_topics)
    assert any("days after 30 are not covered" in e for e in errors), errors


def test_level_that_does_not_exist_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "symptoms.yml"
    edit(path, "        level: urgent\n", "        level: critical\n")
    errors = errors_of(clinic_dir, known_topics)
    assert any(
        "level 'critical' does not exist; use one of none, question, urgent, emergency" in e
        for e in errors
    )


def test_status_that_does_not_exist_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "activities_skincare.yml"
    edit(path, "status: caution", "status: maybe")
    errors = errors_of(clinic_dir, known_topics)
    assert any(
        f"activities_skincare.yml:{line_of(path, 'status: maybe')}:" in e
        and "status 'maybe' does not exist" in e
        for e in errors
    )


def test_missing_answer_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "general.yml"
    text = path.read_text()
    start = text.index("  results:")
    end = text.index("  pre_treatment:")
    path.write_text(
        text[:start] + "  results:\n    type: general\n    sources: [s000]\n\n" + text[end:]
    )
    errors = errors_of(clinic_dir, known_topics)
    assert any("missing 'answer' in topic 'results'" in e for e in errors), errors


def test_unexpected_symptom_without_level_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "symptoms.yml"
    edit(
        path,
        '        expected: false\n        level: question\n        answer: "Bruising',
        '        expected: false\n        answer: "Bruising',
    )
    errors = errors_of(clinic_dir, known_topics)
    assert any("needs a level" in e for e in errors), errors


def test_expected_symptom_with_a_level_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "symptoms.yml"
    edit(
        path,
        "      - days: 0\n        expected: true\n",
        "      - days: 0\n        expected: true\n        level: urgent\n",
    )
    errors = errors_of(clinic_dir, known_topics)
    assert any("an expected symptom has level none" in e for e in errors), errors


def test_unknown_source_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "general.yml"
    edit(path, "sources: [s000, s001, s004]", "sources: [s000, s009]")
    errors = errors_of(clinic_dir, known_topics)
    assert any("unknown source 's009'" in e for e in errors)


def test_unknown_placeholder_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "knowledge" / "activities_lifestyle.yml"
    edit(path, "{clinic_phone} to book", "{clinic_fone} to book")
    errors = errors_of(clinic_dir, known_topics)
    assert any("unknown placeholder {clinic_fone}" in e for e in errors), errors


def test_unknown_red_flag_sign_is_rejected(clinic_dir, known_topics):
    edit(clinic_dir / "knowledge" / "symptoms.yml", "sign: spreading", "sign: spreadin")
    errors = errors_of(clinic_dir, known_topics)
    assert any("unknown sign 'spreadin'" in e for e in errors)


def test_missing_phrase_is_rejected(clinic_dir, known_topics):
    edit(clinic_dir / "knowledge" / "phrases.yml", "no_guidance:", "no_guidanse:")
    errors = errors_of(clinic_dir, known_topics)
    assert any("unknown phrase 'no_guidanse'" in e for e in errors)
    assert any("missing phrase 'no_guidance'" in e for e in errors)


def test_bad_time_zone_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "settings.yml"
    edit(path, "Europe/London", "Europe/Londn")
    (error,) = errors_of(clinic_dir, known_topics)
    assert error.startswith(
        f"clinic/settings.yml:{line_of(path, 'Europe/Londn')}: unknown time zone"
    )


def test_bad_opening_hours_are_rejected(clinic_dir, known_topics):
    edit(clinic_dir / "settings.yml", 'tue: "09:00-18:00"', 'tue: "9-6"')
    (error,) = errors_of(clinic_dir, known_topics)
    assert "opening_hours.tue must be 'HH:MM-HH:MM' or 'closed'" in error


def test_unknown_treatment_kind_in_by_kind_is_rejected(clinic_dir, known_topics):
    edit(clinic_dir / "knowledge" / "general.yml", "      deep: ", "      dense: ")
    errors = errors_of(clinic_dir, known_topics)
    assert any("unknown treatment kind 'dense'" in e for e in errors)


def test_all_errors_are_reported_at_once(clinic_dir, known_topics):
    edit(
        clinic_dir / "knowledge" / "symptoms.yml",
        "        level: urgent\n",
        "        level: critical\n",
    )
    edit(clinic_dir / "knowledge" / "activities_skincare.yml", "status: caution", "status: maybe")
    errors = errors_of(clinic_dir, known_topics)
    assert any("symptoms.yml" in e for e in errors) and any(
        "activities_skincare.yml" in e for e in errors
    )


def test_missing_settings_file_is_reported(clinic_dir, known_topics):
    (clinic_dir / "settings.yml").unlink()
    (error,) = errors_of(clinic_dir, known_topics)
    assert "settings.yml:0: file is missing" in error


def test_shipped_folder_is_untouched_by_these_tests():
    assert (
        "status: maybe"
        not in (SHIPPED_CLINIC / "knowledge" / "activities_skincare.yml").read_text()
    )


def test_telegram_settings_are_read(clinic):
    assert clinic.settings.telegram.bot_username == "NorthsideAftercareBot"
    assert clinic.settings.telegram.link_valid_days == 14


def test_telegram_section_is_optional(clinic_dir, known_topics):
    path = clinic_dir / "settings.yml"
    text = path.read_text()
    start = text.index("  # The clients' Telegram bot.")
    end = text.index("link_valid_days: 14\n") + len("link_valid_days: 14\n")
    path.write_text(text[:start] + text[end:])
    assert "telegram:" not in path.read_text()

    telegram = load_clinic(clinic_dir, known_topics).settings.telegram

    assert (telegram.bot_username, telegram.link_valid_days) == (None, 14)


@pytest.mark.parametrize(
    "username",
    ["@NorthsideAftercareBot", "Northside", "abot", "North-side_bot", "a" * 30 + "bot", "bot bot"],
)
def test_bad_bot_username_is_rejected_with_its_line(clinic_dir, known_topics, username):
    path = clinic_dir / "settings.yml"
    edit(path, '"NorthsideAftercareBot"', f'"{username}"')

    (error,) = errors_of(clinic_dir, known_topics)

    line = line_of(path, "bot_username:")
    assert error.startswith(f"clinic/settings.yml:{line}: telegram.bot_username '{username}'")
    assert "ending in 'bot', without the @" in error


@pytest.mark.parametrize("username", ["nbot_Bot", "Clinic_BOT", "a" * 29 + "bot", "North_side2bot"])
def test_bot_usernames_telegram_allows_are_accepted(clinic_dir, known_topics, username):
    edit(clinic_dir / "settings.yml", '"NorthsideAftercareBot"', f'"{username}"')

    assert load_clinic(clinic_dir, known_topics).settings.telegram.bot_username == username


@pytest.mark.parametrize("days", ["0", "-3", "2.5", '"two"', "true"])
def test_bad_link_valid_days_is_rejected_with_its_line(clinic_dir, known_topics, days):
    path = clinic_dir / "settings.yml"
    edit(path, "link_valid_days: 14", f"link_valid_days: {days}")

    (error,) = errors_of(clinic_dir, known_topics)

    line = line_of(path, "link_valid_days:")
    assert error == (
        f"clinic/settings.yml:{line}: telegram.link_valid_days must be a whole number of days, "
        "1 or more"
    )


def test_unknown_telegram_key_is_rejected(clinic_dir, known_topics):
    path = clinic_dir / "settings.yml"
    edit(path, "link_valid_days: 14", "link_valid_hours: 14")

    (error,) = errors_of(clinic_dir, known_topics)

    assert error.startswith(
        f"clinic/settings.yml:{line_of(path, 'link_valid_hours')}: unknown key 'link_valid_hours' in telegram"
    )


def test_telegram_mistakes_are_reported_with_the_others(clinic_dir, known_topics):
    path = clinic_dir / "settings.yml"
    edit(path, "Europe/London", "Europe/Londn")
    edit(path, '"NorthsideAftercareBot"', '"Northside"')
    edit(path, "link_valid_days: 14", "link_valid_days: 0")

    errors = errors_of(clinic_dir, known_topics)

    assert len(errors) == 3
    assert [e.split(": ", 1)[0] for e in errors] == [
        f"clinic/settings.yml:{line_of(path, needle)}"
        for needle in ("Europe/Londn", "bot_username:", "link_valid_days:")
    ]


def test_web_settings_are_read(clinic):
    web = clinic.settings.web
    assert web.colour == "#1f6f78"
    assert web.allowed_origins == ("https://www.northside-skin.example",)
    assert web.max_message_length == 1000


def test_web_section_is_optional(clinic_dir, known_topics):
    path = clinic_dir / "settings.yml"
    text = path.read_text()
    start = text.index("  # The chat widget for the clinic's website.")
    end = text.index("chat_days: 90\n") + len("chat_days: 90\n")
    path.write_text(text[:start] + text[end:])
    assert "web:" not in path.read_text()

    web = load_clinic(clinic_dir, known_topics).settings.web

    assert (web.colour, web.allowed_origins, web.max_message_length) == ("#1f6f78", (), 1000)
    assert web.chat_days == 90


@pytest.mark.parametrize("colour", ["teal", "#1f6f7", "1f6f78", "#1g6f78", "rgb(1,2,3)"])
def test_bad_web_colour_is_rejected_with_its_line(clinic_dir, known_topics, colour):
    path = clinic_dir / "settings.yml"
    edit(path, 'colour: "#1f6f78"', f'colour: "{colour}"')

    (error,) = errors_of(clinic_dir, known_topics)

    assert error.startswith(f"clinic/settings.yml:{line_of(path, 'colour:')}: web.colour")
    assert "#rrggbb" in error


@pytest.mark.parametrize(
    "origin",
    ["www.clinic.example", "https://clinic.example/chat", "ftp://clinic.example", "*"],
)
def test_web_origin_that_is_not_a_site_address_is_rejected(clinic_dir, known_topics, origin):
    path = clinic_dir / "settings.yml"
    edit(path, '"https://www.northside-skin.example"', f'"{origin}"')

    (error,) = errors_of(clinic_dir, known_topics)

    assert error.startswith("clinic/settings.yml:")
    assert f"'{origin}' is not a site address" in error


def test_web_origins_are_compared_without_case_or_trailing_slash(clinic_dir, known_topics):
    edit(
        clinic_dir / "settings.yml",
        '"https://www.northside-skin.example"',
        '"HTTPS://Www.Clinic.Example:8443/"',
    )

    web = load_clinic(clinic_dir, known_topics).settings.web

    assert web.allowed_origins == ("https://www.clinic.example:8443",)


@pytest.mark.parametrize("limit", ["0", "19", "10001", '"long"', "true", "99.5"])
def test_bad_max_message_length_is_rejected_with_its_line(clinic_dir, known_topics, limit):
    path = clinic_dir / "settings.yml"
    edit(path, "max_message_length: 1000", f"max_message_length: {limit}")

    (error,) = errors_of(clinic_dir, known_topics)

    line = line_of(path, "max_message_length:")
    assert error.startswith(f"clinic/settings.yml:{line}: web.max_message_length")


def _add_variant(clinic_dir, name: str, *windows: str) -> None:
    """A variant of the exercise topic with these windows (YAML flow mappings)."""
    lines = "".join(f"          - {w}\n" for w in windows)
    edit(
        clinic_dir / "knowledge" / "activities_lifestyle.yml",
        "    variants:\n",
        f"    variants:\n      - name: {name}\n        cues: [stroll]\n        windows:\n{lines}",
    )


WINDOW = "{days: 0-1, status: caution, answer: Slowly., sources: [protocol]}"


@pytest.mark.parametrize(
    ("name", "windows", "problem"),
    [
        ("gentle_walking", [WINDOW], "variant 'gentle_walking' is defined twice"),
        ("stroll", [WINDOW.replace("caution", "maybe")], "status 'maybe' does not exist"),
        ("stroll", [WINDOW.replace("[protocol]", "[nowhere]")], "unknown source 'nowhere'"),
        ("stroll", [WINDOW.replace("0-1", "soon")], "days must be like"),
        ("stroll", [WINDOW, WINDOW.replace("0-1", "1-2")], "variant 'stroll'.*overlap"),
    ],
)
def test_a_bad_variant_is_refused_with_its_file_and_line(clinic_dir, name, windows, problem):
    _add_variant(clinic_dir, name, *windows)
    with pytest.raises(KnowledgeBaseError, match=rf"activities_lifestyle.yml:\d+: .*{problem}"):
        load_clinic(clinic_dir)


def test_variant_windows_may_leave_days_to_the_topic(clinic_dir):
    _add_variant(clinic_dir, "stroll", WINDOW)
    topic = load_clinic(clinic_dir).kb.topic("exercise")
    stroll = next(v for v in topic.variants if v.name == "stroll")
    assert [w.days.text for w in stroll.windows] == ["0-1"]


@pytest.mark.parametrize(
    "url, accepted",
    [
        ("https://hooks.example.com/aftercare", True),
        ("http://127.0.0.1:9000/hook", True),
        ("http://localhost/hook", True),
        ("http://hooks.example.com/aftercare", False),
        ("http://127.0.0.1.evil.example/hook", False),
        ("ftp://hooks.example.com/x", False),
    ],
)
def test_an_alert_webhook_off_this_machine_must_be_https(clinic_dir, known_topics, url, accepted):
    path = clinic_dir / "settings.yml"
    edit(path, "  alerts:\n", f'  alerts:\n    webhook:\n      url: "{url}"\n')
    if accepted:
        assert load_clinic(clinic_dir, known_topics).settings.alerts.webhook_url == url
        return
    (error,) = errors_of(clinic_dir, known_topics)
    assert error.startswith(f"clinic/settings.yml:{line_of(path, url)}: alerts.webhook.url must")
    assert "https://" in error
