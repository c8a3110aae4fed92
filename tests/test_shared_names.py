"""A shoot from two camera bodies and several cards: the same file name in several subfolders
(``card1/IMG_0001.JPG``, ``card2/IMG_0001.JPG``), names that differ only in case on a case-sensitive
disk, and one card copied twice. Every place that matches or writes photos by name must keep them
apart, or refuse and say why (docs/imports.md, docs/mturk.md, docs/exports.md, docs/store.md)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import mturk
from bibtagger_gui.core.name_match import by_folders, list_labels
from bibtagger_gui.core.store import Store


@pytest.fixture(autouse=True)
def _store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


def photo(path: Path, seed: int, w: int = 160, h: int = 120) -> Path:
    """A real JPEG of its own content (seed): two seeds are two different pictures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


def scanned(folder: Path) -> Store:
    store = Store.open(folder)
    store.scan()
    return store


def numbers(store: Store, rel: str) -> list[str]:
    return sorted(b.number for b in store.bibs(store.photo_by_path(rel).id))


# --------------------------------------------------------------------------- MTurk

MTURK_COLUMNS = ["HITId", "AssignmentId", "WorkerId", "AssignmentStatus", "RequesterFeedback", "WorkTimeInSeconds",
                 "Input.objects_to_find", "Input.image_url", "Answer.annotation_data", "Answer.label"]  # fmt: skip


