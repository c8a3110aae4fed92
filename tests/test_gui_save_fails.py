"""A typed number whose save fails -- a full disk, the project locked by another program past the busy timeout --
stays in the number field, and the message says what to do (MainWindow._commit_entry(keep_on_failure=True),
_edit_failed; docs/gui.md#saving-and-the-undo-stack). It used to be dropped, the field showing the stored number.

A real window on a real store. The full disk is SQLite's own: ``PRAGMA max_page_count`` on the window's connection
makes SQLite answer SQLITE_FULL ("database or disk is full") as for a disk with no room (a tmpfs needs root).
"""

from __future__ import annotations

import sqlite3

import pytest

from bibtagger_gui.core import store as store_module
from tests.test_gui_live_updates import pid, shoot, stores  # noqa: F401
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401


def _fill(store) -> None:
    """No page left: the file may not grow, and every free page is taken."""
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


def _type(win, number: str) -> None:
    win.type_digit(number[0])
    win.number_edit.insert(number[1:])


def test_a_number_not_saved_on_a_full_disk_stays_in_the_field_and_enter_saves_it_once_there_is_room(qtbot, shoot):
    win, _folder, _made = shoot
    shown = win.current_id
    (bib,) = win.current_bibs
    _fill(win.store)
    _type(win, "4321")
    win.enter_pressed()
    assert win.store.bib(bib.id).number == bib.number  # not saved
    assert win.number_edit.text() == "4321" and win._entry is not None and win.current_id == shown
    said = win.statusBar().currentMessage()
    assert "Not saved" in said and "disk that holds the project is full" in said and "4321 stays in the field" in said
    assert win.undo_stack.count() == 0
    win.store._conn.execute("PRAGMA max_page_count = 1073741823")  # room again
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
