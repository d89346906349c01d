"""Answer aftercare questions from the clinic's knowledge base for a given treatment day.

Pure: it takes a loaded `Clinic` snapshot and returns `Answer`s (reply text, status, level,
which KB entry answered and its version). All client-facing text comes from the KB.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from bot.kb.model import Clinic, DayRange, RedFlag, Topic, Window, level_rank

# What kind of reply an answer is (tests and channels key on these, never on wording).
RESPONSE_ANSWER = "kb_answer"
RESPONSE_SUMMARY = "kb_summary"
RESPONSE_NO_GUIDANCE = "kb_no_guidance"
RESPONSE_RED_FLAG = "red_flag"


@dataclass(frozen=True)
class Answer:
    """One reply the bot gives, with what it was based on."""

    response: str
    reply: str
    topic: str | None
    status: str | None
    escalation: str
    entry: str | None
    kb_version: str
    day: int | None
    body: str = ""  # the day label and the guidance, without notices
    parts: tuple[dict, ...] = ()  # each topic's answer, when one reply answers several
    beyond_kb: bool = False  # another question of the message is outside the KB: offer the team
    alert_unsent: bool = False  # a red flag staff could not be alerted to from here

    def as_record(self) -> dict:
        """A JSON-ready record of the answer (stored with the conversation)."""
        return asdict(self)

    def part(self) -> dict:
        """What this answer says about its topic (one entry of a joined reply's `parts`)."""
        return {
            "topic": self.topic,
            "status": self.status,
            "escalation": self.escalation,
            "entry": self.entry,
            "day": self.day,
        }


def joined(first: Answer, others: list[Answer]) -> Answer:
    """One reply answering several questions: the first (a red flag, if there is one) first;
    its level is the highest of them."""
    if not others:
        return first
    answers = [first, *others]
    level = max((a.escalation for a in answers), key=level_rank)
    return replace(
        first,
        reply="\n\n".join(a.reply for a in answers),
        escalation=level,
        parts=tuple(p for a in answers for p in (a.parts or (a.part(),))),
    )


class Advisor:
    """Answers questions from one consistent clinic snapshot."""

    def __init__(self, clinic: Clinic):
        self.clinic = clinic
        self.kb = clinic.kb
        self._values = clinic.settings.placeholders()

    def knows(self, topic_key: str) -> bool:
        """Whether the clinic's KB covers this topic."""
        return self.kb.topic(topic_key) is not None

    def needs_day(self, topic_key: str) -> bool:
        """Whether answering this topic needs the client's treatment day."""
        topic = self.kb.topic(topic_key)
        return topic is not None and topic.needs_day

    def kind_or_default(self, kind: str | None) -> str:
        """The treatment kind to use: the client's, else the clinic's default."""
        return kind if kind in self.kb.kinds else self.clinic.settings.default_treatment_kind

    def answer(
        self,
        topic_key: str,
        day: int | None,
        kind: str | None = None,
        signs: frozenset[str] = frozenset(),
        any_day: bool = False,
        variants: tuple[str, ...] = (),
    ) -> Answer:
        """The clinic's answer to `topic_key` on treatment day `day` (None if unknown).

        `signs` are red-flag signs seen in the client's message (e.g. "worsening"); a matching
        red flag raises the level above the day window's. `any_day`: the day is unknown and only
        red flags that hold on every day are answered (no day label). `variants`: the topic's
        variants the question names ("a foaming cleanser"), whose windows answer first.
        """
        if any_day:
            return self._any_day_answer(topic_key, kind, signs)
        topic = self.kb.topic(topic_key)
        if topic is None:
            return self.no_guidance(topic_key)
        kind = self.kind_or_default(kind)
        if topic.needs_day and day is None:
            raise ValueError(f"topic {topic_key!r} needs the treatment day")
        if day is not None and day < 0 and topic.needs_day:
            window = topic.window_on(day, kind)
            if window is None:
                return self._compose(
                    topic, None, day, self._fill(self.kb.phrase("before_treatment")), "none", None
                )
        effective = self._effective_day(topic, day, kind)
        window = topic.window_on(0 if effective is None else effective, kind, variants)
        if window is None:  # validation guarantees coverage from day 0; negative days may be open
            return self._compose(
                topic, None, day, self._fill(self.kb.phrase("before_treatment")), "none", None
            )
        flags = self._red_flags(topic, effective, signs)
        level = max([window.level, *(f.level for f in flags)], key=level_rank)
        body = " ".join(self._fill(f.answer) for f in flags) if flags else self._fill(window.answer)
        entry = self._entry(topic, window, kind) + "".join(f"+{f.sign}" for f in flags)
        labelled = topic.needs_day or topic.type == "symptom"  # a symptom's day is always said
        return self._compose(topic, window, day if labelled else None, body, level, entry)

    def _any_day_answer(self, topic_key: str, kind: str | None, signs: frozenset[str]) -> Answer:
        """The answer for red flags valid on every day, when the day is unknown."""
        topic = self.kb.topic(topic_key)
        flags = [
            f
            for f in self._red_flags(topic, None, signs)
            if f.days.start is None and f.days.end is None
        ]
        window = topic.window_on(0, self.kind_or_default(kind))
        level = max([f.level for f in flags] or [window.level], key=level_rank)
        body = " ".join(self._fill(f.answer) for f in flags) if flags else self._fill(window.answer)
        entry = f"{topic.key}@any" + "".join(f"+{f.sign}" for f in flags)
        return self._compose(topic, window, None, body, level, entry)

    def no_guidance(self, topic_key: str | None = None) -> Answer:
        """The honest reply for a question the KB does not cover (level `question`)."""
        return Answer(
            response=RESPONSE_NO_GUIDANCE,
            reply=self._fill(self.kb.phrase("no_guidance")),
            topic=None,
            status=None,
            escalation="question",
            entry=None,
            kb_version=self.kb.version,
            day=None,
        )

    def timeline(self, topic_key: str, kind: str | None = None) -> Answer:
        """A topic's guidance for every stage, for a client who does not know their day
        (level `question`: the team is offered, since the bot cannot place the day)."""
        topic = self.kb.topic(topic_key)
        if topic is None:
            return self.no_guidance(topic_key)
        kind = self.kind_or_default(kind)
        windows = [w for w in topic.windows_for(kind) if w.days.end is None or w.days.end >= 0]
        lines = [self._fill(self.kb.phrase("date.unknown"))]
        lines += [f"{self._range_label(w.days)} {self._fill(w.answer)}" for w in windows]
        return Answer(
            response=RESPONSE_ANSWER,
            reply="\n".join(lines),
            topic=topic.key,
            status=None,
            escalation="question",
            entry=f"{topic.key}@timeline",
            kb_version=self.kb.version,
            day=None,
            body="\n".join(lines[1:]),
        )

    def _range_label(self, days: DayRange) -> str:
        start = max(days.start or 0, 0)
        if days.end is None:
            return self._fill(self.kb.phrase("timeline.from"), start=start)
        if days.end == start:
            return self._fill(self.kb.phrase("timeline.day"), day=start)
        return self._fill(self.kb.phrase("timeline.range"), start=start, end=days.end)

    def day_summary(self, day: int, kind: str | None = None) -> Answer:
        """What is allowed, what needs care, what is not yet, and what to watch for today."""
        kind = self.kind_or_default(kind)
        groups: dict[str, list[str]] = {"allowed": [], "caution": [], "not_yet": []}
        watch: list[str] = []
        for topic in self.kb.topics.values():
            effective = self._effective_day(topic, day, kind)
            if topic.type == "activity" and effective is not None:
                window = topic.window_on(effective, kind)
                if window is not None and window.status in groups:
                    groups[window.status].append(topic.label)
            elif topic.type == "symptom" and effective is not None:
                window = topic.window_on(effective, kind)
                flagged = any(f.days.contains(effective) for f in topic.red_flags)
                if flagged or (
                    window is not None and level_rank(window.level) >= level_rank("urgent")
                ):
                    watch.append(topic.label)
        separator = self.kb.phrase("summary.item_separator")
        parts = [self._fill(self.kb.phrase("summary.header"), day_label=self._day_label(day))]
        for status in ("allowed", "caution", "not_yet"):
            if groups[status]:
                parts.append(
                    self._fill(
                        self.kb.phrase(f"summary.{status}"), items=separator.join(groups[status])
                    )
                )
        if watch:
            parts.append(
                self._fill(self.kb.phrase("summary.watch_for"), items=separator.join(watch))
            )
        return Answer(
            response=RESPONSE_SUMMARY,
            reply="\n".join(parts),
            topic=None,
            status=None,
            escalation="none",
            entry=f"summary@{day}",
            kb_version=self.kb.version,
            day=day,
        )

    def newly_allowed(self, day: int, kind: str | None = None) -> list[str]:
        """The activities allowed from `day` that were not the day before (their labels)."""
        kind = self.kind_or_default(kind)
        labels = []
        for topic in self.kb.topics.values():
            if topic.type != "activity":
                continue
            statuses = []
            for on in (day - 1, day):
                window = topic.window_on(self._effective_day(topic, on, kind), kind)
                statuses.append(window.status if window else None)
            if statuses == [s for s in statuses if s] and statuses[1] == "allowed" != statuses[0]:
                labels.append(topic.label)
        return labels

    def _effective_day(self, topic: Topic, day: int | None, kind: str) -> int | None:
        """The day to look up: a kind without its own windows shifts the default ones."""
        if day is None or kind in topic.by_kind:
            return day
        shifts = self.kb.kinds.get(kind)
        if shifts is None or day < 0:
            return day
        shift = (
            shifts.activity_shift
            if topic.type == "activity"
            else shifts.symptom_shift
            if topic.type == "symptom"
            else 0
        )
        return max(day - shift, 0) if day >= 0 else day

    @staticmethod
    def _red_flags(topic: Topic, day: int | None, signs: frozenset[str]) -> list[RedFlag]:
        if not signs:
            return []
        flags = [
            f for f in topic.red_flags if f.sign in signs and (day is None or f.days.contains(day))
        ]
        return sorted(flags, key=lambda f: -level_rank(f.level))

    @staticmethod
    def _entry(topic: Topic, window: Window, kind: str) -> str:
        prefix = f"{kind}:" if kind in topic.by_kind else ""
        variant = topic.variant_of(window)
        name = f"{topic.key}/{variant}" if variant else topic.key
        return f"{name}@{prefix}{window.days.text}"

    def _day_label(self, day: int) -> str:
        key = (
            "day_label.treatment_day"
            if day == 0
            else "day_label.before"
            if day < 0
            else "day_label.day"
        )
        return self._fill(self.kb.phrase(key), day=day)

    def _compose(
        self,
        topic: Topic,
        window: Window | None,
        day: int | None,
        body: str,
        level: str,
        entry: str | None,
    ) -> Answer:
        parts = []
        if level == "emergency":
            parts.append(self._fill(self.kb.phrase("notice.emergency")))
        body = f"{self._day_label(day)} {body}" if day is not None else body
        parts.append(body)
        if level in ("question", "urgent"):
            parts.append(self._fill(self.kb.phrase(f"notice.{level}")))
        if topic.type == "activity":
            status = window.status if window else None
        elif topic.type == "symptom":
            status = (
                None
                if window is None
                else "expected"
                if level == "none"
                else "question"
                if level == "question"
                else "red_flag"
            )
        else:
            status = None
        return Answer(
            response=RESPONSE_ANSWER,
            reply="\n".join(parts),
            topic=topic.key,
            status=status,
            escalation=level,
            entry=entry,
            kb_version=self.kb.version,
            day=day,
            body=body,
        )

    def red_flag_reply(
        self,
        flagged: list[Answer],
        level: str,
        next_steps: str,
        emergency: bool,
        alerted: bool = True,
    ) -> Answer:
        """One reply for a red-flag message: emergency first, each finding, then what happens
        next. When staff could not be alerted, an urgent message's next steps (call the clinic
        now) stand in for the notice to contact it today, rather than repeat it."""
        parts = []
        if emergency or level == "emergency":
            parts.append(self._fill(self.kb.phrase("notice.emergency")))
        parts.extend(dict.fromkeys(a.body for a in flagged))
        if level == "question" or (level == "urgent" and alerted):
            parts.append(self._fill(self.kb.phrase(f"notice.{level}")))
        parts.append(next_steps)
        first = flagged[0] if flagged else None
        by_topic = {a.topic: a for a in reversed(flagged) if a.topic}
        return Answer(
            parts=tuple(by_topic[t].part() for t in dict.fromkeys(a.topic for a in flagged) if t)
            if len(by_topic) > 1
            else (),
            response=RESPONSE_RED_FLAG,
            reply="\n".join(p for p in parts if p),
            topic=first.topic if first else None,
            status="red_flag" if level in ("urgent", "emergency") else "question",
            escalation=level,
            entry=" ".join(a.entry for a in flagged if a.entry) or None,
            kb_version=self.kb.version,
            day=first.day if first else None,
            body="\n".join(a.body for a in flagged),
        )

    def phrase(self, key: str, **extra: object) -> str:
        """A KB phrase with the clinic's values (and `extra`) filled in."""
        return self._fill(self.kb.phrase(key), **extra)

    def _fill(self, template: str, **extra: object) -> str:
        return template.format(**self._values, **extra)
