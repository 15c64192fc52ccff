"""Caps per procedure field: the checker refuses a text over its cap (so the CLI, the admin editor
and the import agree), and intents/README.md documents exactly the caps bot/catalog/sizes.py enforces."""
from __future__ import annotations

import re
import shutil

import pytest

from bot.catalog import CatalogError, load_catalog
from bot.catalog.sizes import LINE_MAX_CHARS, LIST_MAX_ITEMS, TEXT_MAX_CHARS
from bot.settings import PROJECT_ROOT

README = PROJECT_ROOT / "intents" / "README.md"


@pytest.fixture
def catalog_copy(tmp_path):
    root = tmp_path / "intents"
    shutil.copytree(PROJECT_ROOT / "intents", root)
    return root


def replace_in(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_summary_of_twenty_thousand_characters_is_refused_at_its_field(catalog_copy):
    path = catalog_copy / "procedures" / "moving_in.yml"
    text = path.read_text(encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("summary:")) + 1
    written = len(text.splitlines()[line - 1]) - len("  ja: ") + 20000
    replace_in(path, "summary:\n  ja: ", "summary:\n  ja: " + "長" * 20000)
    with pytest.raises(CatalogError) as failure:
        load_catalog(catalog_copy)
    [problem] = failure.value.problems
    assert (problem.field, problem.line) == ("summary.ja", line)
    assert problem.message == f"too long: {written} characters (at most {TEXT_MAX_CHARS['summary']['ja']})"


def test_every_text_and_list_cap_is_enforced(catalog_copy):
    path = catalog_copy / "procedures" / "moving_in.yml"
    replace_in(path, "owner: 市民課 住民記録係", "owner: " + "係" * 101)
    replace_in(path, "    ja: 市民課（本庁舎1階2番窓口、平日8:30〜17:15）で届け出ます。",
               "    ja: " + "窓" * 401)
    replace_in(path, "related: [moving_out, child_allowance, national_health_insurance]",
               "related: [" + ", ".join(["moving_out"] * 31) + "]")
    replace_in(path, "    - 転入届を出したいのですが", "    - " + "転" * 201)
    with pytest.raises(CatalogError) as failure:
        load_catalog(catalog_copy)
    fields = {p.field for p in failure.value.problems}
    assert {"owner", "how.counter.ja", "related", "examples.ja[0]"} <= fields, fields


def test_the_sample_catalog_is_well_within_its_caps():
    load_catalog(PROJECT_ROOT / "intents")  # raises on any problem


def test_the_readme_table_lists_exactly_the_enforced_caps():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Sizes"):]
    rows = {}
    for match in re.finditer(r"^\| `(\w+)`[^|]*\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|$", section, re.M):
        field, *cells = match.groups()
        rows[field] = [cell.strip() for cell in cells]
    documented = {}
    for field, (ja, en, easy, items) in rows.items():
        caps = {language: int(cell) for language, cell in (("ja", ja), ("en", en), ("easy", easy)) if cell}
        if field in LINE_MAX_CHARS:
            documented[field] = ("line", caps["ja"])
        elif caps:
            documented[field] = ("text", caps)
        if items:
            documented[f"{field} items"] = ("items", int(items.split()[0]))
    enforced = {**{field: ("line", cap) for field, cap in LINE_MAX_CHARS.items()},
                **{field: ("text", dict(caps)) for field, caps in TEXT_MAX_CHARS.items()},
                **{f"{field} items": ("items", cap) for field, cap in LIST_MAX_ITEMS.items()}}
    assert documented == enforced
