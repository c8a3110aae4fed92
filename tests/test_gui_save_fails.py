"""A typed number whose save fails -- a full disk, the project locked by another program past the busy timeout --
stays in the number field, and the message says what to do (MainWindow._commit_entry(keep_on_failure=True),
_edit_failed; docs/gui.md#saving-and-the-undo-stack). It used to be dropped, the field showing the stored number.

A real window on a real store. The full disk is SQLite's own: ``PRAGMA max_page_count`` on the window's connection
makes SQLite answer SQLITE_FULL ("database or disk is full") as for a disk with no room (a tmpfs needs root).
"""

from __future__ import annotations

import sqlite3

from bibtagger_gui.core import store as store_module
from tests.test_gui_live_updates import pid, shoot, stores  # noqa: F401
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401
from tests.test_store import fill_up


def _type(win, number: str) -> None:
    win.type_digit(number[0])
    win.number_edit.insert(number[1:])


def _room(store) -> None:
    store._conn.execute("PRAGMA max_page_count = 1073741823")


def _typed_on_full_disk(shoot):
    """The shoot's window, its photo shown and that photo's bib, 4321 typed over it on a full disk; (win, photo, bib)."""
    win, _folder, _made = shoot
    (bib,) = win.current_bibs
    fill_up(win.store)
    _type(win, "4321")
    return win, win.current_id, bib


def test_a_number_not_saved_on_a_full_disk_stays_in_the_field_and_enter_saves_it_once_there_is_room(qtbot, shoot):
    win, shown, bib = _typed_on_full_disk(shoot)
    win.enter_pressed()
    assert win.store.bib(bib.id).number == bib.number  # not saved
    assert win.number_edit.text() == "4321" and win._entry is not None and win.current_id == shown
    said = win.statusBar().currentMessage()
    assert "Not saved" in said and "disk that holds the project is full" in said and "4321 stays in the field" in said
    assert win.undo_stack.count() == 0
    _room(win.store)  # room again
    win.enter_pressed()
    assert win.store.bib(bib.id).number == "4321" and win._entry is None
    assert win.undo_stack.count() == 1


def test_a_number_not_saved_while_another_program_holds_the_lock_stays_in_the_field(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.2)  # the window's connection gives up after 0.2 s, not 30
    folder = tmp_path / "race"
    made = make_photos(folder, 2)
    fixed_predictions(monkeypatch, {})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    win.select_photo(win.store.photo_by_path(made[0][0]).id)
    other = sqlite3.connect(win.store.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program writing, for longer than the busy timeout
    _type(win, "77")
    win.enter_pressed()
    said = win.statusBar().currentMessage()
    assert "another program is writing the project" in said and "77 stays in the field" in said
    assert win.number_edit.text() == "77" and win.store.bibs(win.current_id) == []
    other.execute("COMMIT")
    other.close()
    win.enter_pressed()
    assert [b.number for b in win.store.bibs(win.current_id)] == ["77"]


def test_a_number_not_saved_when_j_moves_on_keeps_the_photo_and_the_number_in_the_field(qtbot, shoot):
    win, shown, bib = _typed_on_full_disk(shoot)
    win.step_photo(1)  # J: the move went on, the number only named in the message
    assert win.current_id == shown and win.number_edit.text() == "4321" and win._entry is not None
    said = win.statusBar().currentMessage()
    assert "disk that holds the project is full" in said and "4321 stays in the field: Return saves it" in said
    assert "Escape drops it" in said and win.store.bib(bib.id).number == bib.number
    _room(win.store)
    win.step_photo(1)  # J again once there is room: saved (one undo step), and on to the next photo
    assert win.store.bib(bib.id).number == "4321" and win.current_id != shown and win.undo_stack.count() == 1


def test_a_number_not_saved_when_a_click_in_the_list_moves_on_brings_the_list_back_to_its_photo(qtbot, shoot):
    from PySide6.QtCore import Qt

    win, shown, bib = _typed_on_full_disk(shoot)
    view = win.list_view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(win.list_model.index(2)).center())
    qtbot.waitUntil(lambda: win.current_row() == 0 and view.currentIndex().row() == 0, timeout=2000)
    assert [i.row() for i in view.selectionModel().selectedRows()] == [0]  # the list shows the photo shown again
    assert win.current_id == shown and win.number_edit.text() == "4321" and win._entry is not None
    assert "4321 stays in the field" in win.statusBar().currentMessage()
    win.cancel_entry()  # Escape drops it: the click moves on now
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(win.list_model.index(2)).center())
    assert win.current_row() == 2 and win.store.bib(bib.id).number == bib.number


