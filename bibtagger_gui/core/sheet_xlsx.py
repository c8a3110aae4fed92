"""A minimal .xlsx (SpreadsheetML) writer, standard library only (docs/exports.md#excel-workbook).

What a CSV cannot tell Excel, a workbook can: the type of each cell. A ``str`` becomes a text
cell (shared string table; "0891" keeps its zero, "=1+1" is text, never a formula, so no ``'``
guard is needed), an ``int``/``float`` a number cell, ``None`` an empty cell. Each sheet has a
bold header row, frozen, with an autofilter, column widths from its content, and the columns in
``Sheet.text_columns`` formatted as Text (``@``, numFmtId 49) so a number typed there later stays
text too.

The package holds only what Excel, LibreOffice and openpyxl need: ``[Content_Types].xml``,
``_rels/.rels``, ``xl/workbook.xml`` + its rels, ``xl/styles.xml``, ``xl/sharedStrings.xml`` and
one ``xl/worksheets/sheetN.xml`` per sheet. Entries carry a fixed date, so the same sheets give
the same bytes (a GUI and a CLI export compare equal).

XML 1.0 cannot hold most control characters (U+0000-U+001F but TAB, LF, CR; U+FFFE, U+FFFF; lone
surrogates from undecodable file names): they are dropped and :func:`workbook_bytes` returns a note
for each cell that lost some. A CR is written as ``&#13;`` so it survives parsing. Excel's limits:
:data:`MAX_CELL_CHARS` per cell (UTF-16 units) raises :class:`CellTooLong`; a sheet longer than
:data:`MAX_ROWS` rows is split by :func:`split_rows` into continuation sheets.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_ROWS = 1_048_576  # rows of an Excel sheet, header included
MAX_CELL_CHARS = 32_767  # characters (UTF-16 code units) of an Excel cell
MAX_SHEET_NAME = 31
MAX_WIDTH, MIN_WIDTH = 60, 6  # column widths, in characters
NOTES_SHOWN = 5  # cells named one by one in the control-character note

# Characters XML 1.0 forbids: C0 controls but TAB/LF/CR, lone surrogates, U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"}
_ESCAPE = re.compile('[&<>"\r]')
_DATE = (1980, 1, 1, 0, 0, 0)  # the zip entries' time: the same sheets, the same bytes

STYLE_TEXT, STYLE_HEADER = 1, 2  # cellXfs indexes in styles.xml below


class CellTooLong(ValueError):
    """A text longer than an Excel cell holds (the message names the sheet, cell and column)."""


@dataclass
class Sheet:
    name: str
    header: list[str]
    rows: list[Sequence[object]]  # str: text, int/float: number, None: empty
    text_columns: frozenset[int] = field(default_factory=frozenset)  # 0-based, formatted as Text


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def split_rows(sheet: Sheet, max_rows: int | None = None) -> list[Sheet]:
    """``sheet`` as one sheet, or as several of at most ``max_rows`` rows (header included): "Photos",
    "Photos 2", … each with the header."""
    per = (max_rows or MAX_ROWS) - 1
    if len(sheet.rows) <= per:
        return [sheet]
    parts = [sheet.rows[i : i + per] for i in range(0, len(sheet.rows), per)]
    return [Sheet(sheet.name if i == 0 else f"{sheet.name} {i + 1}"[:MAX_SHEET_NAME], sheet.header, part, sheet.text_columns)
            for i, part in enumerate(parts)]  # fmt: skip


def utf16_len(text: str) -> int:
    """Length as Excel counts it (a character outside the BMP, e.g. an emoji, is two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def clean_text(text: str) -> tuple[str, int]:
    """``text`` without the characters XML 1.0 forbids, and how many were dropped."""
    cleaned, dropped = _FORBIDDEN.subn("", text)
    return cleaned, dropped


def _esc(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group()], text)


def _display_width(text: str) -> int:
    """Columns ``text`` takes in a sheet (East Asian wide characters count two), its longest line."""
    if text.isascii() and "\n" not in text:
        return len(text)
    return max((sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line) for line in text.split("\n")), default=0)


def _number(value: int | float) -> str | None:
    """A number cell's ``<v>``, None when Excel has no such number (NaN, infinity)."""
    if isinstance(value, bool) or isinstance(value, int):
        return str(int(value))
    return repr(float(value)) if math.isfinite(value) else None


