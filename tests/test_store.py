"""core/store: real SQLite in tmp folders — persistence, re-matching, model bibs, fallback, crash safety."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.catalogue import content_hash, file_version
from bibtagger_gui.core.store import SCHEMA_VERSION, Counts, Store, StoreError, db_path_for, fallback_db_path

REPO = Path(__file__).resolve().parents[1]


def make_photo(path: Path, seed: int, size: tuple[int, int] = (64, 96)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    f = tmp_path / "race"
    for i in range(3):
        make_photo(f / f"img_{i}.jpg", i)
    make_photo(f / "sub" / "finish.JPG", 10)
    (f / ".hidden").mkdir()
    make_photo(f / ".hidden" / "skip.jpg", 11)
    (f / "notes.txt").write_text("not a photo")
    (f / "broken.jpg").write_bytes(b"")
    return f


@pytest.fixture(autouse=True)
def no_store_override(monkeypatch):
    monkeypatch.delenv("BIBTAGGER_STORE_DIR", raising=False)


def test_scan_finds_photos_and_records_errors(folder):
    with Store.open(folder) as store:
        assert store.db_path == folder / ".bibtagger" / "project.db"
        report = store.scan()
        assert sorted(report.added) == ["broken.jpg", "img_0.jpg", "img_1.jpg", "img_2.jpg", "sub/finish.JPG"]
        assert report.errors == [("broken.jpg", "empty file")]
        p = store.photo_by_path("sub/finish.JPG")
        assert (p.width, p.height, p.orientation) == (96, 64, 1)
        assert p.sha1 == content_hash(folder / "sub" / "finish.JPG") and p.size == (folder / "sub/finish.JPG").stat().st_size
        assert store.photo_by_path("broken.jpg").error == "empty file"
        assert store.counts().photos == 5 and store.counts().errors == 1
        assert store.path(p) == folder / "sub" / "finish.JPG"
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = store._conn.execute("PRAGMA synchronous").fetchone()[0]
        assert (mode, sync) == ("wal", 2)
        # a second scan changes nothing
        again = store.scan()
        assert (again.added, again.moved, again.updated, again.missing) == ([], [], [], [])
        assert again.errors == [("broken.jpg", "empty file")]


def test_reopen_restores_everything(folder):
    store = Store.open(folder)
    store.scan()
    a, b = store.photo_by_path("img_0.jpg"), store.photo_by_path("img_1.jpg")
    store.add_bib(a.id, "1234", (1, 2, 30, 20))
    store.add_bib(a.id, "77", None, source="mturk", extra={"worker": "W1"})
    store.set_model_bibs(b.id, [Bib("555", (5, 5, 40, 30), 0.91), Bib("56", (50, 5, 90, 30), 0.42)], "det:1+read:1")
    store.set_reviewed(a.id, True)
    store.set_error(b.id, "truncated JPEG")
    store.set_meta("event", "Stadtlauf 2024 ü")
    snapshot = (store.photos(), store.all_bibs(), store.history(), store.counts(), store.to_annotations())
    store.close()

    with Store.open(folder) as again:
        assert (again.photos(), again.all_bibs(), again.history(), again.counts(), again.to_annotations()) == snapshot
        assert again.get_meta("event") == "Stadtlauf 2024 ü"
    with Store(folder / ".bibtagger" / "project.db") as by_path:
        assert by_path.folder == folder.resolve()
        assert by_path.photo(a.id).reviewed
        bibs = by_path.bibs(a.id)
        assert [(x.number, x.box, x.source, x.extra) for x in bibs] == [
            ("1234", (1.0, 2.0, 30.0, 20.0), "human", None),
            ("77", None, "mturk", {"worker": "W1"}),
        ]
        assert by_path.photo(b.id).min_confidence == pytest.approx(0.42)
        assert by_path.photo(b.id).model_version == "det:1+read:1"


def test_renamed_photo_is_rematched_by_hash(folder):
    store = Store.open(folder)
    store.scan()
    photo = store.photo_by_path("img_2.jpg")
    bib = store.add_bib(photo.id, "808", (10, 10, 40, 30))
    store.set_reviewed(photo.id, True)
    (folder / "moved").mkdir()
    os.rename(folder / "img_2.jpg", folder / "moved" / "renamed.jpeg")
    (folder / "img_1.jpg").unlink()
    report = store.scan()
    assert report.moved == [("img_2.jpg", "moved/renamed.jpeg")]
    assert report.missing == ["img_1.jpg"] and report.added == []
    moved = store.photo_by_path("moved/renamed.jpeg")
    assert moved.id == photo.id and moved.reviewed and not moved.missing
    assert [b.id for b in store.bibs(moved.id)] == [bib.id]
    assert store.photo_by_path("img_2.jpg") is None
    assert [p.relpath for p in store.photos("missing")] == ["img_1.jpg"]
    assert "img_1.jpg" not in [p.relpath for p in store.photos()]
    assert [h.action for h in store.history(photo.id)][-1] == "photo_move"
    # a vanished photo that comes back later under a new name is matched too
    make_photo(folder / "back" / "one.jpg", 1)
    report = store.scan()
    assert report.moved == [("img_1.jpg", "back/one.jpg")] and report.added == []
    # content changed in place: same row, new hash
    old_sha = store.photo_by_path("img_0.jpg").sha1
    make_photo(folder / "img_0.jpg", 99, size=(70, 90))
    os.utime(folder / "img_0.jpg", (time.time() + 5, time.time() + 5))
    report = store.scan()
    assert report.updated == ["img_0.jpg"]
    changed = store.photo_by_path("img_0.jpg")
    assert changed.sha1 != old_sha and (changed.width, changed.height) == (90, 70)


def add_metadata(path: Path) -> None:
    """What a metadata editor does to a JPEG: new APP1 (XMP) and COM segments before the image data and
    a trailer after its EOI (Photo Mechanic); the coded image data is copied byte for byte."""
    data = path.read_bytes()
    assert data[:2] == b"\xff\xd8"
    xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><dc:subject>BIB:77</dc:subject></x:xmpmeta>"
    app1 = b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp
    com = b"\xff\xfe" + (len(b"edited") + 2).to_bytes(2, "big") + b"edited"
    path.write_bytes(data[:2] + app1 + com + data[2:] + b"FotoStation trailer")


def test_another_picture_under_the_old_name_is_recognized_and_reviewed_again(folder):
    store = Store.open(folder)
    store.scan()
    pid = store.photo_by_path("img_0.jpg").id

    def tag_and_review() -> None:
        store.set_model_bibs(pid, [Bib("3638", (40, 10, 60, 20), 0.9)], "v1")
        store.set_reviewed(pid, True)

    def touch(later: float) -> None:
        os.utime(folder / "img_0.jpg", (time.time() + later, time.time() + later))

    tag_and_review()
    store.add_bib(pid, "77", (1, 1, 9, 9))
    add_metadata(folder / "img_0.jpg")  # same picture, other metadata: bibs and review stay
    touch(5)
    report = store.scan()
    assert (report.updated, report.replaced) == (["img_0.jpg"], [])
    photo = store.photo(pid)
    assert photo.reviewed and photo.model_version == "v1"
    assert sorted(b.number for b in store.bibs(pid)) == ["3638", "77"]

    make_photo(folder / "img_0.jpg", 50)  # another picture of the same pixel size under the old name
    touch(10)
    report = store.scan()
    assert (report.updated, report.replaced) == (["img_0.jpg"], ["img_0.jpg"])
    photo = store.photo(pid)
    assert (photo.width, photo.height) == (96, 64)
    assert not photo.reviewed and photo.model_version is None  # recognized again, reviewed again
    assert [(b.number, b.source) for b in store.bibs(pid)] == [("77", "human")]  # the correction is kept, to review
    assert pid in [p.id for p in store.photos("unreviewed")]
    assert store.history(pid)[-1].after["replaced"] is True

    tag_and_review()
    make_photo(folder / "img_0.jpg", 51, size=(120, 80))  # another size: another picture too
    touch(15)
    assert store.scan().replaced == ["img_0.jpg"]
    photo = store.photo(pid)
    assert (photo.width, photo.height) == (80, 120)
    assert not photo.reviewed and photo.model_version is None
    assert [(b.number, b.source) for b in store.bibs(pid)] == [("77", "human")]
    store.close()


def test_a_photo_being_copied_over_keeps_its_fingerprint(folder):
    """A scan that meets a half-written copy (no EOI yet) decides nothing and keeps the old picture's
    fingerprint: the complete file is compared with it (same picture: kept; another: replaced)."""
    store = Store.open(folder)
    store.scan()
    path = folder / "img_1.jpg"
    pid = store.photo_by_path("img_1.jpg").id
    fingerprint = store._conn.execute("SELECT pixel_hash FROM photos WHERE id = ?", (pid,)).fetchone()[0]
    store.set_model_bibs(pid, [Bib("12", (4, 4, 30, 20), 0.9)], "v1")
    store.set_reviewed(pid, True)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert store.scan().replaced == []
    assert store._conn.execute("SELECT pixel_hash FROM photos WHERE id = ?", (pid,)).fetchone()[0] == fingerprint
    path.write_bytes(whole)
    os.utime(path, (time.time() + 10, time.time() + 10))
    assert store.scan().replaced == []
    assert store.photo(pid).reviewed and [b.number for b in store.bibs(pid)] == ["12"]
    # another picture copied over the same way is told once it is complete
    other = make_photo(folder / "other.jpg", 60).read_bytes()
    path.write_bytes(other[: len(other) // 2])
    os.utime(path, (time.time() + 15, time.time() + 15))
    assert store.scan().replaced == []
    path.write_bytes(other)
    os.utime(path, (time.time() + 20, time.time() + 20))
    assert store.scan().replaced == ["img_1.jpg"]
    assert not store.photo(pid).reviewed and store.bibs(pid) == []
    store.close()


def test_pixel_hash_ignores_metadata_and_sees_other_pictures(tmp_path):
    """JPEG, PNG, WebP and BMP: metadata added anywhere leaves the hash; other pixels change it."""
    from bibtagger_gui.core.pixelhash import pixel_hash

    img = cv2.resize(np.random.default_rng(3).integers(0, 255, (60, 90, 3), dtype=np.uint8), (900, 600))
    other = img.copy()
    other[-8:, -8:] ^= 0xFF  # the last block only: the coded data's tail differs
    for ext in ("jpg", "png", "webp", "bmp"):
        a, b = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        assert cv2.imwrite(str(a), img) and cv2.imwrite(str(b), other)
        base = pixel_hash(a)
        assert base and pixel_hash(b) != base, ext
        data = a.read_bytes()
        if ext == "jpg":
            add_metadata(a)
            assert a.stat().st_size > 2 * 64 * 1024  # head and tail are sampled, not the whole data
        elif ext == "png":  # text chunks before the first IDAT and before IEND
            text = len(b"Comment\0BIB:1").to_bytes(4, "big") + b"tEXtComment\0BIB:1" + b"\0" * 4
            first_idat = data.index(b"IDAT") - 4
            a.write_bytes(data[:first_idat] + text + data[first_idat:-12] + text + data[-12:])
        elif ext == "webp":  # an XMP chunk appended to the RIFF container
            chunk = b"XMP " + (8).to_bytes(4, "little") + b"<x:xmp/>"
            body = data[12:] + chunk
            a.write_bytes(b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WEBP" + body)
        else:  # BMP holds no metadata: any change to its bytes is a pixel change
            a.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
            assert pixel_hash(a) != base
            continue
        assert a.read_bytes() != data and cv2.imread(str(a)).shape == img.shape, ext
        assert pixel_hash(a) == base, ext
    tiff = tmp_path / "a.tif"
    assert cv2.imwrite(str(tiff), img)
    assert pixel_hash(tiff) == ""  # no fingerprint: the pixel size decides, as before


def test_pixel_hash_of_a_file_that_shrank_since_its_stat_is_none_not_an_error(tmp_path):
    """The scan stats a file, then hashes it; a file rewritten in place in between (truncated, being written
    again) is shorter than that size: no fingerprint (the pixel size decides), never an exception that
    would stop the scan."""
    from bibtagger_gui.core.catalogue import describe
    from bibtagger_gui.core.pixelhash import pixel_hash

    img = np.random.default_rng(4).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    for ext in ("jpg", "png", "webp", "bmp"):
        path = tmp_path / f"a.{ext}"
        assert cv2.imwrite(str(path), img)
        size = path.stat().st_size
        assert pixel_hash(path, size)
        path.write_bytes(path.read_bytes()[: size // 2])
        assert pixel_hash(path, size) == "", ext
        assert describe(tmp_path, path.name).pixel_hash == "", ext  # and with its own stat: no error either


def test_set_model_bibs_keeps_human_and_mturk_bibs(folder):
    store = Store.open(folder)
    store.scan()
    pid = store.photo_by_path("img_0.jpg").id
    human = store.add_bib(pid, "12", (0, 0, 10, 10))
    mturk = store.add_bib(pid, "99", None, source="mturk")
    first = store.set_model_bibs(pid, [Bib("12", (50, 50, 60, 60), 0.9), Bib("345", (20, 20, 40, 30), 0.8)], "v1")
    assert [b.number for b in first] == ["345"]  # "12" repeats the human bib
    second = store.set_model_bibs(pid, [Bib("77", (1, 1, 9, 9), 0.7), Bib("4", (30, 30, 45, 45), 0.6)], "v2")
    assert [b.number for b in second] == ["4"]  # "77" overlaps the human box (IoU >= 0.5)
    rows = store.bibs(pid)
    assert {(b.id, b.source) for b in rows} == {(human.id, "human"), (mturk.id, "mturk"), (second[0].id, "model")}
    # editing a model bib makes it human, so the next prediction leaves it alone
    edited = store.update_bib(second[0].id, number="44")
    assert (edited.source, edited.confidence, edited.number) == ("human", None, "44")
    assert store.set_model_bibs(pid, [], "v3") == []
    assert sorted(b.number for b in store.bibs(pid)) == ["12", "44", "99"]
    last = store.history(pid)[-1]
    assert last.action == "model_bibs" and last.before == [] and last.after["model_version"] == "v3"


def test_a_rerun_does_not_bring_back_a_deleted_bib_nor_leave_new_ones_on_a_reviewed_photo(folder):
    store = Store.open(folder)
    store.scan()
    pid = store.photo_by_path("img_0.jpg").id
    proposals = [Bib("3638", (40, 10, 60, 20), 0.9), Bib("019", (5, 5, 15, 12), 0.6)]
    fp = next(b for b in store.set_model_bibs(pid, proposals, "v1") if b.number == "019")
    store.delete_bib(fp.id)  # a false detection, rejected
    gone = store.delete_bib(next(b.id for b in store.bibs(pid) if b.number == "3638"))
    store.restore_bib(gone)  # ... and that delete undone: not rejected
    assert store.deleted_numbers(pid) == {"019"}
    again = store.set_model_bibs(pid, proposals, "v2")  # new models, same readings
    assert [b.number for b in again] == ["3638"]
    for b in store.bibs(pid):
        store.update_bib(b.id)  # Accept: confirmed, human
    store.set_reviewed(pid, True)
    assert store.set_model_bibs(pid, proposals, "v3") == []  # predict --all: nothing new, still reviewed
    assert store.photo(pid).reviewed
    added = store.set_model_bibs(pid, [*proposals, Bib("512", (70, 30, 90, 40), 0.7)], "v4")
    assert [b.number for b in added] == ["512"]
    assert not store.photo(pid).reviewed  # an unconfirmed bib: the photo needs a review again
    assert pid in [p.id for p in store.photos("unreviewed")]
    store.close()


def test_every_edit_writes_history(folder):
    store = Store.open(folder)
    store.scan()
    pid = store.photo_by_path("img_0.jpg").id
    n = len(store.history())
    bib = store.add_bib(pid, "1", (0, 0, 5, 5))
    store.update_bib(bib.id, box=(1, 1, 6, 6))
    removed = store.delete_bib(bib.id)
    store.restore_bib(removed)
    store.set_model_bibs(pid, [Bib("2", None, 0.5)], "v")
    store.set_reviewed(pid, True)
    store.set_reviewed(pid, True)  # no change, no row
    store.set_error(pid, "boom")
    store.set_meta("k", "v")
    actions = [h.action for h in store.history()[n:]]
    assert actions == ["bib_add", "bib_update", "bib_delete", "bib_restore", "model_bibs", "reviewed", "error", "meta"]
    upd = [h for h in store.history() if h.action == "bib_update"][0]
    assert upd.before["box"] == [0.0, 0.0, 5.0, 5.0] and upd.after["box"] == [1.0, 1.0, 6.0, 6.0]
    assert store.bib(bib.id).box == (1.0, 1.0, 6.0, 6.0)  # restored with its id


def test_replay_writes_the_rows_and_history_rows_the_single_edits_write(folder, tmp_path):
    """Store.replay (the undo of a re-run over thousands of photos, executemany) against delete_bib, restore_bib,
    set_reviewed and set_model_version one at a time, on two copies of one project: the same bibs, photos and history
    rows, JSON text and all (a unicode extra, a bib without box or confidence, a version set from none)."""
    import shutil

    with Store.open(folder) as store:
        store.scan()
        a, b = (store.photo_by_path(rel).id for rel in ("img_0.jpg", "img_1.jpg"))
        store.set_model_bibs(a, [Bib("12", (1.5, 2.0, 30.0, 20.25), 0.87), Bib("7", None, 0.3)], "v1")
        store.add_bib(a, "451", None, extra={"note": "Zoë à l'arrivée"})
        store.set_reviewed(b, True)
    stores = [Store.open(shutil.copytree(folder, tmp_path / name)) for name in ("single", "replayed")]
    single, replayed = stores
    assert single.bibs(a) == replayed.bibs(a)
    model, no_box, human = single.bibs(a)
    marks = [s.last_change() for s in stores]

    gone = single.delete_bib(model.id)
    undone = single.delete_bib(human.id, reject=False)
    single.delete_bib(no_box.id)
    single.restore_bib(gone)
    single.restore_bib(undone)
    single.set_reviewed(a, True)
    single.set_reviewed(b, False)
    single.set_model_version(a, "v2")
    single.set_model_version(b, "w")  # from none
    replayed.replay([("delete", (model, True)), ("delete", (human, False)), ("delete", (no_box, True)),
                     ("restore", model), ("restore", human), ("reviewed", (a, False, True)), ("reviewed", (b, True, False)),
                     ("model_version", (a, "v1", "v2")), ("model_version", (b, None, "w"))])  # fmt: skip

    def written(store, mark):
        history = store._conn.execute(
            "SELECT photo_id, bib_id, action, before, after FROM history WHERE id > ? ORDER BY id", (mark,)).fetchall()
        bibs = store._conn.execute("SELECT * FROM bibs ORDER BY id").fetchall()
        photos = store._conn.execute("SELECT id, reviewed, model_version FROM photos ORDER BY id").fetchall()
        return [tuple(r) for r in history], [tuple(r) for r in bibs], [tuple(r) for r in photos]

    got = [written(s, mark) for s, mark in zip(stores, marks)]
    assert [h[2] for h in got[0][0]] == ["bib_delete", "bib_undo", "bib_delete", "bib_restore", "bib_restore",
                                         "reviewed", "reviewed", "model_version", "model_version"]  # fmt: skip
    assert got[1] == got[0]
    assert "Zoë" in next(h[3] for h in got[1][0] if h[2] == "bib_undo")  # unicode as it is, not \u escapes
    for s in stores:
        s.close()


def test_data_version_moves_for_other_connections_only_and_changes_since_names_what_they_wrote(folder):
    """What the app's poll rests on (gui/live_updates.py): its own commits leave data_version alone, another
    connection's (a worker thread, another process) move it; changes_since names the photos and meta keys."""
    store = Store.open(folder)
    store.scan()
    a, b = store.photo_by_path("img_0.jpg").id, store.photo_by_path("img_1.jpg").id
    mark, version = store.last_change(), store.data_version()
    store.set_reviewed(a, True)  # own commit
    assert store.data_version() == version
    with Store.open(folder) as other:
        other.add_bib(b, "12", None)
        other.set_reviewed(b, True)
        other.set_meta("startlist", "[]")
        with other.transaction():
            pass  # a transaction that wrote nothing
    moved = store.data_version()
    assert moved != version
    news = store.changes_since(mark)
    assert news.photos == {a: frozenset({"reviewed"}), b: frozenset({"bib_add", "reviewed"})}  # own rows too: by id
    assert news.meta == frozenset({"startlist"}) and news.last == store.last_change()
    assert store.changes_since(news.last).photos == {} and store.data_version() == moved


