"""CSV text that a spreadsheet opens safely and our readers read back exactly (docs/exports.md#csv-files-in-spreadsheets).

* :func:`csv_text`: RFC 4180 quoting (a field holding ``,``, ``"``, CR or LF is quoted), LF line
  ends. Python's ``csv.writer`` with ``lineterminator="\\n"`` leaves a bare CR unquoted, which
  splits the row for every reader (a photo named ``a\\rb.jpg`` is a valid Linux name).
* :func:`guard` / :func:`unguard`: OWASP's formula-injection guard. A text cell that starts
  with ``=``, ``+``, ``-``, ``@``, TAB, CR or NUL would be a live formula in Excel, LibreOffice
  or Google Sheets (a start list is third-party data), so it gets a leading ``'``. Cells that
  already start with ``'`` before such a character get one more, so ``unguard(guard(v)) == v``
  for every string, and "'t Hooft" is left alone.
* :data:`BOM`: files meant for people start with a UTF-8 byte order mark, without which Excel
  on Windows reads UTF-8 as the ANSI code page ("MÃ¼ller").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

BOM = "\ufeff"
FORMULA_STARTS = "=+-@\t\r\0"
_START = "[" + re.escape(FORMULA_STARTS) + "]"
_GUARDED = re.compile("'*" + _START)  # what guard() prefixes
_UNGUARD = re.compile("'+" + _START)  # what guard() made
_QUOTE = re.compile(r'[,"\r\n]')


def guard(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would take it for a formula."""
    return "'" + value if _GUARDED.match(value) else value


def unguard(value: str) -> str:
    """The value :func:`guard` was given (any other text is returned unchanged)."""
    return value[1:] if _UNGUARD.match(value) else value


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return '"' + text.replace('"', '""') + '"' if _QUOTE.search(text) else text


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV text: comma-separated, quoted where needed, one LF after each row."""
    return "".join(",".join(_cell(v) for v in row) + "\n" for row in rows)
