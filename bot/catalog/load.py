"""Load and validate the catalog in `intents/`.

Every problem is collected (not just the first) and names file, line and field, so an
administrator can fix a whole edit in one pass.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError

from bot.catalog import furigana
from bot.catalog.keywords import COMMAND_PATTERN, KINDS, Keywords, compile_command, normalized
from bot.catalog.model import (
    CONVERSATION_INTENTS,
    EXAMPLE_LANGUAGES,
    KEYWORD_COMMANDS,
    NOTICE_PHRASES,
    PHONE_PROMPTS,
    WAYS,
    Catalog,
    City,
    ConversationIntent,
    Counter,
    Fee,
    HoursRule,
    LifeEvent,
    LifeEventStep,
    Localized,
    LocalizedList,
    Procedure,
)
from bot.catalog.sentences import sentences
from bot.catalog.sizes import check_field_sizes
from bot.text import LANGUAGES, example_key

MIN_EXAMPLES = {"ja": 20, "en": 5}
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
PROCEDURE_FIELDS = {
    "id", "section", "owner", "review_by", "human_only", "title", "lead", "summary", "audience",
    "deadline", "documents", "fee", "how", "related", "examples",
}
OPTIONAL_PROCEDURE_FIELDS = {"human_only"}
# The lead is read out first on the phone: about ten seconds at an elderly pace at most.
LEAD_MAX_CHARS = {"ja": 110, "easy": 80, "en": 260}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class CatalogError(Exception):
    """The catalog is invalid; `problems` lists every reason."""

    def __init__(self, problems: List[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _StringDatesConstructor(RoundTripConstructor):
    """Keeps dates as strings so a bad date becomes a field error, not a parser crash."""


_StringDatesConstructor.add_constructor("tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str)


class _Reader:
    """Walks one YAML file, recording problems with line numbers."""

    def __init__(self, path: Path, root: Path, problems: List[Problem]):
        self.path = path
        self.name = str(path.relative_to(root.parent)) if root.parent in path.parents else str(path)
        self.problems = problems

    def load(self) -> Any:
        try:
            yaml = YAML(typ="rt")
            yaml.Constructor = _StringDatesConstructor
            return yaml.load(self.path.read_text(encoding="utf-8"))
        except (YAMLError, UnicodeDecodeError) as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            self.error(line, "(file)", f"not valid YAML: {getattr(error, 'problem', error)}")
            return None

    def error(self, line: int, field: str, message: str) -> None:
        self.problems.append(Problem(self.name, line, field, message))

    @staticmethod
    def line_of(node: Any, key: Any = None) -> int:
        try:
            if key is None:
                return node.lc.line + 1
            if isinstance(key, int):
                return node.lc.item(key)[0] + 1
            return node.lc.key(key)[0] + 1
        except (AttributeError, KeyError, TypeError, IndexError):
            return 1

    def mapping(self, node: Any, field: str, line: int) -> Optional[dict]:
        if not isinstance(node, dict):
            self.error(line, field, f"must be a mapping, got {type(node).__name__}")
            return None
        return node

    def string(self, parent: dict, key: str, field: str) -> Optional[str]:
        value = parent.get(key)
        line = self.line_of(parent, key) if key in parent else self.line_of(parent)
        if key not in parent:
            self.error(line, field, "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(line, field, "must be a non-empty string")
            return None
        return str(value)

    def localized(self, parent: dict, key: str, field: str) -> Optional[Localized]:
        if key not in parent:
            self.error(self.line_of(parent), field, "missing")
            return None
        node = self.mapping(parent[key], field, self.line_of(parent, key))
        if node is None:
            return None
        for extra in sorted(set(node) - set(LANGUAGES), key=str):
            self.error(self.line_of(node, extra), f"{field}.{extra}", "unknown language (use ja, en, easy)")
        texts = {}
        for language in LANGUAGES:
            if language not in node:
                self.error(self.line_of(node), f"{field}.{language}", "missing language variant")
                continue
            text = self.string(node, language, f"{field}.{language}")
            if text is None:
                continue
            if language == "easy":
                self.check_easy(text, self.line_of(node, language), f"{field}.easy")
            texts[language] = text
        return Localized(**texts) if len(texts) == len(LANGUAGES) else None

    def check_easy(self, text: str, line: int, field: str) -> None:
        if furigana.malformed_markup(text):
            self.error(line, field, "malformed furigana markup (write {漢字|かんじ})")
        bare = furigana.bare_kanji(text)
        if bare:
            self.error(line, field, f"kanji without furigana: {''.join(dict.fromkeys(bare))}")

    def string_list(self, parent: dict, key: str, field: str) -> Optional[Tuple[str, ...]]:
        if key not in parent:
            self.error(self.line_of(parent), field, "missing")
            return None
        node = parent[key]
        if not isinstance(node, list):
            self.error(self.line_of(parent, key), field, "must be a list")
            return None
        items = []
        for index, item in enumerate(node):
            if not isinstance(item, str) or not item.strip():
                self.error(self.line_of(node, index), f"{field}[{index}]", "must be a non-empty string")
            else:
                items.append(str(item))
        return tuple(items)

    def examples(self, parent: dict, field: str, minimum: Dict[str, int]) -> Dict[str, Tuple[str, ...]]:
        if "examples" not in parent:
            self.error(self.line_of(parent), field, "missing")
            return {}
        node = self.mapping(parent["examples"], field, self.line_of(parent, "examples"))
        if node is None:
            return {}
        for extra in sorted(set(node) - set(EXAMPLE_LANGUAGES), key=str):
            self.error(self.line_of(node, extra), f"{field}.{extra}", "unknown language (use ja, en)")
        result = {}
        for language in EXAMPLE_LANGUAGES:
            items = self.string_list(node, language, f"{field}.{language}")
            if items is None:
                continue
            if len(items) < minimum.get(language, 1):
                self.error(self.line_of(node, language), f"{field}.{language}",
                           f"needs at least {minimum.get(language, 1)} examples, has {len(items)}")
            result[language] = items
        return result

    def example_lines(self, parent: dict) -> Dict[Tuple[str, int], int]:
        lines = {}
        node = parent.get("examples")
        if isinstance(node, dict):
            for language in EXAMPLE_LANGUAGES:
                seq = node.get(language)
                if isinstance(seq, list):
                    for index in range(len(seq)):
                        lines[(language, index)] = self.line_of(seq, index)
        return lines


def _parse_date(value: Any) -> Optional[dt.date]:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _parse_time(value: Any) -> Optional[dt.time]:
    if isinstance(value, str) and re.fullmatch(r"\d{2}:\d{2}", value):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            return None
    return None


def _load_procedure(reader: _Reader, doc: Any) -> Optional[Procedure]:
    node = reader.mapping(doc, "(file)", 1)
    if node is None:
        return None
    for extra in sorted(set(node) - PROCEDURE_FIELDS, key=str):
        reader.error(reader.line_of(node, extra), str(extra), "unknown field")
    for missing in sorted(PROCEDURE_FIELDS - OPTIONAL_PROCEDURE_FIELDS - set(node)):
        reader.error(reader.line_of(node), missing, "missing field")

    pid = reader.string(node, "id", "id") if "id" in node else None
    if pid is not None and not ID_PATTERN.match(pid):
        reader.error(reader.line_of(node, "id"), "id", "use lowercase letters, digits and _")
    if pid is not None and pid != reader.path.stem:
        reader.error(reader.line_of(node, "id"), "id", f"must equal the file name ({reader.path.stem})")
    section = reader.string(node, "section", "section") if "section" in node else None
    owner = reader.string(node, "owner", "owner") if "owner" in node else None
    review_by = None
    if "review_by" in node:
        review_by = _parse_date(node["review_by"])
        if review_by is None:
            reader.error(reader.line_of(node, "review_by"), "review_by", "must be a date YYYY-MM-DD")
    human_only = node.get("human_only", False)
    if not isinstance(human_only, bool):
        reader.error(reader.line_of(node, "human_only"), "human_only", "must be true or false")
        human_only = False

    texts = {key: reader.localized(node, key, key) if key in node else None
             for key in ("title", "lead", "summary", "audience", "deadline")}
    if texts["lead"] is not None:
        _check_lead(reader, node["lead"], texts["lead"])

    documents = None
    if "documents" in node:
        doc_node = reader.mapping(node["documents"], "documents", reader.line_of(node, "documents"))
        if doc_node is not None:
            lists = {}
            for language in LANGUAGES:
                items = reader.string_list(doc_node, language, f"documents.{language}")
                if items is not None:
                    if language == "easy":
                        for index, item in enumerate(items):
                            reader.check_easy(item, reader.line_of(doc_node[language], index),
                                              f"documents.easy[{index}]")
                    lists[language] = items
            for extra in sorted(set(doc_node) - set(LANGUAGES), key=str):
                reader.error(reader.line_of(doc_node, extra), f"documents.{extra}",
                             "unknown language (use ja, en, easy)")
            if len(lists) == len(LANGUAGES):
                counts = {language: len(items) for language, items in lists.items()}
                if len(set(counts.values())) > 1:
                    reader.error(reader.line_of(node, "documents"), "documents",
                                 f"each language needs the same number of items, got {counts}")
                else:
                    documents = LocalizedList(**lists)

    fee = None
    if "fee" in node:
        fee_node = reader.mapping(node["fee"], "fee", reader.line_of(node, "fee"))
        if fee_node is not None:
            yen = fee_node.get("yen")
            if "yen" not in fee_node:
                reader.error(reader.line_of(fee_node), "fee.yen", "missing (0 when free)")
            elif isinstance(yen, bool) or not isinstance(yen, int) or yen < 0:
                reader.error(reader.line_of(fee_node, "yen"), "fee.yen",
                             f"must be a whole number of yen ≥ 0, got {yen!r}")
            text_node = {k: v for k, v in fee_node.items() if k != "yen"}
            fee_text = reader.localized({"fee": _with_lines(fee_node, text_node)}, "fee", "fee")
            if fee_text is not None and isinstance(yen, int) and not isinstance(yen, bool) and yen >= 0:
                fee = Fee(yen=yen, text=fee_text)

    how: Dict[str, Localized] = {}
    if "how" in node:
        how_node = reader.mapping(node["how"], "how", reader.line_of(node, "how"))
        if how_node is not None:
            if not how_node:
                reader.error(reader.line_of(node, "how"), "how", f"needs at least one of {', '.join(WAYS)}")
            for way in how_node:
                if way not in WAYS:
                    reader.error(reader.line_of(how_node, way), f"how.{way}", f"unknown way (use {', '.join(WAYS)})")
                    continue
                text = reader.localized(how_node, way, f"how.{way}")
                if text is not None:
                    how[way] = text

    related = reader.string_list(node, "related", "related") if "related" in node else None
    examples = reader.examples(node, "examples", MIN_EXAMPLES) if "examples" in node else {}

    title, lead, summary = texts["title"], texts["lead"], texts["summary"]
    audience, deadline = texts["audience"], texts["deadline"]
    if (not pid or not section or not owner or review_by is None or documents is None or fee is None or not how
            or related is None or not examples
            or title is None or lead is None or summary is None or audience is None or deadline is None):
        return None
    return Procedure(
        id=pid, section=section, owner=owner, review_by=review_by, human_only=human_only,
        title=title, lead=lead, summary=summary, audience=audience,
        deadline=deadline, documents=documents, fee=fee, how=how,
        related=tuple(related), examples=examples, source=reader.name,
    )


def _check_lead(reader: _Reader, node: Any, lead: Localized) -> None:
    """The lead is said first on every channel: one sentence, short enough to hear in one breath or two."""
    for language in LANGUAGES:
        text = furigana.plain(lead.get(language)).strip()
        field, line = f"lead.{language}", reader.line_of(node, language)
        count = len(sentences(text, language))
        if count != 1:
            reader.error(line, field, f"must be one sentence, found {count}")
        end = "." if language == "en" else "。"
        if not text.endswith(end):
            reader.error(line, field, f"must end with {end!r}")
        if len(text) > LEAD_MAX_CHARS[language]:
            reader.error(line, field, f"too long: {len(text)} characters (at most {LEAD_MAX_CHARS[language]})")


def _with_lines(original: Any, subset: dict) -> Any:
    """A copy of `subset` that still answers line numbers from `original`."""

    class _Lined(dict):
        lc = original.lc

    return _Lined(subset)


def _load_city(reader: _Reader, doc: Any) -> Tuple[Optional[City], Dict[str, Counter]]:
    node = reader.mapping(doc, "(file)", 1)
    if node is None:
        return None, {}
    city = None
    city_node = reader.mapping(node.get("city"), "city", reader.line_of(node, "city")) if "city" in node else None
    if "city" not in node:
        reader.error(1, "city", "missing")
    if city_node is not None:
        city_name, address, access = (reader.localized(city_node, key, f"city.{key}")
                                      for key in ("name", "address", "access"))
        phone = reader.string(city_node, "phone", "city.phone")
        timezone = reader.string(city_node, "timezone", "city.timezone")
        closure = reader.string_list(city_node, "year_end_closure", "city.year_end_closure")
        for index, day in enumerate(closure or ()):
            if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", day):
                reader.error(reader.line_of(city_node["year_end_closure"], index),
                             f"city.year_end_closure[{index}]", f"must be MM-DD, got {day!r}")
        if city_name and address and access and phone and timezone and closure is not None:
            city = City(city_name, address, access, phone=phone, timezone=timezone, year_end_closure=closure)

    counters: Dict[str, Counter] = {}
    counters_node = node.get("counters")
    if not isinstance(counters_node, dict) or not counters_node:
        reader.error(reader.line_of(node, "counters") if "counters" in node else 1, "counters",
                     "must be a non-empty mapping of counter id → counter")
        return city, counters
    for cid, cnode in counters_node.items():
        field = f"counters.{cid}"
        cnode = reader.mapping(cnode, field, reader.line_of(counters_node, cid))
        if cnode is None:
            continue
        name = reader.localized(cnode, "name", f"{field}.name")
        place = reader.localized(cnode, "place", f"{field}.place")
        phone = reader.string(cnode, "phone", f"{field}.phone")
        rules = []
        hours = cnode.get("hours")
        if not isinstance(hours, list) or not hours:
            reader.error(reader.line_of(cnode, "hours") if "hours" in cnode else reader.line_of(cnode),
                         f"{field}.hours", "must be a non-empty list")
            continue
        for index, rule in enumerate(hours):
            rfield = f"{field}.hours[{index}]"
            rule = reader.mapping(rule, rfield, reader.line_of(hours, index))
            if rule is None:
                continue
            weekdays = rule.get("weekdays")
            opening, closing = _parse_time(rule.get("open")), _parse_time(rule.get("close"))
            ok = True
            if not isinstance(weekdays, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in weekdays):
                reader.error(reader.line_of(rule), f"{rfield}.weekdays", "must be a list of 0 (Mon) … 6 (Sun)")
                ok = False
            if opening is None or closing is None or opening >= closing:
                reader.error(reader.line_of(rule), f"{rfield}.open/close", "must be HH:MM with open before close")
                ok = False
            nth = rule.get("saturdays_of_month", [])
            if not isinstance(nth, list) or not all(isinstance(n, int) and 1 <= n <= 5 for n in nth):
                reader.error(reader.line_of(rule), f"{rfield}.saturdays_of_month", "must be a list of 1 … 5")
                ok = False
            note = reader.localized(rule, "note", f"{rfield}.note") if "note" in rule else None
            # `ok` implies the rest; spelled out so that the type checker sees it too.
            if ok and isinstance(weekdays, list) and opening is not None and closing is not None:
                rules.append(HoursRule(tuple(weekdays), opening, closing, tuple(nth), note))
        directory = _counter_directory(reader, cnode, field)
        if name and place and phone and len(rules) == len(hours) and directory is not None:
            topics, outside, address = directory
            counters[str(cid)] = Counter(str(cid), name, place, phone, tuple(rules),
                                         topics=topics, outside=outside, address=address)
    return city, counters


COUNTER_FIELDS = ("name", "place", "phone", "hours", "topics", "outside", "address")


def _counter_directory(reader: _Reader, cnode: dict, field: str
                       ) -> Optional[Tuple[Dict[str, Tuple[str, ...]], bool, Optional[Localized]]]:
    """The section directory's fields of a counter (topics, outside, address); None on a problem."""
    ok = True
    for extra in sorted(set(cnode) - set(COUNTER_FIELDS), key=str):
        reader.error(reader.line_of(cnode, extra), f"{field}.{extra}",
                     f"unknown field (use {', '.join(COUNTER_FIELDS)})")
        ok = False
    topics: Dict[str, Tuple[str, ...]] = {}
    if "topics" in cnode:
        tnode = reader.mapping(cnode["topics"], f"{field}.topics", reader.line_of(cnode, "topics"))
        if tnode is None:
            ok = False
        else:
            for extra in sorted(set(tnode) - set(EXAMPLE_LANGUAGES), key=str):
                reader.error(reader.line_of(tnode, extra), f"{field}.topics.{extra}", "unknown language (use ja, en)")
                ok = False
            for language in EXAMPLE_LANGUAGES:
                if language not in tnode:
                    continue
                before = len(reader.problems)
                items = reader.string_list(tnode, language, f"{field}.topics.{language}")
                if items is None or len(reader.problems) != before:
                    ok = False
                else:
                    topics[language] = tuple(item.strip() for item in items)
    outside = cnode.get("outside", False)
    if not isinstance(outside, bool):
        reader.error(reader.line_of(cnode, "outside"), f"{field}.outside", "must be true or false")
        outside, ok = False, False
    # Required for an outside office; a city section in a building of its own (保健センター,
    # 上下水道局) may give its address too.
    address = None
    if "address" in cnode:
        address = reader.localized(cnode, "address", f"{field}.address")
        ok = ok and address is not None
    elif outside:
        reader.error(reader.line_of(cnode, "outside"), f"{field}.address",
                     "missing: an outside office needs its address (ja, en, easy)")
        ok = False
    return (topics, bool(outside), address) if ok else None


