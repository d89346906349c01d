"""Topic files (clinic/knowledge/<group>.yml): the shape from `schemas/topics.yml`, then what a
shape cannot say: known topics, sources, kinds and signs; day windows that neither overlap nor
leave a day out; levels that fit `expected`; placeholders."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from bot.kb.loader.common import CLINIC_PLACEHOLDERS, Collector, check_template, parse_day_range
from bot.kb.loader.schema import validate
from bot.kb.loader.yamlsrc import LineDict, LineList
from bot.kb.model import DayRange, RedFlag, Topic, TreatmentKind, Variant, Where, Window

ANY_DAY = DayRange(None, None, "any")
BIG = 10**9


@dataclass(frozen=True)
class TopicContext:
    """What a topic file is checked against."""

    file: str
    kinds: dict[str, TreatmentKind]
    sources: dict[str, str]
    known_topics: set[str] | None
    signs: Collection[str]
    errs: Collector


def parse_topic_file(raw: Any, ctx: TopicContext, topics: dict[str, Topic]) -> None:
    """Add the file's topics to `topics`; problems go to `ctx.errs`."""
    if not validate(raw, "topics", ctx.file, ctx.errs):
        return
    node = raw["topics"]
    for key, value in node.items():
        line = node.line_of(key)
        if key in topics:
            ctx.errs.add(ctx.file, line, f"topic '{key}' is already defined at {topics[key].where}")
            continue
        if ctx.known_topics is not None and key not in ctx.known_topics:
            known = ", ".join(sorted(ctx.known_topics))
            ctx.errs.add(
                ctx.file,
                line,
                f"unknown topic '{key}': no intent of that name in domain.yml; known topics: {known}",
            )
        topic = _topic(str(key), value, Where(ctx.file, line), ctx)
        if topic is not None:
            topics[key] = topic


def _topic(key: str, node: LineDict, where: Where, ctx: TopicContext) -> Topic | None:
    what, label = f"topic '{key}'", str(node.get("label", key))
    if node["type"] == "general":
        sources = _sources(node, what, ctx)
        level = node.get("level", "none")
        windows = (_general_window(node["answer"], sources, where, level, what, ctx),)
        by_kind = {}
        for kind, text in _known_kinds(node.get("by_kind"), what, ctx):
            kind_where = Where(ctx.file, node["by_kind"].line_of(kind))
            by_kind[kind] = (_general_window(text, sources, kind_where, level, what, ctx),)
        return Topic(key, "general", label, where, windows, by_kind, cues=_cues(node))
    windows = _windows(node["windows"], node.line_of("windows"), node["type"], what, ctx)
    by_kind = {
        kind: _windows(raw, node["by_kind"].line_of(kind), node["type"], f"{what} ({kind})", ctx)
        for kind, raw in _known_kinds(node.get("by_kind"), what, ctx)
    }
    flags = tuple(_red_flag(f, what, ctx) for f in node.get("red_flags") or ())
    flags = tuple(f for f in flags if f is not None)
    variants = tuple(_variant(v, what, ctx) for v in node.get("variants") or ())
    _check_variant_names(node.get("variants") or (), what, ctx)
    return Topic(key, node["type"], label, where, windows, by_kind, flags, _cues(node), variants)


def _variant(node: LineDict, what: str, ctx: TopicContext) -> Variant:
    """A variant's windows cover only the days it changes: no coverage check."""
    vwhat = f"{what}, variant '{node['name']}'"
    windows = _windows(
        node["windows"], node.line_of("windows"), "activity", vwhat, ctx, cover=False
    )
    return Variant(str(node["name"]).strip(), _cues(node), windows)


def _check_variant_names(nodes, what: str, ctx: TopicContext) -> None:
    seen: set[str] = set()
    for node in nodes:
        name = str(node["name"]).strip()
        if name in seen:
            ctx.errs.add(
                ctx.file, node.line_of("name"), f"{what}: variant '{name}' is defined twice"
            )
        seen.add(name)


def _cues(node: LineDict) -> tuple[str, ...]:
    return tuple(str(w).strip().lower() for w in node.get("cues") or ())


def _general_window(
    text: str, sources: tuple[str, ...], where: Where, level: str, what: str, ctx: TopicContext
) -> Window:
    check_template(text, CLINIC_PLACEHOLDERS, ctx.file, where.line, what, ctx.errs)
    return Window(ANY_DAY, text.strip(), sources, where, level=level)


def _known_kinds(node: LineDict | None, what: str, ctx: TopicContext):
    for kind, value in (node or {}).items():
        if kind in ctx.kinds:
            yield kind, value
        else:
            known = ", ".join(ctx.kinds)
            ctx.errs.add(
                ctx.file,
                node.line_of(kind),
                f"{what}: unknown treatment kind '{kind}'; known: {known}",
            )


