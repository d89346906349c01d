"""Screening client messages: symptoms, context (negated, over, hypothetical, someone else's),
red-flag signs, emergencies, unplaced words, triage, and the clinic's own lexicon file."""

from __future__ import annotations

import pytest

from bot.domain.triage import assess
from bot.kb.loader import KnowledgeBaseError, load_clinic
from bot.language.screening import Screener
from tests.conftest import edit


@pytest.fixture(scope="module")
def screener(clinic) -> Screener:
    """One screener on the shipped lexicon (the spaCy pipeline is built once)."""
    return Screener(clinic.lexicon)


def negated_topics(screening) -> set[str]:
    return {m.topic for m in screening.mentions if m.negated}


def resolved_topics(screening) -> set[str]:
    return {m.topic for m in screening.mentions if m.resolved}


def xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


# --- Symptom mentions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, topic",
    [
        ("my face is really swolen", "swelling"),
        ("it's oozeing a bit", "oozing"),
        ("my cheeks are weeping", "oozing"),
        ("there's puss coming out", "infection_signs"),
        ("i think it's infeted", "infection_signs"),
        ("its all crusty n yellow", "infection_signs"),
        ("my face blew up overnight", "swelling"),
        ("zits everywhere", "breakouts"),
        ("it's flakey", "peeling"),
        ("my skin is pealing", "peeling"),
        ("i feel a bit feverish", "infection_signs"),
        ("i'm feeling unwell", "infection_signs"),
        ("got a temperature of 38", "infection_signs"),
        ("it feels like a sunburn", "redness"),
        ("i have a cold sore on my lip", "cold_sores"),
        ("my moisturiser stings and burns", "allergic_reaction"),
        ("the serum burns when i put it on", "allergic_reaction"),
        ("there are some dark patches on my cheek", "pigmentation"),
        ("leaking", "oozing"),
    ],
)
def test_finds_symptoms_in_synonyms_slang_and_listed_misspellings(screener, text, topic):
    assert screener.screen(text).active_topics == (topic,)


@pytest.mark.parametrize(
    "text, topic",
    [
        ("it's swollenn", "swelling"),
        ("so itchyy", "itching"),
        ("it's bleeeding", "bleeding"),
        ("it's peelling", "peeling"),
        ("infectted", "infection_signs"),
        ("my skin is inflammed", "redness"),
        ("i have a pimpple", "breakouts"),
        ("it's bruisng", "bruising"),
    ],
)
def test_matches_unlisted_one_typo_misspellings(screener, text, topic):
    assert screener.screen(text).active_topics == (topic,)


@pytest.mark.parametrize(
    "text, topic",
    [
        ("my face swelled overnight", "swelling"),
        ("it bleeds when i wash", "bleeding"),
        ("it weeps a little", "oozing"),
        ("my skin peels", "peeling"),
        ("my lip blistered", "cold_sores"),
        ("the chin itched all night", "itching"),
        ("it aches", "pain"),
    ],
)
def test_matches_dictionary_forms_of_symptom_words(screener, text, topic):
    assert topic in screener.screen(text).active_topics


@pytest.mark.parametrize(
    "text, topics",
    [
        ("it's red, swollen and itchy", ("redness", "swelling", "itching")),
        ("my face is swollen and bleeding a bit", ("swelling", "bleeding")),
        ("i've got pimples and its weeping", ("breakouts", "oozing")),
        ("there is a rash and it's itchy", ("allergic_reaction", "itching")),
    ],
)
def test_finds_several_symptoms_in_one_message_in_order(screener, text, topics):
    assert screener.screen(text).active_topics == topics


def test_finds_symptoms_in_a_long_story_without_a_question_mark(screener):
    story = (
        "so i had my treatment on monday and since then my face has been really red and "
        "swollen and today i noticed some little whiteheads on my chin and it's kind of "
        "itchy too"
    )
    screening = screener.screen(story)
    assert screening.active_topics == ("redness", "swelling", "breakouts", "itching")
    assert not screening.signs and not screening.emergency


def test_mentions_carry_the_words_the_client_used(screener):
    (mention,) = screener.screen("my face is really swolen").mentions
    assert (mention.topic, mention.text, mention.active) == ("swelling", "swolen", True)


# --- Negation and resolution ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, negated, active",
    [
        ("no pus", {"infection_signs"}, ()),
        ("didn't hurt, but it felt like a sunburn", {"pain"}, ("redness",)),
        ("no swelling or redness", {"swelling", "redness"}, ()),
        ("no redness, no swelling, no pain", {"redness", "swelling", "pain"}, ()),
        (
            "no fever and it's oozing yellow stuff",
            {"infection_signs"},
            ("oozing", "infection_signs"),
        ),
        ("no pus, just a bit pink", {"infection_signs"}, ("redness",)),
        ("i don't have a fever", {"infection_signs"}, ()),
        ("i don't have any pus", {"infection_signs"}, ()),
        ("it isn't oozing", {"oozing"}, ()),
        ("nothing is oozing", {"oozing"}, ()),
        ("its not swolen", {"swelling"}, ()),
        ("i haven't got any swelling", {"swelling"}, ()),
        ("it doesn't itch", {"itching"}, ()),
        ("without any redness", {"redness"}, ()),
        ("it's not oozing but it is bleeding", {"oozing"}, ("bleeding",)),
        ("no pain but it is really swollen", {"pain"}, ("swelling",)),
        ("it's healing well, no oozing", {"oozing"}, ()),
        pytest.param("i dont have a fever", {"infection_signs"}, ()),
        pytest.param("it doesnt itch", {"itching"}, ()),
    ],
)
def test_negated_symptoms_are_not_active(screener, text, negated, active):
    screening = screener.screen(text)
    assert negated_topics(screening) == negated
    assert screening.active_topics == active


