"""The xlsx and CSV exports as a real spreadsheet program reads them: LibreOffice Calc, headless
(docs/exports.md#checked-in-libreoffice).

A project built through the core API with the content spreadsheets like to reinterpret (bibs "0891",
"=1+1", "1/2", "3e5", "1-2", "TRUE"; runner names that look like numbers, dates, formulas; non-ASCII,
CR/LF and formula-like photo names in a non-ASCII folder; a name as long as an Excel cell holds; empty cells; a
thousand rows) is exported to xlsx, csv and bibcsv. ``soffice --convert-to fods`` turns each into flat
OpenDocument XML (one soffice start for the workbook, one per CSV import setting), which is parsed
and compared cell by cell, type included, with what we wrote; the conversion must report no error
and write every output. ``tests/office_probe.py`` (system Python + python3-uno) opens the files with
a view, which a conversion lacks, for the frozen header, the autofilter and the Text format.

soffice and python3-uno come from the Makefile's SYSDEPS: missing outside CI the tests skip, in CI
they fail.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bibtagger_gui.core import sheet_xlsx
from bibtagger_gui.core.demo import generate
from bibtagger_gui.core.exporters import BIBS_TEXT, PHOTOS_TEXT, export
from bibtagger_gui.core.sheet_csv import guard, unguard
from bibtagger_gui.core.startlist import StartList, save_to_store
from bibtagger_gui.core.store import Store
from tests.test_csv_exports import PHOTO_NAMES, RUNNERS

pytestmark = pytest.mark.slow  # starts LibreOffice (a few seconds)

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, the one python3-uno installs into
PROBE = Path(__file__).with_name("office_probe.py")
TIMEOUT_S = 180

# Bib numbers and runner names a spreadsheet likes to turn into numbers, dates, booleans or formulas.
NUMBERS = ["0891", "=1+1", "1/2", "3e5", "1-2", "12E5", "3-4", "00", "1.50", "TRUE", "Mar1", "1,5", "0042", "123456789012", "7B"]
NAMES = {"1/2": "3e5", "3e5": "=1+1", "1-2": "01/02/2026", "12E5": "0.10", "3-4": "  padded  ", "1.50": "line\nbreak",
         "TRUE": "TRUE", "Mar1": "1/2", "1,5": "1,5", "7B": "Ann 😀\tLee",
         "00": "Zoë " + "x" * (sheet_xlsx.MAX_CELL_CHARS - 4)}  # as long as an Excel cell holds  # fmt: skip
MORE_PHOTOS = ["Läufe/名前 写真 1.jpg", "Läufe/1-2.jpg"]
MANY = 1000  # bibs added on top: many rows, each number once
CSV_FILTER = "Text - txt - csv (StarCalc)"
CSV_UTF8 = "44,34,76,1"  # comma, double quote, UTF-8, from row 1: the Text Import dialog set for our files
# then: column types (none: Standard), language (1033 en-US: dates read month first, whatever the machine's
# locale), quoted field as text (no), detect special numbers (dates, booleans; the dialog's check box)
DETECT = {"special": f"{CSV_UTF8},,1033,false,true", "decimal": f"{CSV_UTF8},,1033,false,false"}
SHEETS = {"Photos": ("csv", PHOTOS_TEXT), "Bibs": ("bibcsv", BIBS_TEXT)}
HEAD = ["number", "n", "third"]
ODD_SHEET = "O'Brien Zoë 名前 (1)"
SPLIT = ["Photos", "Photos 2", "Photos 3", "Photos 4", ODD_SHEET]

NS = {"office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0", "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
      "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0"}  # fmt: skip


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _need(what: str, found: bool) -> None:
    """Skip without LibreOffice outside CI; in CI it must be there (the Makefile's SYSDEPS install it)."""
    if found:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide {what} (Makefile SYSDEPS: libreoffice-calc-nogui, python3-uno)")
    pytest.skip(f"{what} not installed (make sysdeps installs it; after a Makefile update: rm .venv/.sysdeps first)")


@pytest.fixture(scope="module")
def soffice() -> str:
    path = shutil.which("soffice")
    _need("soffice (LibreOffice)", path is not None)
    return str(path)


# ---------------------------------------------------------------- the project and its exports


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A photo folder (non-ASCII name, sub-folder) with hostile names, tricky bibs and a start list."""
    folder = tmp_path_factory.mktemp("office") / "Rennen Zoë 2026"
    names = PHOTO_NAMES + MORE_PHOTOS
    truth = generate(folder, count=len(names), seed=3, size=(120, 160))
    (folder / "ground_truth.json").unlink()
    for t, name in zip(truth, names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / t.image).rename(folder / name)
    with Store.open(folder) as store:
        store.scan()
        photos = {p.relpath: p for p in store.photos()}
        assert sorted(photos) == sorted(names)
        ids = [photos[n].id for n in names[:-1]]  # the last photo keeps no bib: a row with empty cells
        for i, number in enumerate([*RUNNERS, *NUMBERS]):
            box = (1.25 + i, 2.5, 30.123456789, 40.0) if i % 2 else None  # every other bib without a box
            store.add_bib(ids[i % len(ids)], number, box, 0.912345678 if i % 3 else None, source="model" if i % 3 else "human")
        for k in range(MANY):
            store.add_bib(ids[k % len(ids)], str(5000 + k), (k, k + 0.5, k + 10, k + 20.75), (k % 100) / 100)
        store.set_reviewed(ids[0], True)
        for p in photos.values():  # a recognized shoot (the bib-less last photo too): exports add no "not recognized" note
            store.set_model_version(p.id, "test-models")
        save_to_store(store, StartList({**RUNNERS, **NAMES}))
    return folder


@pytest.fixture(scope="module")
def exported(project, tmp_path_factory) -> dict[str, Path]:
    """The xlsx, csv and bibcsv exports, under non-ASCII file names."""
    out = tmp_path_factory.mktemp("exports") / "Ergebnisse Zoë"
    out.mkdir()
    paths = {"xlsx": out / "Fotos Zoë.xlsx", "csv": out / "Fotos Zoë.csv", "bibcsv": out / "Startnummern Zoë.csv"}
    with Store.open(project) as store:
        for fmt, path in paths.items():
            rep, _ = export(store, fmt, path)
            assert not rep.errors and not rep.notes, (rep.errors, rep.notes)
    # the writer's other sheets: continuation sheets ("Photos 2", Excel's row limit made small) and a name
    # the autofilter's defined name must quote
    rows = [[f"{i:04d}", i, i / 3] for i in range(10)]
    sheets = [*sheet_xlsx.split_rows(sheet_xlsx.Sheet("Photos", HEAD, rows, frozenset({0})), max_rows=4),
              sheet_xlsx.Sheet(ODD_SHEET, HEAD, rows[:2], frozenset({0}))]  # fmt: skip
    data, notes = sheet_xlsx.workbook_bytes(sheets)
    assert not notes
    paths["split"] = out / "Teile.xlsx"
    paths["split"].write_bytes(data)
    return paths


def _csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


# ---------------------------------------------------------------- LibreOffice: conversion to flat ODS


def convert(soffice: str, files: list[Path], outdir: Path, profile: Path, infilter: str | None = None) -> dict[Path, Path]:
    """``soffice --headless --convert-to fods`` of ``files`` in one start; each input's output, after checking that
    LibreOffice exited 0, printed no error (its only stderr line may be the javaldx warning) and wrote every output."""
    cmd = [soffice, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
           *([f"--infilter={infilter}"] if infilter else []), "--convert-to", "fods", "--outdir", str(outdir),
           *map(str, files)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert res.returncode == 0, res
    errors = [line for line in (res.stdout + res.stderr).splitlines() if line.strip() and "javaldx" not in line and not line.startswith("convert ")]
    assert not errors, errors  # e.g. "Error: source file could not be loaded" (soffice still exits 0)
    outputs = {f: outdir / (f.stem + ".fods") for f in files}
    missing = [str(f) for f, o in outputs.items() if not o.is_file() or not o.stat().st_size]
    assert not missing, f"LibreOffice wrote nothing for {missing}: {res}"
    return outputs


def _text(el: ET.Element) -> str:
    out = [el.text or ""]
    for child in el:
        if child.tag == _q("text", "s"):
            out.append(" " * int(child.get(_q("text", "c"), "1")))
        elif child.tag == _q("text", "tab"):
            out.append("\t")
        elif child.tag == _q("text", "line-break"):
            out.append("\n")
        else:
            out.append(_text(child))
        out.append(child.tail or "")
    return "".join(out)


_SHEET = r"(?:'(?:[^']|'')*'|[^.']*)"
_RANGE = re.compile(rf"\$?(?:'(?P<quoted>(?:[^']|'')*)'|(?P<plain>[^.']*))\.\$?(?P<start>[A-Z]+\$?\d+):(?:\$?{_SHEET}\.)?\$?(?P<end>[A-Z]+\$?\d+)")


def read_fods(path: Path) -> tuple[dict[str, list[list[tuple]]], dict[str, str]]:
    """The sheets of a flat ODS file, each a list of rows of ``(type, value)``: ("string", text), ("float",
    number), ("date", iso), …, or (None, None) for an empty cell, trailing empties dropped; and each sheet's
    autofilter range (a database range with filter buttons), "A1:J9"."""
    root = ET.parse(path).getroot()
    sheets: dict[str, list[list[tuple]]] = {}
    for table in root.iter(_q("table", "table")):
        rows: list[list[tuple]] = []
        for row in table.iter(_q("table", "table-row")):
            cells: list[tuple] = []
            for c in row:
                if c.tag not in (_q("table", "table-cell"), _q("table", "covered-table-cell")):
                    continue
                kind = c.get(_q("office", "value-type"))
                assert c.get(_q("table", "formula")) is None, f"{path.name}: a formula {c.get(_q('table', 'formula'))!r}"
                if kind is None:
                    cell: tuple = (None, None)
                elif kind == "string":
                    paras = c.findall("text:p", NS)
                    cell = ("string", c.get(_q("office", "string-value"), "\n".join(_text(p) for p in paras)))
                elif kind in ("float", "percentage", "currency"):
                    cell = (kind, float(c.get(_q("office", "value"))))
                else:  # date, time, boolean: never meant
                    cell = (kind, c.get(_q("office", f"{kind}-value")))
                repeat = int(c.get(_q("table", "number-columns-repeated"), "1"))
                cells += [cell] * (repeat if cell != (None, None) else min(repeat, 64))
            while cells and cells[-1] == (None, None):
                cells.pop()
            repeat = int(row.get(_q("table", "number-rows-repeated"), "1"))
            rows += [cells] * (repeat if cells else min(repeat, 2))
        while rows and not rows[-1]:
            rows.pop()
        sheets[table.get(_q("table", "name"))] = rows
    filters = {}
    for db in root.iter(_q("table", "database-range")):
        if db.get(_q("table", "display-filter-buttons")) == "true":
            m = _RANGE.fullmatch(db.get(_q("table", "target-range-address")))
            assert m, db.attrib
            filters[(m["quoted"] or "").replace("''", "'") or m["plain"]] = f"{m['start']}:{m['end']}"
    return sheets, filters


@pytest.fixture(scope="module")
def office(soffice, exported, tmp_path_factory) -> dict[str, tuple]:
    """LibreOffice's reading of each export: "xlsx", "split"; "csv-special"/"bibcsv-special" with the dialog's UTF-8
    + comma and Detect special numbers, "…-decimal" without it; "csv-text"/"bibcsv-text" with the text columns set
    to Text (docs/exports.md's advice)."""
    work = tmp_path_factory.mktemp("soffice")
    profile = work / "profile"
    books = convert(soffice, [exported["xlsx"], exported["split"]], work / "xlsx", profile)
    got = {"xlsx": read_fods(books[exported["xlsx"]]), "split": read_fods(books[exported["split"]])}
    csvs = [exported["csv"], exported["bibcsv"]]
    for detect, options in DETECT.items():
        for fmt, out in zip(("csv", "bibcsv"), convert(soffice, csvs, work / detect, profile, f"CSV:{options}").values()):
            got[f"{fmt}-{detect}"] = read_fods(out)
    for fmt, (_sheet, text) in [("csv", SHEETS["Photos"]), ("bibcsv", SHEETS["Bibs"])]:
        ncols = len(_csv_rows(exported[fmt])[0])
        columns = "/".join(f"{c + 1}/{2 if c in text else 1}" for c in range(ncols))  # 2: Text, 1: Standard
        out = convert(soffice, [exported[fmt]], work / f"{fmt}-text", profile, f"CSV:{CSV_UTF8},{columns},1033,false,true")[exported[fmt]]
        got[f"{fmt}-text"] = read_fods(out)
    return got


# ---------------------------------------------------------------- the workbook


def _meant(rows: list[list[str]], text: frozenset[int]) -> list[list[tuple]]:
    """What each cell of a CSV export means, as (type, value): text unguarded, numbers as numbers, empty as empty."""
    out = [[("string", v) for v in rows[0]]]
    for row in rows[1:]:
        cells = [(None, None) if v == "" else ("string", unguard(v)) if i in text else ("float", float(v)) for i, v in enumerate(row)]
        while cells and cells[-1] == (None, None):
            cells.pop()
        out.append(cells)
    return out


def test_libreoffice_reads_every_xlsx_cell_as_written(office, exported):
    sheets, filters = office["xlsx"]
    assert list(sheets) == list(SHEETS)
    for name, (fmt, text) in SHEETS.items():
        want = _meant(_csv_rows(exported[fmt]), text)
        got = sheets[name]
        assert len(got) == len(want), (name, len(got), len(want))
        for r, (g, w) in enumerate(zip(got, want)):
            assert g == w, (name, r + 1, g, w)
        assert filters.get(name) == f"A1:{'J' if name == 'Photos' else 'D'}{len(want)}", filters
    numbers = {c[1] for row in sheets["Photos"][1:] for c in row[1:2]}
    assert set(NUMBERS) - {"123456789012"} <= numbers  # "0891", "=1+1", "1/2", "3e5", "TRUE" all text
    names = {row[9][1] for row in sheets["Photos"][1:] if len(row) > 9}
    assert set(NAMES.values()) <= names and set(RUNNERS.values()) <= names
    assert {row[0][1] for row in sheets["Photos"][1:]} == set(PHOTO_NAMES + MORE_PHOTOS)  # CR, LF, "=", "@" names


def test_continuation_sheets_and_a_quoted_sheet_name_read_back(office):
    sheets, filters = office["split"]
    assert list(sheets) == SPLIT
    rows = []
    for name in SPLIT[:-1]:
        assert sheets[name][0] == [("string", h) for h in HEAD]  # each with the header
        assert filters.get(name) == f"A1:C{len(sheets[name])}", (name, filters)
        rows += sheets[name][1:]
    # spreadsheets keep 15 significant digits (the exports write the CSV's 6): 1/3 comes back as 0.333333333333333
    assert [[r[0], r[1], (r[2][0], float(f"{r[2][1]:.15g}"))] for r in rows] == [
        [("string", f"{i:04d}"), ("float", float(i)), ("float", float(f"{i / 3:.15g}"))] for i in range(10)]
    assert len(sheets[ODD_SHEET]) == 3 and filters.get(ODD_SHEET) == "A1:C3", filters


def _probe(files: list[dict], work: Path) -> list[dict]:
    if not Path(SYSTEM_PYTHON).exists() or subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True).returncode:
        _need("python3-uno (LibreOffice's Python bridge)", False)
    job, out = work / "job.json", work / "probe.json"
    job.write_text(json.dumps({"soffice": shutil.which("soffice"), "profile": str(work / "profile"), "files": files}))
    res = subprocess.run([SYSTEM_PYTHON, str(PROBE), str(job), str(out)], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert res.returncode == 0, res
    return json.loads(out.read_text())


def test_libreoffice_shows_the_header_frozen_filtered_and_text_columns_as_text(soffice, exported, tmp_path):
    book, split, photos_csv = _probe([{"path": str(exported["xlsx"])}, {"path": str(exported["split"])},
                                      {"path": str(exported["csv"]), "filter": CSV_FILTER, "options": CSV_UTF8}], tmp_path)  # fmt: skip
    assert "error" not in book and "error" not in split, (book, split)
    assert [s["name"] for s in book["sheets"]] == list(SHEETS)
    for sheet in book["sheets"]:
        fmt, text = SHEETS[sheet["name"]]
        rows = _csv_rows(exported[fmt])
        assert sheet["frozen"] == [0, 1], sheet  # the header row stays put when scrolling
        assert sheet["autofilter"] == f"A1:{'J' if fmt == 'csv' else 'D'}{len(rows)}", sheet
        formats = sheet["row2_formats"]
        assert [i for i, f in enumerate(formats) if f == "@"] == sorted(text), formats
        assert sheet["below_formats"] == formats  # the column is Text: a number typed there later stays text
    assert [s["name"] for s in split["sheets"]] == SPLIT
    assert all(s["frozen"] == [0, 1] and s["autofilter"] and s["below_formats"][0] == "@" for s in split["sheets"]), split
    # the probe can tell: a CSV has neither
    assert [(s["frozen"], s["autofilter"]) for s in photos_csv["sheets"]] == [(None, None)]


# ---------------------------------------------------------------- the CSV files


def _lines(text: str) -> str:
    """A CSV text as LibreOffice's CSV import keeps it: a CR (alone or before LF) inside a quoted field is a
    line break, LF (the xlsx keeps a CR)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize("detect", list(DETECT))
def test_libreoffice_reads_the_csv_files_as_utf8_comma_files_of_the_same_rows(office, exported, detect):
    """With the Text Import dialog's choices for these files (UTF-8, comma), Detect special numbers on or off:
    the header without the BOM, every row and column where it was (quoted CR/LF stay in their cell), no
    formula, no mojibake. A text cell comes back as written (with the formula guard's ' in front) unless
    LibreOffice guessed a type: the documented loss of a CSV in a spreadsheet ("0891" is 891; with special
    numbers "1/2" a date, "TRUE" a boolean), a number only where Python reads the same number."""
    special = detect == "special"
    for fmt in ("csv", "bibcsv"):
        rows = _csv_rows(exported[fmt])
        text = SHEETS["Photos" if fmt == "csv" else "Bibs"][1]
        ((name, got),) = office[f"{fmt}-{detect}"][0].items()
        assert name == exported[fmt].stem
        assert len(got) == len(rows)
        assert [c[1] for c in got[0]] == rows[0]  # "image", not "\ufeffimage" or "ï»¿image"
        guessed: dict[str, str] = {}
        for r, (g, w) in enumerate(zip(got[1:], rows[1:]), 2):
            w = w[: max((i + 1 for i, v in enumerate(w) if v), default=0)]
            assert len(g) == len(w), (fmt, r, g, w)
            for i, (cell, value) in enumerate(zip(g, w)):
                if value == "":
                    assert cell == (None, None), (fmt, r, i)
                elif i not in text:
                    assert cell == ("float", float(value)), (fmt, r, i, cell, value)
                elif cell[0] != "string":  # LibreOffice's guess: a number, a date, a boolean (read_fods: never a formula)
                    assert cell[0] in ("float", "date", "boolean"), (fmt, r, i, cell, value)
                    if cell[0] == "float":
                        assert cell[1] == float(value), (fmt, r, i, cell, value)
                    guessed[value] = cell[0]
                else:
                    assert cell[1] == _lines(value), (fmt, r, i, cell, value)  # exactly the CSV's text, guard included
        if fmt == "csv":  # the documented loss (use the xlsx): numbers always, dates and booleans when detected
            tricky = {v: guessed.get(v) for v in ("0891", "3e5", "0.10", "01/02/2026", "1/2", "TRUE", "=1+1", "'=1+1", "1,5", "Mar1")}
            assert tricky == {"0891": "float", "3e5": "float", "0.10": "float", "01/02/2026": "date" if special else None,
                              "1/2": "date" if special else None, "TRUE": "boolean" if special else None,
                              "=1+1": None, "'=1+1": None, "1,5": None, "Mar1": None}, tricky  # fmt: skip
        assert special or not {k for k, v in guessed.items() if v != "float"}


def test_libreoffice_keeps_every_csv_text_with_the_documented_text_columns(office, exported):
    """docs/exports.md's advice (Text for the number column in the import dialog), given for every text
    column: every cell is then exactly the CSV's text, numbers are numbers."""
    for fmt in ("csv", "bibcsv"):
        rows = _csv_rows(exported[fmt])
        text = SHEETS["Photos" if fmt == "csv" else "Bibs"][1]
        (got,) = office[f"{fmt}-text"][0].values()
        want = [[("string", v) for v in rows[0]]]
        for row in rows[1:]:
            cells = [(None, None) if v == "" else ("string", _lines(v)) if i in text else ("float", float(v)) for i, v in enumerate(row)]
            while cells and cells[-1] == (None, None):
                cells.pop()
            want.append(cells)
        assert len(got) == len(want)
        for r, (g, w) in enumerate(zip(got, want), 1):
            assert g == w, (fmt, r, g, w)
        assert guard("=1+1") in {c[1] for row in got for c in row}  # the guard's ' shows: never a live formula


def test_the_checks_can_fail(soffice, exported, tmp_path):
    """A workbook LibreOffice cannot load is reported (soffice itself exits 0), and a number cell where text was
    meant is seen: the checks above are not blind."""
    import zipfile

    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(exported["xlsx"].read_bytes()[:4000])
    with pytest.raises(AssertionError, match="source file could not be loaded|wrote nothing"):
        convert(soffice, [broken], tmp_path / "out", tmp_path / "profile")
    typed = tmp_path / "typed.xlsx"  # "0891" as a number cell, the mistake a writer without types makes
    with zipfile.ZipFile(exported["xlsx"]) as src, zipfile.ZipFile(typed, "w") as dst:
        strings = src.read("xl/sharedStrings.xml").decode()
        index = strings.split("<si>").index('<t xml:space="preserve">0891</t></si>') - 1
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(f' t="s"><v>{index}</v>'.encode(), b"><v>891</v>")
            dst.writestr(info.filename, data)
    sheets, _ = read_fods(convert(soffice, [typed], tmp_path / "out2", tmp_path / "profile")[typed])
    assert ("float", 891.0) in [c for row in sheets["Photos"] for c in row[1:2]]
    assert "0891" not in {c[1] for row in sheets["Photos"] for c in row[1:2]}