class _Strings:
    """The shared string table: each distinct text once, in first-use order."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.count = 0

    def __call__(self, text: str) -> int:
        self.count += 1
        return self.index.setdefault(text, len(self.index))

    def xml(self) -> str:
        items = "".join(f'<si><t xml:space="preserve">{_esc(t)}</t></si>' for t in self.index)
        return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{_NS}" count="{self.count}" '
                f'uniqueCount="{len(self.index)}">{items}</sst>')  # fmt: skip


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _sheet_xml(sheet: Sheet, strings: _Strings, notes: list[str], cleaned: list[int]) -> str:
    ncols = max([len(sheet.header), *(len(r) for r in sheet.rows)])
    widths = [0] * ncols
    out: list[str] = []
    for r, row in enumerate([sheet.header, *sheet.rows], 1):
        header = r == 1
        cells: list[str] = []
        for c in range(ncols):
            value = row[c] if c < len(row) else None
            ref = f"{column_letter(c)}{r}"
            style = STYLE_HEADER if header else STYLE_TEXT if c in sheet.text_columns else 0
            s = f' s="{style}"' if style else ""
            if isinstance(value, str) and value:
                text, dropped = clean_text(value)
                if dropped:
                    cleaned[0] += 1
                    if cleaned[0] <= NOTES_SHOWN:
                        notes.append(f"{sheet.name}!{ref}: {dropped} control character(s) that an .xlsx file cannot "
                                     f"hold were left out of {value!r}")  # fmt: skip
                if utf16_len(text) > MAX_CELL_CHARS:
                    what = sheet.header[c] if c < len(sheet.header) else "?"
                    raise CellTooLong(f"{sheet.name}!{ref} ({what}) would hold {utf16_len(text):,} characters; an Excel "
                                      f"cell holds at most {MAX_CELL_CHARS:,}")  # fmt: skip
                widths[c] = max(widths[c], _display_width(text) + (4 if header else 0))  # header: room for the filter button
                cells.append(f'<c r="{ref}"{s} t="s"><v>{strings(text)}</v></c>')
            elif isinstance(value, int | float) and (v := _number(value)) is not None:
                widths[c] = max(widths[c], len(v))
                cells.append(f'<c r="{ref}"{s}><v>{v}</v></c>')
            elif isinstance(value, int | float):  # NaN or infinity: kept readable, as text
                cells.append(f'<c r="{ref}"{s} t="s"><v>{strings(str(value))}</v></c>')
            elif style:
                cells.append(f'<c r="{ref}"{s}/>')  # empty, but formatted (a number typed in later stays text)
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    last = f"{column_letter(ncols - 1)}{len(sheet.rows) + 1}"
    cols = "".join(
        f'<col min="{c + 1}" max="{c + 1}" width="{min(MAX_WIDTH, max(MIN_WIDTH, w + 2))}" customWidth="1"'
        + (f' style="{STYLE_TEXT}"' if c in sheet.text_columns else "") + "/>"
        for c, w in enumerate(widths)
    )  # fmt: skip
    return (
        f'{_XML}<worksheet xmlns="{_NS}" xmlns:r="{_NS_R}"><dimension ref="A1:{last}"/>'
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>{"".join(out)}</sheetData>'
        f'<autoFilter ref="A1:{last}"/><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        "</worksheet>"
    )


_STYLES = (
    f'{_XML}<styleSheet xmlns="{_NS}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def workbook_bytes(sheets: Sequence[Sheet]) -> tuple[bytes, list[str]]:
    """The .xlsx file of ``sheets`` (in order) and the notes on what was changed to fit (control characters).

    Raises :class:`CellTooLong` for a text over :data:`MAX_CELL_CHARS`, ValueError for a sheet over
    :data:`MAX_ROWS` rows (use :func:`split_rows`) or a bad sheet name."""
    names = [s.name for s in sheets]
    for s in sheets:
        if not s.name or len(s.name) > MAX_SHEET_NAME or re.search(r"[\[\]:*?/\\]", s.name) or s.name.startswith("'"):
            raise ValueError(f"{s.name!r} cannot name an Excel sheet")
        if len(s.rows) + 1 > MAX_ROWS:
            raise ValueError(f"sheet {s.name} has {len(s.rows) + 1:,} rows; an Excel sheet holds at most {MAX_ROWS:,}")
    if len({n.casefold() for n in names}) != len(names):
        raise ValueError(f"sheet names must differ (case aside): {names}")
    strings = _Strings()
    notes: list[str] = []
    cleaned = [0]
    sheet_xml = [_sheet_xml(s, strings, notes, cleaned) for s in sheets]
    if cleaned[0] > NOTES_SHOWN:
        notes.append(f"… and {cleaned[0] - NOTES_SHOWN} more cell(s) without their control characters")
    n = len(sheets)
    defined = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">{_esc(_quote_sheet(s.name))}!$A$1:'
        f'${column_letter(max([len(s.header), *(len(r) for r in s.rows)]) - 1)}${len(s.rows) + 1}</definedName>'
        for i, s in enumerate(sheets)
    )  # fmt: skip
    parts = {
        "[Content_Types].xml": (
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" '
                      'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                      for i in range(n))  # fmt: skip
            + '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'{_XML}<Relationships xmlns="{_NS_PKG}"><Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'{_XML}<workbook xmlns="{_NS}" xmlns:r="{_NS_R}"><bookViews><workbookView activeTab="0"/></bookViews><sheets>'
            + "".join(f'<sheet name="{_esc(s.name)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, s in enumerate(sheets))
            + f"</sheets><definedNames>{defined}</definedNames></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{_XML}<Relationships xmlns="{_NS_PKG}">'
            + "".join(f'<Relationship Id="rId{i + 1}" Type="{_NS_R}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                      for i in range(n))  # fmt: skip
            + f'<Relationship Id="rId{n + 1}" Type="{_NS_R}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId{n + 2}" Type="{_NS_R}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/styles.xml": _STYLES,
        "xl/sharedStrings.xml": strings.xml(),
        **{f"xl/worksheets/sheet{i + 1}.xml": xml for i, xml in enumerate(sheet_xml)},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, xml in parts.items():
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, xml.encode("utf-8"))
    return buf.getvalue(), notes