def test_a_negated_symptom_raises_no_sign(screener):
    assert screener.screen("no pus").signs == frozenset()
    assert screener.screen("i don't have a fever").signs == frozenset()


@pytest.mark.parametrize(
    "text, topic",
    [
        ("not swollen anymore", "swelling"),
        ("no longer swollen", "swelling"),
        ("the redness went down, luckily", "redness"),
        ("swelling went down overnight", "swelling"),
        ("the swelling has gone", "swelling"),
        ("it stopped bleeding", "bleeding"),
        ("the bleeding stopped", "bleeding"),
        ("the pain is much better now", "pain"),
        ("it's not bleeding anymore", "bleeding"),
        pytest.param("the pain went away", "pain"),
        ("i had a bit of redness on day 1, it's gone now", "redness"),
        pytest.param(
            "it was swollen but now it's fine",
            "swelling",
            marks=xfail("past swelling that is 'fine now' is read as current"),
        ),
    ],
)
def test_symptoms_that_are_over_are_not_active(screener, text, topic):
    screening = screener.screen(text)
    assert topic in screening.inactive_topics
    assert topic not in screening.active_topics


def test_wont_stop_bleeding_is_active_bleeding_with_the_wont_stop_sign(screener):
    screening = screener.screen("it won't stop bleeding")
    assert screening.active_topics == ("bleeding",)
    assert "wont_stop" in screening.signs
    assert not negated_topics(screening)


def test_hasnt_gone_down_is_not_improving_not_resolved(screener):
    screening = screener.screen("the swelling hasn't gone down")
    assert screening.active_topics == ("swelling",)
    assert "not_improving" in screening.signs
    assert not resolved_topics(screening)


@pytest.mark.parametrize(
    "text, sign",
    [
        ("it keeps bleeding", "wont_stop"),
        ("it's still bleeding", "not_improving"),
        ("the redness is no better", "not_improving"),
        ("redness is the same as yesterday", "not_improving"),
    ],
)
def test_ongoing_symptoms_stay_active_with_their_sign(screener, text, sign):
    screening = screener.screen(text)
    assert len(screening.active_topics) == 1
    assert sign in screening.signs


def test_still_with_getting_better_is_no_complaint(screener):
    screening = screener.screen("just a bit pink still and less than yesterday")
    assert "not_improving" not in screening.signs
    assert "not_improving" in screener.screen("just a bit pink still").signs


# --- Hypotheticals and other people ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, topic",
    [
        ("what if it starts oozing?", "oozing"),
        ("what do i do if my lips swell", "swelling"),
        ("will it swell?", "swelling"),
        ("should i worry if it gets itchy", "itching"),
        ("how do i know if it's infected", "infection_signs"),
        ("in case it starts bleeding what do i do", "bleeding"),
        ("if i get hives should i call", "allergic_reaction"),
        ("my cousin got hives after hers", "allergic_reaction"),
        ("my husband got hives after his, mine's fine", "allergic_reaction"),
        ("some people get cold sores after microneedling", "cold_sores"),
        ("my friend had a rash after hers", "allergic_reaction"),
        ("i read that some people get hives", "allergic_reaction"),
    ],
)
def test_hypotheticals_and_other_peoples_symptoms_are_not_active(screener, text, topic):
    screening = screener.screen(text)
    assert screening.active_topics == ()
    assert screening.hypothetical_topics == {topic}
    assert not screening.signs
    assert not screening.emergency


def test_what_if_my_lips_swell_is_a_hypothetical_emergency_not_an_emergency(screener):
    screening = screener.screen("what do i do if my lips swell")
    assert screening.emergency == ()
    assert not screening.is_emergency
    assert screening.hypothetical_emergency
    assert screening.hypothetical_cue


def test_a_hypothetical_worsening_raises_no_sign(screener):
    screening = screener.screen("what if it gets worse")
    assert screening.signs == frozenset()
    assert screening.hypothetical_cue


def test_someone_elses_symptom_does_not_hide_the_clients_own(screener):
    screening = screener.screen("my sister got hives after hers but i have a rash")
    assert screening.active_topics == ("allergic_reaction",)
    assert "rash" in screening.signs


