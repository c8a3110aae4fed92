"""MTurk batch review core and CLI: the real batch CSV (through the mturk_csv fixture) and small hand-made CSVs."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import mturk
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.store import Store

COLUMNS = [
    "HITId", "AssignmentId", "WorkerId", "AssignmentStatus", "RequesterFeedback", "WorkTimeInSeconds",
    "Input.objects_to_find", "Input.image_url", "Answer.annotation_data", "Answer.label", "Approve", "Reject",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _store_dir(tmp_path, monkeypatch):
    # Store and verdict databases of the tests go to a tmp dir, never beside real data.
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


def answer(*boxes: tuple[float, float, float, float, str]) -> str:
    return json.dumps([{"left": x, "top": y, "width": w, "height": h, "label": lab} for x, y, w, h, lab in boxes])


def row(aid: str, image: str, boxes: str, worker: str = "W1", status: str = "Submitted", hit: str | None = None, **kw) -> dict:
    return {
        "HITId": hit or f"H_{image}", "AssignmentId": aid, "WorkerId": worker, "AssignmentStatus": status,
        "RequesterFeedback": kw.get("feedback", ""), "WorkTimeInSeconds": "30", "Input.objects_to_find": image,
        "Input.image_url": f"https://example.com/{image}", "Answer.annotation_data": boxes, "Answer.label": "{}",
    }  # fmt: skip


def write_csv(path: Path, rows: list[dict], columns: list[str] = COLUMNS, trailing_empty: bool = True) -> Path:
    """Write like MTurk: every field quoted, CRLF, and (as in real downloads) no Approve/Reject fields in the rows."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(columns)
        for r in rows:
            fields = [r.get(c, "") for c in columns]
            if trailing_empty:
                while fields and fields[-1] == "" and len(fields) > len(columns) - 2:
                    fields.pop()
            w.writerow(fields)
    return path


