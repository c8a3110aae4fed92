"""The scan's file version holds the change time (st_ctime_ns) besides size and mtime (docs/store.md#file-versions):
a file replaced by another of the same length whose mtime was put back (``cp -p``, ``rsync -a``, ``os.utime``) is
seen; a change of the file's status only (chmod) is re-checked and keeps everything, once."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.core import store as store_module
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.store import Store

pytestmark = pytest.mark.skipif(os.name == "nt", reason="st_ctime is the creation time on Windows: not in the version")

BOX = (10.0, 10.0, 60.0, 40.0)


def jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    ok, data = cv2.imencode(".jpg", (rng.random((120, 160, 3)) * 255).astype(np.uint8))
    assert ok
    return data.tobytes()


def equal_length(a: bytes, b: bytes) -> tuple[bytes, bytes]:
    """Two pictures as files of one length (bytes after the JPEG's end are ignored by every reader)."""
    n = max(len(a), len(b))
    return a + b"\0" * (n - len(a)), b + b"\0" * (n - len(b))


@pytest.fixture
def shoot(tmp_path):
    """A folder of two photos, scanned; photo a.jpg has a model bib, a human bib and is reviewed."""
    first, other = equal_length(jpeg(1), jpeg(2))
    (tmp_path / "a.jpg").write_bytes(first)
    (tmp_path / "b.jpg").write_bytes(jpeg(3))
    with Store.open(tmp_path) as store:
        store.scan()
        pid = store.photo_by_path("a.jpg").id
        store.set_model_bibs(pid, [Bib("12", BOX, 0.9)], "det:1+read:1")
        store.add_bib(pid, "345", None)
        store.set_reviewed(pid, True)
    return tmp_path, other


def facts(folder: Path) -> tuple:
    with Store.open(folder) as store:
        photos = sorted((p.id, p.relpath, p.sha1, p.reviewed, p.model_version, p.missing) for p in store.photos())
        bibs = sorted((b.photo_id, b.number, b.source) for p in store.photos() for b in store.bibs(p.id))
    return photos, bibs


def history_rows(folder: Path) -> int:
    with sqlite3.connect(folder / ".bibtagger" / "project.db") as db:
        return db.execute("SELECT COUNT(*) FROM history").fetchone()[0]


def test_a_same_length_replacement_with_its_mtime_put_back_is_seen(shoot):
    """It was not: size and mtime equal, the scan kept the old picture's bibs and review (found by a user's walk)."""
    folder, other = shoot
    path = folder / "a.jpg"
    st = path.stat()
    path.write_bytes(other)  # cp -p: the same inode, another picture, then the old times
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    with Store.open(folder) as store:
        report = store.scan()
        photo = store.photo_by_path("a.jpg")
        bibs = [(b.number, b.source) for b in store.bibs(photo.id)]
    assert report.updated == ["a.jpg"] and report.replaced == ["a.jpg"]
    assert not photo.reviewed and bibs == [("345", "human")]  # the model's bib went, the person's stays for the review


def test_a_chmod_is_re_checked_once_and_keeps_everything(shoot, monkeypatch):
    folder, _other = shoot
    before, marks = facts(folder), history_rows(folder)
    read = []
    real = store_module.describe
    monkeypatch.setattr(store_module, "describe", lambda f, rel, *a, **k: read.append(rel) or real(f, rel, *a, **k))
    os.chmod(folder / "a.jpg", 0o600)
    with Store.open(folder) as store:
        report = store.scan()
    assert read == ["a.jpg"]  # re-checked: the change time moved
    assert not (report.updated or report.replaced or report.added or report.missing or report.moved)
    assert facts(folder) == before and history_rows(folder) == marks  # no edit lost or doubled, nothing logged
    read.clear()
    with Store.open(folder) as store:
        store.scan()
    assert read == []  # the new change time was kept: once


def test_a_store_without_change_times_takes_them_without_reading_the_photos(shoot, monkeypatch):
    """A project written before change times (or by an older bibtagger, which leaves them NULL) is not re-read."""
    folder, _other = shoot
    with sqlite3.connect(folder / ".bibtagger" / "project.db") as db:
        db.execute("UPDATE photos SET ctime_ns = NULL")
    read = []
    monkeypatch.setattr(store_module, "describe", lambda *a, **k: read.append(a) or pytest.fail("re-read"))
    with Store.open(folder) as store:
        report = store.scan()
    assert read == [] and not report.updated
    with sqlite3.connect(folder / ".bibtagger" / "project.db") as db:
        assert db.execute("SELECT COUNT(*) FROM photos WHERE ctime_ns IS NULL").fetchone()[0] == 0


def test_a_print_of_the_picture_before_a_same_length_replacement_is_not_kept_for_the_new_one(shoot):
    """Store.add_missing_pixel_print (the app's view keeps the print of its decode where an old store has none)
    compared the row's size and mtime only: the view decoded a.jpg, the picture was then replaced by another of the
    same length with its mtime put back and the folder scanned again (the row now names the other picture, its change
    time new), and the old picture's print went in as the new one's. A re-encoded copy of the new picture would then
    have been taken for another picture (its review and bibs dropped), and another picture for the one reviewed."""
    from bibtagger_gui.core.catalogue import file_version
    from bibtagger_gui.core.pixelprint import file_print

    folder, other = shoot
    path = folder / "a.jpg"
    version, old_print = file_version(path), file_print(path)  # the view's decode, before the replacement
    st = path.stat()
    path.write_bytes(other)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with Store.open(folder) as store:
        assert store.scan().replaced == ["a.jpg"]
        photo = store.photo_by_path("a.jpg")
        assert (photo.size, photo.mtime) == version[:2] and store.pixel_print(photo.id) is None
        assert not store.add_missing_pixel_print(photo.id, old_print, version)
        assert store.pixel_print(photo.id) is None
        assert store.add_missing_pixel_print(photo.id, file_print(path), file_version(path))  # the file it names now
        assert store.pixel_print(photo.id) == file_print(path)


def test_a_version_moved_by_its_change_time_alone_is_told_from_one_as_stored_and_from_another(tmp_path):
    """The scan's three cases of a known file, from ``catalogue``'s one rule (it wrote the comparison out again
    inline until stop 33): as stored (``is_version``: not read), moved by its change time alone (a chmod:
    ``moved_change_time``, read again), another size or mtime (neither: a change)."""
    from bibtagger_gui.core.catalogue import file_version, is_version, moved_change_time, stat_version

    photo = tmp_path / "a.jpg"
    photo.write_bytes(jpeg(1))
    stored = file_version(photo)
    assert stored == stat_version(photo.stat())
    assert is_version(file_version(photo), stored) and not moved_change_time(file_version(photo), stored)
    time.sleep(0.02)  # past the kernel's coarse file-time tick
    photo.chmod(0o600)
    chmodded = file_version(photo)
    assert chmodded[:2] == stored[:2]
    if chmodded[2] is not None:  # Linux, macOS: the change time moved
        assert not is_version(chmodded, stored) and moved_change_time(chmodded, stored)
    unknown = (*stored[:2], None)  # a change time not known (an older project, Windows)
    assert is_version(chmodded, unknown) and not moved_change_time(chmodded, unknown)
    os.utime(photo, ns=(0, photo.stat().st_mtime_ns + 1_000_000))
    touched = file_version(photo)
    assert not is_version(touched, stored) and not moved_change_time(touched, stored)
    assert not moved_change_time(None, stored) and not moved_change_time(stored, None)