@pytest.mark.parametrize(
    "text",
    [
        "my daughter is day 2 and her lips have swollen up and she's struggling to breathe",
        "my wife's lips are swelling up and her throat feels tight",
        "writing for my husband, his lips are huge and he can't breathe properly",
    ],
)
def test_a_partner_or_parent_writing_for_the_client_is_an_emergency(screener, text):
    assert screener.screen(text).is_emergency


def test_a_close_persons_symptom_is_someone_elses_when_the_writer_is_the_treated_one(screener):
    screening = screener.screen("my husband passed out at his dentist once, mine's fine")
    assert not screening.is_emergency and screening.hypothetical_emergency


@pytest.mark.parametrize(
    "text",
    [
        "my lips aren't swollen and I'm breathing fine",
        "I'm fine, no breathing problems, lips aren't swollen or anything",
        "I laughed so hard I couldn't breathe, anyway can I wear makeup",
        "I nearly passed out when I saw the price of the serum",
        "bit puffy round the eyes, lips are fine",
    ],
)
def test_denied_emergencies_and_figures_of_speech_are_no_emergency(screener, text):
    assert not screener.screen(text).is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "Post-procedure day 1. SOB on exertion and at rest. Facial erythema as expected",
        "my SpO2 is 92% on the oximeter",
        "sats dropping and I feel rough",
    ],
)
def test_clinical_shorthand_for_breathlessness_and_low_oxygen_is_an_emergency(screener, text):
    assert screener.screen(text).is_emergency


@pytest.mark.parametrize(
    "text", ["I could sob at how good my skin looks", "my SpO2 is 99%, all fine"]
)
def test_sobbing_and_a_normal_oxygen_reading_are_no_emergency(screener, text):
    assert not screener.screen(text).is_emergency


def test_worrying_about_an_infection_names_no_infection(screener):
    screening = screener.screen("I was worried about infection but it's just a bit dry")
    assert "infection_signs" not in screening.active_topics
    assert "infection_signs" in screener.screen("I think my chin is infected").active_topics


def test_darker_than_before_the_treatment_is_a_change_now(screener):
    screening = screener.screen("some spots went darker than they were before the treatment")
    assert "pigmentation" in screening.active_topics


def test_a_joke_is_a_figure_of_speech_the_learned_net_must_be_sure_to_overrule(screener):
    screening = screener.screen("she says I've got lips like a film star, that's just a joke")
    assert screening.figurative and not screening.is_emergency


@pytest.mark.parametrize(
    ("text", "active"),
    [
        ("the spots on my chin have gone massive and angry", True),
        ("the wee purple bruises havenae gone", True),
        ("the swelling has gone now", False),
        ("the swelling has gone, thank god", False),
    ],
)
def test_gone_saying_what_it_became_is_not_over(screener, text, active):
    assert bool(screener.screen(text).active_topics) is active


@pytest.mark.parametrize(
    "text",
    [
        "I had a fever last week, before my treatment",
        "the bleeding stopped in a few minutes",
        "it bled a bit but stopped straight away",
    ],
)
def test_past_symptoms_are_not_active(screener, text):
    assert screener.screen(text).active_topics == ()


def test_but_it_stopped_speaks_of_the_symptom_before_but(screener):
    over = screener.screen("a bit of oozing on day 1 but it stopped that same day")
    assert "oozing" in over.inactive_topics and over.active_topics == ()
    # Another symptom after the resolution: it is that one that stopped.
    assert "swelling" in screener.screen("swollen but it stopped hurting").active_topics
    # ...nor when it started again.
    for text in (
        "the bleeding slowed but it stopped only for a minute then carried on",
        "my cheek is oozing but it stopped and now it's back",
        "oozing but it stopped until this afternoon",
        # ...nor when it is not clearly the symptom that stopped, or not wholly (review).
        "oozing yellow pus but they stopped the antibiotics",
        "there is pus but it cleared up on one side",
        "my skin is blistering but it stopped spreading",
        "swelling around my eyes but it stopped getting bigger",
        "fever and chills but it settled a little with paracetamol",
        "I've got a temperature of 39 but it settled a bit",
    ):
        assert screener.screen(text).active_topics, text
    assert "bleeding" in screener.screen("bleeding and swelling but it stopped").active_topics
    assert (
        screener.screen("some oozing the first night but it stopped by morning").active_topics == ()
    )


def test_cold_sores_in_clinical_words_are_cold_sores(screener):
    text = "grouped vesicles on an erythematous base at the vermilion border. Hx HSV-1"
    assert "cold_sores" in screener.screen(text).active_topics


def test_a_symptom_that_has_not_stopped_stays_active(screener):
    screening = screener.screen("the bleeding hasn't stopped in two hours")
    assert screening.active_topics == ("bleeding",)


def test_another_person_reporting_the_clients_symptom_keeps_it_active(screener):
    assert screener.screen("my mum said i look swollen").active_topics == ("swelling",)


