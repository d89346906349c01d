"""Answers for a treatment day come from the KB: status, level, entry and day label."""

from __future__ import annotations

import pytest

from bot.domain.advisor import RESPONSE_ANSWER, RESPONSE_NO_GUIDANCE, RESPONSE_SUMMARY, Advisor
from bot.kb.loader import load_clinic
from tests.conftest import edit


@pytest.mark.parametrize(
    ("day", "status", "entry"),
    [
        (0, "not_yet", "makeup@0-2"),
        (2, "not_yet", "makeup@0-2"),
        (3, "caution", "makeup@3"),
        (4, "allowed", "makeup@4-6"),
        (30, "allowed", "makeup@7+"),
    ],
)
def test_makeup_status_follows_the_day_windows(advisor, day, status, entry):
    answer = advisor.answer("makeup", day)
    assert (answer.status, answer.entry, answer.escalation, answer.day) == (
        status,
        entry,
        "none",
        day,
    )
    assert answer.response == RESPONSE_ANSWER


def test_every_day_dependent_answer_says_its_day(advisor, clinic):
    label = clinic.kb.phrase("day_label.day").format(day=4)
    assert advisor.answer("exercise", 4).reply.startswith(label)
    assert advisor.answer("exercise", 0).reply.startswith(
        clinic.kb.phrase("day_label.treatment_day").format(day=0)
    )


def test_oozing_on_day_4_is_an_urgent_red_flag(advisor, clinic):
    answer = advisor.answer("oozing", 4)
    assert (answer.status, answer.escalation, answer.entry) == ("red_flag", "urgent", "oozing@1+")
    notice = clinic.kb.phrase("notice.urgent").format(**clinic.settings.placeholders())
    assert answer.reply.endswith(notice)


def test_oozing_on_treatment_day_is_expected(advisor):
    answer = advisor.answer("oozing", 0)
    assert (answer.status, answer.escalation) == ("expected", "none")


@pytest.mark.parametrize("topic", ["infection_signs", "cold_sores", "allergic_reaction"])
def test_always_red_flag_symptoms_are_urgent_on_any_day(advisor, topic):
    for day in (0, 3, 12):
        assert advisor.answer(topic, day).escalation == "urgent"


def test_bruising_after_day_7_goes_to_the_team(advisor):
    assert advisor.answer("bruising", 5).escalation == "none"
    answer = advisor.answer("bruising", 8)
    assert (answer.status, answer.escalation) == ("question", "question")


def test_red_flag_sign_raises_the_level_and_replaces_the_reassurance(advisor):
    calm = advisor.answer("redness", 2)
    spreading = advisor.answer("redness", 2, signs=frozenset({"spreading"}))
    assert calm.escalation == "none" and spreading.escalation == "urgent"
    assert spreading.entry == "redness@0-3+spreading"
    assert calm.reply.split(" ", 5)[-1] not in spreading.reply


def test_worsening_only_counts_from_the_window_the_kb_gives(advisor):
    assert advisor.answer("swelling", 2, signs=frozenset({"worsening"})).escalation == "none"
    assert advisor.answer("swelling", 4, signs=frozenset({"worsening"})).escalation == "urgent"


def test_airway_signs_put_the_emergency_notice_first(advisor, clinic):
    answer = advisor.answer("swelling", 1, signs=frozenset({"airway"}))
    assert answer.escalation == "emergency"
    first_line = answer.reply.splitlines()[0]
    assert first_line == clinic.kb.phrase("notice.emergency").format(
        **clinic.settings.placeholders()
    )
    assert clinic.settings.emergency_number in first_line


def test_deep_needling_opens_activities_later_but_never_delays_red_flags(advisor):
    assert advisor.answer("makeup", 4, "medical").status == "allowed"
    assert advisor.answer("makeup", 4, "deep").status == "not_yet"
    assert advisor.answer("oozing", 1, "deep").escalation == "urgent"


def test_by_kind_override_answers_for_that_kind(advisor):
    medical = advisor.answer("healing_timeline", None, "medical")
    deep = advisor.answer("healing_timeline", None, "deep")
    assert medical.reply != deep.reply and deep.entry == "healing_timeline@deep:any"


def test_unknown_kind_uses_the_clinic_default(advisor, clinic):
    assert advisor.kind_or_default("laser") == clinic.settings.default_treatment_kind


def test_general_topics_need_no_day(advisor):
    answer = advisor.answer("results", None)
    assert (answer.topic, answer.day, answer.status, answer.escalation) == (
        "results",
        None,
        None,
        "none",
    )
    assert not advisor.needs_day("results") and advisor.needs_day("makeup")


def test_picking_is_never_allowed_and_needs_no_day(advisor):
    assert not advisor.needs_day("touching_picking")
    assert advisor.answer("touching_picking", None).status == "not_yet"
    assert advisor.answer("touching_picking", 40).status == "not_yet"