def _load_conversation(reader: _Reader, doc: Any) -> Dict[str, ConversationIntent]:
    node = reader.mapping(doc, "(file)", 1)
    if node is None or "intents" not in node:
        reader.error(1, "intents", "missing")
        return {}
    intents_node = reader.mapping(node["intents"], "intents", reader.line_of(node, "intents"))
    result = {}
    for name, inode in (intents_node or {}).items():
        field = f"intents.{name}"
        inode = reader.mapping(inode, field, reader.line_of(intents_node, name))
        if inode is None:
            continue
        for extra in sorted(set(inode) - {"examples", "reply", "human_only"}, key=str):
            reader.error(reader.line_of(inode, extra), f"{field}.{extra}", "unknown field")
        examples = reader.examples(inode, f"{field}.examples", {"ja": 5, "en": 2})
        reply = reader.localized(inode, "reply", f"{field}.reply") if "reply" in inode else None
        human_only = inode.get("human_only", False)
        if not isinstance(human_only, bool):
            reader.error(reader.line_of(inode, "human_only"), f"{field}.human_only", "must be true or false")
            human_only = False
        if examples:
            result[str(name)] = ConversationIntent(str(name), examples, reply, human_only)
    return result


def _load_life_events(reader: _Reader, doc: Any) -> Dict[str, LifeEvent]:
    node = reader.mapping(doc, "(file)", 1)
    if node is None or "life_events" not in node:
        reader.error(1, "life_events", "missing")
        return {}
    events_node = reader.mapping(node["life_events"], "life_events", reader.line_of(node, "life_events"))
    result = {}
    for eid, enode in (events_node or {}).items():
        field = f"life_events.{eid}"
        enode = reader.mapping(enode, field, reader.line_of(events_node, eid))
        if enode is None:
            continue
        title = reader.localized(enode, "title", f"{field}.title")
        steps = []
        step_nodes = enode.get("steps")
        if not isinstance(step_nodes, list) or not step_nodes:
            reader.error(reader.line_of(enode), f"{field}.steps", "must be a non-empty list")
            step_nodes = []
        for index, snode in enumerate(step_nodes):
            sfield = f"{field}.steps[{index}]"
            snode = reader.mapping(snode, sfield, reader.line_of(step_nodes, index))
            if snode is None:
                continue
            if "procedure" in snode:
                steps.append(LifeEventStep(procedure=str(snode["procedure"])))
            elif "note" in snode:
                note = reader.localized(snode, "note", f"{sfield}.note")
                if note:
                    steps.append(LifeEventStep(note=note))
            else:
                reader.error(reader.line_of(snode), sfield, "needs `procedure` or `note`")
        examples = reader.examples(enode, f"{field}.examples", {"ja": 10, "en": 3})
        if title and examples and len(steps) == len(step_nodes):
            result[str(eid)] = LifeEvent(str(eid), title, tuple(steps), examples)
    return result


