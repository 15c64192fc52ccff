"""Work no resident waits for (pre-synthesis, training, evaluation) runs in niced processes, so
that on a small server the residents' turns get the cores first."""
from __future__ import annotations

import shutil
from typing import List, Sequence

NICENESS = 10


def niced(program: Sequence[str]) -> List[str]:
    """`program` run at a lower priority (`nice -n 10`); as it is where `nice` is missing."""
    return ["nice", "-n", str(NICENESS), *program] if shutil.which("nice") else list(program)
