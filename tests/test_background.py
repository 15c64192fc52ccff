"""Background work runs niced: a resident's turn gets the cores first."""
import os
import subprocess
import sys

from bot.background import NICENESS, niced


def test_a_niced_program_runs_at_lower_priority():
    shown = subprocess.run(niced([sys.executable, "-c", "import os; print(os.nice(0))"]),
                           capture_output=True, text=True, check=True).stdout
    assert int(shown) == min(19, os.nice(0) + NICENESS)