def _load_phrases(reader: _Reader, doc: Any) -> Dict[str, Localized]:
    node = reader.mapping(doc, "(file)", 1)
    phrases_node = node.get("phrases") if node else None
    if not isinstance(phrases_node, dict):
        reader.error(1, "phrases", "missing")
        return {}
    result = {}
    for key in phrases_node:
        text = reader.localized(phrases_node, key, f"phrases.{key}")
        if text:
            result[str(key)] = text
    return result


def _load_keywords(reader: _Reader, doc: Any) -> Keywords:
    """The command words (`keywords:` in phrases.yml), checked and compiled once."""
    node = doc.get("keywords") if isinstance(doc, dict) else None
    if not isinstance(node, dict):
        needed = ", ".join(KEYWORD_COMMANDS)
        reader.error(reader.line_of(doc, "keywords") if isinstance(doc, dict) and "keywords" in doc else 1,
                     "keywords", f"missing: a mapping of command words ({needed}) is needed")
        return Keywords()
    for name, why in KEYWORD_COMMANDS.items():
        if name not in node:
            reader.error(reader.line_of(node), f"keywords.{name}", f"missing: {why}")
    patterns = {}
    owner: Dict[str, str] = {}  # normalized word → the command that has it
    for name in node:
        field = f"keywords.{name}"
        if not isinstance(name, str) or not ID_PATTERN.match(name):
            reader.error(reader.line_of(node, name), field, "a command name is lowercase letters, digits and _")
            continue
        entry = reader.mapping(node[name], field, reader.line_of(node, name))
        if entry is None:
            continue
        words: Dict[str, List[str]] = {}
        for kind in entry:
            if kind not in KINDS:
                reader.error(reader.line_of(entry, kind), f"{field}.{kind}",
                             f"unknown kind (use {', '.join(KINDS)})")
                continue
            items = reader.string_list(entry, kind, f"{field}.{kind}")
            for index, word in enumerate(items or ()):
                where, line = f"{field}.{kind}[{index}]", reader.line_of(entry[kind], index)
                key = normalized(word).lower()
                if kind == "commands" and not COMMAND_PATTERN.match(normalized(word)):
                    reader.error(line, where, f"a command is / and letters, digits or _: {word!r}")
                elif key in owner:
                    reader.error(line, where, f"{word!r} is already a word of keywords.{owner[key]}")
                else:
                    owner[key] = name
                    words.setdefault(kind, []).append(word)
        if not any(words.values()):
            reader.error(reader.line_of(entry), field, "needs at least one word (commands, whole or anywhere)")
            continue
        patterns[name] = compile_command(**words)
    return Keywords(patterns)


