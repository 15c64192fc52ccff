"""The `madoguchi` command run as a subprocess on a home folder of its own (intents, models, var, build)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.settings import PROJECT_ROOT


def madoguchi(home: Path, *arguments: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MADOGUCHI_CATALOG=str(home / "intents"), MADOGUCHI_MODELS=str(home / "models"),
               MADOGUCHI_VAR=str(home / "var"), MADOGUCHI_BUILD=str(home / "build"), RASA_TELEMETRY_ENABLED="false")
    env.pop("MADOGUCHI_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "bot.cli", *arguments], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env=env, timeout=300)
