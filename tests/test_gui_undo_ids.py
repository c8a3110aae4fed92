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
    before_rerun = _bibs(win.store)
    assert win.rerun_unreviewed()  # Recognition > Re-run on Unreviewed Photos writes new model bibs
    wait_idle(qtbot, win)
    after_rerun = _bibs(win.store)
    assert all(i != top_id for i, _, _ in after_rerun)
    with qtbot.capture_exceptions() as raised:
        _key(qtbot, Qt.Key.Key_Z, CTRL)  # the re-run is one undo step: the old predictions back, ids and all
        assert _bibs(win.store) == before_rerun
        _key(qtbot, Qt.Key.Key_Z, CTRL)  # undo the Delete
    assert not raised
    assert (top_id, relpath, number) in _bibs(win.store)
    with qtbot.capture_exceptions() as raised:
        _key(qtbot, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)  # redo it
        assert _bibs(win.store) == before_rerun  # only that bib went again
        _key(qtbot, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)  # and the re-run
    assert not raised
    assert _bibs(win.store) == after_rerun  # the re-run's rows again; that bib stays deleted


def test_an_edit_of_a_bib_another_program_replaced_is_reported_not_pushed(qtbot, make_window, tmp_path, monkeypatch):
    from bibtagger_gui.core.store import Store

    folder = tmp_path / "race"
    make_photos(folder, 1)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("3683", (10, 10, 60, 40), 0.5)]})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    pid = win.current_id
    (shown,) = win.current_bibs
    with Store.open(folder) as other:  # another program (predict --all) replaces the model bib: a new id
        other.set_model_bibs(pid, [Bib("3683", (10, 10, 60, 40), 0.6)], "other")
    for k in (Qt.Key.Key_3, Qt.Key.Key_6, Qt.Key.Key_3, Qt.Key.Key_8, Qt.Key.Key_Return):
        _key(qtbot, k)
    assert win.undo_stack.count() == 0  # nothing pretends to be saved
    assert win.statusBar().currentMessage().startswith("Not saved: Change bib 3683 to 3638")
    assert [(b.number, b.source) for b in win.store.bibs(pid)] == [("3683", "model")]
    assert [b.id for b in win.current_bibs] != [shown.id]  # the photo shows what is stored now
    assert win.number_edit.text() == "3638"  # the number not saved waits in the field (tests/test_gui_save_fails.py)
    _key(qtbot, Qt.Key.Key_Return)  # Enter saves it on what is stored now
    assert [(b.number, b.source) for b in win.store.bibs(pid)] == [("3638", "human")]
    _key(qtbot, Qt.Key.Key_Z, CTRL)
    assert [(b.number, b.source) for b in win.store.bibs(pid)] == [("3683", "model")]  # no duplicate


def test_f5_shows_the_current_photos_bibs_as_stored_now(qtbot, make_window, tmp_path, monkeypatch):
    from bibtagger_gui.core.store import Store

    folder = tmp_path / "race"
    make_photos(folder, 1)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("3683", (10, 10, 60, 40), 0.5)]})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    pid = win.current_id
    with Store.open(folder) as other:
        other.add_bib(pid, "512", None)
    assert sorted(b.number for b in win.current_bibs) == ["3683"]
    win.actions_by_name["refresh_queue"].trigger()
    assert sorted(b.number for b in win.current_bibs) == ["3683", "512"]


def test_an_undo_that_cannot_be_written_is_reported(qtbot, make_window, tmp_path, monkeypatch):
    from bibtagger_gui.core.store import Store
    from bibtagger_gui.gui.commands import AddBibCommand

    folder = tmp_path / "race"
    make_photos(folder, 1)
    fixed_predictions(monkeypatch, {"photo_000.jpg": []})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    pid = win.current_id
    assert win.push_edit(AddBibCommand(win.ctx, pid, "77", None))
    with Store.open(folder) as other:  # another window removes that bib meanwhile
        other.delete_bib(win.store.bibs(pid)[0].id)
    with qtbot.capture_exceptions() as raised:
        _key(qtbot, Qt.Key.Key_Z, CTRL)  # undo the add: the bib is not there any more
    assert not raised
    assert win.statusBar().currentMessage().startswith("Not saved: Add bib 77: the bib was changed or removed")
    assert win.store.bibs(pid) == [] and win.current_bibs == []
