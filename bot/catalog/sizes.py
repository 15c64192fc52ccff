"""How much each field of a procedure may hold.

Without a cap one paste makes a 20,000-character summary: the file grows to tens of kilobytes,
every answer carries it to every channel, and the phone reads it for minutes. The caps are
generous (several times the longest text of the sample catalog) and documented in
intents/README.md; the catalog checker enforces them, so `madoguchi check`, the admin
editor and the import of a city's file refuse the same texts. Lengths count characters as
written, an easy text's {漢字|かんじ} readings included (the lead's spoken length has its
own, stricter check in bot/catalog/load.py).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

# Characters per text, by field and language.
TEXT_MAX_CHARS: Mapping[str, Mapping[str, int]] = {
    "title": {"ja": 60, "en": 150, "easy": 150},
    "lead": {"ja": 300, "en": 600, "easy": 600},
    "summary": {"ja": 400, "en": 1000, "easy": 800},
    "audience": {"ja": 400, "en": 1000, "easy": 800},
    "deadline": {"ja": 400, "en": 1000, "easy": 800},
    "fee": {"ja": 200, "en": 500, "easy": 400},
    "how": {"ja": 400, "en": 1000, "easy": 800},  # each way's text
    "documents": {"ja": 200, "en": 500, "easy": 400},  # each item
    "examples": {"ja": 200, "en": 300},  # each sentence
}
# Characters of a one-line field.
LINE_MAX_CHARS: Mapping[str, int] = {"owner": 100, "section": 50}
# Items of a list, per language where the list has languages.
LIST_MAX_ITEMS: Mapping[str, int] = {"documents": 20, "related": 30, "examples": 500}


def check_field_sizes(reader: Any, doc: Any) -> None:
    """Record a problem (through the checker's `reader`) for every text longer than its field's
    cap and every list with too many items. Only values of the right type are measured: the
    checker reports the others."""
    if not isinstance(doc, dict):
        return

    def text(node: Any, key: Any, field: str, cap: int) -> None:
        value = node[key] if isinstance(node, list) else node.get(key)
        if isinstance(value, str) and len(value) > cap:
            reader.error(reader.line_of(node, key), field, f"too long: {len(value)} characters (at most {cap})")

    def items(node: Any, key: Any, field: str, cap: int) -> None:
        value = node.get(key)
        if isinstance(value, list) and len(value) > cap:
            reader.error(reader.line_of(node, key), field, f"too many items: {len(value)} (at most {cap})")

    for key, cap in LINE_MAX_CHARS.items():
        text(doc, key, key, cap)
    for field, caps in TEXT_MAX_CHARS.items():
        node = doc.get(field)
        if not isinstance(node, dict):
            continue
        texts: Dict[str, Any] = {"": node}
        if field == "how":
            texts = {f".{way}": way_node for way, way_node in node.items() if isinstance(way_node, dict)}
        for suffix, localized in texts.items():
            for language, cap in caps.items():
                where = f"{field}{suffix}.{language}"
                if field in LIST_MAX_ITEMS:
                    items(localized, language, where, LIST_MAX_ITEMS[field])
                    values = localized.get(language)
                    for index in range(len(values) if isinstance(values, list) else 0):
                        text(values, index, f"{where}[{index}]", cap)
                else:
                    text(localized, language, where, cap)
    items(doc, "related", "related", LIST_MAX_ITEMS["related"])
