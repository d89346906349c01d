"""Immutable model of a loaded, validated clinic knowledge base.

Every number of the protocol (day windows, levels) lives in the YAML; these classes only
hold what was loaded and answer one question each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from bot.kb.checkins import CheckinSettings

ACTIVITY_STATUSES = ("not_yet", "caution", "allowed")
LEVELS = ("none", "question", "urgent", "emergency")
TOPIC_TYPES = ("activity", "symptom", "general")


def level_rank(level: str) -> int:
    """Order of escalation levels: none < question < urgent < emergency."""
    return LEVELS.index(level)


@dataclass(frozen=True)
class DayRange:
    """Inclusive range of treatment days; None means unbounded on that side."""

    start: int | None
    end: int | None
    text: str

    def contains(self, day: int) -> bool:
        """Whether `day` lies in this range."""
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Where:
    """Where an entry was written: file and line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Window:
    """The clinic's guidance for one topic over one day range."""

    days: DayRange
    answer: str
    sources: tuple[str, ...]
    where: Where
    status: str | None = None  # activities: not_yet / caution / allowed
    expected: bool | None = None  # symptoms: expected on these days?
    level: str = "none"  # escalation level when this window answers


@dataclass(frozen=True)
class RedFlag:
    """A symptom sign that raises the level whatever the day window says."""

    sign: str
    days: DayRange
    level: str
    answer: str
    sources: tuple[str, ...]
    where: Where


@dataclass(frozen=True)
class Variant:
    """A more specific answer of an activity topic, for questions that name one of its cues
    ("a foaming cleanser" on day 0), on the days its windows cover."""

    name: str
    cues: tuple[str, ...]
    windows: tuple[Window, ...]


STATUS_ORDER = {"not_yet": 0, "caution": 1, "allowed": 2}


@dataclass(frozen=True)
class Topic:
    """One protocol topic (an NLU intent of the same name)."""

    key: str
    type: str
    label: str
    where: Where
    windows: tuple[Window, ...] = ()
    by_kind: dict[str, tuple[Window, ...]] = field(default_factory=dict)
    red_flags: tuple[RedFlag, ...] = ()
    cues: tuple[str, ...] = ()  # words that show a question is about this topic
    variants: tuple[Variant, ...] = ()

    @property
    def needs_day(self) -> bool:
        """Whether the answer depends on the treatment day."""
        all_windows = list(self.windows) + [w for ws in self.by_kind.values() for w in ws]
        return any(w.days.start is not None or w.days.end is not None for w in all_windows)

    def windows_for(self, kind: str) -> tuple[Window, ...]:
        """The windows that apply to a treatment kind (its override, or the default)."""
        return self.by_kind.get(kind, self.windows)

    def window_on(self, day: int, kind: str, variants: tuple[str, ...] = ()) -> Window | None:
        """The window covering `day` for `kind`, or None if the day is not covered.

        `variants`: the topic's variants the question names; the most cautious of their windows
        covering `day` wins over the topic's own.
        """
        named = [
            w
            for v in self.variants
            if v.name in variants
            for w in v.windows
            if w.days.contains(day)
        ]
        if named:
            return min(named, key=lambda w: STATUS_ORDER.get(w.status or "", 0))
        for window in self.windows_for(kind):
            if window.days.contains(day):
                return window
        return None

    def variant_of(self, window: Window) -> str | None:
        """The name of the variant a window belongs to (None: the topic's own)."""
        return next((v.name for v in self.variants if window in v.windows), None)


@dataclass(frozen=True)
class TreatmentKind:
    """A treatment kind and how its healing shifts the default day windows."""

    key: str
    label: str
    activity_shift: int
    symptom_shift: int