def photo(path: Path, w: int, h: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((h, w, 3), 200, np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


# --------------------------------------------------------------------------- the real batch


@pytest.fixture(scope="module")
def real_rows(mturk_csv) -> list[dict]:
    with open(mturk_csv, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def real_batch(mturk_csv) -> mturk.Batch:
    return mturk.read_batch(mturk_csv)


def labels_of(r: dict) -> list[str]:
    return [str(b.get("label", "")) for b in json.loads(r["Answer.annotation_data"] or "[]")]


def test_real_batch_counts_match_csv_module(real_batch, real_rows):
    assert len(real_batch.assignments) == len(real_rows) > 0
    assert real_batch.errors == []
    assert [a.assignment_id for a in real_batch.assignments] == [r["AssignmentId"] for r in real_rows]
    assert set(real_batch.images) == {r["Input.objects_to_find"] for r in real_rows}
    c = real_batch.counts()
    assert c["workers"] == len({r["WorkerId"] for r in real_rows})
    per_image = Counter(r["Input.objects_to_find"] for r in real_rows)
    assert c["images_with_several"] == sum(1 for n in per_image.values() if n > 1)
    for status, n in Counter(r["AssignmentStatus"] for r in real_rows).items():
        assert c[f"status:{status}"] == n
    boxes = sum(len(labels_of(r)) for r in real_rows)
    assert sum(len(a.boxes) for a in real_batch.assignments) == boxes
    first = real_batch.assignments[0]
    box = json.loads(real_rows[0]["Answer.annotation_data"])[0]
    assert first.boxes[0] == mturk.MTurkBox(box["left"], box["top"], box["left"] + box["width"], box["top"] + box["height"], box["label"])
    assert first.work_time == int(real_rows[0]["WorkTimeInSeconds"])


def test_real_batch_line_numbers_are_physical_lines(real_batch, mturk_csv):
    lines = mturk_csv.read_bytes().decode("utf-8").split("\r\n")
    for a in real_batch.assignments:
        assert lines[a.line - 1].startswith(f'"{a.hit_id}","'), a.line
    # The real file has feedback texts with line breaks, so records and lines differ.
    multiline = sum(1 for a in real_batch.assignments if "\n" in a.feedback)
    assert multiline > 0
    assert real_batch.assignments[-1].line == len(real_batch.assignments) + 1 + sum(
        a.feedback.count("\n") for a in real_batch.assignments[:-1]
    )


def test_real_batch_flags(real_batch, real_rows):
    non_digit = {r["AssignmentId"] for r in real_rows if any(not re.fullmatch(r"[0-9]+", lab.strip()) for lab in labels_of(r))}
    assert non_digit  # the real batch has 'race number', 'bib', '225.' ...
    assert {a.assignment_id for a in real_batch.assignments if mturk.FLAG_NON_DIGIT in a.flags} == non_digit
    empty = {r["AssignmentId"] for r in real_rows if not labels_of(r)}
    assert {a.assignment_id for a in real_batch.assignments if mturk.FLAG_EMPTY in a.flags} == empty

    by_image = defaultdict(list)
    for r in real_rows:
        by_image[r["Input.objects_to_find"]].append((r["AssignmentStatus"], {lab.strip() for lab in labels_of(r)}))
    differing = {img for img, sets in by_image.items() if len(sets) > 1 and any(s != sets[0][1] for _, s in sets)}
    assert differing  # workers' numbers differ on many images of the real batch ...
    # ... but every one of those is an approved answer beside one the requester rejected on MTurk: settled, not a
    # disagreement to look at (it was 124 images, 248 answers flagged "workers disagree")
    live = {img for img, sets in by_image.items() if len([s for st, s in sets if st != "Rejected"]) > 1}
    assert all(any(st == "Rejected" for st, _ in by_image[img]) for img in differing) and not live & differing
    assert set(real_batch.disagreements) == set()
    assert not [a for a in real_batch.assignments if mturk.FLAG_DISAGREEMENT in a.flags]


def test_real_batch_all_missing_in_empty_folder(real_batch, tmp_path):
    match = mturk.match_photos(real_batch, tmp_path)
    assert match.present == {}
    assert match.missing == sorted(real_batch.images)
    assert all(mturk.FLAG_MISSING_PHOTO in a.all_flags for a in real_batch.assignments)


def _pick_images(real_batch) -> tuple[str, str, str]:
    several = next(img for img, g in real_batch.images.items() if len(g) > 1 and all(a.boxes for a in g))
    single = next(img for img, g in real_batch.images.items() if len(g) == 1 and len(g[0].boxes) >= 2)
    small = next(img for img, g in real_batch.images.items() if img not in (several, single) and g[0].boxes)
    return several, single, small


def _make_photos(real_batch, folder: Path) -> tuple[str, str, str]:
    several, single, small = _pick_images(real_batch)
    for img, sub in ((several, ""), (single, "sub/dir")):
        boxes = [b for a in real_batch.images[img] for b in a.boxes]
        photo(folder / sub / img, int(max(b.x2 for b in boxes)) + 10, int(max(b.y2 for b in boxes)) + 10)
    b = real_batch.images[small][0].boxes[0]
    photo(folder / small, max(8, int(b.x2) - 5), int(b.y2) + 10)  # too narrow: the box leaves it
    return several, single, small


def test_real_batch_present_and_missing_photos(real_batch, tmp_path):
    several, single, small = _make_photos(real_batch, tmp_path)
    match = mturk.match_photos(real_batch, tmp_path)
    assert set(match.present) == {several, single, small}
    assert match.present[single].relpath == f"sub/dir/{single}"
    assert match.missing == sorted(set(real_batch.images) - {several, single, small})
    outside = {a.image for a in real_batch.assignments if mturk.FLAG_OUTSIDE in a.photo_flags}
    assert outside == {small}
    assert not any(mturk.FLAG_MISSING_PHOTO in a.all_flags for a in real_batch.images[several])
    # Re-matching against an empty folder recomputes the photo flags.
    mturk.match_photos(real_batch, tmp_path / "nothing")
    assert all(mturk.FLAG_MISSING_PHOTO in a.photo_flags for a in real_batch.assignments)


def test_real_batch_export_without_verdicts_is_byte_identical(real_batch, mturk_csv, tmp_path):
    out = tmp_path / "out.csv"
    final = {a.assignment_id: mturk.Verdict(a.assignment_id, mturk.APPROVE) for a in real_batch.assignments[:5] if a.final}
    rep = mturk.export_batch(real_batch, final, out)
    assert out.read_bytes() == mturk_csv.read_bytes()
    assert rep.untouched == len(real_batch.assignments)
    assert sorted(rep.ignored_final) == sorted(final)


def _reopen_some(mturk_csv: Path, dest: Path, n: int) -> tuple[Path, list[str]]:
    """A copy of the real batch (in tmp) where the first n assignments are Submitted again."""
    with open(mturk_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("AssignmentStatus")
    reopened = []
    for r in rows[1 : n + 1]:
        r[col] = "Submitted"
        reopened.append(r[rows[0].index("AssignmentId")])
    with open(dest, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    return dest, reopened


def test_real_batch_export_round_trip(mturk_csv, tmp_path):
    src, reopened = _reopen_some(mturk_csv, tmp_path / "batch.csv", 12)
    batch = mturk.read_batch(src)
    verdicts = {}
    for i, aid in enumerate(reopened[:9]):
        if i % 3 == 0:
            verdicts[aid] = mturk.Verdict(aid, mturk.APPROVE)
        elif i % 3 == 1:
            verdicts[aid] = mturk.Verdict(aid, mturk.REJECT, f"Bib number not entered correctly ({i}), \"see\" notes")
        else:
            verdicts[aid] = mturk.Verdict(aid, mturk.CORRECT)
    final_aid = next(a.assignment_id for a in batch.assignments if a.final)
    verdicts[final_aid] = mturk.Verdict(final_aid, mturk.REJECT, "too late")
    out = tmp_path / "upload.csv"
    rep = mturk.export_batch(batch, verdicts, out)
    assert rep.ignored_final == [final_aid]
    assert len(rep.approved) == sum(v.approves for k, v in verdicts.items() if k != final_aid)
    assert len(rep.rejected) == sum(not v.approves for k, v in verdicts.items() if k != final_aid)

    with open(src, newline="", encoding="utf-8") as f:
        before = list(csv.DictReader(f))
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        after = list(reader)
        assert reader.fieldnames == list(before[0].keys())
    assert len(after) == len(before)
    for b, a in zip(before, after):
        for col in b:
            if col not in ("Approve", "Reject"):
                assert a[col] == b[col], col
        v = verdicts.get(b["AssignmentId"])
        if v is not None and b["AssignmentStatus"] == "Submitted":
            assert a["Approve"] == ("x" if v.approves else "")
            assert a["Reject"] == ("" if v.approves else v.feedback)
        else:
            assert a["Approve"] == b["Approve"] and a["Reject"] == b["Reject"]  # untouched (absent in the download)
    # Rows without a verdict are byte-for-byte the input's lines.
    src_lines = src.read_bytes().split(b"\r\n")
    out_lines = out.read_bytes().split(b"\r\n")
    assert len(src_lines) == len(out_lines)
    changed = {a.line for a in batch.assignments if a.assignment_id in verdicts and a.pending}
    for n, (x, y) in enumerate(zip(src_lines, out_lines), 1):
        if n not in changed:
            assert x == y, n
        else:
            assert y.startswith(x)  # same fields, Approve/Reject appended


def test_real_batch_import_into_store_is_idempotent(real_batch, tmp_path):
    several, single, small = _make_photos(real_batch, tmp_path)
    store = Store.open(tmp_path)
    store.scan()
    verdicts = mturk.VerdictStore.open(store)
    match = mturk.match_photos(real_batch, store)
    assert set(match.present) == {several, single, small}
    expected = sum(
        1 for img in (several, single, small) for a in real_batch.images[img] if a.status != "Rejected" for b in a.boxes if b.is_digit
    )
    rep = mturk.import_into_store(real_batch, store, verdicts, match)
    assert rep.added == expected > 0
    assert len(rep.missing_photos) == len(real_batch.images) - 3
    mturk_bibs = [b for p in store.photos() for b in store.bibs(p.id) if b.source == "mturk"]
    assert len(mturk_bibs) == expected
    a = real_batch.images[single][0]
    bibs = store.bibs(match.present[single].photo_id)
    assert {b.extra["assignment_id"] for b in bibs} == {a.assignment_id}
    assert sorted(b.extra["label"] for b in bibs) == sorted(x.label for x in a.boxes if x.is_digit)
    assert sorted(b.extra["worker_id"] for b in bibs) == [a.worker_id] * len(bibs)

    rep2 = mturk.import_into_store(real_batch, store, verdicts, match)
    assert rep2.added == 0 and rep2.already_there == expected
    # Without the import log (another machine), the box comparison still prevents duplicates.
    verdicts.close()
    rep3 = mturk.import_into_store(real_batch, store, None, match)
    assert rep3.added == 0
    assert sum(len(store.bibs(p.id)) for p in store.photos()) == expected
    store.close()


def test_cli_import_real_batch(mturk_csv, tmp_path, capsys, real_batch):
    several, single, small = _make_photos(real_batch, tmp_path)
    assert main(["mturk", "import", str(mturk_csv), str(tmp_path), "--list", "0"]) == 0
    out = capsys.readouterr().out
    assert f"{len(real_batch.assignments)} assignments" in out
    assert f"photos: 3 present, {len(real_batch.images) - 3} missing" in out
    missing_block = out.split("missing photos:\n", 1)[1].split("flagged assignments")[0]
    assert {line.strip() for line in missing_block.splitlines()} == set(real_batch.images) - {several, single, small}
    flagged = next(a for a in real_batch.assignments if mturk.FLAG_NON_DIGIT in a.flags)
    assert f"line {flagged.line}: {flagged.image}" in out
    assert f"disagreements: {len(real_batch.disagreements)} images" in out
    assert "mturk bibs added" in out
    # A second import adds nothing.
    assert main(["mturk", "import", str(mturk_csv), str(tmp_path)]) == 0
    assert "store: 0 mturk bibs added" in capsys.readouterr().out


# --------------------------------------------------------------------------- hand-made CSVs


def test_a_truncated_download_is_refused_not_blamed_on_a_worker(mturk_csv, tmp_path):
    data = mturk_csv.read_bytes()
    cut = data.index(b"\"left\"", len(data) // 2) + 3  # inside a worker's quoted annotation_data
    truncated = tmp_path / "truncated.csv"
    truncated.write_bytes(data[:cut])
    with pytest.raises(mturk.BatchFormatError, match="ends inside a quoted field"):
        mturk.read_batch(truncated)


def test_malformed_rows_are_reported_with_their_line(tmp_path):
    good = answer((10, 10, 50, 30, "12"))
    rows = [
        row("A1", "p1.jpg", good, feedback="two\r\nlines"),  # line 2-3
        row("A2", "p2.jpg", '[{"left": 1, "top": 2, "width": 3'),  # line 4: broken JSON
        row("A3", "p3.jpg", answer((10, 10, 0, 30, "7"), (1, 1, 5, 5, "8"))),  # line 5: zero width (box 1 dropped)
        row("A4", "p4.jpg", answer((10, 10, -4, 30, "9"))),  # line 6: negative width
        row("A1", "p5.jpg", good),  # line 7: duplicate AssignmentId
        row("A6", "p6.jpg", '{"not": "boxes"}'),  # line 8: object without boxes
        row("A7", "p7.jpg", '[{"left": "a", "top": 1, "width": 2, "height": 3, "label": "1"}]'),  # line 9
        row("A8", "p8.jpg", ""),  # line 10: empty answer, not an error
        row("A9", "p9.jpg", answer((-5, 10, 20, 20, "33"))),  # line 11: negative position
    ]
    path = write_csv(tmp_path / "b.csv", rows)
    with open(path, "a", newline="", encoding="utf-8") as f:
        f.write('"H_short","A10","W1"\r\n')  # line 12: missing columns
        f.write(",".join(['"x"'] * (len(COLUMNS) + 2)) + "\r\n")  # line 13: too many fields
        f.write('"H_last","A11","W2","Submitted","","5","p11.jpg","u","[]","{}"\r\n')  # line 14: fine, empty list
    batch = mturk.read_batch(path)
    by_line = defaultdict(list)
    for e in batch.errors:
        by_line[e.line].append(e.message)
    assert set(by_line) == {4, 5, 6, 7, 8, 9, 12, 13}
    assert "not valid JSON" in by_line[4][0]
    assert "width and height must be positive" in by_line[5][0]
    assert "width and height must be positive" in by_line[6][0]
    assert "duplicate AssignmentId A1 (first on line 2)" in by_line[7][0]
    assert "without a list of boxes" in by_line[8][0]
    assert "non-numeric left" in by_line[9][0]
    assert "missing columns" in by_line[12][0] and "AssignmentStatus" in by_line[12][0]
    assert "fields but the header has" in by_line[13][0]
    ids = [a.assignment_id for a in batch.assignments]
    assert ids == ["A1", "A2", "A3", "A4", "A6", "A7", "A8", "A9", "A11"]
    a = batch.by_id
    assert a["A1"].line == 2 and a["A2"].line == 4 and a["A11"].line == 14
    assert mturk.FLAG_BAD_ANSWER in a["A2"].flags and a["A2"].boxes == []
    assert [b.label for b in a["A3"].boxes] == ["8"]
    assert mturk.FLAG_EMPTY in a["A8"].flags and mturk.FLAG_EMPTY in a["A11"].flags
    assert mturk.FLAG_OUTSIDE in a["A9"].flags
    assert all(str(e).startswith(f"line {e.line}: ") for e in batch.errors)
    # Skipped rows are still written back unchanged.
    out = tmp_path / "out.csv"
    mturk.export_batch(batch, {}, out)
    assert out.read_bytes() == path.read_bytes()


def test_unusable_files_raise_batch_format_error(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "other.csv").write_text("name,value\r\na,1\r\n")
    for name, text in (("empty.csv", "empty file"), ("other.csv", "missing columns"), ("absent.csv", "cannot read")):
        with pytest.raises(mturk.BatchFormatError, match=text):
            mturk.read_batch(tmp_path / name)


def test_labels_flags_and_disagreement_rules(tmp_path):
    rows = [
        row("A1", "same.jpg", answer((100, 100, 50, 30, "12"), (300, 100, 50, 30, "7")), worker="W1"),
        row("A2", "same.jpg", answer((102, 101, 50, 30, "12"), (301, 99, 52, 30, " 7 ")), worker="W2"),
        row("A3", "moved.jpg", answer((100, 100, 50, 30, "12")), worker="W1"),
        row("A4", "moved.jpg", answer((140, 100, 50, 30, "12")), worker="W2"),  # IoU ~0.11
        row("A5", "sets.jpg", answer((100, 100, 50, 30, "12")), worker="W1"),
        row("A6", "sets.jpg", answer((100, 100, 50, 30, "13")), worker="W2"),
        row("A7", "odd.jpg", answer((1, 1, 5, 5, "1234a"), (10, 1, 5, 5, "?"), (20, 1, 5, 5, "none"), (30, 1, 5, 5, "030")), worker="W1"),
    ]
    batch = mturk.read_batch(write_csv(tmp_path / "b.csv", rows))
    a = batch.by_id
    assert not a["A1"].flags and not a["A2"].flags
    assert "same.jpg" not in batch.disagreements
    assert "IoU" in batch.disagreements["moved.jpg"][0]
    assert "{12} vs {13}" in batch.disagreements["sets.jpg"][0]
    assert all(mturk.FLAG_DISAGREEMENT in a[x].flags for x in ("A3", "A4", "A5", "A6"))
    assert mturk.FLAG_NON_DIGIT in a["A7"].flags
    assert [b.is_digit for b in a["A7"].boxes] == [False, False, False, True]
    agreed = batch.consensus("same.jpg")
    assert sorted(b.number for b in agreed) == ["12", "7"]
    b12 = next(b for b in agreed if b.number == "12")
    assert b12.box == (101.0, 100.5, 151.0, 130.5) and b12.confidence == 1.0
    assert batch.consensus("moved.jpg") == [] and batch.consensus("odd.jpg") == []
    assert mturk.consensus(batch.images["same.jpg"], min_workers=3) == []


def test_an_answer_rejected_on_mturk_disagrees_with_nobody(tmp_path):
    """The real batch's shape: an approved answer and a rejected one on one HIT. The rejected one is settled (not
    imported, confirms nothing), so neither is a "disagreement"; a third, live answer still disagrees."""
    rows = [
        row("A1", "p.jpg", answer((100, 100, 50, 30, "12")), worker="W1", status="Approved"),
        row("A2", "p.jpg", answer((100, 100, 50, 30, "13")), worker="W2", status="Rejected", feedback="wrong number"),
        row("A3", "q.jpg", answer((100, 100, 50, 30, "12")), worker="W1", status="Approved"),
        row("A4", "q.jpg", answer((100, 100, 50, 30, "13")), worker="W2", status="Rejected", feedback="wrong number"),
        row("A5", "q.jpg", answer((100, 100, 50, 30, "14")), worker="W3"),
    ]
    batch = mturk.read_batch(write_csv(tmp_path / "b.csv", rows))
    a = batch.by_id
    assert "p.jpg" not in batch.disagreements and not a["A1"].flags and not a["A2"].flags
    assert batch.disagreements["q.jpg"] == ["W1 vs W3: {12} vs {14}"]
    assert mturk.FLAG_DISAGREEMENT in a["A5"].flags and mturk.FLAG_DISAGREEMENT not in a["A4"].flags


def test_a_rejected_answer_agrees_with_nobody(tmp_path):
    """The dialog's "Agreed by 2+ workers" line: an answer rejected on MTurk, or by a verdict here, is no worker
    who agrees (it used to count, so one live answer and a rejected copy of it read as agreed)."""
    rows = [
        row("A1", "p.jpg", answer((100, 100, 50, 30, "12")), worker="W1"),
        row("A2", "p.jpg", answer((101, 100, 50, 30, "12")), worker="W2", status="Rejected", feedback="copied"),
        row("A3", "q.jpg", answer((100, 100, 50, 30, "12")), worker="W1"),
        row("A4", "q.jpg", answer((101, 100, 50, 30, "12")), worker="W2"),
    ]
    batch = mturk.read_batch(write_csv(tmp_path / "b.csv", rows))
    assert batch.consensus("p.jpg") == []
    assert [b.number for b in batch.consensus("q.jpg")] == ["12"]
    assert batch.consensus("q.jpg", rejected={"A4"}) == []


def test_verdict_rules_and_persistence(tmp_path):
    batch = mturk.read_batch(write_csv(tmp_path / "b.csv", [
        row("A1", "p.jpg", answer((1, 1, 5, 5, "1"))),
        row("A2", "p.jpg", answer((1, 1, 5, 5, "1")), worker="W2", status="Approved"),
    ]))  # fmt: skip
    for bad in ("", "  ", "x", "X"):
        with pytest.raises(mturk.VerdictError):
            mturk.Verdict("A1", mturk.REJECT, bad)
    with pytest.raises(mturk.VerdictError):
        mturk.Verdict("A1", mturk.REJECT, "y" * (mturk.MAX_FEEDBACK + 1))
    with pytest.raises(mturk.VerdictError):
        mturk.Verdict("A1", "maybe")
    db = tmp_path / "v" / "mturk.db"
    with mturk.VerdictStore(db) as vs:
        with pytest.raises(mturk.VerdictError, match="already Approved"):
            vs.set(mturk.Verdict("A2", mturk.APPROVE), batch.by_id["A2"])
        vs.set(mturk.Verdict("A1", mturk.REJECT, "Bib number not entered correctly"), batch.by_id["A1"])
    with mturk.VerdictStore(db) as vs:  # reopened: the verdict was committed as it was made
        v = vs.get("A1")
        assert v.action == mturk.REJECT and v.feedback == "Bib number not entered correctly" and v.updated
        assert vs.get("A2") is None
        vs.clear("A1")
        assert vs.all() == {}


def test_export_keeps_bom_newlines_and_missing_columns(tmp_path):
    cols = [c for c in COLUMNS if c not in ("Approve", "Reject")]
    text = ",".join(cols) + "\n" + ",".join(row("A1", "p.jpg", "[]").get(c, "") for c in cols) + "\n"
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    batch = mturk.read_batch(path)
    assert batch.bom and batch.newline == "\n" and batch.assignments[0].assignment_id == "A1"
    out = tmp_path / "out.csv"
    mturk.export_batch(batch, {"A1": mturk.Verdict("A1", mturk.REJECT, "No box drawn")}, out)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data
    with open(out, newline="", encoding="utf-8-sig") as f:
        (r,) = list(csv.DictReader(f))
    assert r["Approve"] == "" and r["Reject"] == "No box drawn" and r["AssignmentId"] == "A1"


def test_export_keeps_a_cp1252_batch_cp1252_unless_feedback_needs_more(tmp_path):
    """A batch re-saved by Excel as cp1252 stays cp1252, but feedback it cannot hold ("≠", "→")
    makes the file UTF-8 with a BOM instead of "?" in the worker's reason, and the report says so."""
    cols = [c for c in COLUMNS if c not in ("Approve", "Reject")]
    text = ",".join(cols) + "\r\n" + ",".join(row("A1", "Läufer.jpg", "[]").get(c, "") for c in cols) + "\r\n"
    path = tmp_path / "excel.csv"
    path.write_bytes(text.encode("cp1252"))
    batch = mturk.read_batch(path)
    assert batch.encoding == "cp1252" and not batch.bom
    plain = tmp_path / "plain.csv"
    rep = mturk.export_batch(batch, {"A1": mturk.Verdict("A1", mturk.REJECT, "Nummer fehlt – bitte prüfen")}, plain)
    assert rep.encoding == "cp1252" and rep.encoding_note == ""
    assert plain.read_bytes().decode("cp1252").count("Nummer fehlt – bitte prüfen") == 1
    wide = tmp_path / "wide.csv"
    reason = "Nummer 0891 ≠ 891 → bitte prüfen"
    rep = mturk.export_batch(batch, {"A1": mturk.Verdict("A1", mturk.REJECT, reason)}, wide)
    assert rep.encoding == "utf-8" and "'≠'" in rep.encoding_note and "cp1252" in rep.encoding_note
    data = wide.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    with open(wide, newline="", encoding="utf-8-sig") as f:
        (r,) = list(csv.DictReader(f))
    assert r["Reject"] == reason and r["Approve"] == "" and "Läufer.jpg" in r["Input.image_url"]


def test_a_utf8_bom_over_a_cp1252_body_is_not_written_back_over_cp1252_bytes(tmp_path):
    """A batch whose UTF-8 BOM sits over cp1252 text (an editor's mix-up) is read as cp1252; written back
    it has no BOM, so no reader takes its cp1252 bytes for UTF-8."""
    cols = [c for c in COLUMNS if c not in ("Approve", "Reject")]
    text = ",".join(cols) + "\n" + ",".join(row("A1", "Läufer.jpg", "[]").get(c, "") for c in cols) + "\n"
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("cp1252"))
    batch = mturk.read_batch(path)
    assert batch.encoding == "cp1252" and not batch.bom
    out = tmp_path / "out.csv"
    mturk.export_batch(batch, {"A1": mturk.Verdict("A1", mturk.REJECT, "Nummer fehlt")}, out)
    data = out.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and "Läufer.jpg" in data.decode("cp1252")


def test_match_photos_through_store_and_correct_into_store(tmp_path):
    folder = tmp_path / "photos"
    photo(folder / "p.jpg", 200, 100)
    batch = mturk.read_batch(write_csv(tmp_path / "b.csv", [
        row("A1", "p.jpg", answer((10, 10, 40, 20, "12"), (150, 20, 80, 20, "race number"))),
        row("A2", "gone.jpg", answer((1, 1, 5, 5, "3"))),
    ]))  # fmt: skip
    store = Store.open(folder)
    store.scan()
    match = mturk.match_photos(batch, store)
    assert list(match.present) == ["p.jpg"] and match.missing == ["gone.jpg"]
    ref = match.present["p.jpg"]
    assert (ref.width, ref.height) == (200, 100) and ref.photo_id == store.photo_by_path("p.jpg").id
    a = batch.by_id["A1"]
    assert mturk.FLAG_OUTSIDE in a.photo_flags  # 150 + 80 > 200
    assert mturk.outside_boxes(a, ref) == [a.boxes[1]]
    added = mturk.correct_into_store(a, store, ref.photo_id)
    assert [(b.number, b.source) for b in added] == [("12", "human"), ("race number", "human")]
    assert mturk.correct_into_store(a, store, ref.photo_id) == []  # not duplicated
    assert len(store.bibs(ref.photo_id)) == 2
    store.close()


def test_auto_review(tmp_path):
    folder = tmp_path / "photos"
    photo(folder / "model.jpg", 400, 300)
    rows = [
        row("A1", "two.jpg", answer((100, 100, 50, 30, "12")), worker="W1"),
        row("A2", "two.jpg", answer((101, 100, 50, 30, "12")), worker="W2"),
        row("A3", "alone.jpg", answer((100, 100, 50, 30, "12")), worker="W1"),
        row("A4", "odd.jpg", answer((100, 100, 50, 30, "12a")), worker="W1"),
        row("A5", "odd.jpg", answer((100, 100, 50, 30, "12a")), worker="W2"),
        row("A6", "model.jpg", answer((10, 10, 40, 20, "55")), worker="W1"),
        row("A7", "two.jpg", answer((100, 100, 50, 30, "12")), worker="W3", status="Approved"),
        # a rejected answer confirms nothing: rejected on MTurk, or by our own verdict
        row("A8", "rej.jpg", answer((100, 100, 50, 30, "7")), worker="W1", status="Rejected"),
        row("A9", "rej.jpg", answer((100, 100, 50, 30, "7")), worker="W2"),
        row("A10", "vr.jpg", answer((100, 100, 50, 30, "8")), worker="W1"),
        row("A11", "vr.jpg", answer((100, 100, 50, 30, "8")), worker="W2"),
    ]
    batch = mturk.read_batch(write_csv(tmp_path / "b.csv", rows))
    store = Store.open(folder)
    store.scan()
    store.set_model_bibs(store.photo_by_path("model.jpg").id, [Bib("55", (11.0, 10.0, 51.0, 31.0), 0.9)], "test")
    match = mturk.match_photos(batch, store)
    with mturk.VerdictStore.open(store) as vs:
        vs.set(mturk.Verdict("A10", mturk.REJECT, "box on the wrong bib"), batch.assignment("A10"))
        result = mturk.auto_review(batch, match, vs, store)
        assert sorted(result.approved) == ["A1", "A2", "A6"]
        held = {a.assignment_id: why for a, why in result.held}
        assert set(held) == {"A3", "A4", "A5", "A9", "A11"}
        assert "non-digit" in held["A4"] and "confirms" in held["A3"]
        assert {k: v.action for k, v in vs.all().items()} == {"A1": "approve", "A2": "approve", "A6": "approve", "A10": "reject"}
        again = mturk.auto_review(batch, match, vs, store)
        assert again.approved == []
    store.close()


def test_cli_review_names_rejected_answers_whose_boxes_stay_on_accepted_photos(tmp_path, capsys):
    """A rejection given after the photo was accepted leaves the worker's (now human) boxes: `mturk review` says
    which, where, and what to do; a rejection before any Accept took the boxes out and is not listed."""
    from bibtagger_gui.core import photo_batch

    folder = tmp_path / "photos"
    photo(folder / "two.jpg", 400, 300)
    photo(folder / "one.jpg", 400, 300)
    rows = [
        row("A1", "two.jpg", answer((100, 100, 50, 30, "12"), (200, 100, 50, 30, "7")), worker="W1"),
        row("A2", "two.jpg", answer((101, 100, 50, 30, "12")), worker="W2"),
        row("A3", "one.jpg", answer((100, 100, 50, 30, "5")), worker="W3"),
    ]
    src = write_csv(tmp_path / "b.csv", rows)
    assert main(["mturk", "import", str(src), str(folder)]) == 0
    batch = mturk.read_batch(src)
    store = Store.open(folder)
    two, one = store.photo_by_path("two.jpg").id, store.photo_by_path("one.jpg").id
    photo_batch.accept_photo(store, two)
    with mturk.VerdictStore.open(store) as vs:
        for aid, pid in (("A1", two), ("A3", one)):
            vs.set(mturk.Verdict(aid, mturk.REJECT, "wrong bib"), batch.assignment(aid))
            mturk.sync_verdict_bibs(batch.assignment(aid), store, pid, mturk.REJECT)
    assert sorted(b.number for b in store.bibs(two) if b.extra and b.extra.get("assignment_id") == "A1") == ["12", "7"]
    assert store.bibs(one) == []
    store.close()
    capsys.readouterr()
    assert main(["mturk", "review", str(src), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "rejected answers whose boxes stay on accepted photos: 1" in out
    assert "W1 (A1), rejected: photo two.jpg was already accepted with this worker's box(es) 12, 7; they stay" in out
    assert "open the photo to fix them" in out and "one.jpg" not in out.split("stay on accepted")[1]


# MTurk's own batch download header (every column, in its order; the real batch in ../shared has exactly these)
MTURK_HEADER = [
    "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime", "MaxAssignments",
    "RequesterAnnotation", "AssignmentDurationInSeconds", "AutoApprovalDelayInSeconds", "Expiration",
    "NumberOfSimilarHITs", "LifetimeInSeconds", "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime",
    "SubmitTime", "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback", "WorkTimeInSeconds",
    "LifetimeApprovalRate", "Last30DaysApprovalRate", "Last7DaysApprovalRate", "Input.objects_to_find",
    "Input.image_url", "Answer.annotation_data", "Answer.label", "Approve", "Reject",
]  # fmt: skip


def test_the_mturk_header_is_the_real_batchs(mturk_csv):
    with open(mturk_csv, newline="", encoding="utf-8") as f:
        assert next(csv.reader(f)) == MTURK_HEADER


def test_the_reject_after_accept_note_names_a_box_the_reviewer_retyped(tmp_path, capsys):
    """The note on a rejection after Accept listed only the worker's boxes that still read as typed: one the reviewer had
    retyped since (the worker's 71 now 17, on the worker's box) stays on the photo too and was left out. It is named
    now, by its number and the worker's label; on a photo not accepted, the boxes the reviewer edited stay by the
    Reject rule and no 'already accepted' line is written (one was, for a box only moved)."""
    from bibtagger_gui.core import photo_batch

    folder = tmp_path / "photos"
    photo(folder / "two.jpg", 400, 300)
    photo(folder / "one.jpg", 400, 300)
    extra = {"HITTypeId": "3SJ5GB440G69LJ04YEJPBJXSQIZ4QA", "Title": "Locate bib number in an image", "Reward": "$0.04",
             "MaxAssignments": "2", "AcceptTime": "Wed Apr 04 10:26:23 PDT 2018", "SubmitTime": "Wed Apr 04 10:26:53 PDT 2018",
             "LifetimeApprovalRate": "97% (235/242)"}  # fmt: skip
    rows = [
        {**extra, **row("A1", "two.jpg", answer((100, 100, 50, 30, "12"), (200, 100, 50, 30, "71")), worker="W1")},
        {**extra, **row("A2", "two.jpg", answer((101, 100, 50, 30, "12")), worker="W2")},
        {**extra, **row("A3", "one.jpg", answer((100, 100, 50, 30, "5"), (200, 100, 50, 30, "8")), worker="W3")},
    ]
    src = write_csv(tmp_path / "batch.csv", rows, columns=MTURK_HEADER)
    assert main(["mturk", "import", str(src), str(folder)]) == 0
    batch = mturk.read_batch(src)
    store = Store.open(folder)
    two, one = store.photo_by_path("two.jpg").id, store.photo_by_path("one.jpg").id
    photo_batch.accept_photo(store, two)
    of = lambda pid, aid: [r for r in store.bibs(pid) if r.extra and r.extra.get("assignment_id") == aid]  # noqa: E731
    store.update_bib(next(r for r in of(two, "A1") if r.number == "71").id, number="17")  # retyped after Accept
    five = next(r for r in of(one, "A3") if r.number == "5")
    store.update_bib(five.id, box=(110, 100, 160, 130))  # only moved, on a photo not accepted
    with mturk.VerdictStore.open(store) as vs:
        for aid, pid in (("A1", two), ("A3", one)):
            vs.set(mturk.Verdict(aid, mturk.REJECT, "wrong bib"), batch.assignment(aid))
            mturk.sync_verdict_bibs(batch.assignment(aid), store, pid, mturk.REJECT)
    stay = sorted((r.number, r.extra["label"]) for r in of(two, "A1"))
    assert stay == [("12", "12"), ("17", "71")]  # both of W1's boxes stay on the accepted photo
    assert [r.number for r in of(one, "A3")] == ["5"]  # the edited one stays; the unedited 8 went
    assert sorted((r.number, r.extra["label"]) for r in mturk.kept_after_reject(batch.assignment("A1"), store, two)) == stay
    assert mturk.kept_after_reject(batch.assignment("A3"), store, one) == []
    store.close()
    capsys.readouterr()
    assert main(["mturk", "review", str(src), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "rejected answers whose boxes stay on accepted photos: 1" in out
    assert ("W1 (A1), rejected: photo two.jpg was already accepted with this worker's box(es) 12, 17 (you retyped the "
            "worker's 71); they stay (a rejection judges the worker, Accept judged the photo)") in out
    assert "one.jpg was already accepted" not in out


def test_cli_review_and_export(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    rows = [
        row("A1", "two.jpg", answer((100, 100, 50, 30, "12")), worker="W1"),
        row("A2", "two.jpg", answer((101, 100, 50, 30, "12")), worker="W2"),
        row("A3", "odd.jpg", answer((100, 100, 50, 30, "bib")), worker="W1"),
    ]
    src = write_csv(tmp_path / "b.csv", rows)
    assert main(["mturk", "review", str(src), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "waiting for a verdict: 3" in out and "line 4: odd.jpg" in out
    assert main(["mturk", "review", str(src), str(folder), "--auto"]) == 0
    out = capsys.readouterr().out
    assert "auto-approved: 2" in out and "line 4: odd.jpg" in out
    with mturk.VerdictStore.open(folder) as vs:
        vs.set(mturk.Verdict("A3", mturk.REJECT, "You should input a number as a label"))
    upload = tmp_path / "upload.csv"
    assert main(["mturk", "export", str(src), str(folder), "--out", str(upload)]) == 0
    assert "2 approved, 1 rejected" in capsys.readouterr().out
    with open(upload, newline="", encoding="utf-8") as f:
        got = {r["AssignmentId"]: (r["Approve"], r["Reject"]) for r in csv.DictReader(f)}
    assert got == {"A1": ("x", ""), "A2": ("x", ""), "A3": ("", "You should input a number as a label")}
    assert main(["mturk", "export", str(src), str(folder), "--out", str(src)]) == 1
    assert "must not be the input" in capsys.readouterr().err
    assert main(["mturk", "export", str(src), str(tmp_path / "nope"), "--out", str(upload)]) == 1
    (tmp_path / "bad.csv").write_text("a,b\r\n1,2\r\n")
    assert main(["mturk", "import", str(tmp_path / "bad.csv"), str(folder)]) == 1
    assert "missing columns" in capsys.readouterr().err


def test_an_upload_file_in_a_missing_folder_is_refused_and_no_folder_is_made(tmp_path, capsys):
    """`mturk export --out /typo/up.csv` made the folders; the upload file now goes into a folder that exists, as
    every output does (core.store.out_folder_problem), from the command line and from the dialog (export_batch)."""
    folder = tmp_path / "photos"
    photo(folder / "two.jpg", 200, 100)
    src = write_csv(tmp_path / "b.csv", [row("A1", "two.jpg", answer((10, 10, 40, 20, "12")))])
    upload = tmp_path / "nonexist" / "up.csv"
    assert main(["mturk", "export", str(src), str(folder), "--out", str(upload)]) == 1
    assert capsys.readouterr().err.splitlines() == [f"error: {upload.parent}: no such folder, so up.csv cannot be "
                                                    "written there (make the folder first, or choose another place)"]  # fmt: skip
    with pytest.raises(OSError, match=f"^{upload.parent}: no such folder"):
        mturk.export_batch(mturk.read_batch(src), {}, upload)
    assert not upload.parent.exists()


class _ClosedPipe(io.StringIO):
    """stdout whose reader went away (`| head`): every write fails."""

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_cli_import_writes_the_store_before_a_closed_stdout_stops_the_listing(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    photo(folder / "p.jpg", 200, 100)
    src = write_csv(tmp_path / "b.csv", [row("A1", "p.jpg", answer((10, 10, 40, 20, "12")))])
    monkeypatch.setattr("sys.stdout", _ClosedPipe())
    assert main(["mturk", "import", str(src), str(folder), "--list", "0"]) == 141
    with Store.open(folder) as store:
        assert [(b.number, b.source) for b in store.bibs(store.photo_by_path("p.jpg").id)] == [("12", "mturk")]


def test_finish_pending_verdict_writes_the_noted_verdict_once(tmp_path):
    from bibtagger_gui.core.store import Store

    folder = tmp_path / "photos"
    photo(folder / "a.jpg", 100, 80)
    with Store.open(folder) as store, mturk.VerdictStore.open(store) as verdicts:
        assert mturk.finish_pending_verdict(store, verdicts) is None  # no note: nothing to do
        v = mturk.Verdict("A1", mturk.REJECT, "no bib in the box").stamped()
        mturk.note_pending_verdict(store, "A1", v)
        assert mturk.finish_pending_verdict(store, verdicts) == ("A1", v)
        assert verdicts.all() == {"A1": v} and store.get_meta(mturk.PENDING_META) is None
        mturk.note_pending_verdict(store, "A1", None)  # an interrupted clear (U, or an undo to no verdict)
        assert mturk.finish_pending_verdict(store, verdicts) == ("A1", None)
        assert verdicts.all() == {}
        store.set_meta(mturk.PENDING_META, "{not json")  # unreadable: dropped, nothing written
        assert mturk.finish_pending_verdict(store, verdicts) is None
        assert verdicts.all() == {} and store.get_meta(mturk.PENDING_META) is None


@pytest.mark.parametrize("command", ["review", "export"])
def test_cli_review_and_export_finish_a_verdict_a_crash_left_noted(tmp_path, capsys, command):
    """The app crashed after the photo's part of a Reject and before mturk.db had it: the command line
    finishes it too (before, only opening the batch in the app did), so the upload CSV carries it."""
    from bibtagger_gui.core.store import Store

    folder = tmp_path / "photos"
    photo(folder / "two.jpg", 200, 100)
    src = write_csv(tmp_path / "b.csv", [row("A1", "two.jpg", answer((10, 10, 40, 20, "12")))])
    v = mturk.Verdict("A1", mturk.REJECT, "no bib in the box").stamped()
    with Store.open(folder) as store:
        mturk.note_pending_verdict(store, "A1", v)
    upload = tmp_path / "upload.csv"
    args = ["mturk", command, str(src), str(folder)] + (["--out", str(upload)] if command == "export" else [])
    assert main(args) == 0
    assert "finished saving the verdict reject for assignment A1" in capsys.readouterr().err
    with Store.open(folder) as store, mturk.VerdictStore.open(store) as verdicts:
        assert verdicts.all() == {"A1": v} and store.get_meta(mturk.PENDING_META) is None
    if command == "export":
        with open(upload, newline="", encoding="utf-8") as f:
            assert [(r["Approve"], r["Reject"]) for r in csv.DictReader(f)] == [("", "no bib in the box")]


def test_image_names_map_to_files_however_they_are_written(tmp_path):
    """Names from image URLs are %-decoded (query dropped); a macOS folder's decomposed 'ä' and
    another case still match the batch's name, in a folder and in a project store."""
    import unicodedata

    folder = tmp_path / "event"
    nfd = unicodedata.normalize("NFD", "Läufer Zieleinlauf.JPG")
    photo(folder / "day1" / nfd, 60, 40)
    photo(folder / "emoji 🏃.jpg", 60, 40)
    url_only = [c for c in COLUMNS if c != "Input.objects_to_find"]
    rows = [
        row("A1", "x", answer((1, 1, 10, 10, "12"))) | {"Input.image_url": "https://bucket.s3.amazonaws.com/L%C3%A4ufer%20Zieleinlauf.jpg?X-Amz-Signature=ab%2Fc"},
        row("A2", "x", answer((1, 1, 10, 10, "13"))) | {"Input.image_url": "https://example.com/up/emoji%20%F0%9F%8F%83.jpg"},
    ]
    batch = mturk.read_batch(write_csv(tmp_path / "batch.csv", rows, columns=url_only))
    assert sorted(batch.images) == ["Läufer Zieleinlauf.jpg", "emoji 🏃.jpg"]
    match = mturk.match_photos(batch, folder)
    assert match.missing == [] and match.errors == []
    assert match.present["Läufer Zieleinlauf.jpg"].relpath == f"day1/{nfd}"
    with Store.open(folder) as store:
        store.scan()
        assert mturk.match_photos(batch, store).missing == []
    assert mturk.image_name_from_url("") == ""


def test_cli_import_finishes_a_noted_verdict_and_export_creates_no_project(tmp_path, capsys):
    from bibtagger_gui.core.store import Store, db_path_for

    folder = tmp_path / "photos"
    photo(folder / "two.jpg", 200, 100)
    src = write_csv(tmp_path / "b.csv", [row("A1", "two.jpg", answer((10, 10, 40, 20, "12")))])
    v = mturk.Verdict("A1", mturk.REJECT, "no bib in the box").stamped()
    with Store.open(folder) as store:
        mturk.note_pending_verdict(store, "A1", v)
    assert main(["mturk", "import", str(src), str(folder), "--list", "0"]) == 0
    assert "finished saving the verdict reject for assignment A1" in capsys.readouterr().err
    with Store.open(folder) as store, mturk.VerdictStore.open(store) as verdicts:
        assert verdicts.all() == {"A1": v} and store.get_meta(mturk.PENDING_META) is None
        assert store.bibs(store.photo_by_path("two.jpg").id) == []  # a rejected answer's boxes stay out

    bare = tmp_path / "bare"  # a folder the app never opened: export must not make it a project
    bare.mkdir()
    assert main(["mturk", "export", str(src), str(bare), "--out", str(tmp_path / "up.csv")]) == 0
    assert not db_path_for(bare).exists()


def test_export_never_replaces_a_photo(tmp_path):
    path = write_csv(tmp_path / "batch.csv", [row("A1", "p.jpg", "[]")])
    batch = mturk.read_batch(path)
    shot = photo(tmp_path / "IMG_1.JPG", 40, 30)
    before = shot.read_bytes()
    with pytest.raises(OSError, match="IMG_1.JPG is named like a photo"):
        mturk.export_batch(batch, {"A1": mturk.Verdict("A1", mturk.REJECT, "No box drawn")}, shot)
    assert shot.read_bytes() == before


def test_an_answer_nested_past_the_parsers_depth_is_a_row_error(tmp_path):
    batch = mturk.read_batch(write_csv(tmp_path / "b.csv", [row("A1", "p.jpg", "[" * 50_000), row("A2", "q.jpg", "[]")]))
    (error,) = batch.errors
    assert error.line == 2 and error.message.endswith(f"{mturk.COL_ANSWER} is not valid JSON (nested too deeply)"), error


def test_an_unterminated_answer_reads_without_a_doubled_word(tmp_path):
    batch = mturk.read_batch(write_csv(tmp_path / "b.csv", [row("A1", "p.jpg", '[{"label": "12')]))
    (error,) = batch.errors
    assert error.message.endswith("is not valid JSON (Unterminated string starting at: char 11)"), error.message


@pytest.mark.parametrize("action", ["import", "review", "export"])
def test_a_negative_list_count_is_refused(action, tmp_path, capsys):
    """`mturk import --list -1` was taken (a negative count showed every line, as 0 does); argparse refuses it,
    exit 2, before the CSV is read (it does not exist here), and a count that is not a number."""
    out = ["--out", str(tmp_path / "out.csv")] if action == "export" else []
    for bad, said in (("-1", "must be 0 (every line) or more, not -1"), ("ten", "not a whole number: 'ten'")):
        with pytest.raises(SystemExit) as stop:
            main(["mturk", action, str(tmp_path / "batch.csv"), str(tmp_path), "--list", bad, *out])
        assert stop.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1].endswith(f"error: argument --list: {said}")


def test_an_answer_of_100000_broken_boxes_says_the_first_ones_and_counts_the_rest(tmp_path):
    """One answer of 100,000 broken boxes gave 100,000 row errors (and a note as long), 100,000 odd labels a note
    naming each; the first ones are said and the rest counted (the good boxes are all kept)."""
    n, shown = 100_000, mturk.ROW_PROBLEMS_SHOWN
    broken = json.dumps([{"left": 1, "top": 1, "width": 0, "height": 5, "label": "1"}] * n)
    odd = json.dumps([{"left": 1, "top": 1, "width": 5, "height": 5, "label": "x"}] * n)
    batch = mturk.read_batch(write_csv(tmp_path / "b.csv", [row("A1", "p.jpg", broken), row("A2", "q.jpg", odd)]))
    said = [f"box {i}: width and height must be positive (width=0, height=5)" for i in range(1, shown + 1)]
    said.append(f"… and {n - shown:,} more box problems")
    assert [e.message for e in batch.errors] == said and {e.line for e in batch.errors} == {2}
    assert batch.by_id["A1"].notes == ["; ".join(said)]
    assert len(batch.by_id["A2"].boxes) == n
    assert batch.by_id["A2"].notes == ["non-digit label(s): " + ", ".join(["'x'"] * shown + [f"… and {n - shown:,} more labels"])]


def test_the_cli_says_the_first_row_problems_of_a_file_and_counts_the_rest(tmp_path, capsys):
    """A CSV of many broken rows printed every one; `--list N` caps them as it caps the other lists."""
    n = 45
    path = write_csv(tmp_path / "b.csv", [row(f"A{i}", f"p{i}.jpg", "[{") for i in range(n)])
    errors = [f"{path}:{e.line}: {e.message}" for e in mturk.read_batch(path).errors]
    assert len(errors) == n
    for given, limit in ((["--list", "7"], 7), ([], 30), (["--list", "0"], n)):
        main(["mturk", "import", str(path), str(tmp_path), "--no-store", *given])
        err = [line for line in capsys.readouterr().err.splitlines() if line.startswith(f"{path}:")]
        rest = [f"{path}: ... and {n - limit:,} more row problems (--list 0 shows all)"] if limit < n else []
        assert err == errors[:limit] + rest