def batch_csv(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    """rows: (assignment, worker, objects_to_find, image_url, label); one 10x10 box each."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(MTURK_COLUMNS)
        for aid, worker, name, url, label in rows:
            answer = json.dumps([{"left": 5, "top": 5, "width": 10, "height": 10, "label": label}])
            w.writerow([f"H{aid}", aid, worker, "Submitted", "", "30", name, url, answer, "{}"])
    return path


def test_mturk_hits_of_two_cards_photos_with_one_name_stay_two_photos(tmp_path):
    """Image URLs .../card1/IMG_0001.JPG and .../card2/IMG_0001.JPG are two photos: each HIT's answer
    goes to its own photo (by the URL's folders) and the two workers are not compared with each other.
    Before, both were keyed "IMG_0001.JPG": a "disagreement" between two photos, and both answers
    went to whichever file of that name was shallowest."""
    folder = tmp_path / "shoot"
    photo(folder / "card1" / "IMG_0001.JPG", 1)
    photo(folder / "card2" / "IMG_0001.JPG", 2)
    src = batch_csv(tmp_path / "batch.csv", [
        ("A1", "W1", "", "https://bucket.s3.amazonaws.com/race/card2/IMG_0001.JPG?X-Amz-Signature=1", "22"),
        ("A2", "W2", "", "https://bucket.s3.amazonaws.com/race/card1/IMG_0001.JPG?X-Amz-Signature=2", "11"),
    ])  # fmt: skip
    batch = mturk.read_batch(src)
    assert sorted(batch.images) == ["race/card1/IMG_0001.JPG", "race/card2/IMG_0001.JPG"]
    assert batch.disagreements == {}
    by_folder = mturk.match_photos(batch, folder)
    assert {n: r.relpath for n, r in by_folder.present.items()} == {
        "race/card1/IMG_0001.JPG": "card1/IMG_0001.JPG", "race/card2/IMG_0001.JPG": "card2/IMG_0001.JPG"}  # fmt: skip
    assert main(["mturk", "import", str(src), str(folder), "--list", "0"]) == 0
    with Store.open(folder) as store:
        assert numbers(store, "card1/IMG_0001.JPG") == ["11"]
        assert numbers(store, "card2/IMG_0001.JPG") == ["22"]


def test_mturk_hits_of_a_card_not_in_the_folder_never_go_to_another_cards_photo(tmp_path):
    """The batch's .../card1/IMG_0001.JPG and .../card2/IMG_0001.JPG are two photos; a folder holding only
    card2 has card2's. card1's HITs are of a photo not there (missing), not card2's photo's by the shared
    name: before, both names fell back to the one file of that name and card1's answers landed on card2's photo."""
    folder = tmp_path / "shoot"
    photo(folder / "card2" / "IMG_0001.JPG", 2)
    src = batch_csv(tmp_path / "batch.csv", [
        ("A1", "W1", "", "https://bucket.s3.amazonaws.com/race/card2/IMG_0001.JPG", "22"),
        ("A2", "W2", "", "https://bucket.s3.amazonaws.com/race/card1/IMG_0001.JPG", "11"),
    ])  # fmt: skip
    batch = mturk.read_batch(src)
    for target in (folder, None):
        with Store.open(folder) as store:
            store.scan()
            match = mturk.match_photos(batch, target or store)
        assert {n: r.relpath for n, r in match.present.items()} == {"race/card2/IMG_0001.JPG": "card2/IMG_0001.JPG"}
        assert match.missing == ["race/card1/IMG_0001.JPG"]
    assert main(["mturk", "import", str(src), str(folder), "--list", "0"]) == 0
    with Store.open(folder) as store:
        assert numbers(store, "card2/IMG_0001.JPG") == ["22"]


def test_mturk_a_name_two_different_photos_have_is_refused_and_said(tmp_path, capsys):
    """A batch that names only "IMG_0001.JPG" cannot say which card's photo it is: nothing is imported
    for it (not a guess), and the command says which photos share the name. A card copied twice
    (the same file in two folders) is one picture: that still matches, the shallowest copy."""
    folder = tmp_path / "shoot"
    photo(folder / "card1" / "IMG_0001.JPG", 1)
    photo(folder / "card2" / "IMG_0001.JPG", 2)
    photo(folder / "card1" / "IMG_0002.JPG", 3)
    (folder / "zbackup").mkdir()
    shutil.copy2(folder / "card1" / "IMG_0002.JPG", folder / "zbackup" / "IMG_0002.JPG")
    src = batch_csv(tmp_path / "batch.csv", [
        ("A1", "W1", "IMG_0001.JPG", "https://example.com/IMG_0001.JPG", "11"),
        ("A2", "W1", "IMG_0002.JPG", "https://example.com/IMG_0002.JPG", "12"),
    ])  # fmt: skip
    batch = mturk.read_batch(src)
    for target in (folder, None):
        with Store.open(folder) as store:
            store.scan()
            match = mturk.match_photos(batch, target or store)
        assert match.ambiguous == {"IMG_0001.JPG": ["card1/IMG_0001.JPG", "card2/IMG_0001.JPG"]}
        assert "IMG_0001.JPG" not in match.present and match.missing == []
        assert match.present["IMG_0002.JPG"].relpath == "card1/IMG_0002.JPG"
    capsys.readouterr()
    assert main(["mturk", "import", str(src), str(folder), "--list", "0"]) == 0
    out = capsys.readouterr().out
    assert "photos that cannot be told apart: 1" in out
    assert "IMG_0001.JPG: 2 photos have this file name (card1/IMG_0001.JPG, card2/IMG_0001.JPG); not imported" in out
    with Store.open(folder) as store:
        assert numbers(store, "card1/IMG_0001.JPG") == [] and numbers(store, "card2/IMG_0001.JPG") == []
        assert numbers(store, "card1/IMG_0002.JPG") == ["12"] and numbers(store, "zbackup/IMG_0002.JPG") == []


def test_mturk_an_ambiguous_name_is_flagged_as_such_not_as_missing(tmp_path, capsys):
    """A HIT whose image name several files of the folder have is in the folder, just not one photo: it gets its
    own flag and a note naming the files (it was flagged "photo missing", which sent the user looking for a file
    that is there); a name no file has keeps the missing flag."""
    folder = tmp_path / "shoot"
    photo(folder / "card1" / "IMG_0001.JPG", 1)
    photo(folder / "card2" / "IMG_0001.JPG", 2)
    src = batch_csv(tmp_path / "batch.csv", [
        ("A1", "W1", "IMG_0001.JPG", "https://example.com/IMG_0001.JPG", "11"),
        ("A2", "W1", "IMG_0404.JPG", "https://example.com/IMG_0404.JPG", "12"),
    ])  # fmt: skip
    batch = mturk.read_batch(src)
    for target in (folder, None):
        with Store.open(folder) as store:
            store.scan()
            mturk.match_photos(batch, target or store)
        a1, a2 = batch.assignments
        assert a1.photo_flags == {mturk.FLAG_AMBIGUOUS_PHOTO} and a2.photo_flags == {mturk.FLAG_MISSING_PHOTO}
        assert a1.photo_notes == [mturk.ambiguous_note(["card1/IMG_0001.JPG", "card2/IMG_0001.JPG"])]
        assert "card1/IMG_0001.JPG, card2/IMG_0001.JPG" in a1.photo_notes[0] and a2.photo_notes == []
        assert a1.all_notes == a1.notes + a1.photo_notes
    mturk.match_photos(batch, tmp_path / "nowhere")  # matched again: the flags and notes are recomputed
    assert all(a.photo_flags == {mturk.FLAG_MISSING_PHOTO} and not a.photo_notes for a in batch.assignments)
    capsys.readouterr()
    assert main(["mturk", "review", str(src), str(folder), "--list", "0"]) == 0
    out = capsys.readouterr().out
    assert "IMG_0001.JPG  W1  Submitted  [11]  photo name matches several files (2 photos have this file name " \
           "(card1/IMG_0001.JPG, card2/IMG_0001.JPG)" in out, out
    assert "IMG_0404.JPG  W1  Submitted  [12]  photo missing\n" in out, out


# --------------------------------------------------------------------------- annotation JSON import, --photos


def test_import_never_puts_an_entry_on_a_photo_another_entry_names_exactly(tmp_path, capsys):
    """predict --json on the whole shoot, imported on a laptop that holds card2 only: card1's entry
    must not land on card2's photo by the shared file name (it did, being first in the file, and card2's
    own entry was then skipped as "same photo")."""
    laptop = tmp_path / "laptop"
    photo(laptop / "card2" / "IMG_0001.JPG", 2)
    entries = [{"image": "card1/IMG_0001.JPG", "width": 160, "height": 120, "bibs": [{"number": "11", "box": None}]},
               {"image": "card2/IMG_0001.JPG", "width": 160, "height": 120, "bibs": [{"number": "22", "box": None}]}]  # fmt: skip
    src = tmp_path / "all.json"
    src.write_text(json.dumps(entries), encoding="utf-8")
    assert main(["import", str(laptop), str(src)]) == 0
    err = capsys.readouterr().err
    assert "card1/IMG_0001.JPG: no such photo in the folder" in err
    with Store.open(laptop) as store:
        assert numbers(store, "card2/IMG_0001.JPG") == ["22"]
    # a photo list made on the server: the listed card2 path is card2's photo, card1's line names none
    listing = tmp_path / "list.txt"
    listing.write_text("card1/IMG_0001.JPG\ncard2/IMG_0001.JPG\n", encoding="utf-8")
    assert main(["export", str(laptop), "--format", "csv", "--photos", str(listing)]) == 1
    assert "card1/IMG_0001.JPG" in capsys.readouterr().err


def test_import_tells_names_apart_by_case_and_names_a_guess_across_folders(tmp_path, capsys):
    """IMG_0002.JPG and img_0002.jpg of one folder (a case-sensitive disk): an entry from another layout
    goes to the one spelled as it is. A match on the file name alone into another folder is named on
    stderr, not only counted."""
    folder = tmp_path / "shoot"
    photo(folder / "IMG_0002.JPG", 1)
    photo(folder / "img_0002.jpg", 2)
    photo(folder / "card1" / "IMG_0003.JPG", 3)
    assert by_folders("usb/img_0002.jpg", ["IMG_0002.JPG", "img_0002.jpg"]) == "img_0002.jpg"
    assert by_folders("usb/IMG_0001.JPG", ["card1/IMG_0001.JPG", "card2/IMG_0001.JPG"]) is None
    entries = [{"image": "usb/img_0002.jpg", "width": 160, "height": 120, "bibs": [{"number": "7", "box": None}]},
               {"image": "usb/IMG_0003.JPG", "width": 160, "height": 120, "bibs": [{"number": "8", "box": None}]}]  # fmt: skip
    src = tmp_path / "v.json"
    src.write_text(json.dumps(entries), encoding="utf-8")
    assert main(["import", str(folder), str(src)]) == 0
    err = capsys.readouterr().err
    assert "usb/IMG_0003.JPG: note: matched by file name to card1/IMG_0003.JPG" in err
    with Store.open(folder) as store:
        assert numbers(store, "img_0002.jpg") == ["7"] and numbers(store, "IMG_0002.JPG") == []
        assert numbers(store, "card1/IMG_0003.JPG") == ["8"]


def test_export_photo_list_names_a_guess_across_folders_as_the_import_does(tmp_path, capsys):
    """A list line card1/IMG_0001.JPG in a folder that holds only card2/IMG_0001.JPG matches by the file name
    alone (the any-folder-layout rule): the export takes that photo and says so on stderr, in the import's
    words; a bare file name matched in a subfolder is no guess across folders and gets no note."""
    folder = tmp_path / "shoot"
    photo(folder / "card2" / "IMG_0001.JPG", 1)
    photo(folder / "sub" / "IMG_0003.JPG", 3)
    photo(folder / "IMG_0002.JPG", 2)
    with scanned(folder) as store:  # recognized, with no bib found: the export adds no "not recognized" note
        for p in store.photos():
            store.set_model_version(p.id, "test-models")
    listing = tmp_path / "list.txt"
    listing.write_text("card1/IMG_0001.JPG\nIMG_0003.JPG\n", encoding="utf-8")
    assert main(["export", str(folder), "--format", "csv", "--photos", str(listing)]) == 0
    out, err = capsys.readouterr()
    assert {r["image"] for r in csv.DictReader(io.StringIO(out))} == {"card2/IMG_0001.JPG", "sub/IMG_0003.JPG"}
    notes = [line for line in err.splitlines() if "note:" in line]
    assert notes == [f"{listing}:1: card1/IMG_0001.JPG: note: matched by file name to card2/IMG_0001.JPG"]

    src = tmp_path / "v.json"
    src.write_text(json.dumps([{"image": "card1/IMG_0001.JPG", "width": 160, "height": 120,
                                "bibs": [{"number": "5", "box": None}]}]), encoding="utf-8")  # fmt: skip
    assert main(["import", str(folder), str(src)]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert [line.split(": ", 1)[1] for line in said] == [notes[0].split(": ", 1)[1]]  # the same words


# --------------------------------------------------------------------------- exports


def test_bibfolders_never_let_one_photo_of_a_bib_replace_another(tmp_path):
    """Two photos of one bib whose link names are one file in the bib folder (``a/b.jpg`` and ``a__b.jpg``;
    ``IMG_0002.JPG`` and ``img_0002.jpg``, one file on an exFAT stick, Windows or a Mac) both get their
    own link; before, the second replaced the first and the report still counted two. A re-export names
    them alike and removes nothing current."""
    folder = tmp_path / "shoot"
    rels = ["a/b.jpg", "a__b.jpg", "IMG_0002.JPG", "img_0002.jpg", "card1/IMG_0001.JPG", "card2/IMG_0001.JPG"]
    for seed, rel in enumerate(rels):
        photo(folder / rel, seed)
    with scanned(folder) as store:
        for rel in rels:
            store.add_bib(store.photo_by_path(rel).id, "9", (10, 10, 50, 50))
    out = tmp_path / "bibs"
    for _ in range(2):
        assert main(["export", str(folder), "--format", "bibfolders", "--out", str(out)]) == 0
        links = sorted((out / "9").iterdir())
        assert len(links) == len(rels)
        assert len({p.name.casefold() for p in links}) == len(rels)  # apart on a case-insensitive drive too
        assert sorted(os.path.relpath(os.path.realpath(p), folder) for p in links) == sorted(rels)
    # crops are named by bib id: no clash either
    crops = tmp_path / "crops"
    assert main(["export", str(folder), "--format", "crops", "--out", str(crops)]) == 0
    assert len({p.name.casefold() for p in crops.glob("*.png")}) == len(rels)


# --------------------------------------------------------------------------- scan


def test_scan_moves_of_identical_copies_keep_each_copy_its_own_photo(tmp_path):
    """A card copied twice: both copies moved at once (folders renamed). Each new path takes the
    vanished photo it resembles (bodyA_card1/ was card1/), so card1's review and bibs stay card1's;
    they went to the other copy before (the first one of that hash found)."""
    folder = tmp_path / "shoot"
    photo(folder / "card1" / "IMG_0001.JPG", 1)
    (folder / "zcopy").mkdir()
    shutil.copy2(folder / "card1" / "IMG_0001.JPG", folder / "zcopy" / "IMG_0001.JPG")
    with scanned(folder) as store:
        card1 = store.photo_by_path("card1/IMG_0001.JPG").id
        store.add_bib(card1, "11", None)
        store.set_reviewed(card1, True)
        store.add_bib(store.photo_by_path("zcopy/IMG_0001.JPG").id, "99", None)
    os.rename(folder / "card1", folder / "bodyA_card1")
    os.rename(folder / "zcopy", folder / "a_copy")
    with Store.open(folder) as store:
        report = store.scan()
        assert sorted(report.moved) == [("card1/IMG_0001.JPG", "bodyA_card1/IMG_0001.JPG"),
                                        ("zcopy/IMG_0001.JPG", "a_copy/IMG_0001.JPG")]  # fmt: skip
        moved = store.photo_by_path("bodyA_card1/IMG_0001.JPG")
        assert moved.id == card1 and moved.reviewed and numbers(store, "bodyA_card1/IMG_0001.JPG") == ["11"]
        assert numbers(store, "a_copy/IMG_0001.JPG") == ["99"]


# --------------------------------------------------------------------------- the GUI's list and panel


def test_list_labels_show_the_folders_that_tell_shared_names_apart():
    labels = list_labels(["2024/a/DCIM/IMG_1.JPG", "2024/b/DCIM/IMG_1.JPG", "card1/IMG_2.JPG", "card2/img_2.jpg", "x.jpg"])
    assert labels == {"2024/a/DCIM/IMG_1.JPG": "a/DCIM/IMG_1.JPG", "2024/b/DCIM/IMG_1.JPG": "b/DCIM/IMG_1.JPG",
                      "card1/IMG_2.JPG": "card1/IMG_2.JPG", "card2/img_2.jpg": "card2/img_2.jpg"}  # fmt: skip


def test_photo_list_and_bib_panel_tell_two_cards_photos_apart(qtbot, tmp_path):
    """The list showed "IMG_0001.JPG" twice (the folder only in a tooltip), and so did the panel's title."""
    from PySide6.QtCore import Qt

    from bibtagger_gui.core.review import ReviewItem
    from bibtagger_gui.gui.bib_panel import BibPanel
    from bibtagger_gui.gui.photo_list_model import PhotoListModel

    folder = tmp_path / "shoot"
    photo(folder / "card1" / "IMG_0001.JPG", 1)
    photo(folder / "card2" / "IMG_0001.JPG", 2)
    photo(folder / "card2" / "IMG_0005.JPG", 3)
    with scanned(folder) as store:
        items = [ReviewItem(p, ()) for p in store.photos()]
    model = PhotoListModel()
    model.set_items(items)
    shown = [model.data(model.index(r), Qt.ItemDataRole.DisplayRole).split("\n")[0] for r in range(model.rowCount())]
    assert shown == ["card1/IMG_0001.JPG", "card2/IMG_0001.JPG", "IMG_0005.JPG"]
    panel = BibPanel()
    qtbot.addWidget(panel)
    panel.show_item(items[1], [], None)
    assert panel.title.text() == "card2/IMG_0001.JPG"