# --- Signs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, sign",
    [
        ("it's getting worse", "worsening"),
        ("it's worse than yesterday", "worsening"),
        ("it's more red than yesterday", "worsening"),
        ("it's redder than yesterday", "worsening"),
        ("my face feels hotter today", "worsening"),
        ("the redness is spreading", "spreading"),
        ("the spots are spreading", "spreading"),
        ("there are red streaks going up my neck", "spreading"),
        ("it's extremely painful", "severe"),
        ("pain is like 9/10", "severe"),
        ("the pain is unbearable", "severe"),
        ("it hurts so much i can't sleep", "severe"),
        ("there's puss coming out", "pus"),
        ("there is a rash and it's itchy", "rash"),
        ("i feel a bit feverish", "feeling_unwell"),
    ],
)
def test_finds_red_flag_signs(screener, text, sign):
    assert sign in screener.screen(text).signs


@pytest.mark.parametrize(
    "text",
    [
        "better than yesterday",
        "the redness is better than yesterday",
        "can I have a hot bath?",
        "it's not getting worse",
        "it isn't spreading",
        "the pain is like 3/10",
        "my friend's rash was spreading",
        "the pain is like 3 out of 10",
    ],
)
def test_no_sign_when_nothing_is_wrong(screener, text):
    assert screener.screen(text).signs == frozenset()


def test_better_than_yesterday_raises_nothing(screener):
    screening = screener.screen("better than yesterday")
    assert screening.mentions == () and screening.signs == frozenset()


# --- Weak words count only about the skin ---------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "can i use warm water",
        "i'm on blood thinners",
        "can i use liquid foundation",
        "can i put vaseline on",
        "can i drink wine",
        pytest.param("can I have a hot bath?"),
        pytest.param("can I have a hot shower"),
        pytest.param("can i do red light therapy"),
        pytest.param("i have a red light mask at home"),
    ],
)
def test_weak_words_not_about_the_skin_are_no_symptom(screener, text):
    assert screener.screen(text).mentions == ()


@pytest.mark.parametrize(
    "text, topic",
    [
        ("my face is really hot", "redness"),
        ("it's red", "redness"),
        ("my skin feels tight", "redness"),
        ("still a bit pink", "redness"),
        ("my face is bright red", "redness"),
    ],
)
def test_weak_words_about_the_skin_are_symptoms(screener, text, topic):
    assert screener.screen(text).active_topics == (topic,)


def test_weak_words_count_in_a_symptom_question(screener):
    assert screener.screen("how long does dryness last").active_topics == ()
    assert screener.screen("how long does dryness last", symptom_question=True).active_topics == (
        "peeling",
    )


def test_a_tight_throat_is_not_redness(screener):
    screening = screener.screen("my throat feels tight")
    assert screening.is_emergency
    assert "redness" not in screening.active_topics


# --- Typo matching never turns common words into symptoms ----------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "i'm leaving it alone",
        "keeping you posted",
        "never had these before",
        "can i do sports",
        "my husband bruce says hi",
        "i'm blending my foundation",
        "it's healing nicely",
        "i'm feeling great",
        "i was seeing friends",
        "i'm sleeping on my back",
        "is swimming ok",
        "i'm pleased with it",
        "i'm sweeping the floor",
        "i'm bleaching my hair",
        "thanks so much",
        "my face is glowing",
        "i had dermaplaning last month",
        "can i use niacinamide",
        pytest.param("i'm sweating a lot at the gym"),
    ],
)
def test_common_words_are_not_read_as_symptoms(screener, text):
    screening = screener.screen(text)
    assert screening.mentions == ()
    assert not screening.signs and not screening.emergency and not screening.unplaced


# --- Emergencies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "my lips are swelling and it's hard to breathe",
        "cant breathe properly",
        "i can't breathe",
        "my throat feels tight",
        "i passed out",
        "my chest is killin me",
        "my chest feels tight",
        "my lips are huge",
        "my tongue feels swollen",
        "i'm wheezing",
        "i feel faint",
        "i'm struggling to breathe",
        "shortness of breath",
        "i can't swallow",
        "I briefly lost consciousness in the garden",
        "my husband found me on the floor, I fell down and I don't remember",
        "I cannae breathe properly",
        # A sign said fine beside them does not clear them.
        "I can't breathe, fine one minute then not",
        "my lips are fine but my throat is swelling",
        "I cannot breathe well, my face is very swollen",
        "not a huge deal but I did pass out for a sec getting out of the shower",
        "urticarial rash over the neck and now mild dyspnoea",
        "the throat is like compressed, voice is changing",
        "im having chess pains since the morning",  # voice-to-text
    ],
)
def test_emergency_signs_are_found(screener, text):
    screening = screener.screen(text)
    assert screening.is_emergency
    assert screening.emergency


@pytest.mark.parametrize(
    "text",
    [
        "i can breathe fine",
        "no trouble breathing",
        "no difficulty breathing",
        "breathing is fine",
        "i'm breathing normally",
        "it's a faint pink now",
        "no swelling on my lips",
        "i didn't faint",
        "i didn't pass out",
        "what if my throat swells",
        "can i do breathwork",
        pytest.param("my lips aren't swollen"),
        pytest.param("my lips are not swollen"),
        pytest.param("my throat isn't tight"),
        pytest.param("i'm not having trouble breathing"),
    ],
)
def test_no_emergency_when_breathing_and_lips_are_fine(screener, text):
    screening = screener.screen(text)
    assert screening.emergency == ()
    assert not screening.is_emergency