def load_catalog(root: Path) -> Catalog:
    """Load `root` (the `intents/` folder); raise CatalogError listing every problem."""
    root = Path(root)
    problems: List[Problem] = []

    def read(name: str) -> Tuple[_Reader, Any]:
        reader = _Reader(root / name, root, problems)
        if not reader.path.exists():
            reader.error(1, "(file)", "missing file")
            return reader, None
        return reader, reader.load()

    city_reader, city_doc = read("city.yml")
    city, counters = _load_city(city_reader, city_doc) if city_doc is not None else (None, {})
    declared_counters = set((city_doc or {}).get("counters") or {}) if isinstance(city_doc, dict) else set()
    conv_reader, conv_doc = read("conversation.yml")
    conversation = _load_conversation(conv_reader, conv_doc) if conv_doc is not None else {}
    life_reader, life_doc = read("life_events.yml")
    life_events = _load_life_events(life_reader, life_doc) if life_doc is not None else {}
    phrase_reader, phrase_doc = read("phrases.yml")
    phrases = _load_phrases(phrase_reader, phrase_doc) if phrase_doc is not None else {}
    keywords = _load_keywords(phrase_reader, phrase_doc) if phrase_doc is not None else Keywords()

    procedures: Dict[str, Procedure] = {}
    readers: Dict[str, Tuple[_Reader, Any]] = {}
    for path in sorted((root / "procedures").glob("*.yml")):
        reader = _Reader(path, root, problems)
        doc = reader.load()
        if doc is None:
            continue
        procedure = _load_procedure(reader, doc)
        check_field_sizes(reader, doc)  # caps per field (bot/catalog/sizes.py)
        readers[path.stem] = (reader, doc)
        if procedure is not None:
            procedures[procedure.id] = procedure

    from bot.catalog.faq import load_faq  # faq.py builds on this module's reader

    faq = load_faq(root, problems, declared_counters, set(readers))

    # Cross-file checks. (The sample city's fixed procedure ids are its content contract, checked
    # by its tests, not a rule of the loader: another city's catalog has its own procedures.)
    for name in CONVERSATION_INTENTS:
        if conv_doc is not None and name not in conversation:
            problems.append(Problem(conv_reader.name, 1, f"intents.{name}", "fixed conversation intent is missing"))
    if isinstance(phrase_doc, dict) and isinstance(phrase_doc.get("phrases"), dict):
        for key in PHONE_PROMPTS:
            if key not in phrase_doc["phrases"]:
                problems.append(Problem(phrase_reader.name, 1, f"phrases.{key}", "the phone line needs this phrase"))
        for key in NOTICE_PHRASES:
            if key not in phrase_doc["phrases"]:
                problems.append(Problem(phrase_reader.name, 1, f"phrases.{key}",
                                        "the channels need this phrase (a notice before the dialogue)"))
    known_ids = set(readers)
    for stem, (reader, doc) in readers.items():
        if not isinstance(doc, dict):
            continue
        related = doc.get("related")
        if isinstance(related, list):
            for index, rid in enumerate(related):
                if rid not in known_ids or rid == stem:
                    reason = "refers to itself" if rid == stem else "unknown procedure id"
                    reader.error(reader.line_of(related, index), f"related[{index}]", f"{reason}: {rid}")
        section = doc.get("section")
        if isinstance(section, str) and declared_counters and section not in declared_counters:
            reader.error(reader.line_of(doc, "section"), "section",
                         f"unknown counter {section!r} (known: {', '.join(sorted(declared_counters))})")
    for eid, event in life_events.items():
        for index, step in enumerate(event.steps):
            if step.procedure is not None and step.procedure not in known_ids:
                problems.append(Problem(life_reader.name, 1, f"life_events.{eid}.steps[{index}]",
                                        f"unknown procedure id: {step.procedure}"))
    clashes = set(readers) & (set(conversation) | set(life_events))
    for name in sorted(clashes):
        problems.append(Problem(f"{root.name}/procedures/{name}.yml", 1, "id", "also used as a conversation intent"))

    _check_duplicate_examples(root, readers, conv_reader, conv_doc, life_reader, life_doc, problems,
                              faq.documents)

    if problems:
        raise CatalogError(problems)
    if city is None:  # pragma: no cover - problems would have been recorded
        raise CatalogError([Problem("city.yml", 1, "city", "could not be loaded")])
    return Catalog(city=city, counters=counters, procedures=procedures,
                   conversation=conversation, life_events=life_events, phrases=phrases,
                   faq=faq.entries, faq_categories=faq.categories, keywords=keywords)