@dataclass(frozen=True)
class OpeningHours:
    """Opening hours per weekday (0 = Monday); None when closed."""

    days: tuple[tuple[time, time] | None, ...]
    text: str

    def is_open(self, weekday: int, at: time) -> bool:
        """Whether the clinic is open on `weekday` at `at` (clinic local time)."""
        span = self.days[weekday]
        return span is not None and span[0] <= at < span[1]

    def next_opening(self, now: datetime) -> datetime | None:
        """The next time the clinic opens after `now` (a clinic-local datetime)."""
        for ahead in range(0, 8):
            day = now.date() + timedelta(days=ahead)
            span = self.days[day.weekday()]
            if span is None:
                continue
            opening = datetime.combine(day, span[0], tzinfo=now.tzinfo)
            if opening > now:
                return opening
        return None


@dataclass(frozen=True)
class EmailAlerts:
    """Staff alerts by e-mail (SMTP). Credentials come from the environment."""

    to: tuple[str, ...]
    sender: str
    host: str
    port: int
    starttls: bool


@dataclass(frozen=True)
class AlertChannels:
    """Where staff alerts go; None means the channel is not used. `fallback` names a
    configured channel used only for alerts another channel could not deliver for good."""

    telegram_chat_id: str | None = None
    email: EmailAlerts | None = None
    webhook_url: str | None = None
    fallback: str | None = None  # "telegram", "email" or "webhook"

    def names(self) -> list[str]:
        """The channels every alert goes to (configured, the fallback left out)."""
        return [n for n in self.configured() if n != self.fallback]

    def configured(self) -> list[str]:
        """Every configured channel, the fallback included."""
        return [
            n
            for n, on in (
                ("telegram", self.telegram_chat_id),
                ("email", self.email),
                ("webhook", self.webhook_url),
            )
            if on
        ]


@dataclass(frozen=True)
class PrivacySettings:
    """How long client data is kept (days), applied daily by the notifier; None (a window
    the clinic did not set) keeps it: nothing is deleted that the clinic did not ask for."""

    conversation_days: int | None = None  # a chat with no message for this long is deleted
    photo_days: int | None = None  # photos sent with an escalation
    escalation_text_days: int | None = None  # an escalation's message and name (facts stay)

    def keeps_everything(self) -> bool:
        """No window is set."""
        return self.conversation_days is self.photo_days is self.escalation_text_days is None


@dataclass(frozen=True)
class TelegramSettings:
    """The clients' Telegram bot: its username (for deep links) and how long link codes last."""

    bot_username: str | None = None
    link_valid_days: int = 14


@dataclass(frozen=True)
class WebSettings:
    """The website chat widget: brand colour, the sites allowed to embed it, message limit,
    and how many days a browser keeps its chat after the client's last visit."""

    colour: str = "#1f6f78"
    allowed_origins: tuple[str, ...] = ()
    max_message_length: int = 1000
    chat_days: int = 90


@dataclass(frozen=True)
class InboxSettings:
    """The staff inbox: when a quiet hand-off goes back to the bot, and the canned replies
    (title, text with {placeholders}) staff can start a reply from."""

    handoff_idle_minutes: int = 30
    canned_replies: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ClinicSettings:
    """The clinic's own settings from `clinic/settings.yml`."""

    name: str
    phone: str
    emergency_number: str
    time_zone: str
    date_order: str  # "DMY" or "MDY"
    default_treatment_kind: str
    opening_hours: OpeningHours
    response_minutes: int = 30
    ack_deadline_minutes: int = 30
    alerts: AlertChannels = field(default_factory=AlertChannels)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    web: WebSettings = field(default_factory=WebSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    inbox: InboxSettings = field(default_factory=InboxSettings)

    def placeholders(self) -> dict[str, str]:
        """Values that answer texts may use as {placeholders}."""
        return {
            "clinic_name": self.name,
            "clinic_phone": self.phone,
            "emergency_number": self.emergency_number,
            "opening_hours": self.opening_hours.text,
        }


@dataclass(frozen=True)
class KnowledgeBase:
    """All topics, phrases and treatment kinds of one validated KB version."""

    version: str
    topics: dict[str, Topic]
    kinds: dict[str, TreatmentKind]
    sources: dict[str, str]
    phrases: dict[str, str]
    outside_cues: tuple[str, ...] = ()  # words of questions the KB does not answer

    def topic(self, key: str) -> Topic | None:
        """The topic with this key, if the clinic wrote one."""
        return self.topics.get(key)

    def phrase(self, key: str) -> str:
        """A client-facing phrase by dotted key (validated present at load)."""
        return self.phrases[key]


WordPairs = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]