def test_airway_emergency_also_reports_the_swelling_and_the_airway_sign(screener):
    screening = screener.screen("my lips are swelling and it's hard to breathe")
    assert "swelling" in screening.active_topics
    assert "airway" in screening.signs


# --- Unplaced symptom words -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, word",
    [
        ("my skin feels numb", "numb"),
        ("my skin has a lump", "lump"),
        ("there's a scab", "scab"),
        ("it's crusty", "crusty"),
    ],
)
def test_symptom_words_without_a_topic_are_unplaced(screener, text, word):
    screening = screener.screen(text)
    assert screening.unplaced == (word,)
    assert screening.mentions == ()


def test_negated_or_resolved_unplaced_words_are_dropped(screener):
    assert screener.screen("i'm not numb anymore").unplaced == ()


def test_crusty_and_yellow_is_an_infection_sign_not_unplaced(screener):
    screening = screener.screen("its all crusty n yellow")
    assert screening.unplaced == ()
    assert screening.active_topics == ("infection_signs",)


# --- Triage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, day, level, topics",
    [
        ("it's oozing", 0, "none", ["oozing"]),
        ("it's oozing", 4, "urgent", ["oozing"]),
        ("no pus, just a bit pink", 2, "none", ["redness"]),
        ("the redness hasn't gone down", 7, "urgent", ["redness"]),
        ("the redness is not improving", 7, "urgent", ["redness"]),
        ("it's red", 1, "none", ["redness"]),
        ("it's red", 7, "urgent", ["redness"]),
        ("the redness is getting worse", 4, "urgent", ["redness"]),
        ("it's bleeding", 0, "none", ["bleeding"]),
        ("it won't stop bleeding", 0, "urgent", ["bleeding"]),
        ("i have a pimple", 1, "question", ["breakouts"]),
        ("there's pus", None, "urgent", ["infection_signs"]),
        ("what if it starts oozing?", 4, "none", []),
        ("my cousin got hives after hers", 3, "none", []),
        ("my daughter got hives after hers", 3, "urgent", ["allergic_reaction"]),
        ("101.3 this morning, day 3", 3, "urgent", ["infection_signs"]),
        ("it's 39 degrees outside, can i sit in the garden", 3, "none", []),
        ("the swelling went down", 5, "none", []),
        ("my skin feels numb", 3, "question", []),
    ],
)
def test_triage_level_by_symptom_and_day(screener, advisor, text, day, level, topics):
    triage = assess(screener.screen(text), advisor, day, None)
    assert triage.level == level
    assert [f.topic for f in triage.findings] == topics


def test_not_improving_redness_on_day_7_is_urgent_via_the_red_flag(screener, advisor):
    triage = assess(screener.screen("the redness hasn't gone down"), advisor, 7, None)
    (finding,) = triage.findings
    assert finding.level == "urgent"
    assert finding.answer.entry.endswith("+not_improving")


@pytest.mark.parametrize(
    "text, day",
    [
        ("my lips are swelling and it's hard to breathe", 2),
        ("my face is swollen and i feel faint", 1),
        ("it's oozing and i feel faint", 4),
        ("my skin feels numb and i passed out", 10),
        ("i passed out", None),
    ],
)
def test_an_emergency_wins_over_everything(screener, advisor, text, day):
    triage = assess(screener.screen(text), advisor, day, None)
    assert triage.level == "emergency"
    assert triage.emergency


def test_a_worrying_sign_with_no_symptom_goes_to_the_team(screener, advisor):
    triage = assess(screener.screen("it's getting worse"), advisor, 4, None)
    assert triage.level == "question"
    assert triage.findings == ()
    assert "worsening" in triage.signs


@pytest.mark.parametrize(
    "intent_topic, context_topic, topic",
    [
        ("redness", None, "redness"),
        (None, "swelling", "swelling"),
        ("redness", "swelling", "redness"),
    ],
)
def test_a_worrying_sign_attaches_to_the_intent_or_context_topic(
    screener, advisor, intent_topic, context_topic, topic
):
    triage = assess(
        screener.screen("it's getting worse"),
        advisor,
        4,
        None,
        intent_topic=intent_topic,
        context_topic=context_topic,
    )
    assert [f.topic for f in triage.findings] == [topic]
    assert triage.level == "urgent"


def test_not_improving_without_a_symptom_word_attaches_to_the_context_topic(screener, advisor):
    triage = assess(
        screener.screen("it hasn't improved"), advisor, 7, None, context_topic="redness"
    )
    assert triage.level == "urgent"


def test_a_day_dependent_symptom_waits_for_the_day(screener, advisor):
    triage = assess(screener.screen("it's swollen"), advisor, None, None)
    assert triage.waiting_for_day == ("swelling",)
    assert triage.findings == ()
    assert triage.level == "none"


