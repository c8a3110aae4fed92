"""The undo stack is bounded (main_window.UNDO_LIMIT, docs/gui.md#saving-and-the-undo-stack): beyond the
limit the oldest steps are dropped (and freed), the steps kept still undo and redo exactly, nothing
saved is lost, and the title's modified marker keeps its meaning ("edited since the folder was opened or
since the last checkpoint")."""

from __future__ import annotations

import gc
import weakref

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.store import Store
from bibtagger_gui.gui import main_window
from bibtagger_gui.gui.commands import AdjustBoxCommand
from tests.test_gui_support import (  # noqa: F401 - fixtures
    fixed_predictions,
    gui_env,
    make_photos,
    make_window,
    wait_idle,
)

LIMIT = 5
BOX = (100.0, 80.0, 180.0, 140.0)


@pytest.fixture
def win(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setattr(main_window, "UNDO_LIMIT", LIMIT)
    monkeypatch.setattr(AdjustBoxCommand, "BURST_S", -1.0)  # every nudge its own undo step
    make_photos(tmp_path / "p", 1)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("4321", BOX, 0.42)]})
    w = make_window()
    assert w.undo_stack.undoLimit() == LIMIT
    w.open_folder(tmp_path / "p")
    wait_idle(qtbot, w)
    w.select_photo(w.store.photo_by_path("photo_000.jpg").id)
    w.photo_view.setFocus()
    return w


def state(win):
    """Everything an undo must put back: the photo's review mark and its bib rows (ids, times, source)."""
    return win.store.photo(win.current_id).reviewed, win.store.bibs(win.current_id)


def edit(qtbot, win, i: int) -> None:
    """Edit i: the first retypes the number, the others nudge the box right (each one undo step)."""
    if i == 0:
        for k in (Qt.Key.Key_5, Qt.Key.Key_5, Qt.Key.Key_Return):
            qtbot.keyClick(QApplication.focusWidget(), k)
    else:
        win.actions_by_name["box_right"].trigger()


def test_past_the_limit_the_oldest_steps_go_and_the_rest_undo_exactly(qtbot, win, tmp_path):
    states, commands = [state(win)], []
    n = LIMIT + 3
    for i in range(n):
        edit(qtbot, win, i)
        states.append(state(win))
        commands.append(weakref.ref(win.undo_stack.command(win.undo_stack.count() - 1)))
        assert win.undo_stack.count() == min(i + 1, LIMIT)
        assert win.isWindowModified()
    assert len({repr(s) for s in states}) == n + 1  # every edit changed the photo
    assert states[1][1][0].number == "55" and states[n][1][0].number == "55"
    gc.collect()
    assert [c() is None for c in commands] == [True] * (n - LIMIT) + [False] * LIMIT  # dropped and freed
    assert win.undo_stack.text(0) == win.undo_stack.text(LIMIT - 1)  # the number edit is no longer on it
    # the steps kept undo exactly, back to the state the oldest kept one started from
    for k in range(n, n - LIMIT, -1):
        assert win.undo_stack.canUndo()
        win.undo()
        assert state(win) == states[k - 1]
        assert win.isWindowModified()  # edits since the folder was opened remain (the dropped ones)
    assert not win.undo_stack.canUndo() and state(win) == states[n - LIMIT]
    assert state(win) != states[0]  # the dropped edits are not undone: still saved
    for k in range(n - LIMIT + 1, n + 1):
        win.redo()
        assert state(win) == states[k]
    # everything was saved as it happened: another connection reads the last state
    with Store.open(tmp_path / "p") as other:
        assert (other.photo(win.current_id).reviewed, other.bibs(win.current_id)) == states[n]


def test_a_checkpoint_stays_reachable_while_its_step_is_kept(qtbot, win):
    for i in range(LIMIT):  # a full stack
        edit(qtbot, win, i)
    qtbot.keyClick(win.photo_view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Mark Checkpoint
    assert not win.isWindowModified() and win.undo_stack.count() == LIMIT
    checkpoint = state(win)
    for i in range(3):  # past the limit: the three oldest steps go, the checkpoint's place moves with them
        edit(qtbot, win, LIMIT + i)
        assert win.isWindowModified()
    assert win.undo_stack.count() == LIMIT
    for _ in range(3):
        win.undo()
    assert state(win) == checkpoint and not win.isWindowModified()  # back at the checkpoint: clean again
    for _ in range(3):
        win.redo()
    assert win.isWindowModified()
    for i in range(3):  # three more: the step that led to the checkpoint state is dropped too
        edit(qtbot, win, LIMIT + 3 + i)
    while win.undo_stack.canUndo():  # the checkpoint can no longer be reached by undo: never clean
        win.undo()
        assert win.isWindowModified() and state(win) != checkpoint
    qtbot.keyClick(win.photo_view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not win.isWindowModified()  # a new checkpoint is clean, as always


def test_the_window_keeps_its_limit_across_folders(qtbot, make_window, tmp_path):
    make_photos(tmp_path / "a", 1)
    win = make_window()
    assert win.undo_stack.undoLimit() == main_window.UNDO_LIMIT >= 1000  # a bound, not a small one
    win.open_folder(tmp_path / "a")
    wait_idle(qtbot, win)
    win.close_folder()  # clear() on every folder switch keeps the limit
    assert win.undo_stack.undoLimit() == main_window.UNDO_LIMIT
