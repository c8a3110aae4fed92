"""Undo of a Delete after recognition wrote other bibs: the restored bib keeps its id, no other bib is touched."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.bib import Bib
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401

CTRL = Qt.KeyboardModifier.ControlModifier


def _key(qtbot, key, mod=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), key, mod)


def _bibs(store) -> list[tuple[int, str, str]]:
    return sorted((b.id, p.relpath, b.number) for p in store.photos() for b in store.bibs(p.id))


def test_undo_and_redo_of_a_delete_after_a_rerun(qtbot, make_window, tmp_path, monkeypatch):
    folder = tmp_path / "race"
    make_photos(folder, 3)
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib(str(500 + i), (10, 10, 60, 40), 0.5)] for i in range(3)})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    top_id, relpath, number = max(_bibs(win.store))  # the newest bib: the id SQLite would hand out again
    win.select_photo(win.store.photo_by_path(relpath).id)
    _key(qtbot, Qt.Key.Key_Delete)
    assert number not in [n for _, _, n in _bibs(win.store)]
    assert win.rerun_unreviewed()  # Recognition > Re-run on Unreviewed Photos writes new model bibs
    wait_idle(qtbot, win)
    after_rerun = _bibs(win.store)
    assert all(i != top_id for i, _, _ in after_rerun)
    with qtbot.capture_exceptions() as raised:
        _key(qtbot, Qt.Key.Key_Z, CTRL)  # undo the Delete
    assert not raised
    assert (top_id, relpath, number) in _bibs(win.store)
    with qtbot.capture_exceptions() as raised:
        _key(qtbot, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)  # redo it
    assert not raised
    assert _bibs(win.store) == after_rerun  # only that bib went again; the other photos keep theirs
