"""Every GUI action that writes to the store: undo puts the store back *exactly* (every bib row with its
id, source, confidence, extra and times; review marks; rejected numbers; MTurk verdicts), redo puts the
edit back exactly, both on the photo they belong to (shown, even after moving to another photo), and the
title's modified marker follows the undo stack's clean state. An undo over data changed meanwhile is
refused. MTurk verdicts: tests/test_gui_undo_mturk.py; annotation imports: tests/test_gui_import.py."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bibtagger_gui.core.bib import Bib  # noqa: E402
from bibtagger_gui.core.store import Store  # noqa: E402
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: E402,F401

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def type_keys(qtbot, text: str) -> None:
    for ch in text:
        key(qtbot, Qt.Key(ord(ch)))


def dump(store) -> dict:
    """Everything an edit may change, per photo: review mark, every bib row (all columns), rejected numbers."""
    return {
        p.relpath: (p.reviewed, p.model_version, tuple(store.bibs(p.id)), frozenset(store.deleted_numbers(p.id)))
        for p in store.photos()
    }


@pytest.fixture
def race(make_window, tmp_path, monkeypatch, qtbot):
    """A window on 3 small photos: photo_000 with two predictions, photo_001 with one, photo_002 none."""
    folder = tmp_path / "race"
    made = make_photos(folder, 3)
    box0 = made[0][2]
    fixed_predictions(monkeypatch, {
        "photo_000.jpg": [Bib("101", box0, 0.5), Bib("555", (200.0, 150.0, 260.0, 190.0), 0.95)],
        "photo_001.jpg": [Bib("102", made[1][2], 0.6)],
    })  # fmt: skip
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    ids = {p.relpath: p.id for p in win.store.photos()}
    return win, folder, ids


def shows_store(win, pid) -> bool:
    """The window shows that photo, with its bibs as stored now."""
    return win.current_id == pid and [b for b in win.current_bibs] == win.store.bibs(pid)


def undo_redo_cycle(qtbot, win, pid: int, elsewhere: int, act, extra=lambda: None, shows: bool = True) -> tuple[dict, dict]:
    """Checkpoint, act, then (from another photo each time) undo and redo with the keys; check all of it."""
    store = win.store
    win.select_photo(pid)
    win.actions_by_name["checkpoint"].trigger()
    assert not win.isWindowModified()
    before, before_extra = dump(store), extra()
    act()
    after, after_extra = dump(store), extra()
    assert (after, after_extra) != (before, before_extra), "the action changed nothing"
    assert win.isWindowModified()

    win.select_photo(elsewhere)
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert dump(store) == before and extra() == before_extra  # exactly as before, every column
    assert shows_store(win, pid) or not shows  # undo shows the photo it changed
    assert not win.isWindowModified()  # back at the checkpoint

    win.select_photo(elsewhere)
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Z, CTRL | SHIFT)
    assert dump(store) == after and extra() == after_extra  # exactly the edit again (same ids and times)
    assert shows_store(win, pid) or not shows
    assert win.isWindowModified()
    return before, after


def test_typing_a_number_over_a_prediction(qtbot, race):
    win, _, ids = race
    pid = ids["photo_000.jpg"]

    def act():
        win.select_bib(next(b.id for b in win.current_bibs if b.number == "101"))
        win.photo_view.setFocus()
        type_keys(qtbot, "108")
        key(qtbot, Qt.Key.Key_Return)
        assert sorted((b.number, b.source) for b in win.store.bibs(pid)) == [("108", "human"), ("555", "model")]

    undo_redo_cycle(qtbot, win, pid, ids["photo_002.jpg"], act)


def test_typing_a_number_on_a_photo_without_bibs(qtbot, race):
    win, _, ids = race
    pid = ids["photo_002.jpg"]

    def act():
        win.photo_view.setFocus()
        type_keys(qtbot, "77")
        key(qtbot, Qt.Key.Key_Return)
        assert [(b.number, b.box) for b in win.store.bibs(pid)] == [("77", None)]

    before, _ = undo_redo_cycle(qtbot, win, pid, ids["photo_000.jpg"], act)
    # the undone add rejected no number: a re-run may still read 77 there
    assert before["photo_002.jpg"][3] == frozenset()


def test_drawing_a_box(qtbot, race):
    win, _, ids = race
    pid = ids["photo_001.jpg"]

    def act():
        win.photo_view.setFocus()
        key(qtbot, Qt.Key.Key_B)
        vp = win.photo_view.viewport()
        a, b = win.photo_view.mapFromScene(20, 20), win.photo_view.mapFromScene(90, 70)
        qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
        qtbot.mouseMove(vp, b)
        qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
        qtbot.keyClicks(win.number_edit, "4321")
        key(qtbot, Qt.Key.Key_Return)
        assert "4321" in [b.number for b in win.store.bibs(pid)]

    undo_redo_cycle(qtbot, win, pid, ids["photo_000.jpg"], act)


def test_deleting_a_bib(qtbot, race):
    win, _, ids = race
    pid = ids["photo_000.jpg"]

    def act():
        win.select_bib(next(b.id for b in win.current_bibs if b.number == "555"))
        win.photo_view.setFocus()
        key(qtbot, Qt.Key.Key_Delete)
        assert [b.number for b in win.store.bibs(pid)] == ["101"]

    before, after = undo_redo_cycle(qtbot, win, pid, ids["photo_001.jpg"], act)
    assert after["photo_000.jpg"][3] == {"555"}  # a delete rejects the number; its undo takes that back
    assert before["photo_000.jpg"][3] == frozenset()


def test_accepting_a_photo_marks_it_reviewed_and_back(qtbot, race):
    win, _, ids = race
    pid = ids["photo_000.jpg"]

    def act():
        win.photo_view.setFocus()
        key(qtbot, Qt.Key.Key_Return)
        assert win.store.photo(pid).reviewed and {b.source for b in win.store.bibs(pid)} == {"human"}

    before, _ = undo_redo_cycle(qtbot, win, pid, ids["photo_002.jpg"], act)
    assert before["photo_000.jpg"][0] is False and {b.source for b in before["photo_000.jpg"][2]} == {"model"}


def test_many_edits_on_several_photos_undo_one_by_one_to_the_start(qtbot, race):
    win, _, ids = race
    store = win.store
    states = [dump(store)]
    win.select_photo(ids["photo_000.jpg"])
    win.photo_view.setFocus()
    type_keys(qtbot, "1010")
    key(qtbot, Qt.Key.Key_Return)
    states.append(dump(store))
    key(qtbot, Qt.Key.Key_Return)  # accept photo_000: goes to the next unreviewed photo
    states.append(dump(store))
    win.select_photo(ids["photo_001.jpg"])
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Delete)
    states.append(dump(store))
    win.select_photo(ids["photo_002.jpg"])
    win.photo_view.setFocus()
    type_keys(qtbot, "9")
    key(qtbot, Qt.Key.Key_Return)
    states.append(dump(store))
    assert len({repr(s) for s in states}) == len(states) and win.undo_stack.count() == 4
    for i in range(4, 0, -1):
        key(qtbot, Qt.Key.Key_Z, CTRL)
        assert dump(store) == states[i - 1]
    assert not win.isWindowModified()
    for i in range(1, 5):
        key(qtbot, Qt.Key.Key_Z, CTRL | SHIFT)
        assert dump(store) == states[i]


def test_an_undo_over_predictions_replaced_meanwhile_is_refused(qtbot, race):
    win, folder, ids = race
    store = win.store
    pid = ids["photo_000.jpg"]
    win.select_photo(pid)
    win.select_bib(next(b.id for b in win.current_bibs if b.number == "555"))
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Delete)
    win.actions_by_name["checkpoint"].trigger()
    with Store.open(folder) as other:  # predict --all (another program) replaces the photo's predictions
        other.set_model_bibs(pid, [Bib("101", (5.0, 5.0, 60.0, 40.0), 0.8)], "other")
    replaced = dump(store)
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert dump(store) == replaced  # the old 555 is not put back beside the new predictions
    assert "predictions were changed meanwhile" in win.statusBar().currentMessage()
    assert win.undo_stack.count() == 0  # the command that cannot be undone exactly left the stack
    assert win.isWindowModified()  # the store is not what it was at the checkpoint


def test_a_failed_undo_leaves_the_clean_state(qtbot, race):
    win, folder, ids = race
    store = win.store
    win.select_photo(ids["photo_002.jpg"])
    win.photo_view.setFocus()
    type_keys(qtbot, "5")
    key(qtbot, Qt.Key.Key_Return)
    win.actions_by_name["checkpoint"].trigger()
    pid = ids["photo_000.jpg"]
    win.select_photo(pid)
    win.select_bib(next(b.id for b in win.current_bibs if b.number == "555"))
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Delete)
    assert win.isWindowModified()
    with Store.open(folder) as other:  # another program edits the other bib meanwhile
        other.update_bib(next(b.id for b in other.bibs(pid) if b.number == "101"), number="110")
    key(qtbot, Qt.Key.Key_Z, CTRL)  # undo the delete: refused, it would mix old predictions with the edit
    assert sorted((b.number, b.source) for b in store.bibs(pid)) == [("110", "human")]
    assert win.statusBar().currentMessage().startswith("Not saved: Delete bib 555: the photo's predictions")
    assert win.undo_stack.count() == 1
    assert win.isWindowModified()  # the stack's top is the checkpoint again, but the store is not
    key(qtbot, Qt.Key.Key_Z, CTRL)  # the older edit still undoes exactly
    assert store.bibs(ids["photo_002.jpg"]) == [] and store.deleted_numbers(ids["photo_002.jpg"]) == set()


def test_a_start_list_import_keeps_undo_exact(qtbot, race, tmp_path):
    win, _, ids = race
    store = win.store
    pid = ids["photo_000.jpg"]
    win.select_photo(pid)
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Return)  # accept
    accepted = dump(store)
    (tmp_path / "start.csv").write_text("bib,name\n101,Ann\n555,Bo\n")
    win.startlist_controller.interactive = False
    assert win.startlist_controller.import_file(tmp_path / "start.csv") is not None
    assert dump(store) == accepted  # a start list changes no bib
    assert win.undo_stack.count() == 1  # so the stack stays, and the status bar says what is undoable
    assert win.statusBar().currentMessage() == (
        "Imported 2 bib numbers (2 with names) from start.csv. A start list import cannot be undone "
        "(import a corrected list to replace it); it changes no bib, so your edits can still be undone.")
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert not store.photo(pid).reviewed and {b.source for b in store.bibs(pid)} == {"model"}
    key(qtbot, Qt.Key.Key_Z, CTRL | SHIFT)
    assert dump(store) == accepted