def test_a_day_independent_symptom_does_not_wait_for_the_day(screener, advisor):
    triage = assess(screener.screen("there's pus"), advisor, None, None)
    assert triage.waiting_for_day == ()
    assert triage.level == "urgent"


def test_triage_keeps_inactive_and_hypothetical_topics_apart_from_findings(screener, advisor):
    triage = assess(screener.screen("what if it starts oozing?"), advisor, 4, None)
    assert triage.hypothetical_topics == {"oozing"}
    assert triage.hypothetical_cue
    triage = assess(screener.screen("no pus, just a bit pink"), advisor, 2, None)
    assert triage.inactive_topics == {"infection_signs"}


# --- The clinic's lexicon file --------------------------------------------------------------


def line_of(path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not found in {path}")


def load_errors(clinic_dir, known_topics) -> list[str]:
    with pytest.raises(KnowledgeBaseError) as info:
        load_clinic(clinic_dir, known_topics)
    return [str(e) for e in info.value.errors]


@pytest.mark.parametrize(
    "old, new, needle, message",
    [
        pytest.param(
            "  pigmentation:\n",
            "  freckles:\n    words: [freckle]\n  pigmentation:\n",
            "  freckles:",
            "unknown symptom topic 'freckles'",
            id="unknown-symptom-topic",
        ),
        pytest.param(
            "  wont_stop:",
            "  itchiness:",
            "worrying_signs:",
            "worrying_signs: 'wont_stop' is not a sign",
            id="renamed-sign-still-listed-as-worrying",
        ),
        pytest.param(
            "\nskin_cues:",
            "\nextras: [a]\nskin_cues:",
            "extras:",
            "unknown key 'extras'",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "    weak: [purple]",
            "    weak: [purple]\n    strong: [violet]",
            "strong: [violet]",
            "unknown key 'strong' in symptoms.bruising",
            id="unknown-symptom-key",
        ),
        pytest.param(
            "    - [[chest, chess], [pain,",
            "    - [[chest, chess], [crushing], [pain,",
            "[[chest, chess], [crushing]",
            "each entry of emergency.pairs must be two lists",
            id="emergency-pair-of-three-lists",
        ),
        pytest.param(
            "      - [[serum,",
            "      - [[rash], [serum,",
            "      - [[rash], [serum,",
            "each entry of symptoms.allergic_reaction.pairs must be two lists",
            id="symptom-pair-not-two-lists",
        ),
        pytest.param(
            "    weak: [purple]",
            "    weak: purple",
            "weak: purple",
            "symptoms.bruising.weak must be a list of words or phrases",
            id="words-not-a-list",
        ),
        pytest.param(
            '  hypothetical: ["reading about"',
            '  maybe: ["reading about"',
            "  maybe:",
            "unknown key 'maybe' in context",
            id="unknown-context-key",
        ),
        pytest.param(
            "    - [[swallow, swallowing], ",
            "    - [[], ",
            "    - [[], ",
            "emergency.pairs",
            id="empty-pair-half",
        ),
        pytest.param(
            "  topic: infection_signs",
            "  topic: fevers",
            "temperature:",
            "temperature: topic 'fevers' is not a KB symptom topic",
            id="temperature-unknown-topic",
        ),
        pytest.param(
            "  topic: contraindications",
            "  topic: pregnancy_advice",
            "conditions:",
            "conditions: topic 'pregnancy_advice' is not a KB topic",
            id="conditions-unknown-topic",
        ),
        pytest.param(
            "  fever_from_celsius: 38.0",
            "  fever_from_celsius: hot",
            "  fever_from_celsius: hot",
            "fever_from_celsius",
            id="temperature-not-a-number",
        ),
    ],
)
def test_lexicon_mistakes_are_reported_with_file_and_line(
    clinic_dir, known_topics, old, new, needle, message
):
    path = clinic_dir / "screening.yml"
    edit(path, old, new)
    errors = load_errors(clinic_dir, known_topics)
    where = f"clinic/screening.yml:{line_of(path, needle)}:"
    assert any(e.startswith(where) and message in e for e in errors), errors


def test_a_missing_context_list_is_reported(clinic_dir, known_topics):
    path = clinic_dir / "screening.yml"
    edit(path, '  hypothetical: ["reading about"', '  maybe: ["reading about"')
    errors = load_errors(clinic_dir, known_topics)
    assert any(
        "clinic/screening.yml:" in e and "missing 'hypothetical' in context" in e for e in errors
    )


def test_a_red_flag_on_a_sign_the_lexicon_does_not_define_is_reported(clinic_dir, known_topics):
    edit(clinic_dir / "screening.yml", "  wont_stop:", "  itchiness:")
    errors = load_errors(clinic_dir, known_topics)
    path = clinic_dir / "knowledge" / "symptoms.yml"
    where = f"clinic/knowledge/symptoms.yml:{line_of(path, 'sign: wont_stop')}:"
    assert any(e.startswith(where) and "unknown sign 'wont_stop'" in e for e in errors), errors


def test_a_word_the_clinic_adds_is_recognised(screener, clinic_dir, known_topics):
    message = "my cheek is all glorpy"
    assert screener.screen(message).mentions == ()
    edit(clinic_dir / "screening.yml", "words: [ooze, oozing,", "words: [glorpy, ooze, oozing,")
    edited = Screener(load_clinic(clinic_dir, known_topics).lexicon)
    assert edited.screen(message).active_topics == ("oozing",)
    assert edited.screen("no glorpy bits").active_topics == ()


def test_the_clinic_sets_where_a_temperature_becomes_a_fever(screener, clinic_dir, known_topics):
    assert screener.screen("37.8 this morning").active_topics == ()
    edit(clinic_dir / "screening.yml", "fever_from_celsius: 38.0", "fever_from_celsius: 37.5")
    edited = Screener(load_clinic(clinic_dir, known_topics).lexicon)
    assert edited.screen("37.8 this morning").active_topics == ("infection_signs",)


def test_a_word_the_clinic_removes_is_no_longer_recognised(clinic_dir, known_topics):
    edit(clinic_dir / "screening.yml", "zit, zits, ", "")
    edited = Screener(load_clinic(clinic_dir, known_topics).lexicon)
    assert edited.screen("zits everywhere").mentions == ()
    assert edited.screen("pimples everywhere").active_topics == ("breakouts",)


def test_a_name_holding_a_symptom_word_is_no_symptom(screener):
    screening = screener.screen("is Piriton ok for my hay fever while my face heals?")
    assert "feeling_unwell" not in screening.signs
    assert "infection_signs" not in screening.active_topics
    fever = screener.screen("my hay fever is fine but I've got a fever and chills")
    assert "feeling_unwell" in fever.signs


def test_a_sign_told_in_the_past_does_not_raise_the_level(screener):
    screening = screener.screen("my sister came out in hives after hers last year, is that common?")
    assert "rash" not in screening.signs
    again = screener.screen("I had hives last year and now I have hives all over my face")
    assert "rash" in again.signs and "allergic_reaction" in again.active_topics


def test_a_pain_score_out_of_ten_reports_pain(screener):
    screening = screener.screen(
        "on a scale of 1 to 10 its a solid 9, can't rest my face on the pillow"
    )
    assert "pain" in screening.active_topics and "severe" in screening.signs


def test_a_what_if_the_client_then_says_is_happening_is_an_emergency(screener):
    asked = "what happens if your throat feels tight? asking because mine does, right now"
    assert screener.screen(asked).is_emergency
    planning = screener.screen("what happens if your throat feels tight? just planning ahead")
    assert not planning.is_emergency and planning.hypothetical_emergency


def test_a_hypothetical_cue_that_holds_the_symptom_word_makes_it_hypothetical(screener):
    screening = screener.screen("at what temperature should I start worrying? I don't have one")
    assert "feeling_unwell" not in screening.signs


@pytest.mark.parametrize(
    "text",
    [
        "I'm bleeding money on skincare lol",
        "my skin game is lit lol",
        "last time after a peel I got a cold sore, nothing so far this time",
    ],
)
def test_idioms_past_treatments_and_a_partners_symptom_raise_nothing(screener, text):
    screening = screener.screen(text)
    assert not screening.active_topics and not screening.signs


def test_a_face_on_fire_is_no_figure_of_speech(screener):
    assert screener.screen("chest is so tight I can barely talk, face on fire").is_emergency


def test_green_gunk_is_pus(screener):
    screening = screener.screen("face is after going all green and gunky in a few spots")
    assert "pus" in screening.signs and "infection_signs" in screening.active_topics


def test_an_emergency_told_for_someone_the_writer_writes_for_is_theirs(screener):
    text = (
        "texting for my mate Jess, she can't really talk, her lips and tongue have gone huge "
        "after she put some cream on tonight, she's 2 days post needling"
    )
    assert screener.screen(text).is_emergency


def test_little_water_bubbles_by_the_mouth_are_a_cold_sore(screener):
    text = "After 3 days, I have some small water bubbles near the mouth, they are hurting"
    assert "cold_sores" in screener.screen(text).active_topics


@pytest.mark.parametrize(
    "text",
    [
        "I literally can't breathe without my retinol, can I go back on it on day 5?",
        "the clinic went through the red flags like pus and fever, thanks!",
        "my toddler has a rash on her cheeks, can she cuddle me?",
        "a bit of blood and some clear stuff on the day, both stopped within minutes",
    ],
)
def test_figures_of_speech_lists_of_signs_a_childs_rash_and_things_over_raise_nothing(
    screener, text
):
    screening = screener.screen(text)
    assert not screening.is_emergency and not screening.active_topics and not screening.signs


def test_a_faded_bruise_still_there_is_still_there(screener):
    assert screener.screen("still a faded purple bruise under my eye").active_topics == (
        "bruising",
    )
    assert screener.screen("the bruise has faded away now").active_topics == ()


def test_a_painful_throbbing_zit_is_severe(screener):
    screening = screener.screen("one massive painful zit on my cheek that's throbbing")
    assert "severe" in screening.signs and "breakouts" in screening.active_topics


def test_an_idiom_holding_an_emergency_word_makes_the_learned_net_be_sure(screener):
    screening = screener.screen(
        "need to get this off my chest - I was snappy with the receptionist"
    )
    assert screening.figurative and not screening.is_emergency
    assert screener.screen("my chest is tight and I can't breathe").is_emergency


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("I just found out I'm pregnant 😳", True),
        ("Started Roaccutane last week and my session is on the 14th", True),
        ("I was on Roaccutane until last month, will that affect my healing?", True),
        ("my GP has just diagnosed me with rosacea", True),
        ("I'm not pregnant or breastfeeding", False),
        ("can I have it if I'm pregnant?", False),
        ("is needling safe during pregnancy?", False),
        ("my cousin is on roaccutane", False),
    ],
)
def test_a_condition_counts_only_as_the_clients_own(screener, text, found):
    assert bool(screener.screen(text).conditions) is found