def test_bad_edits_raise_and_change_nothing(folder):
    store = Store.open(folder)
    store.scan()
    pid = store.photo_by_path("img_0.jpg").id
    n = len(store.history())
    with pytest.raises(ValueError):
        store.add_bib(pid, "  ", None)
    with pytest.raises(ValueError):
        store.add_bib(pid, "5", (1, 2, 3))
    with pytest.raises(ValueError):
        store.add_bib(pid, "5", None, source="robot")
    with pytest.raises(KeyError):
        store.add_bib(123456, "5", None)
    assert len(store.history()) == n and store.bibs(pid) == []
    assert store.add_bib(pid, " 42 ", (10, 10, 0, 0)).box == (0.0, 0.0, 10.0, 10.0)


def test_an_edit_inside_a_read_transaction_that_fails_is_rolled_back(folder):
    """Store.reading joins the edits made inside it (their own transaction() nests): an error before its end
    must leave none of them, as an edit's own transaction would, not commit the half done."""
    store = Store.open(folder)
    store.scan()
    pid = store.photo_by_path("img_0.jpg").id
    n = len(store.history())
    with pytest.raises(RuntimeError):
        with store.reading():
            store.add_bib(pid, "12", None)
            raise RuntimeError("the export failed")
    assert store.bibs(pid) == [] and len(store.history()) == n
    with store.reading():  # usable again, and a read transaction that ends well keeps what it holds
        store.add_bib(pid, "13", None)
    assert [b.number for b in Store.open(folder).bibs(pid)] == ["13"]


