"""Photos whose file cannot be read (an empty file and a text file named .jpg, left out at the scan; a truncated
JPEG, failing in the recognizer): the status bar counts every one of them, the "Unreadable" filter lists them,
and Enter through the queue passes them by and ends saying how many stayed unreviewed, not "every photo"."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.review import ReviewFilter
from bibtagger_gui.core.store import Store
from tests.test_gui_support import gui_env, make_photos, make_window, wait_idle  # noqa: F401


@pytest.fixture(autouse=True)
def stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


@pytest.fixture
def shoot(tmp_path, qtbot, make_window):
    """A window (placeholder models, real recognition) on 3 readable photos and 3 that cannot be read."""
    folder = tmp_path / "shoot"
    make_photos(folder, 3)
    data = (folder / "photo_000.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 2])  # its header reads: it fails in the recognizer
    (folder / "empty.jpg").write_bytes(b"")  # these two fail at the scan
    (folder / "notes.jpg").write_text("not a photo\n")
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    with Store.open(folder) as fresh:
        failed = sorted(p.relpath for p in fresh.photos() if p.error)
    assert failed == ["cut.jpg", "empty.jpg", "notes.jpg"]
    return win, failed


def key(qtbot, k) -> None:
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k)


def test_the_status_bar_counts_every_unreadable_photo_and_the_filter_lists_them(shoot):
    win, failed = shoot
    said = win.statusBar().currentMessage()
    assert said.startswith("Recognition done: 4 photo(s)")  # 3 photos and the truncated one were recognized
    counted = re.search(r"(\d+) photo\(s\) in the folder could not be read", said)
    assert counted and int(counted.group(1)) == len(failed), said  # not only the recognizer's 1
    win.set_filter(ReviewFilter.UNREADABLE)
    assert sorted(it.photo.relpath for it in win.list_model.items) == failed


def test_enter_passes_unreadable_photos_by_and_ends_saying_how_many_stay_unreviewed(shoot, qtbot):
    win, failed = shoot
    assert win.select_photo(win.store.photo_by_path("cut.jpg").id)  # a reviewer who clicked an unreadable photo
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Return)  # nothing to accept there: on to a readable photo, not stuck
    assert win.store.photo(win.current_id).error is None
    assert "could not be read" in win.statusBar().currentMessage()
    for _ in range(3):
        key(qtbot, Qt.Key.Key_Return)
    with Store.open(win.folder) as fresh:
        assert sorted(p.relpath for p in fresh.photos() if not p.reviewed) == failed
    said = win.statusBar().currentMessage()
    assert "Every photo in this list is reviewed" not in said
    assert f"{len(failed)} photo(s) could not be read" in said and ReviewFilter.UNREADABLE.label in said