def test_a_past_time_that_opens_the_sentence_reaches_across_commas(screener):
    screening = screener.screen("Last time, a year ago, I got a cold sore after a peel.")
    assert "cold_sores" in screening.inactive_topics
    assert (
        "cold_sores" in screener.screen("Last week I was fine, but now a cold sore").active_topics
    )


def test_a_sign_said_to_be_over_later_in_its_sentence_is_not_live(screener):
    screening = screener.screen("The pain was killing me during it but it stopped straight after.")
    assert "severe" not in screening.signs


def test_a_word_the_dictionary_misreads_is_not_a_form_of_a_lexicon_word(screener):
    assert screener.screen("5 weeks in, is it time for number two?").unplaced == ()
    assert screener.screen("my cheek feels numb").unplaced == ("numb",)


def test_a_time_counted_from_a_past_session_is_now(screener):
    screening = screener.screen("a month after my first session and my melasma looks darker")
    assert "pigmentation" in screening.active_topics


def test_a_contraction_counts_as_one_word_between_a_pairs_words(screener):
    text = "now it's spread to my lips and they're numb and huge"
    assert screener.screen(text).emergency


def test_someone_in_a_video_is_someone_else(screener):
    text = "Saw a TikTok where a girl's face got infected from microneedling"
    assert "infection_signs" not in screener.screen(text).active_topics