# FAQ questions and variants are trained as examples of this intent (bot/catalog/compile.py):
# repeating one of its examples is harmless, repeating another intent's makes the classifier guess.
FAQ_MAY_SHARE_WITH = ("out_of_scope",)


def _check_duplicate_examples(root, readers, conv_reader, conv_doc, life_reader, life_doc, problems,
                              faq_documents=None) -> None:
    """The same sentence under two intents makes the classifier guess: reject it. An FAQ entry's
    variant that is an intent's example, or two FAQ entries asked the same way, make the
    choice of answer a guess too."""
    seen: Dict[str, Tuple[str, str, int]] = {}

    def visit(reader: _Reader, intent: str, node: Any, field: str) -> None:
        if not isinstance(node, dict):
            return
        lines = reader.example_lines(node)
        examples = node.get("examples")
        if not isinstance(examples, dict):
            return
        for language in EXAMPLE_LANGUAGES:
            for index, text in enumerate(examples.get(language) or []):
                if not isinstance(text, str):
                    continue
                key = example_key(text)
                line = lines.get((language, index), 1)
                if key in seen:
                    other_intent, other_file, other_line = seen[key]
                    where = f"{field}.examples.{language}[{index}]".lstrip(".")
                    if other_intent == intent:
                        reader.error(line, where, f"duplicate example {text!r} (also line {other_line})")
                    else:
                        reader.error(line, where, f"example {text!r} is also under intent "
                                                  f"{other_intent} ({other_file}:{other_line})")
                else:
                    seen[key] = (intent, reader.name, line)

    for stem, (reader, doc) in sorted(readers.items()):
        visit(reader, stem, doc, "")
    if isinstance(conv_doc, dict) and isinstance(conv_doc.get("intents"), dict):
        for name, node in conv_doc["intents"].items():
            visit(conv_reader, str(name), node, f"intents.{name}")
    if isinstance(life_doc, dict) and isinstance(life_doc.get("life_events"), dict):
        for name, node in life_doc["life_events"].items():
            visit(life_reader, str(name), node, f"life_events.{name}")
    if faq_documents:
        _check_faq_duplicates(seen, faq_documents)