def test_to_annotations_and_filters(folder):
    store = Store.open(folder)
    store.scan()
    a = store.photo_by_path("img_0.jpg")
    store.add_bib(a.id, "1234", (1, 2, 3, 4))
    store.set_model_bibs(store.photo_by_path("img_1.jpg").id, [Bib("9", (0, 0, 5, 5), 0.5)], "v")
    store.set_reviewed(a.id, True)
    ann = store.to_annotations()
    assert [e["image"] for e in ann] == ["img_0.jpg", "img_1.jpg", "img_2.jpg", "sub/finish.JPG"]  # broken.jpg has no size
    assert ann[0] == {"image": "img_0.jpg", "width": 96, "height": 64, "bibs": [{"number": "1234", "box": [1.0, 2.0, 3.0, 4.0]}], "reviewed": True}
    assert ann[1]["bibs"] == [{"number": "9", "box": [0.0, 0.0, 5.0, 5.0], "confidence": 0.5}]
    assert [e["image"] for e in store.to_annotations(reviewed_only=True)] == ["img_0.jpg"]
    assert [p.relpath for p in store.photos("tagged")] == ["img_0.jpg", "img_1.jpg"]
    assert [p.relpath for p in store.photos("errors")] == ["broken.jpg"]
    assert [p.relpath for p in store.photos(lambda p: p.reviewed)] == ["img_0.jpg"]
    assert [p.relpath for p in store.find_number("1234")] == ["img_0.jpg"]
    assert store.counts() == Counts(photos=5, tagged=2, reviewed=1, errors=1)
    with pytest.raises(ValueError):
        store.photos("nonsense")


def test_newer_schema_is_refused(folder):
    Store.open(folder).close()
    db = folder / ".bibtagger" / "project.db"
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer bibtagger"):
        Store.open(folder)


def test_a_deleted_bibs_id_is_never_given_to_a_new_bib(folder):
    with Store.open(folder) as store:
        store.scan()
        photo = store.photo_by_path("img_0.jpg").id
        store.add_bib(photo, "1", None)
        top = store.add_bib(photo, "2", None)
        store.delete_bib(top.id)
        again = store.add_bib(photo, "3", None)
        assert again.id > top.id
        assert store.restore_bib(top).number == "2"  # what an undo of the delete does
        assert [b.number for b in store.bibs(photo)] == ["1", "2", "3"]