def test_a_number_not_saved_when_a_filter_takes_its_photo_away_is_named_with_its_photo_in_the_message(qtbot, shoot):
    from bibtagger_gui.core.review import ReviewFilter

    win, _folder, _made = shoot
    name = win.store.photo(win.current_id).relpath
    fill_up(win.store)
    _type(win, "4321")
    win.set_filter(ReviewFilter.REVIEWED)  # nothing reviewed: the photo leaves the list, the window cannot stay
    said = win.statusBar().currentMessage()
    assert f"The number 4321 typed on {name} is not saved: type it again on {name}" in said


def test_a_number_not_saved_when_tab_goes_to_another_bib_stays_on_its_bib(qtbot, shoot):
    win, _folder, _made = shoot
    (bib,) = win.current_bibs
    other = win.store.add_bib(win.current_id, "55", None, source="human")  # a second bib, for Tab to go to
    win.refresh_photo(win.current_id, bib.id)
    fill_up(win.store)
    _type(win, "4321")
    win.step_bib(1)  # Tab: the selection went on to the other bib, the number dropped from the field
    assert win.selected_bib == bib.id and win.number_edit.text() == "4321" and win._entry is not None
    assert "4321 stays in the field" in win.statusBar().currentMessage()
    _room(win.store)
    win.step_bib(1)
    assert win.store.bib(bib.id).number == "4321" and win.selected_bib == other.id


def test_a_number_not_saved_when_a_click_selects_another_bib_stays_on_its_bib(qtbot, shoot):
    win, _folder, _made = shoot
    (bib,) = win.current_bibs
    other = win.store.add_bib(win.current_id, "55", (5, 5, 40, 30), source="human")
    win.refresh_photo(win.current_id, bib.id)
    fill_up(win.store)
    _type(win, "4321")
    win._bib_clicked(other.id)  # a click on the other bib's box in the photo (or its row in the panel)
    assert win.selected_bib == bib.id and win.number_edit.text() == "4321" and win._entry is not None
    assert "4321 stays in the field" in win.statusBar().currentMessage()


def _kept(win, shown, bib) -> None:
    """The number typed on a full disk waits in its field on its photo, unsaved, and the message says so."""
    assert win.current_id == shown and win.number_edit.text() == "4321" and win._entry is not None
    assert "4321 stays in the field: Return saves it" in win.statusBar().currentMessage()
    assert win.store.bib(bib.id).number == bib.number


def test_a_number_not_saved_when_b_draws_a_box_stays_in_the_field_and_no_drawing_starts(qtbot, shoot):
    win, shown, bib = _typed_on_full_disk(shoot)
    win.start_drawing()  # B: the drawing began, the number gone from the field (only the message named it)
    _kept(win, shown, bib)
    assert not win.photo_view.drawing
    _room(win.store)
    win.start_drawing()  # B again once there is room: saved, then the drawing starts
    assert win.store.bib(bib.id).number == "4321" and win.photo_view.drawing


def test_a_number_not_saved_when_ctrl_f_or_ctrl_l_is_pressed_stays_in_the_field(qtbot, shoot):
    win, shown, bib = _typed_on_full_disk(shoot)
    win.focus_search()  # Ctrl+F
    _kept(win, shown, bib)
    win.focus_list()  # Ctrl+L
    _kept(win, shown, bib)


def test_a_number_not_saved_when_a_box_is_dragged_stays_in_the_field_and_the_box_does_not_move(qtbot, shoot):
    win, shown, bib = _typed_on_full_disk(shoot)
    x1, y1, x2, y2 = bib.box
    win.photo_view.boxAdjusted.emit(bib.id, (x1 + 5, y1 + 5, x2 + 5, y2 + 5))  # the view's drag of the box, released
    _kept(win, shown, bib)
    assert win.store.bib(bib.id).box == bib.box