@dataclass(frozen=True)
class Lexicon:
    """Words that reveal symptoms, signs and emergencies, and how context changes them
    (`clinic/screening.yml`)."""

    symptoms: dict[str, tuple[str, ...]]
    weak: dict[str, tuple[str, ...]]
    symptom_pairs: dict[str, WordPairs]
    signs: dict[str, tuple[str, ...]]
    worrying_signs: frozenset[str]
    not_worrying_alone: frozenset[str]
    emergency_phrases: tuple[str, ...]
    emergency_pairs: WordPairs
    unplaced: tuple[str, ...]
    skin_cues: tuple[str, ...]
    not_skin: tuple[str, ...]
    context: dict[str, tuple[str, ...]]
    temperature: Temperature | None = None
    improving: tuple[str, ...] = ()  # "less red than yesterday": the skin is getting better
    improving_overrules: frozenset[str] = frozenset()  # signs the learned net then may not add
    # "lips are fine", "breathing normal": the client says an emergency sign is absent.
    emergency_all_clear: WordPairs = ()
    # Conditions the clinic must check ("I'm pregnant") and the KB topic that answers them.
    conditions: tuple[str, ...] = ()
    condition_topic: str | None = None
    # Words the dictionary wrongly reads as a form of another ("number" as more "numb").
    not_forms: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Temperature:
    """How a body temperature written as a number counts (`screening.yml: temperature`)."""

    fever_from_celsius: float
    topic: str  # the symptom topic a fever is
    sign: str  # the sign a fever shows
    words: tuple[str, ...]  # words that make a bare whole number a temperature ("temp of 39")
    not_after: tuple[str, ...] = ()  # a number before these is no temperature ("38 days")
    weather: tuple[str, ...] = ()  # a sentence with these speaks of the weather


@dataclass(frozen=True)
class Name:
    """A weekday or month: how replies show it, and every way clients write it (lower case)."""

    short: str
    long: str
    forms: tuple[str, ...]


@dataclass(frozen=True)
class Language:
    """How clients write dates, days and numbers, and how replies show a date
    (`clinic/language.yml`)."""

    date_format: str
    time_format: str
    weekdays: tuple[Name, ...]  # Monday first
    months: tuple[Name, ...]  # January first
    numbers: dict[str, int]
    ordinals: dict[str, int]
    treatment_words: tuple[str, ...]
    shorthand: dict[str, tuple[str, ...]]
    no_date: tuple[str, ...] = ()  # "don't know", "can't remember", "stop"

    def _values(self, moment: date | datetime) -> dict[str, object]:
        weekday, month = self.weekdays[moment.weekday()], self.months[moment.month - 1]
        values: dict[str, object] = {
            "weekday": weekday.short,
            "weekday_long": weekday.long,
            "day": moment.day,
            "month": month.short,
            "month_long": month.long,
            "year": moment.year,
        }
        if isinstance(moment, datetime):
            values.update(hour=moment.hour, minute=moment.minute)
        return values

    def format_date(self, value: date) -> str:
        """A date as replies show it, e.g. "Wed 18 Nov 2026"."""
        return self.date_format.format(**self._values(value))

    def format_time(self, moment: datetime) -> str:
        """A weekday and time as replies show it, e.g. "Monday 09:00"."""
        return self.time_format.format(**self._values(moment))


@dataclass(frozen=True)
class Clinic:
    """A consistent snapshot of the clinic's settings, knowledge base, screening lexicon and
    language, and its check-ins."""

    settings: ClinicSettings
    kb: KnowledgeBase
    lexicon: Lexicon
    language: Language
    checkins: CheckinSettings = field(default_factory=CheckinSettings)
