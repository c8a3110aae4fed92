"""Moving and resizing the selected bib's box: mouse drags (inside: move; corner handle: resize) and
Alt(+Shift)+arrows, each an undoable edit saved at once (docs/gui.md#adjusting-a-box)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.gui import box_adjust
from bibtagger_gui.gui.commands import AdjustBoxCommand
from tests.test_gui_support import (  # noqa: F401 - fixtures
    fixed_predictions,
    gui_env,
    make_photos,
    make_window,
    wait_idle,
)

W, H = 320, 240  # make_photos' size
BOX = (100.0, 80.0, 180.0, 140.0)
ALT, SHIFT = Qt.KeyboardModifier.AltModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def win(qtbot, make_window, tmp_path, monkeypatch):
    make_photos(tmp_path / "p", 1)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("4321", BOX, 0.42)]})
    w = make_window()
    w.open_folder(tmp_path / "p")
    wait_idle(qtbot, w)
    w.select_photo(w.store.photo_by_path("photo_000.jpg").id)
    w.photo_view.setFocus()
    return w


def only_bib(win):
    (bib,) = win.store.bibs(win.current_id)
    return bib


def drag(qtbot, win, a: tuple[float, float], b: tuple[float, float]):
    """Press at photo pixel ``a``, move (in steps) and release at ``b``; returns the live box at mid-drag."""
    view, vp = win.photo_view, win.photo_view.viewport()
    pa, pb = view.mapFromScene(*a), view.mapFromScene(*b)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=pa)
    mid = (pa + pb) / 2
    qtbot.mouseMove(vp, mid)
    item = view.selected_item()
    live = item.rect()
    qtbot.mouseMove(vp, pb)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=pb)
    return live


def scene_of(win, x: float, y: float) -> tuple[float, float]:
    """The photo pixel the view maps (x, y) to after rounding to a viewport pixel (what the mouse can hit)."""
    p = win.photo_view.scene_pos(QPointF(win.photo_view.mapFromScene(x, y)))
    return p.x(), p.y()


def test_drag_inside_the_selected_box_moves_it_one_undo_step(qtbot, win):
    before = only_bib(win)
    assert before.source == "model" and before.confidence == pytest.approx(0.42)
    depth = win.undo_stack.count()
    a, b = scene_of(win, 140, 110), scene_of(win, 170, 130)
    live = drag(qtbot, win, a, b)
    assert live.left() > BOX[0]  # the live rectangle followed the mouse before the release
    after = only_bib(win)  # saved at the release
    dx, dy = b[0] - a[0], b[1] - a[1]
    assert after.box == pytest.approx((BOX[0] + dx, BOX[1] + dy, BOX[2] + dx, BOX[3] + dy), abs=0.11)
    assert (after.id, after.number) == (before.id, before.number)
    assert after.source == "human" and after.confidence is None  # as any edit (Store.update_bib)
    assert win.undo_stack.count() == depth + 1
    assert not win.store.photo(win.current_id).reviewed  # the review mark is untouched
    box_item = win.photo_view.selected_item()
    assert (box_item.rect().left(), box_item.rect().top()) == pytest.approx(after.box[:2], abs=0.11)
    win.undo()
    assert only_bib(win) == before  # the exact stored row: box, source, confidence, times
    win.redo()
    assert only_bib(win) == after


def test_drag_a_corner_handle_resizes_and_the_opposite_corner_stays(qtbot, win):
    view = win.photo_view
    assert len(view.selected_item().handles) == 4
    corner = view.mapFromScene(BOX[2], BOX[3])
    assert view.handle_at(QPointF(corner) + QPointF(3, 3)) == 2  # grabbed a few screen px off the corner
    target = scene_of(win, 220, 200)
    drag(qtbot, win, scene_of(win, BOX[2], BOX[3]), target)
    bib = only_bib(win)
    assert bib.box == pytest.approx((BOX[0], BOX[1], *target), abs=0.11)
    assert bib.number == "4321"
    drag(qtbot, win, scene_of(win, BOX[0], BOX[1]), scene_of(win, 60, 50))  # top-left handle
    x1, y1, x2, y2 = only_bib(win).box
    assert (x2, y2) == pytest.approx(target, abs=0.11) and x1 < 65 and y1 < 55


def test_drags_keep_the_box_inside_the_photo_and_not_too_small(qtbot, win):
    drag(qtbot, win, scene_of(win, 140, 110), scene_of(win, 318, 238))  # move far past the bottom-right
    x1, y1, x2, y2 = only_bib(win).box
    assert (x2, y2) == (W, H) and (x2 - x1, y2 - y1) == pytest.approx((BOX[2] - BOX[0], BOX[3] - BOX[1]), abs=0.11)
    drag(qtbot, win, scene_of(win, x1, y1), scene_of(win, x2, y2))  # top-left handle onto the bottom-right
    x1, y1, x2, y2 = only_bib(win).box
    assert (x2 - x1, y2 - y1) == (box_adjust.MIN_SIDE, box_adjust.MIN_SIDE)
    assert 0 <= x1 and x2 <= W and 0 <= y1 and y2 <= H


def test_geometry_clamps_to_the_photo_and_the_minimum_side():
    assert box_adjust.moved((10, 10, 50, 30), -100, 500, W, H) == (0, H - 20, 40, H)
    assert box_adjust.resized((10, 10, 50, 30), 2, 1000, -5, W, H) == (10, 0, W, 10)  # flips over the fixed corner
    assert box_adjust.resized((10, 10, 50, 30), 0, 50, 30, W, H) == (46, 26, 50, 30)
    assert box_adjust.resized((0, 0, 50, 30), 2, 0, 0, W, H) == (0, 0, 4, 4)  # at the border: grows inward
    assert box_adjust.nudged((10, 10, 510, 30), 1, 0, 0, 0, 1000, 1000) == (15, 10, 515, 30)  # 1 % of 500
    assert box_adjust.nudged((10, 10, 50, 30), 0, 0, -1, 0, W, H) == (10, 10, 48, 30)  # at least 2 px
    assert box_adjust.nudged((10, 10, 13, 30), 0, 0, -1, 0, W, H) == (10, 10, 14, 30)
    # a box squeezed against the right/bottom edge below the minimum stays inside the photo
    assert box_adjust.nudged((W - 2, H - 2, W, H), 0, 0, -1, 0, W, H) == (W - 4, H - 2, W, H)
    assert box_adjust.nudged((W - 2, H - 2, W, H), 0, 0, 0, 1, W, H) == (W - 2, H - 4, W, H)


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def test_alt_arrows_nudge_and_a_burst_is_one_undo_step(qtbot, win):
    before = only_bib(win)
    depth = win.undo_stack.count()
    seen = []
    for _ in range(5):
        key(qtbot, Qt.Key.Key_Right, ALT)
        seen.append(only_bib(win).box)  # each nudge is saved as it happens
    key(qtbot, Qt.Key.Key_Down, ALT)
    key(qtbot, Qt.Key.Key_Right, ALT | SHIFT)
    key(qtbot, Qt.Key.Key_Up, ALT | SHIFT)
    step = box_adjust.NUDGE_MIN_PX  # the 80x60 box: 1 % is under the minimum step
    assert seen == [(BOX[0] + i * step, BOX[1], BOX[2] + i * step, BOX[3]) for i in range(1, 6)]
    after = only_bib(win)
    assert after.box == (BOX[0] + 5 * step, BOX[1] + step, BOX[2] + 6 * step, BOX[3])
    assert (after.number, after.source) == ("4321", "human")
    assert win.undo_stack.count() == depth + 1  # merged
    assert win.current_id is not None and win.store.photo(win.current_id).reviewed is False
    win.undo()
    assert only_bib(win) == before
    win.redo()
    assert only_bib(win) == after


def test_nudges_apart_in_time_are_separate_undo_steps(qtbot, win, monkeypatch):
    monkeypatch.setattr(AdjustBoxCommand, "BURST_S", -1.0)
    depth = win.undo_stack.count()
    key(qtbot, Qt.Key.Key_Left, ALT)
    key(qtbot, Qt.Key.Key_Left, ALT)
    assert win.undo_stack.count() == depth + 2
    win.undo()
    assert only_bib(win).box == (BOX[0] - 2, BOX[1], BOX[2] - 2, BOX[3])


def test_nudges_wait_while_a_number_is_typed_or_a_box_drawn(qtbot, win):
    key(qtbot, Qt.Key.Key_5)  # starts retyping the number: the field has the focus
    assert QApplication.focusWidget() is win.number_edit
    win.actions_by_name["box_right"].trigger()
    assert only_bib(win).box == BOX
    key(qtbot, Qt.Key.Key_Escape)
    key(qtbot, Qt.Key.Key_B)
    assert win.photo_view.drawing
    key(qtbot, Qt.Key.Key_Right, ALT)
    assert only_bib(win).box == BOX


def test_box_keys_are_in_the_key_map_without_conflicts(win):
    from bibtagger_gui.gui.keymap import load_keymap

    assert not win.keymap.problems
    assert win.keymap.text("box_left") == "Alt+Left" and win.keymap.text("box_taller") == "Alt+Shift+Down"
    assert not load_keymap(win.settings).problems


def test_a_drag_whose_bib_was_replaced_meanwhile_says_so(qtbot, win):
    """A re-run replaced the dragged prediction (new row, new id) before the release: the drag used to end
    without a word; now the status bar says the box was not moved, and nothing is written over the new row."""
    view, vp = win.photo_view, win.photo_view.viewport()
    a, b = scene_of(win, 140, 110), scene_of(win, 170, 130)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view.mapFromScene(*a))
    qtbot.mouseMove(vp, view.mapFromScene(*b))
    win.store.set_model_bibs(win.current_id, [Bib("4321", BOX, 0.5)], "rerun")  # new predictions, new ids
    win.refresh_photo(win.current_id)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view.mapFromScene(*b))
    assert "was not moved" in win.statusBar().currentMessage()
    (bib,) = win.store.bibs(win.current_id)
    assert bib.box == pytest.approx(BOX) and bib.source == "model"


def test_tab_to_another_bib_during_a_drag_keeps_that_selection_after_the_release(qtbot, make_window, tmp_path, monkeypatch):
    """The save at the release re-read the photo with the dragged bib selected: a Tab to another bib
    during the drag was undone. Now the user's selection stays; the drag is still saved."""
    make_photos(tmp_path / "p", 1)
    other_box = (200.0, 150.0, 280.0, 200.0)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("4321", BOX, 0.42), Bib("77", other_box, 0.9)]})
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    win.select_photo(win.store.photo_by_path("photo_000.jpg").id)
    win.photo_view.setFocus()
    dragged = win.selected_bib  # the least confident one
    other = next(b.id for b in win.current_bibs if b.id != dragged)
    view, vp = win.photo_view, win.photo_view.viewport()
    a, b = scene_of(win, 140, 110), scene_of(win, 160, 120)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view.mapFromScene(*a))
    qtbot.mouseMove(vp, view.mapFromScene(*b))
    assert view.adjusting
    win.step_bib(1)  # Tab during the drag
    assert win.selected_bib == other
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view.mapFromScene(*b))
    assert win.store.bib(dragged).box != BOX  # the drag was saved
    assert win.selected_bib == other
    assert view.selected_item() is not None and view.selected_item().bib_id == other
    (row,) = win.panel.table.selectionModel().selectedRows()
    assert win.panel.table.item(row.row(), 0).text().split()[0] == "77"  # the panel shows it too
