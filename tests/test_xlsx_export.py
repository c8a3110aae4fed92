"""`export --format xlsx` (core/sheet_xlsx.py, docs/exports.md#excel-workbook): the csv and bibcsv exports as
one workbook of typed cells, read back with openpyxl and pandas and compared cell by cell with the CSV
exports of the same project; the package's XML parses; Excel's limits; control characters.

The project is test_csv_exports' hostile one (formula-like, non-ASCII, CR/LF photo and runner names)
plus bibs "=1+1", "Zoë" and "名前".
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import sheet_xlsx
from bibtagger_gui.core.exporters import BIBS_TEXT, PHOTOS_TEXT, ExportError, _split_images, export
from bibtagger_gui.core.sheet_csv import unguard
from bibtagger_gui.core.startlist import META_KEY
from bibtagger_gui.core.store import Store
from tests.test_csv_exports import PHOTO_NAMES, RUNNERS, hostile  # noqa: F401 (fixture)

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
MUST_STAY_TEXT = ["0891", "=1+1", "Zoë", "名前"]
SHEETS = {"Photos": ("csv", PHOTOS_TEXT), "Bibs": ("bibcsv", BIBS_TEXT)}


@pytest.fixture
def project(hostile):  # noqa: F811
    with Store.open(hostile) as store:
        photos = store.photos()
        store.add_bib(photos[0].id, "=1+1", (1.25, 2.5, 30.123456789, 40.0), 0.912345678)  # more digits than the CSV's {:g}
        store.add_bib(photos[1].id, "Zoë", None)
        store.add_bib(photos[2].id, "名前", (5.0, 6.0, 7.0, 8.0), 0.5)
        assert {b.number for bibs in store.all_bibs().values() for b in bibs} >= set(MUST_STAY_TEXT)
    return hostile


def _export(capsys, folder: Path, fmt: str, out: Path) -> str:
    code = main(["export", str(folder), "--format", fmt, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    return err


def _csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def _expected(rows: list[list[str]], text: frozenset[int]) -> list[list[object]]:
    """What each CSV cell means: text unguarded (None when empty), numbers as numbers (None when empty)."""
    out: list[list[object]] = [rows[0]]
    for row in rows[1:]:
        out.append([(unguard(v) or None) if i in text else None if v == "" else int(v) if v.isdigit() else float(v)
                    for i, v in enumerate(row)])  # fmt: skip
    return out


@pytest.fixture
def exported(project, tmp_path, capsys):
    """The xlsx, csv and bibcsv exports of one project (the CLI, files)."""
    out = {fmt: tmp_path / f"out.{fmt}" for fmt in ("xlsx", "csv", "bibcsv")}
    for fmt, path in out.items():
        _export(capsys, project, fmt, path)
    return out


def test_xlsx_holds_the_csv_exports_cell_by_cell_for_openpyxl_and_pandas(exported):
    wb = openpyxl.load_workbook(exported["xlsx"])
    assert wb.sheetnames == list(SHEETS)
    frames = pd.read_excel(exported["xlsx"], sheet_name=None, engine="openpyxl")
    assert list(frames) == list(SHEETS)
    for name, (fmt, text) in SHEETS.items():
        want = _expected(_csv_rows(exported[fmt]), text)
        ws = wb[name]
        got = [[c.value for c in row] for row in ws.iter_rows()]
        assert got == want, name
        for row in ws.iter_rows(min_row=2):  # the types: text where text, numbers where numbers
            for i, c in enumerate(row):
                if c.value is not None:
                    assert c.data_type == ("s" if i in text else "n"), (name, c.coordinate, c.value)
                    assert not (i not in text and isinstance(c.value, str))
        frame = frames[name]
        assert list(frame.columns) == want[0]
        for r, row in enumerate(want[1:]):
            for i, value in enumerate(row):
                cell = frame.iat[r, i]
                assert (pd.isna(cell) if value is None else cell == value and type(cell) is not bool), (name, r, i, cell, value)
        # pandas, with no options, keeps the zeros and the formula-like text: they were text cells
        assert {"0891", "=1+1", "Zoë", "名前"} <= set(frame["number"].dropna())
    assert got  # the Bibs sheet was read
    photo_names = {c.value for c in wb["Photos"]["A"][1:]}
    assert photo_names == set(PHOTO_NAMES)  # CR, LF, "=", "@", "-" names exactly, no ' added


def test_text_cells_are_never_formulas_and_the_package_parses(exported):
    with zipfile.ZipFile(exported["xlsx"]) as z:
        assert z.testzip() is None
        names = z.namelist()
        parts = {n: ET.fromstring(z.read(n)) for n in names}  # every part is well-formed XML
    assert names[0] == "[Content_Types].xml" and {"_rels/.rels", "xl/workbook.xml", "xl/styles.xml", "xl/sharedStrings.xml"} <= set(names)
    overrides = {o.get("PartName") for o in parts["[Content_Types].xml"]}
    assert {f"/{n}" for n in names if n.endswith(".xml") and n != "[Content_Types].xml"} <= overrides
    strings = ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")) for si in parts["xl/sharedStrings.xml"]]
    sheets = [parts[n] for n in names if n.startswith("xl/worksheets/")]
    assert len(sheets) == 2
    texts = []
    for sheet in sheets:
        assert sheet.find(".//m:f", NS) is None  # no formula anywhere
        for c in sheet.iterfind(".//m:c", NS):
            if c.get("t") is not None:
                assert c.get("t") == "s"  # every text is a shared string, never t="str" (a formula's result)
                texts.append(strings[int(c.find("m:v", NS).text)])
    for value in MUST_STAY_TEXT + list(RUNNERS.values()) + PHOTO_NAMES:
        assert value in texts, value
    # the number column is formatted as Text: cellXfs of its cells and of the column itself
    styles = parts["xl/styles.xml"]
    xfs = styles.find("m:cellXfs", NS)
    col_b = sheets[0].find("m:cols", NS)[1]
    assert xfs[int(col_b.get("style"))].get("numFmtId") == "49"  # "@"


def test_header_is_frozen_filtered_and_columns_are_sized(exported):
    wb = openpyxl.load_workbook(exported["xlsx"])
    for name, (_fmt, text) in SHEETS.items():
        ws = wb[name]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
        assert all(c.font.b for c in ws[1])
        for i, c in enumerate(ws[1]):
            width = ws.column_dimensions[c.column_letter].width
            lines = [line for cell in ws[c.column_letter] if cell.value is not None for line in str(cell.value).split("\n")]
            longest = max(map(len, lines))  # a cell with a line break is as wide as its longest line
            assert sheet_xlsx.MIN_WIDTH <= width <= sheet_xlsx.MAX_WIDTH and (width >= min(longest, sheet_xlsx.MAX_WIDTH))
            if i in text:
                assert ws.cell(2, i + 1).number_format == "@"
    number_col = [c.number_format for c in wb["Photos"]["B"][1:]]
    assert number_col and set(number_col) == {"@"}  # also the empty number of a photo without bibs


def test_export_is_deterministic_and_needs_a_file(project, tmp_path, capsys):
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    _export(capsys, project, "xlsx", a)
    _export(capsys, project, "xlsx", b)
    assert a.read_bytes() == b.read_bytes()  # fixed zip dates: a GUI and a CLI export compare equal
    assert main(["export", str(project), "--format", "xlsx"]) == 2
    assert "give --out FILE.xlsx" in capsys.readouterr().err
    with Store.open(project) as store, pytest.raises(ValueError, match="binary file"):
        export(store, "xlsx", None)


def test_control_characters_are_dropped_with_a_note(project, tmp_path, capsys):
    with Store.open(project) as store:
        store.add_bib(store.photos()[0].id, "12\x01\x0b34", None)
    out = tmp_path / "c.xlsx"
    err = _export(capsys, project, "xlsx", out)
    assert "note: Photos!B" in err and "control character(s)" in err and "'12\\x01\\x0b34'" in err
    with zipfile.ZipFile(out) as z:
        for n in z.namelist():
            ET.fromstring(z.read(n))
    wb = openpyxl.load_workbook(out)
    assert "1234" in {c.value for c in wb["Photos"]["B"]} and "1234" in {c.value for c in wb["Bibs"]["A"]}


def test_a_sheet_past_excels_rows_goes_on_in_another(project, tmp_path, capsys, monkeypatch):
    csv_out, out = tmp_path / "p.csv", tmp_path / "split.xlsx"
    _export(capsys, project, "csv", csv_out)
    monkeypatch.setattr(sheet_xlsx, "MAX_ROWS", 4)  # header + 3 rows a sheet
    err = _export(capsys, project, "xlsx", out)
    want = _expected(_csv_rows(csv_out), PHOTOS_TEXT)
    wb = openpyxl.load_workbook(out)
    photo_sheets = [n for n in wb.sheetnames if n.startswith("Photos")]
    assert photo_sheets == ["Photos", *(f"Photos {i}" for i in range(2, len(photo_sheets) + 1))]
    assert len(photo_sheets) == math.ceil((len(want) - 1) / 3) > 1
    rows = []
    for n in photo_sheets:
        got = [[c.value for c in r] for r in wb[n].iter_rows()]
        assert got[0] == want[0] and len(got) <= 4  # each with the header
        rows += got[1:]
    assert rows == want[1:]
    assert f"the Photos sheet has more rows than Excel's 4: it goes on in {', '.join(photo_sheets[1:])}" in err


def test_a_bibs_photo_names_past_a_cell_go_on_in_more_rows(project, tmp_path, capsys, monkeypatch):
    bib_out, out = tmp_path / "b.csv", tmp_path / "long.xlsx"
    with Store.open(project) as store:
        for p in store.photos():
            store.add_bib(p.id, "7", None)  # bib 7 in every photo: a long images cell
    _export(capsys, project, "bibcsv", bib_out)
    want = {r[0]: r[2] for r in _csv_rows(bib_out)[1:]}
    limit = max(len(n) for n in PHOTO_NAMES) + 3
    monkeypatch.setattr(sheet_xlsx, "MAX_CELL_CHARS", limit)
    with Store.open(project) as store:  # runner names longer than the limit would be refused: drop the start list here
        store.set_meta(META_KEY, None)
    err = _export(capsys, project, "xlsx", out)
    ws = openpyxl.load_workbook(out)["Bibs"]
    seven = [[c.value for c in r] for r in ws.iter_rows(min_row=2) if r[0].value == "7"]
    assert len(seven) == len(PHOTO_NAMES) and all(r[1] == len(PHOTO_NAMES) for r in seven)  # count on each row
    assert all(sheet_xlsx.utf16_len(r[2]) <= limit for r in seven)
    assert ";".join(r[2] for r in seven) == unguard(want["7"])
    assert f"bib 7: its {len(PHOTO_NAMES)} photos' names do not fit one Excel cell" in err


def test_a_text_too_long_for_a_cell_is_refused_and_nothing_written(project, tmp_path, capsys, monkeypatch):
    out = tmp_path / "r.xlsx"
    out.write_bytes(b"earlier")
    monkeypatch.setattr(sheet_xlsx, "MAX_CELL_CHARS", 40)  # the =HYPERLINK runner name is 46 characters
    assert main(["export", str(project), "--format", "xlsx", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error: " in err and "(name) would hold 46 characters; an Excel cell holds at most 40" in err
    assert out.read_bytes() == b"earlier"
    with Store.open(project) as store, pytest.raises(ExportError):
        export(store, "xlsx", out)


@pytest.mark.parametrize(("images", "limit"), [([], 5), (["abc"], 5), (["ab", "cd", "ef"], 5), (["abcdefg", "h"], 5), (["😀😀", "a"], 5)])
def test_split_images_keeps_order_and_fits(images, limit):
    parts = _split_images(images, limit)
    assert [i for p in parts for i in p] == images
    assert all(p for p in parts) or parts == [[]]
    for p in parts:  # a part over the limit is only ever one name alone (the cell check refuses it)
        assert sheet_xlsx.utf16_len(";".join(p)) <= limit or len(p) == 1
    assert all(sheet_xlsx.utf16_len(";".join(a + b[:1])) > limit for a, b in zip(parts, parts[1:]))  # each part as full as it can be


def test_sheet_writer_basics():
    assert [sheet_xlsx.column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]
    assert sheet_xlsx.utf16_len("a😀") == 3
    assert sheet_xlsx.clean_text("a\x00b\tc\nd\re\ufffe\udcff") == ("ab\tc\nd\re", 3)
    with pytest.raises(ValueError, match="cannot name"):
        sheet_xlsx.workbook_bytes([sheet_xlsx.Sheet("a/b", ["x"], [])])
    data, notes = sheet_xlsx.workbook_bytes([sheet_xlsx.Sheet("Empty", ["x", "y"], []),
                                              sheet_xlsx.Sheet("Odd", ["n"], [[float("nan")], [True], [" sp "]])])  # fmt: skip
    assert notes == []
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert [[c.value for c in r] for r in wb["Empty"].iter_rows()] == [["x", "y"]]
    assert [c.value for c in wb["Odd"]["A"]] == ["n", "nan", 1, " sp "]  # NaN stays readable, spaces kept


def test_written_atomically_a_failed_rename_keeps_the_earlier_file(project, tmp_path, capsys, monkeypatch):
    from bibtagger_gui.core import portable

    out = tmp_path / "w.xlsx"
    out.write_bytes(b"earlier")
    os_chmod_mode = 0o640
    out.chmod(os_chmod_mode)

    def refuse(src, dst):
        raise PermissionError(13, "in use by another program")

    with monkeypatch.context() as m:
        m.setattr(portable, "replace", refuse)
        assert main(["export", str(project), "--format", "xlsx", "--out", str(out)]) == 1
    assert "error: cannot write" in capsys.readouterr().err
    assert out.read_bytes() == b"earlier" and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    _export(capsys, project, "xlsx", out)  # the rename done: the whole workbook, the file's mode kept
    assert zipfile.is_zipfile(out) and (out.stat().st_mode & 0o777) == os_chmod_mode


def test_both_sheets_come_from_one_state_of_the_project(project, monkeypatch):
    """A bib saved by another program between the two sheets' reads is in neither sheet (one read
    transaction), never in the Bibs sheet only."""
    from bibtagger_gui.core import exporters

    real = exporters.bib_number_rows

    def write_then_read(store, *args, **kwargs):
        with Store.open(project) as other:  # the app saving an edit meanwhile
            other.add_bib(other.photos()[0].id, "777", (1.0, 1.0, 9.0, 9.0))
        return real(store, *args, **kwargs)

    monkeypatch.setattr(exporters, "bib_number_rows", write_then_read)
    with Store.open(project) as store:
        data, _rep = exporters.workbook(store)
        book = openpyxl.load_workbook(io.BytesIO(data))
        cells = {name: {c.value for row in book[name].iter_rows() for c in row} for name in ("Photos", "Bibs")}
        assert "777" not in cells["Photos"] and "777" not in cells["Bibs"]
        assert "777" in {b.number for bibs in store.all_bibs().values() for b in bibs}  # it was saved