def _sources(node: LineDict, what: str, ctx: TopicContext) -> tuple[str, ...]:
    value = node.get("sources")
    if value is None:
        ctx.errs.add(
            ctx.file, node.line, f"missing 'sources' in {what} (cite where the guidance comes from)"
        )
        return ()
    items = [value] if isinstance(value, str | int) else value
    if not isinstance(items, list) or not items:
        line = node.line_of("sources")
        ctx.errs.add(ctx.file, line, f"'sources' of {what} must be a list of source keys")
        return ()
    for item in items:
        if str(item) not in ctx.sources:
            known = ", ".join(ctx.sources)
            ctx.errs.add(
                ctx.file,
                node.line_of("sources"),
                f"unknown source '{item}' in {what}; known: {known}",
            )
    return tuple(str(item) for item in items)


def _days(node: LineDict, what: str, ctx: TopicContext, default: Any = None) -> DayRange | None:
    days = parse_day_range(node.get("days", default))
    if days is None:
        ctx.errs.add(
            ctx.file,
            node.line_of("days"),
            f"{what}: days must be like 3, '0-1', '7+', 'before' or 'any'",
        )
    return days


def _windows(
    raw: LineList, line: int, ttype: str, what: str, ctx: TopicContext, cover: bool = True
) -> tuple[Window, ...]:
    windows = []
    for node in raw:
        wwhat = f"{what}, window days {node.get('days', '?')}"
        days = _days(node, wwhat, ctx)
        check_template(
            node["answer"], CLINIC_PLACEHOLDERS, ctx.file, node.line_of("answer"), wwhat, ctx.errs
        )
        if ttype == "symptom":
            _check_expected(node, wwhat, ctx)
        sources = _sources(node, wwhat, ctx)
        if days is not None:
            windows.append(
                Window(
                    days,
                    node["answer"].strip(),
                    sources,
                    Where(ctx.file, node.line),
                    status=node.get("status"),
                    expected=node.get("expected"),
                    level=node.get("level", "none"),
                )
            )
    _check_coverage(windows, line, what, ctx, cover)
    return tuple(windows)


def _check_expected(node: LineDict, what: str, ctx: TopicContext) -> None:
    expected, level = node["expected"], node.get("level", "none")
    if expected is True and level != "none":
        message = f"{what}: an expected symptom has level none, not '{level}'"
        ctx.errs.add(ctx.file, node.line_of("level"), message)
    elif expected is False and level == "none":
        line = node.line_of("level") if "level" in node else node.line_of("expected")
        message = (
            f"{what}: a symptom that is not expected needs a level (question, urgent or emergency)"
        )
        ctx.errs.add(ctx.file, line, message)


def _check_coverage(
    windows: list[Window], line: int, what: str, ctx: TopicContext, cover: bool = True
) -> None:
    """Windows must not overlap, and (when `cover`) must cover every day from 0 on."""
    ordered = sorted(windows, key=lambda w: -BIG if w.days.start is None else w.days.start)
    for first, second in zip(ordered, ordered[1:], strict=False):
        first_end = BIG if first.days.end is None else first.days.end
        second_start = -BIG if second.days.start is None else second.days.start
        if second_start <= first_end:
            message = f"{what}: days {second.days.text} overlap days {first.days.text} (line {first.where.line})"
            ctx.errs.add(ctx.file, second.where.line, message)
    if not cover:
        return
    covered_to = -1  # days before 0 are optional
    for window in ordered:
        if window.days.end is not None and window.days.end < 0:
            continue
        start = 0 if window.days.start is None else window.days.start
        if start > covered_to + 1:
            gap = (
                f"{covered_to + 1}"
                if start - 1 == covered_to + 1
                else f"{covered_to + 1}-{start - 1}"
            )
            ctx.errs.add(ctx.file, line, f"{what}: days {gap} are not covered by any window")
        covered_to = max(covered_to, BIG if window.days.end is None else window.days.end)
    if windows and covered_to < BIG:
        message = f"{what}: days after {covered_to} are not covered (end the last window with '+', e.g. '7+')"
        ctx.errs.add(ctx.file, line, message)


def _red_flag(node: LineDict, what: str, ctx: TopicContext) -> RedFlag | None:
    fwhat = f"{what}, red flag '{node['sign']}'"
    if node["sign"] not in ctx.signs:
        known = ", ".join(ctx.signs)
        ctx.errs.add(
            ctx.file,
            node.line_of("sign"),
            f"{fwhat}: unknown sign '{node['sign']}'; known: {known}",
        )
    days = _days(node, fwhat, ctx, default="any")
    check_template(
        node["answer"], CLINIC_PLACEHOLDERS, ctx.file, node.line_of("answer"), fwhat, ctx.errs
    )
    sources = _sources(node, fwhat, ctx)
    if node["sign"] not in ctx.signs or days is None:
        return None
    return RedFlag(
        node["sign"],
        days,
        node["level"],
        node["answer"].strip(),
        sources,
        Where(ctx.file, node.line),
    )
