"""docs/configuration.md is generated from bot/settings.py (scripts/settings_doc.py): the committed
file equals the generated one, and every variable `Settings.from_env` reads is in it."""
from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields

from bot.settings import PROJECT_ROOT, Settings

SCRIPT = PROJECT_ROOT / "scripts" / "settings_doc.py"
DOCUMENT = PROJECT_ROOT / "docs" / "configuration.md"


def generated() -> str:
    # Run as a script with the system's Python rules (no madoguchi import needed): what a newcomer runs.
    return subprocess.run([sys.executable, "-I", str(SCRIPT)], check=True, capture_output=True, text=True,
                          encoding="utf-8").stdout


def test_the_committed_configuration_doc_equals_the_generated_one():
    assert DOCUMENT.read_text(encoding="utf-8") == generated(), \
        "docs/configuration.md is stale: python3 scripts/settings_doc.py > docs/configuration.md"


def test_every_variable_that_settings_read_is_documented_once():
    source = (PROJECT_ROOT / "bot" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'"(MADOGUCHI_[A-Z_]+)"', source.split("def from_env", 1)[1].split("@property")[0]))
    documented = re.findall(r"^\| `([A-Z_]+)` \|", generated(), re.M)
    assert len(documented) == len(set(documented))
    assert read <= set(documented)
    assert len(fields(Settings)) <= len(documented)