@pytest.mark.parametrize(
    "text, emergency",
    [
        ("the redness is very faint now", False),
        ("there's a really faint pink mark left", False),
        ("I feel very faint and dizzy", True),
        ("went a bit faint in the shower this morning", True),
        ("she's gone really faint and slumped in the chair", True),
        ("I nearly fainted when I saw my before and after photos, in a good way", False),
    ],
)
def test_faint_is_an_emergency_when_said_of_a_person_not_of_a_colour(screener, text, emergency):
    assert screener.screen(text).is_emergency is emergency


def test_a_symptom_said_to_be_completely_gone_later_in_the_sentence_is_over(screener):
    screening = screener.screen("My swelling on day 3 was bad but it's completely gone now")
    assert resolved_topics(screening) == {"swelling"}


@pytest.mark.parametrize(
    "text", ["my wife is very faint", "very faint and dizzy after it", "she is faint"]
)
def test_faint_said_of_someone_treated_or_with_dizziness_is_an_emergency(screener, text):
    assert screener.screen(text).is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "my missus went down like a sack of spuds after her skin pen, came to straight away",
        "she dropped like a stone in the kitchen after her treatment",
        "she fainted in the kitchen but came round straight away",
    ],
)
def test_idioms_for_collapsing_are_emergencies(screener, text):
    assert screener.screen(text).is_emergency


def test_wheals_are_hives_and_serous_exudate_is_oozing(screener):
    wheals = screener.screen("erythematous papules and wheals across face and neck, pruritic")
    assert "allergic_reaction" in wheals.active_topics
    serous = screener.screen("serous exudate in the first hour on day 0")
    assert "oozing" in serous.active_topics and "infection_signs" not in serous.active_topics
    assert "infection_signs" in screener.screen("purulent exudate from one spot").active_topics


@pytest.mark.parametrize(
    "text", ["the clinic I came to after a friend recommended you", "I came to a few seconds late"]
)
def test_coming_to_a_place_is_no_emergency(screener, text):
    assert not screener.screen(text).is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "hi is the swelling in my lips normal",
        "So is the swelling in my lips normal",
        "wondering if the swelling in my lips is normal",
        "not sure if the swelling in my lips is normal, they're really puffy",
        "swelling in my lips normal or should I worry",
        "the swelling in my lips is normal right",
    ],
)
def test_swollen_lips_asked_about_or_called_normal_are_an_emergency(screener, text):
    assert screener.screen(text).is_emergency


@pytest.mark.parametrize(
    "text",
    ["swollen eyes but lips are fine", "bit puffy round the eyes, lips are fine and breathing ok"],
)
def test_lips_said_fine_beside_another_swelling_clear_them(screener, text):
    assert not screener.screen(text).is_emergency