def _check_faq_duplicates(seen: Dict[str, Tuple[str, str, int]], faq_documents: Dict[str, Any]) -> None:
    from bot.catalog.faq import phrasings

    asked: Dict[str, Tuple[str, str, int]] = {}  # key → (entry id, file, line)
    for phrasing in phrasings(faq_documents):
        key = example_key(phrasing.text)
        if not key:
            continue
        reader, where = phrasing.reader, phrasing.field
        if phrasing.trained and key in seen and seen[key][0] not in FAQ_MAY_SHARE_WITH:
            intent, other_file, other_line = seen[key]
            what = "variant" if phrasing.is_variant else "question"
            reader.error(phrasing.line, where, f"{what} {phrasing.text!r} is also a training example of "
                                               f"intent {intent} ({other_file}:{other_line})")
        elif key in asked:
            entry, other_file, other_line = asked[key]
            if entry == phrasing.entry_id:
                if phrasing.is_variant:
                    reader.error(phrasing.line, where, f"duplicate variant {phrasing.text!r} (also line {other_line})")
            else:
                reader.error(phrasing.line, where, f"{phrasing.text!r} is also asked in FAQ entry {entry} "
                                                   f"({other_file}:{other_line})")
        else:
            asked[key] = (phrasing.entry_id, reader.name, phrasing.line)