def test_other_treatments_are_outside_the_kb_and_go_to_the_team(advisor):
    # The protocol has no guidance on combining other treatments: no topic answers them.
    assert not advisor.knows("other_treatment")
    answer = advisor.no_guidance("other_treatment")
    assert (answer.topic, answer.escalation) == (None, "question")


def test_day_needing_topic_without_day_is_a_programming_error(advisor):
    with pytest.raises(ValueError):
        advisor.answer("makeup", None)


def test_before_treatment_gets_the_before_phrase(advisor, clinic):
    answer = advisor.answer("makeup", -2)
    assert (
        answer.entry is None and clinic.kb.phrase("before_treatment").split(",")[0] in answer.reply
    )
    assert advisor.answer("next_treatment", -3).entry == "next_treatment@before"


def test_unknown_topic_gets_no_guidance_at_question_level(advisor, clinic):
    answer = advisor.no_guidance()
    assert (answer.response, answer.topic, answer.escalation) == (
        RESPONSE_NO_GUIDANCE,
        None,
        "question",
    )
    assert clinic.settings.phone in answer.reply
    assert advisor.answer("laser_hair_removal", 3).response == RESPONSE_NO_GUIDANCE


def test_day_summary_groups_activities_by_status(advisor, clinic):
    kb = clinic.kb
    day2 = advisor.day_summary(2)
    day7 = advisor.day_summary(7)
    assert day2.response == RESPONSE_SUMMARY and day2.entry == "summary@2"
    makeup = kb.topic("makeup").label
    not_yet_line = next(
        line
        for line in day2.reply.splitlines()
        if line.startswith(kb.phrase("summary.not_yet").split("{")[0])
    )
    allowed_line = next(
        line
        for line in day7.reply.splitlines()
        if line.startswith(kb.phrase("summary.allowed").split("{")[0])
    )
    assert makeup in not_yet_line and makeup in allowed_line
    assert kb.topic("oozing").label in day2.reply


def test_answers_record_the_kb_version(advisor, clinic):
    assert advisor.answer("swimming", 1).kb_version == clinic.kb.version


def test_a_clinic_edit_changes_the_answer_without_code(clinic_dir, known_topics):
    edit(
        clinic_dir / "knowledge" / "activities_lifestyle.yml",
        '      - days: 0-2\n        status: not_yet\n        answer: "Not yet. Pools',
        '      - days: 0-2\n        status: caution\n        answer: "Only with goggles. Pools',
    )
    advisor = Advisor(load_clinic(clinic_dir, known_topics))
    answer = advisor.answer("swimming", 1)
    assert answer.status == "caution" and "Only with goggles" in answer.reply


@pytest.mark.parametrize(
    ("topic", "variants", "day", "status", "entry"),
    [
        ("cleansing", ("products",), 0, "not_yet", "cleansing/products@0-1"),
        ("cleansing", (), 0, "caution", "cleansing@0-1"),
        ("cleansing", ("products",), 2, "allowed", "cleansing@2+"),
        ("moisturiser", ("creams",), 1, "not_yet", "moisturiser/creams@0-1"),
        ("moisturiser", ("occlusive",), 0, "allowed", "moisturiser/occlusive@0-1"),
        ("moisturiser", ("creams", "occlusive"), 0, "not_yet", "moisturiser/creams@0-1"),
        ("sun_protection", ("tanning",), 8, "not_yet", "sun_protection/tanning@0-13"),
        ("sun_protection", ("tanning",), 14, "allowed", "sun_protection@7+"),
        ("exercise", ("gentle_walking",), 1, "caution", "exercise/gentle_walking@0-2"),
        ("exercise", ("no_such_variant",), 1, "not_yet", "exercise@0-2"),
    ],
)
def test_a_variant_the_question_names_answers_on_its_days_and_the_topic_on_the_others(
    advisor, topic, variants, day, status, entry
):
    answer = advisor.answer(topic, day, variants=variants)
    assert (answer.status, answer.entry) == (status, entry)


def test_of_several_variants_a_question_names_the_most_cautious_answers(clinic_dir):
    edit(
        clinic_dir / "knowledge" / "activities_lifestyle.yml",
        "    variants:\n",
        "    variants:\n"
        "      - name: team_sport\n"
        "        cues: [netball]\n"
        "        windows:\n"
        "          - days: 0-4\n"
        "            status: not_yet\n"
        "            answer: Not yet for team sports.\n"
        "            sources: [protocol]\n",
    )
    advisor = Advisor(load_clinic(clinic_dir))
    answer = advisor.answer("exercise", 1, variants=("gentle_walking", "team_sport"))
    assert (answer.status, answer.entry) == ("not_yet", "exercise/team_sport@0-4")
    later = advisor.answer("exercise", 4, variants=("gentle_walking", "team_sport"))
    assert (later.status, later.entry) == ("not_yet", "exercise/team_sport@0-4")
    assert advisor.answer("exercise", 5, variants=("team_sport",)).entry == "exercise@3+"
