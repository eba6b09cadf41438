"""Every CSV the grader writes, through one helper: cells a spreadsheet keeps as text.

A student chooses names, file names and (through their code) messages, and
those reach the gradebook, ``canvas.csv`` and ``moodle.csv``. A spreadsheet
runs a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula, so, as OWASP's "CSV Injection" page prescribes, such a
text cell gets a leading single quote (and the csv module quotes separators
and quotes). Every text cell is also cut to :data:`MAX_CELL` characters.
Numbers the grader computes (points, ids it parsed as digits) are passed as
``int``/``float`` and written as they are.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from .. import atomic

MAX_CELL = 1000                       # characters of one text cell
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value) -> str:
    """``value`` as a cell a spreadsheet shows as text: bounded, never a formula.
    Empty and None give ""."""
    text = "" if value is None else str(value)
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    if text.startswith(FORMULA_START):
        text = "'" + text
    return text


def number_cell(value) -> str:
    """A number the grader computed: ``31``, ``6.5``; not finite gives ""."""
    x = float(value)
    return f"{x:g}" if math.isfinite(x) else ""


def csv_text(rows) -> str:
    """Rows (lists of str / numbers / None) as CSV text, every cell through the helpers."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; a lone \r in a cell gets quoted too
    for row in rows:
        w.writerow([number_cell(c) if isinstance(c, (int, float)) and not isinstance(c, bool)
                    else text_cell(c) for c in row])
    return buf.getvalue()


def write_csv(path: Path, rows) -> None:
    """Write ``rows`` atomically as CSV (UTF-8) at ``path``: the one CSV writer."""
    atomic.write_text(path, csv_text(rows))