def test_schema_1_database_gets_autoincrement_bib_ids(folder):
    db = folder / ".bibtagger" / "project.db"
    db.parent.mkdir()
    from bibtagger_gui.core import store as store_module

    con = sqlite3.connect(db)
    con.executescript(store_module._SCHEMA.replace(" AUTOINCREMENT", ""))
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO meta VALUES ('folder', ?)", (str(folder.resolve()),))
    con.execute("INSERT INTO photos (id, relpath) VALUES (1, 'img_0.jpg')")
    for i, number in ((1, "11"), (2, "22"), (3, "33")):
        con.execute(
            "INSERT INTO bibs (id, photo_id, number, source, created, updated) VALUES (?, 1, ?, 'human', 'then', 'then')",
            (i, number),
        )
    con.execute("DELETE FROM bibs WHERE id = 3")
    con.execute("INSERT INTO history (ts, photo_id, bib_id, action) VALUES ('then', 1, 3, 'bib_delete')")
    con.commit()
    con.close()
    with Store.open(folder) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert [(b.id, b.number) for b in store.bibs(1)] == [(1, "11"), (2, "22")]
        assert store.add_bib(1, "44", None).id == 4  # not 3, the deleted bib's id the history holds
        sql = store._conn.execute("SELECT sql FROM sqlite_master WHERE name = 'bibs'").fetchone()[0]
        assert "AUTOINCREMENT" in sql
        indexes = {r[0] for r in store._conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'bibs' AND type = 'index'")}
        assert {"bibs_photo", "bibs_number"} <= indexes
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store._conn.execute("PRAGMA foreign_key_check").fetchall() == []
    with Store.open(folder) as store:  # reopening migrates nothing more
        assert [b.number for b in store.bibs(1)] == ["11", "22", "44"]


def test_schema_2_database_gets_pixel_hashes_on_its_next_scan(folder):
    """Schema 2 -> 3 adds photos.pixel_hash; the next scan reads it once for the unchanged photos
    (nothing else changes), so a same-size replacement after that is told from a metadata edit."""
    from bibtagger_gui.core.pixelhash import pixel_hash

    with Store.open(folder) as store:
        store.scan()
        pid = store.photo_by_path("img_0.jpg").id
        store.set_model_bibs(pid, [Bib("5", (1, 1, 9, 9), 0.9)], "v1")
        store.set_reviewed(pid, True)
    con = sqlite3.connect(folder / ".bibtagger" / "project.db")
    con.execute("ALTER TABLE photos DROP COLUMN pixel_hash")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with Store.open(folder) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        stored = lambda: dict(store._conn.execute("SELECT relpath, pixel_hash FROM photos"))  # noqa: E731
        assert set(stored().values()) == {None}
        history = len(store.history())
        report = store.scan()
        assert (report.added, report.updated, report.replaced, report.missing) == ([], [], [], [])
        assert len(store.history()) == history
        assert stored() == {rel: pixel_hash(folder / rel) for rel in stored()}
        assert stored()["broken.jpg"] == "" and stored()["img_0.jpg"]
        assert store.photo(pid).reviewed
        make_photo(folder / "img_0.jpg", 50)
        os.utime(folder / "img_0.jpg", (time.time() + 5, time.time() + 5))
        assert store.scan().replaced == ["img_0.jpg"]
        assert not store.photo(pid).reviewed and store.bibs(pid) == []


def test_corrupt_database_is_a_store_error(folder):
    (folder / ".bibtagger").mkdir()
    (folder / ".bibtagger" / "project.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="unusable") as err:
        Store.open(folder)
    # it says what to do (walk29, stop 32: it named the damage only): set the file aside, the photos are untouched
    db = folder / ".bibtagger" / "project.db"
    assert str(err.value).endswith(f"; to start this folder's project again, move {db} aside (rename it), or put a "
                                   "backup copy in its place; the photos are not affected")  # fmt: skip


def test_location_override_and_injectable_fallback(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    expected = fallback_db_path(folder)
    assert db_path_for(folder, writable=lambda f: False) == expected
    assert str(expected).startswith(str(tmp_path / "xdg" / "bibtagger" / "projects"))
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    with Store.open(folder) as store:
        assert store.db_path.parent.parent == tmp_path / "stores"
        store.scan()
        assert store.folder == folder.resolve()
    assert not (folder / ".bibtagger").exists()


def _as_nobody(code: str, *args: str, env: dict | None = None, imports: str = "") -> subprocess.CompletedProcess:
    """Run python code that drops root to user nobody after its imports (root ignores file modes; nobody may not
    read the interpreter's library: ``imports`` are made before)."""
    prelude = "import os, sys\nfrom bibtagger_gui.core.store import Store\nfrom bibtagger_gui.core.bib import Bib\n" + imports
    prelude += "if os.geteuid() == 0:\n    os.setgid(65534); os.setuid(65534)\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )


def _shared_folder(base: Path, photos: int = 2) -> tuple[Path, Path]:
    """``base/photos`` with a.jpg (and b.jpg) scanned into its own project, bib 321 on a.jpg, and ``base/xdg``: a
    user data folder anyone may write (a child running as nobody keeps its copy of the project there)."""
    folder = base / "photos"
    for i, name in enumerate(("a.jpg", "b.jpg")[:photos], 1):
        make_photo(folder / name, i)
    with Store.open(folder) as store:
        store.scan()
        store.add_bib(store.photo_by_path("a.jpg").id, "321", (1, 1, 9, 9))
    xdg = base / "xdg"
    xdg.mkdir()
    xdg.chmod(0o777)
    return folder, xdg


def test_read_only_folder_falls_back_to_user_data_dir(public_tmp):
    """A real read-only folder: as a normal user chmod 555; as root, a child process running as nobody."""
    photos, xdg = _shared_folder(public_tmp)  # earlier work done while the folder was writable is carried over
    sqlite3.connect(photos / ".bibtagger" / "mturk.db").close()  # a companion database (MTurk verdicts)
    for p in (photos, photos / ".bibtagger"):
        p.chmod(0o555)
    res = _as_nobody(
        """
        store = Store.open(sys.argv[1])
        r = store.scan()
        store.add_bib(store.photo_by_path('b.jpg').id, '654', None)
        print(store.db_path)
        print(sorted(b.number for bibs in store.all_bibs().values() for b in bibs))
        """,
        str(photos),
        env={"XDG_DATA_HOME": str(xdg)},
    )
    assert res.returncode == 0, res.stderr
    db_line, bibs_line = res.stdout.strip().splitlines()
    assert db_line.startswith(str(xdg / "bibtagger" / "projects")) and db_line.endswith("project.db")
    assert bibs_line == "['321', '654']"
    assert sorted(p.name for p in (photos / ".bibtagger").iterdir()) == ["mturk.db", "project.db"]  # nothing written there
    assert (Path(db_line).parent / "mturk.db").is_file()  # the verdicts were copied along
    # the folder is writable again (an SD card's lock switch, a share mounted read-write): the work
    # done meanwhile comes back into the folder, the older project and the user-data copy are kept
    for p in (photos, photos / ".bibtagger"):
        p.chmod(0o755)
    os.environ["XDG_DATA_HOME"], saved = str(xdg), os.environ.get("XDG_DATA_HOME")
    try:
        assert db_path_for(photos) == Path(db_line)  # what read-only commands (find) look at
        with Store.open(photos) as store:
            assert store.db_path == photos / ".bibtagger" / "project.db"
            assert sorted(b.number for bibs in store.all_bibs().values() for b in bibs) == ["321", "654"]
        assert db_path_for(photos) == photos / ".bibtagger" / "project.db"
    finally:
        if saved is None:
            del os.environ["XDG_DATA_HOME"]
        else:
            os.environ["XDG_DATA_HOME"] = saved
    assert sorted(p.name.split("-")[0] for p in Path(db_line).parent.iterdir()) == ["mturk.db.moved", "project.db.moved"]
    assert "project.db.replaced" in [p.name.split("-")[0] for p in (photos / ".bibtagger").iterdir()]


def test_read_only_folder_keeps_the_edits_still_in_the_projects_log(public_tmp):
    """A read-only copy of a folder whose project was open (or crashed) holds its last edits in project.db-wal
    only: the copy made for the read-only folder takes them (an immutable read skipped the log, losing them)."""
    photos, xdg = _shared_folder(public_tmp, photos=1)
    # a second session adds a bib and a review and dies before SQLite folds its log into project.db
    code = (
        "import os, sys\nfrom bibtagger_gui.core.store import Store\n"
        "s = Store.open(sys.argv[1]); s._conn.execute('PRAGMA wal_autocheckpoint=0')\n"
        "pid = s.photo_by_path('a.jpg').id; s.add_bib(pid, '654', None); s.set_reviewed(pid, True)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(photos)], check=True, timeout=60)
    assert (photos / ".bibtagger" / "project.db-wal").stat().st_size > 0
    for p in (photos / ".bibtagger", photos):
        for f in p.iterdir():
            f.chmod(0o444) if f.is_file() else None
        p.chmod(0o555)
    res = _as_nobody(
        """
        store = Store.open(sys.argv[1])
        a = store.photo_by_path('a.jpg')
        print(sorted(b.number for b in store.bibs(a.id)), a.reviewed)
        """,
        str(photos),
        env={"XDG_DATA_HOME": str(xdg)},
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "['321', '654'] True"
    assert sorted(p.name for p in (photos / ".bibtagger").iterdir()) == ["project.db", "project.db-shm", "project.db-wal"]


def test_a_copy_for_a_read_only_folder_killed_midway_leaves_no_empty_project(folder, tmp_path):
    """The copy of a read-only folder's project into the user data folder, killed part way (power cut, kill -9): the
    half-made file stood at the fallback's place, so every later open skipped the copy and showed an empty project."""
    with Store.open(folder) as store:
        store.scan()
        store.add_bib(store.photo_by_path("img_1.jpg").id, "3638", None)
    local, fallback = folder / ".bibtagger" / "project.db", tmp_path / "fallback" / "project.db"
    code = textwrap.dedent(
        """
        import os, sqlite3, sys
        from pathlib import Path
        from bibtagger_gui.core.store import Store

        def dying_backup(src, dst, immutable):  # SQLite's backup, a page at a time, killed after three
            source, target = sqlite3.connect(src), sqlite3.connect(dst)
            source.backup(target, pages=1, progress=lambda status, left, total: total - left >= 3 and os._exit(9))

        Store._backup = staticmethod(dying_backup)
        Store._copy_readonly(Path(sys.argv[1]), Path(sys.argv[2]))
        """
    )
    res = subprocess.run([sys.executable, "-c", code, str(local), str(fallback)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 9, res.stderr
    Store._copy_readonly(local, fallback)  # the next open's copy
    with Store(fallback, folder) as store:
        assert [b.number for b in store.bibs(store.photo_by_path("img_1.jpg").id)] == ["3638"]
    assert sorted(p.name for p in fallback.parent.iterdir()) == ["project.db"]


def test_a_read_only_folder_whose_user_data_folder_is_read_only_too_says_what_to_do(public_tmp):
    """Nowhere to keep the project (the folder and the user data folder read-only): the error said only "cannot open
    project database …/projects/<key>/project.db: Permission denied: …", not why that place nor what to do."""
    base = public_tmp
    photos, xdg = base / "photos", base / "xdg"
    make_photo(photos / "a.jpg", 1)
    xdg.mkdir()
    for p in (photos, xdg):
        p.chmod(0o555)
    res = _as_nobody(
        """
        from bibtagger_gui.core.store import StoreError
        try:
            Store.open(sys.argv[1])
        except StoreError as exc:
            print(exc)
        """,
        str(photos),
        env={"XDG_DATA_HOME": str(xdg)},
    )
    assert res.returncode == 0, res.stderr
    said = res.stdout.strip()
    assert said.startswith(f"{photos} cannot be written, so its project is kept in the user data folder, "
                           "which cannot be written either"), said  # fmt: skip
    assert "BIBTAGGER_STORE_DIR" in said and not list(photos.glob(".bibtagger"))


def test_a_new_store_in_a_folder_one_cannot_write_is_said_before_anything_runs(public_tmp):
    """`predict DIR --store /mnt/ro/race.db`: SQLite's "unable to open database file" came after the models loaded."""
    from bibtagger_gui.core.store import new_db_problem

    base = public_tmp
    ro = base / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    res = _as_nobody("from bibtagger_gui.core.store import new_db_problem\nprint(new_db_problem(sys.argv[1]))", str(ro / "race.db"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"{ro}: this folder cannot be written, so race.db cannot be made there; choose another place"
    assert new_db_problem(base / "race.db") is None


def test_a_read_only_store_file_is_said_before_anything_runs(public_tmp):
    """`predict DIR --store RO.db` (a database file one cannot write, or one in a folder one cannot write) loaded
    the models, scanned the photos, then failed with "attempt to write a readonly database"; predict says it
    before the models load (the missing models folder here would say otherwise), import before it parses its
    files (the broken one here would), and Store.open (export) says it too, nothing written."""
    base = public_tmp
    photos = base / "photos"
    make_photo(photos / "a.jpg", 1)
    ro_file, ro_dir = base / "ro.db", base / "rodir"
    with Store.open(photos, db_path=ro_file) as store:
        store.scan()
    ro_dir.mkdir()
    (ro_dir / "w.db").write_bytes(ro_file.read_bytes())
    (ro_dir / "w.db").chmod(0o666)
    ro_file.chmod(0o444)
    ro_dir.chmod(0o555)
    (base / "bad.json").write_text('[{"image": broken')
    before = ro_file.read_bytes()
    code = """
        from bibtagger_gui.cli import main
        from bibtagger_gui.core.store import Store, StoreError
        base, db = sys.argv[1], sys.argv[2]
        for argv in (["predict", base + "/photos", "--models", base + "/no models", "--store", db],
                     ["import", base + "/photos", base + "/bad.json", "--store", db]):
            print(main(argv), file=sys.stderr)
        try:
            Store.open(base + "/photos", db_path=db)
        except StoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
        else:
            print("opened", file=sys.stderr)
        """
    said = {
        ro_file: f"error: {ro_file}: this project database file cannot be written (read-only), so nothing could be "
                 "saved in it; make it writable, or give another file",
        ro_dir / "w.db": f"error: {ro_dir}: this folder cannot be written, so w.db in it cannot be saved into (SQLite "
                         "writes its journal files beside the database); copy it to a folder you can write, or choose another place",
    }
    for db, message in said.items():
        res = _as_nobody(code, str(base), str(db), imports=(
            "import bibtagger_gui.cli, bibtagger_gui.cli.predict_cmd, bibtagger_gui.cli.import_cmd\n"
            "import bibtagger_gui.core.recognizer, bibtagger_gui.core.annotations, bibtagger_gui.core.progress\n"
            "import bibtagger_gui.core.exporters, bibtagger_gui.core.importers, locale\n"
            "bibtagger_gui.cli.build_parser()\n"))
        assert res.returncode == 0, res.stderr
        # Store.open (export) reads a read-only file (test_export_reads_a_read_only_store_file), not one in a
        # folder it cannot write (SQLite needs its -shm there): ro.db's folder here is such a folder
        opened = message if db != ro_file else (
            f"error: {base}: this folder cannot be written, so ro.db in it cannot be saved into (SQLite writes its "
            "journal files beside the database); copy it to a folder you can write, or choose another place")
        assert res.stderr.splitlines() == [message, "1", message, "1", opened]
    assert ro_file.read_bytes() == before and sorted(p.name for p in ro_dir.iterdir()) == ["w.db"]


def test_export_reads_a_read_only_store_file(public_tmp):
    """`export DIR --store RO.db` (an archived project, a colleague's database given read-only) exported it before
    stop 32; the writability check of --store (there for predict and import, which write) refused it in Store.open
    ("cannot be written (read-only), so nothing could be saved in it"), though an export saves nothing there."""
    base = public_tmp
    base.chmod(0o777)
    photos = base / "photos"
    make_photo(photos / "a.jpg", 1)
    db = base / "ro.db"
    with Store.open(photos, db_path=db) as store:
        store.scan()
        store.add_bib(store.photo_by_path("a.jpg").id, "4321", None)
    db.chmod(0o444)
    before = db.read_bytes()
    out = base / "out.csv"
    code = """
        from bibtagger_gui.cli import main
        print(main(["export", sys.argv[1], "--format", "csv", "--store", sys.argv[2], "--out", sys.argv[3]]))
        """
    res = _as_nobody(code, str(photos), str(db), str(out), imports=(
        "import bibtagger_gui.cli, bibtagger_gui.cli.export_cmd, bibtagger_gui.core.exporters, locale\n"
        "import bibtagger_gui.core.photo_selection, bibtagger_gui.core.sheet_csv, bibtagger_gui.core.handout\n"
        "bibtagger_gui.cli.build_parser()\n"))
    assert res.stdout.strip() == "0", res.stderr
    assert "4321" in out.read_text(encoding="utf-8-sig")
    assert db.read_bytes() == before


def test_project_started_while_read_only_moves_into_the_writable_folder(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    fallback = fallback_db_path(folder)
    with Store(fallback, folder) as store:  # what Store.open did while the folder was read-only
        store.scan()
        store.add_bib(store.photo_by_path("img_1.jpg").id, "3638", None)
    verdicts = sqlite3.connect(fallback.parent / "mturk.db")  # a companion database (MTurk verdicts)
    verdicts.execute("CREATE TABLE v (id TEXT)")
    verdicts.execute("INSERT INTO v VALUES ('A1')")
    verdicts.commit()
    verdicts.close()
    assert db_path_for(folder) == fallback
    with Store.open(folder) as store:
        assert store.db_path == folder / ".bibtagger" / "project.db"
        assert [b.number for b in store.bibs(store.photo_by_path("img_1.jpg").id)] == ["3638"]
    assert not fallback.exists() and len(list(fallback.parent.glob("project.db.moved-*"))) == 1
    moved = sqlite3.connect(folder / ".bibtagger" / "mturk.db")
    assert moved.execute("SELECT id FROM v").fetchall() == [("A1",)]  # the verdicts came along
    moved.close()
    assert not (fallback.parent / "mturk.db").exists()
    assert db_path_for(folder) == folder / ".bibtagger" / "project.db"


def test_an_explicit_database_of_another_existing_folder_is_refused(folder, tmp_path):
    other = tmp_path / "other_race"
    make_photo(other / "x.jpg", 5)
    db = tmp_path / "elsewhere" / "race.db"
    db.parent.mkdir()  # a new explicit database goes into a folder that exists (store.new_db_problem)
    with Store.open(folder, db_path=db) as store:
        store.scan()
    with pytest.raises(StoreError, match="is the project database of .*race"):
        Store.open(other, db_path=db)
    with Store.open(folder, db_path=db) as store:  # untouched: still that folder's, nothing missing
        assert store.folder == folder.resolve() and store.photos("missing") == []
    folder.rename(tmp_path / "race_moved")  # the folder moved: its database follows it
    with Store.open(tmp_path / "race_moved", db_path=db) as store:
        assert store.folder == (tmp_path / "race_moved").resolve()


def test_two_scans_at_once_do_not_collide(folder):
    """A CLI command scanning beside the app: the second scan to commit skips what the first added."""
    first, second = Store.open(folder), Store.open(folder)

    def meanwhile(done: int, total: int) -> None:
        if done == total:  # the first has walked the folder; the other process scans it all now
            second.scan()

    report = first.scan(progress=meanwhile)
    assert report.added == []  # the other one added them first
    assert sorted(p.relpath for p in first.photos()) == ["broken.jpg", "img_0.jpg", "img_1.jpg", "img_2.jpg", "sub/finish.JPG"]
    assert first._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    first.close()
    second.close()


def test_stores_in_several_threads(folder):
    Store.open(folder).scan()
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            with Store.open(folder) as s:
                pid = s.photo_by_path(f"img_{k}.jpg").id
                for i in range(15):
                    s.add_bib(pid, f"{k}{i}", None)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store.open(folder) as s:
        assert sum(len(v) for v in s.all_bibs().values()) == 45


CRASH_WRITER = """
import sys
from bibtagger_gui.core.store import Store
store = Store.open(sys.argv[1])
pid = store.photo_by_path("img_0.jpg").id
i = 0
while True:
    bib = store.add_bib(pid, str(i), (i, i, i + 10, i + 10), extra={"pad": "x" * 2000})
    print(bib.id, flush=True)
    i += 1
"""


@pytest.mark.parametrize("after", [5, 40])
def test_crash_safety_sigkill_mid_write(folder, after):
    with Store.open(folder) as store:
        store.scan()
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(folder)], stdout=subprocess.PIPE, text=True)
    committed: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(committed) < after and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed.append(int(line))
        time.sleep(0.003 * after % 0.02)  # land somewhere inside a later write
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # read the rest through the same buffered stream: communicate(timeout=...) reads the raw
        # pipe and would drop ids that readline() had already buffered
        rest = proc.stdout.read()
        proc.stdout.close()
    committed += [int(x) for x in rest.split()]
    assert len(committed) >= after, "writer died before committing anything"
    with Store.open(folder) as store:
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {b.id for b in store.bibs(store.photo_by_path("img_0.jpg").id)}
        assert set(committed) <= ids
        assert len(ids) - len(committed) <= 1  # at most the write that was never acknowledged
        assert len([h for h in store.history() if h.action == "bib_add"]) == len(ids)


def test_scan_follows_linked_folders_once(tmp_path):
    """A folder of links to other folders (how a dataset is often shared) is scanned; loops end."""
    from bibtagger_gui.core.catalogue import walk_photos

    real = tmp_path / "real" / "day1"
    real.mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        cv2.imwrite(str(real / name), np.full((40, 60, 3), 128, np.uint8))
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    (shoot / "day1").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(shoot, target_is_directory=True)  # a cycle back to the top
    assert list(walk_photos(shoot)) == ["day1/a.jpg", "day1/b.jpg"]
    store = Store.open(shoot)
    store.scan()
    assert sorted(p.relpath for p in store.photos()) == ["day1/a.jpg", "day1/b.jpg"]


def test_scan_does_not_follow_a_link_to_a_folder_holding_the_photo_folder(tmp_path):
    """A link in the shoot to its parent (or to ~, or /) was followed: the scan took in every photo of every folder
    beside the shoot (the whole disk for a link to /), to be recognized and kept in this project. It is left out and said."""
    from bibtagger_gui.core.catalogue import walk_photos

    shoot = tmp_path / "races" / "shoot"
    make_photo(shoot / "a.jpg", 1)
    make_photo(tmp_path / "races" / "other race" / "b.jpg", 2)
    (shoot / "sub").mkdir()
    (shoot / "sub" / "all races").symlink_to(tmp_path / "races", target_is_directory=True)
    (shoot / "top").symlink_to(tmp_path, target_is_directory=True)
    errors: list[tuple[str, str]] = []
    assert list(walk_photos(shoot, errors)) == ["a.jpg"]
    assert sorted(rel for rel, _ in errors) == ["sub/all races", "top"]
    assert all("holds this photo folder" in why for _, why in errors), errors


def test_a_named_pipe_named_like_a_photo_does_not_hang_the_scan(tmp_path):
    """`mkfifo IMG_9.jpg` (or a device file) in the shoot: the scan's hashing opened it and waited forever for a writer."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    shoot = tmp_path / "shoot"
    make_photo(shoot / "a.jpg", 1)
    os.mkfifo(shoot / "pipe.jpg")
    code = "import sys\nfrom bibtagger_gui.core.store import Store\nr = Store(sys.argv[2], sys.argv[1]).scan()\nprint(r.added, r.errors)"
    res = subprocess.run([sys.executable, "-c", code, str(shoot), str(tmp_path / "p.db")], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "['a.jpg', 'pipe.jpg'] [('pipe.jpg', 'not a regular file (a named pipe or a device)')]"


def test_restore_bib_puts_a_row_back_exactly_and_an_undone_add_rejects_no_number(folder):
    """Undo/redo rely on it: the restored row reads back equal (times and extra too)."""
    store = Store.open(folder)
    store.scan()
    pid = store.photos()[0].id
    row = store.add_bib(pid, "42", (1, 2, 30, 40), source="human", extra={"worker_id": "W1"})
    store.update_bib(row.id, number="43")
    edited = store.bib(row.id)
    store.delete_bib(row.id, reject=False)  # the undo of an add
    assert store.deleted_numbers(pid) == set()
    assert store.restore_bib(edited) == edited and store.bibs(pid) == [edited]
    mark = store.last_change()
    store.delete_bib(row.id)  # a real delete: the number is rejected
    assert store.deleted_numbers(pid) == {"43"} and store.last_change() > mark
    store.close()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_a_folder_where_the_write_ahead_log_cannot_work_keeps_the_project_per_user(folder, tmp_path, monkeypatch):
    """A network or FUSE file system that cannot map SQLite's shared memory (simulated: the -shm
    file is a FIFO, which cannot be mmapped: "disk I/O error") is treated like a read-only one: the
    project goes to the per-user fallback and stays there, with no junk left beside the photos."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    local_dir = folder / ".bibtagger"
    local_dir.mkdir()
    os.mkfifo(local_dir / "project.db-shm")
    with Store.open(folder) as store:
        assert store.db_path == fallback_db_path(folder)
        store.scan()
        store.add_bib(store.photo_by_path("img_0.jpg").id, "1234", None)
    for _ in range(2):  # reopening (the fallback is newer: moving it back is tried and fails) finds the edit
        with Store.open(folder) as store:
            assert store.db_path == fallback_db_path(folder)
            assert [b.number for b in store.bibs(store.photo_by_path("img_0.jpg").id)] == ["1234"]
    assert not [p.name for p in local_dir.iterdir() if ".replaced-" in p.name or ".moved-" in p.name]


def test_scan_names_photos_in_formats_it_cannot_read(tmp_path):
    """HEIC/AVIF/RAW files are left out of the project but listed in the report (hidden ones are not)."""
    from bibtagger_gui.core.imageio import unsupported_note

    folder = tmp_path / "shoot"
    (folder / "raw").mkdir(parents=True)
    make_photo(folder / "a.JPG", 1)
    for name in ("b.heic", "c.AVIF", "raw/d.NEF", "raw/e.dng", ".f.heic", "._a.JPG", "notes.txt"):
        (folder / name).write_bytes(b"x")
    with Store.open(folder) as store:
        report = store.scan()
        assert [p.relpath for p in store.photos()] == ["a.JPG"]
    assert sorted(report.unsupported) == ["b.heic", "c.AVIF", "raw/d.NEF", "raw/e.dng"]
    assert report.errors == []
    assert unsupported_note(report.unsupported) == (
        "4 file(s) in formats bibtagger cannot read were left out (1 AVIF, 1 DNG, 1 HEIC, 1 NEF): "
        "convert them to JPEG; RAW files: use the camera's JPEGs")  # fmt: skip
    assert unsupported_note(["x.CR2"]).endswith("(1 CR2): RAW files: use the camera's JPEGs")
    assert unsupported_note([]) is None


def test_store_replaced_tells_a_file_replaced_or_written_over_from_its_own_checkpoints(folder, tmp_path):
    """Store.replaced: None for the store's own and other connections' work (checkpoints included); the reason
    for another file put at the path, for a file gone, and for a copy written over the file in place whose
    history lacks the mark (its pages read afresh once the file's size or time moved)."""
    store = Store.open(folder)
    store.scan()
    photo = store.photos()[0].id
    backup = tmp_path / "backup.db"
    with sqlite3.connect(store.db_path) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    with Store.open(folder) as other:
        other.add_bib(photo, "1", None)
    store.add_bib(photo, "2", None)
    store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    mark = store.last_change()
    assert store.replaced(mark) is None and store.changes_since(0).replaced is None
    data = backup.read_bytes()
    with open(store.db_path, "r+b") as f:  # written over in place (same inode), the log empty
        f.write(data)
        f.truncate()
    why = store.replaced(mark)
    assert why is not None and "holds another history now" in why
    changes = store.changes_since(mark)
    assert changes.replaced == why and changes.photos == {} and changes.last == mark
    assert store.close_replaced() == []  # the same file: no log of another file to set aside
    with Store.open(folder) as store:
        assert store.replaced(store.last_change()) is None and store.bibs(photo) == []  # the copy, as it was put back
        store.db_path.rename(tmp_path / "moved.db")
        assert store.replaced() == f"the project file {store.db_path} is gone"


def test_a_file_replaced_by_rename_is_told_and_its_old_log_set_aside_not_replayed(folder, tmp_path):
    """A sync tool puts its copy in place by a rename: the open connection keeps the old file, and on closing it
    leaves that file's write-ahead log beside the new one, which the next opening replayed onto it (the copy
    undone without a word). close_replaced sets the old log aside, so the folder opens with the copy's state."""
    store = Store.open(folder)
    store.scan()
    photo = store.photos()[0].id
    backup = tmp_path / "backup.db"
    with sqlite3.connect(store.db_path) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    store.add_bib(photo, "7", None)  # after the backup: in the old file's log
    mark = store.last_change()
    os.replace(backup, store.db_path)
    assert store.replaced(mark) == f"the project file {store.db_path} was replaced by another file (a sync tool, or a copy put back)"
    assert [b.number for b in store.bibs(photo)] == ["7"]  # what the connection still reads: the old file
    kept = store.close_replaced()
    assert [p.name.split(".replaced-")[0] for p in kept] == ["project.db", "project.db-wal", "project.db-shm"]
    assert all(p.exists() for p in kept)  # set aside, not deleted
    with contextlib.closing(sqlite3.connect(kept[0])) as copy:  # bib 7, which the new file lacks, kept whole
        assert [n for (n,) in copy.execute("SELECT number FROM bibs WHERE photo_id = ?", (photo,))] == ["7"]
    with Store.open(folder) as again:
        assert again.bibs(photo) == [] and again.replaced(again.last_change()) is None


def test_a_file_replaced_by_one_that_holds_every_edit_of_the_open_store_keeps_no_copy(folder, tmp_path):
    """A sync tool's copy taken after the open store's last edit (the same project, others' edits on top) loses
    nothing: only the old log is set aside, no copy of the project is made (they would pile up at every sync)."""
    store = Store.open(folder)
    store.scan()
    photo = store.photos()[0].id
    store.add_bib(photo, "7", None)
    newer = tmp_path / "newer.db"
    with contextlib.closing(sqlite3.connect(store.db_path)) as src, contextlib.closing(sqlite3.connect(newer)) as dst:
        src.backup(dst)
        dst.execute("INSERT INTO history (photo_id, action, ts) SELECT photo_id, 'other', ts FROM history ORDER BY id DESC LIMIT 1")
        dst.commit()  # an edit made elsewhere after this store's last one
    os.replace(newer, store.db_path)
    assert store.replaced(store.last_change()) is not None
    kept = store.close_replaced()
    assert [p.name.split(".replaced-")[0] for p in kept] == ["project.db-wal", "project.db-shm"]
    assert not list(store.db_path.parent.glob("project.db.replaced-*"))


def test_a_deleted_project_file_is_kept_whole_from_the_open_connection_and_its_log_not_replayed(folder, tmp_path):
    """project.db deleted under an open store (by mistake, or a sync tool's delete before its copy): the connection
    still reads the whole project (the unlinked file and its log), and nothing else does once it closes; the reopening
    then started an empty project, or replayed the old log onto a copy put there since. close_replaced now writes
    what the connection reads to project.db.gone-<time> first and sets the old log aside."""
    store = Store.open(folder)
    store.scan()
    photo = store.photos()[0].id
    backup = tmp_path / "backup.db"
    with sqlite3.connect(store.db_path) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)  # an older copy, without the bibs below
    for number in ("11", "12"):
        store.add_bib(photo, number, None)  # in the log only (no checkpoint): a correction that must not be lost
    store.set_reviewed(photo, True)
    mark = store.last_change()
    store.db_path.unlink()
    assert store.replaced(mark) == f"the project file {store.db_path} is gone"
    kept = store.close_replaced()
    copy = kept[0]
    assert copy.parent == store.db_path.parent and copy.name.startswith("project.db.gone-")
    assert sorted(p.name.split(".replaced-")[0] for p in kept[1:]) == ["project.db-shm", "project.db-wal"]
    with contextlib.closing(sqlite3.connect(copy)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert sorted(n for (n,) in db.execute("SELECT number FROM bibs WHERE photo_id = ?", (photo,))) == ["11", "12"]
        assert db.execute("SELECT reviewed FROM photos WHERE id = ?", (photo,)).fetchone()[0] == 1
    os.replace(backup, store.db_path)  # the sync tool's copy arrives after the poll saw the file gone
    with Store.open(folder) as again:  # the copy as it was put there, not the old log replayed onto it
        assert again.bibs(photo) == [] and again.replaced(again.last_change()) is None


def test_a_read_only_folders_copy_says_when_the_folders_own_project_changed_and_keeps_the_users_review(public_tmp):
    """The copy in the user data folder is made once: someone reviewing on the share later changed the folder's own
    project.db and the user went on with the old copy, never told. Each opening now says so (the copy kept), in
    Store.copy_behind and on the CLI's stderr; renaming the copy, as the note says, takes the folder's project."""
    photos, xdg = _shared_folder(public_tmp)
    env = {"XDG_DATA_HOME": str(xdg)}

    def read_only(on: bool) -> None:
        for p in (photos, photos / ".bibtagger"):
            p.chmod(0o555 if on else 0o755)

    show = """
        store = Store.open(sys.argv[1])
        print(store.db_path)
        print(sorted(b.number for bibs in store.all_bibs().values() for b in bibs))
        print(store.copy_behind)
        """
    read_only(True)
    res = _as_nobody(show.replace("print(store.db_path)", "store.add_bib(store.photo_by_path('b.jpg').id, '654', None); print(store.db_path)"),
                     str(photos), env=env)
    assert res.returncode == 0, res.stderr
    copy, bibs, behind = res.stdout.strip().splitlines()
    assert (bibs, behind) == ("['321', '654']", "None")  # a fresh copy: nothing to say
    res = _as_nobody(show, str(photos), env=env)
    assert res.stdout.strip().splitlines()[1:] == ["['321', '654']", "None"]  # reopened, the folder unchanged
    # someone on the share reviews in the folder's own project (the writer's Store, not this user's open)
    read_only(False)
    with Store(photos / ".bibtagger" / "project.db", photos) as theirs:
        theirs.add_bib(theirs.photo_by_path("b.jpg").id, "999", None)
    read_only(True)
    res = _as_nobody(show, str(photos), env=env)
    assert res.returncode == 0, res.stderr
    _, bibs, behind = res.stdout.strip().splitlines()
    assert bibs == "['321', '654']"  # the user's review is kept, not overwritten
    assert "the folder's own project" in behind and "changed since your copy of" in behind and "is kept" in behind
    assert f"rename {copy}" in behind
    cli = _as_nobody("sys.exit(main(['find', sys.argv[1], '654']))", str(photos), env=env,
                     imports="import locale\nfrom bibtagger_gui.cli import build_parser, main\nimport bibtagger_gui.cli.find_cmd, bibtagger_gui.core.exporters\nbuild_parser()\n")
    assert cli.returncode == 0, cli.stderr
    assert "b.jpg" in cli.stdout and "note: the folder's own project" in cli.stderr
    # a copy made before the versions were recorded says nothing new
    old = sqlite3.connect(copy)
    old.execute("DELETE FROM meta WHERE key = 'copied_from'")
    old.commit()
    old.close()
    assert _as_nobody(show, str(photos), env=env).stdout.strip().splitlines()[2] == "None"
    # taking the folder's project as the note says: the copy renamed (kept), the next opening copies it again
    Path(copy).rename(copy + ".mine")
    res = _as_nobody(show, str(photos), env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines() == [copy, "['321', '999']", "None"]
    assert Path(copy + ".mine").is_file()


def test_a_read_only_folders_copy_is_not_called_stale_when_the_share_only_folded_its_log(public_tmp):
    """The stale-copy note compared the versions (size, mtime, change time) of the folder's project.db and -wal: the
    share's program folding its log into project.db (a checkpoint: on closing, or as it goes), which changes the file
    but not one row, said "changed since your copy" on every later opening. It compares what a reader of the share's
    project sees now; a real change (a bib added on the share) still says so."""
    photos, xdg = _shared_folder(public_tmp)
    local = photos / ".bibtagger" / "project.db"
    # a session on the share adds a bib and dies with it in the log only (its program still running, or killed)
    code = ("import os, sys\nfrom bibtagger_gui.core.store import Store\n"
            "s = Store.open(sys.argv[1]); s._conn.execute('PRAGMA wal_autocheckpoint=0')\n"
            "s.add_bib(s.photo_by_path('b.jpg').id, '654', None)\nos._exit(0)\n")  # fmt: skip
    subprocess.run([sys.executable, "-c", code, str(photos)], check=True, timeout=60)
    assert Store._logged(local)

    def read_only(on: bool) -> None:
        for p in (photos, photos / ".bibtagger"):
            p.chmod(0o555 if on else 0o755)

    def opened() -> list[str]:  # the copy's bibs and its note, as the user opening the read-only folder sees them
        res = _as_nobody("store = Store.open(sys.argv[1])\n"
                         "print(sorted(b.number for bibs in store.all_bibs().values() for b in bibs))\n"
                         "print(store.copy_behind)\n", str(photos), env={"XDG_DATA_HOME": str(xdg)})  # fmt: skip
        assert res.returncode == 0, res.stderr
        return res.stdout.strip().splitlines()

    def on_the_share(sql: str, die: bool) -> None:  # the share's program, on the folder's own project
        read_only(False)
        before = file_version(local)
        run = ("import os, sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n"
               f"print(c.execute({sql!r}).fetchall())\n" + ("os._exit(0)\n" if die else "c.close()\n"))  # fmt: skip
        subprocess.run([sys.executable, "-c", run, str(local)], check=True, timeout=60)
        assert file_version(local) != before  # the file's version moved
        read_only(True)

    read_only(True)
    assert opened() == ["['321', '654']", "None"]  # the copy, made now: the log's bib taken
    on_the_share("PRAGMA wal_checkpoint(PASSIVE)", die=True)  # the log folded as it goes, kept
    assert Store._logged(local)
    assert opened() == ["['321', '654']", "None"]
    on_the_share("PRAGMA wal_checkpoint(TRUNCATE)", die=False)  # folded on closing: the log emptied and removed
    assert not Store._logged(local)
    assert opened() == ["['321', '654']", "None"]
    copy = next(xdg.glob("bibtagger/projects/*/project.db"))
    with contextlib.closing(sqlite3.connect(copy)) as db:  # what it saw is recorded: later openings only stat again
        made = json.loads(db.execute("SELECT value FROM meta WHERE key = 'copied_from'").fetchone()[0])
    assert (tuple(made["db"]), made["wal"]) == (file_version(local), None)
    assert opened() == ["['321', '654']", "None"]
    read_only(False)
    with Store(local, photos) as theirs:  # someone reviews on the share
        theirs.add_bib(theirs.photo_by_path("b.jpg").id, "999", None)
    read_only(True)
    bibs, note = opened()
    assert bibs == "['321', '654']" and "the folder's own project" in note and "changed since your copy of" in note


def fill_up(store: Store) -> None:
    """No room left for the project: SQLite's own SQLITE_FULL ("database or disk is full"), as on a full disk, through
    ``PRAGMA max_page_count`` on this connection (a real full tmpfs needs root): the file may not grow, and every free
    page is taken (rows of shrinking size). Also tests/test_cli_predict.py and tests/test_gui_save_fails.py."""
    conn = store._conn
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for i in range(10_000):
            for size in (2000, 200, 20):
                try:
                    store.set_meta(f"pad{i}-{size}", "x" * size)
                except sqlite3.OperationalError:
                    if size == 20:
                        raise


def test_a_full_disk_met_mid_statement_is_said_as_such_and_the_store_goes_on(folder):
    """SQLite rolls a transaction back by itself when it runs out of room mid-statement (SQLITE_FULL; here its own
    ``max_page_count``, as a full disk): the store's ROLLBACK then failed with "cannot rollback - no transaction is
    active", which took the place of "database or disk is full" in every message. Once there is room the same
    connection writes again."""
    with Store.open(folder) as store:
        store.scan()
        pid = store.photos()[0].id
        fill_up(store)  # raises "database or disk is full", not "cannot rollback - no transaction is active"
        assert not store._conn.in_transaction
        store._conn.execute("PRAGMA max_page_count = 1073741823")  # room again
        bib = store.add_bib(pid, "12", None)
        assert [b.id for b in store.bibs(pid)] == [bib.id]


def test_the_content_print_of_a_share_whose_program_closes_the_project_meanwhile_is_not_called_a_change(folder, monkeypatch):
    """The stale-copy check reads the share's project.db and then its -wal (into a temporary copy where SQLite replays
    the log). The share's program closing the project between the two reads (its log folded into project.db and
    removed: a checkpoint, the same rows) made the print unreadable (the -wal gone) or of a state nobody wrote, and
    the copy said "the folder's own project changed". The print is read again when the files moved during the read."""
    import shutil

    from bibtagger_gui.core import store as store_mod

    with Store.open(folder) as store:
        store.scan()
    local = folder / ".bibtagger" / "project.db"

    def on_the_share(code: str) -> None:  # the share's program, still running (its log kept) unless it closes
        subprocess.run([sys.executable, "-c", "import os, sqlite3, sys\nfrom bibtagger_gui.core.store import Store\n"
                        "s = Store.open(sys.argv[1]); s._conn.execute('PRAGMA wal_autocheckpoint=0')\n" + code,
                        str(folder)], check=True, timeout=60)  # fmt: skip

    on_the_share("s.add_bib(s.photo_by_path('img_0.jpg').id, '654', None)\nos._exit(0)\n")
    assert Store._logged(local)
    recorded = json.dumps({**store_mod._copied_from(local), "copied": "then"})  # what the copy records
    on_the_share("s._conn.execute('PRAGMA wal_checkpoint(PASSIVE)')\nos._exit(0)\n")  # the log folded in, kept
    assert Store._logged(local) and file_version(local) != tuple(json.loads(recorded)["db"])
    assert not store_mod._copy_state(local, recorded)[0]  # the same rows: no note

    real, closed = shutil.copyfile, []

    def copy_then_close(src, dst, *args, **kwargs):  # right after project.db is read, the share's program closes
        out = real(src, dst, *args, **kwargs)
        if Path(src) == local and not closed:
            closed.append(src)
            on_the_share("s.close()\n")  # its last connection: the log folded into project.db and removed
            assert not Store._logged(local)
        return out

    monkeypatch.setattr(shutil, "copyfile", copy_then_close)
    behind, refreshed = store_mod._copy_state(local, recorded)
    assert closed and not behind and refreshed is not None
    assert store_mod.copy_behind_note(local.with_name("copy.db"), local, recorded) is None


def test_a_copy_whose_folder_project_changed_reads_its_content_print_once_per_version_of_the_files(folder, monkeypatch):
    """A copy whose read-only folder's project really changed (someone reviewed on the share) recorded nothing of
    it: every later opening (the app's, each command's) read the print of the share's whole project again (a
    temporary copy of it and a read of every page) to say the same note. The versions it was found changed at are
    recorded: later openings only stat, until the share's files move again."""
    from bibtagger_gui.core import store as store_mod

    with Store.open(folder) as theirs:
        theirs.scan()
    local, copy = folder / ".bibtagger" / "project.db", folder.parent / "copy" / "project.db"
    copy.parent.mkdir()
    Store._copy_readonly(local, copy)  # what Store.open does once for a read-only folder
    with Store(local, folder) as theirs:  # someone on the share reviews after that
        theirs.add_bib(theirs.photo_by_path("img_0.jpg").id, "999", None)
    reads = []
    real = store_mod._content_print
    monkeypatch.setattr(store_mod, "_content_print", lambda db: reads.append(db) or real(db))

    def opened() -> str | None:
        with Store(copy, folder) as mine:
            mine._note_copy_behind(local)
            return mine.copy_behind

    for _ in range(3):
        assert "changed since your copy of" in (opened() or "")
    assert len(reads) == 1
    with contextlib.closing(sqlite3.connect(local)) as theirs:  # the share's files move again (a new review)
        theirs.execute("UPDATE photos SET reviewed = 1")
        theirs.commit()
    assert "changed since your copy of" in (opened() or "") and len(reads) == 2
