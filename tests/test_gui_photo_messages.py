"""Status-bar messages about the photo shown go when another photo is shown (J/K, a click); messages about the
folder or a job stay for their time (docs/gui.md#status-bar-messages). Keys go to the focused widget."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.bib import Bib
from tests.test_gui_bursts import burst, show  # noqa: F401
from tests.test_gui_keyboard_flow import open_shoot, typed
from tests.test_gui_support import fixed_predictions, gui_env, make_window, wait_idle  # noqa: F401

CTRL = Qt.KeyboardModifier.ControlModifier


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def message(win) -> str:
    return win.statusBar().currentMessage()


def moved_on(qtbot, win) -> None:
    """J: the next photo of the list is shown."""
    before = win.current_id
    key(qtbot, Qt.Key.Key_J)
    assert win.current_id != before


def test_the_list_edge_message_goes_with_the_photo(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    key(qtbot, Qt.Key.Key_K)  # on the first photo: K does nothing and says why
    assert message(win).startswith("This is the first photo of the list (1 of 4)")
    moved_on(qtbot, win)
    assert message(win) == ""


def test_a_key_that_cannot_act_on_the_photo_is_not_said_of_the_next(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    key(qtbot, Qt.Key.Key_Delete)  # deletes its one bib
    key(qtbot, Qt.Key.Key_Delete)
    assert "This photo has no bib to delete" in message(win)
    moved_on(qtbot, win)  # the next photo has a bib: the message was about the one before
    assert message(win) == ""


def test_an_undo_message_goes_with_its_photo(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    key(qtbot, Qt.Key.Key_Delete)
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert message(win).startswith("Undid Delete bib")
    moved_on(qtbot, win)
    assert message(win) == ""


def test_a_feature_module_message_about_the_photo_goes_with_it(burst, qtbot):
    """Copy Bibs from Previous Photo on the first photo taken (FeatureController._say(photo=True))."""
    win = burst
    show(win, "f0.jpg")
    key(qtbot, Qt.Key.Key_D, CTRL)
    assert message(win).startswith("This is the first photo taken in its folder")
    moved_on(qtbot, win)
    assert message(win) == ""


def test_a_job_message_stays_after_j(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    key(qtbot, Qt.Key.Key_P, CTRL)
    said = message(win)
    assert said.startswith("Recognition paused")
    moved_on(qtbot, win)
    assert message(win) == said
    key(qtbot, Qt.Key.Key_P, CTRL)  # resumed


def test_a_job_message_said_after_a_photo_message_stays_after_j(qtbot, make_window, tmp_path, monkeypatch):
    """The photo's message was replaced by a job's: J leaves the job's message alone."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    key(qtbot, Qt.Key.Key_K)
    assert message(win).startswith("This is the first photo")
    key(qtbot, Qt.Key.Key_P, CTRL)
    said = message(win)
    assert said.startswith("Recognition paused")
    moved_on(qtbot, win)
    assert message(win) == said


def test_a_number_committed_on_the_way_to_another_photo_names_its_photo(qtbot, make_window, tmp_path, monkeypatch):
    """A number typed while recognition found a bib on its photo, committed by moving to the next photo (a click in
    the list): the message shows over the next photo, so it names the photo it speaks of (it said "on this photo")."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch, n=2)
    first = win.current_id
    assert win.store.photo(first).relpath == "photo_000.jpg"
    key(qtbot, Qt.Key.Key_Delete)  # a photo without bibs
    typed(qtbot, "34")
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("56", (10, 10, 60, 40), 0.6)]})
    win.start_recognition([first])
    wait_idle(qtbot, win)
    assert win.current_id == first and win.number_edit.text() == "34"
    other = win.store.photo_by_path("photo_001.jpg").id
    win.select_photo(other)  # as a click in the list: commits 34 on its way to the other photo
    assert win.current_id == other
    assert "recognition found 56 on photo_000.jpg while you typed" in message(win)
