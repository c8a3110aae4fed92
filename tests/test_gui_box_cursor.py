"""The photo view's hover cursor says what a press there starts (docs/gui.md#adjusting-a-box): a corner
handle of the selected box its diagonal resize cursor, inside the selected box the move cursor, over another
box the pointing hand (a press selects it), elsewhere the open hand of panning, and the cross while a box is
drawn; a wheel zoom refreshes it without a mouse move."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.gui.photo_view import HANDLE_GRAB
from tests.test_gui_support import (  # noqa: F401 - fixtures
    fixed_predictions,
    gui_env,
    make_photos,
    make_window,
    wait_idle,
)

BOX = (100.0, 80.0, 180.0, 140.0)  # the least confident bib: selected when the photo opens
INNER = (110.0, 90.0, 130.0, 105.0)  # a smaller box drawn over it (a click there selects it)
S = Qt.CursorShape


@pytest.fixture
def win(qtbot, make_window, tmp_path, monkeypatch):
    make_photos(tmp_path / "p", 1)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("4321", BOX, 0.42), Bib("77", INNER, 0.9)]})
    w = make_window()
    w.open_folder(tmp_path / "p")
    wait_idle(qtbot, w)
    w.select_photo(w.store.photo_by_path("photo_000.jpg").id)
    w.photo_view.setFocus()
    assert w.photo_view.selected_item().rect().getCoords() == BOX
    return w


def at(win, x: float, y: float, dx: int = 0, dy: int = 0) -> QPoint:
    """The viewport position of photo pixel (x, y), moved by (dx, dy) screen pixels."""
    return win.photo_view.mapFromScene(x, y) + QPoint(dx, dy)


def hover(qtbot, win, pos: QPoint) -> S:
    """Move the mouse (no button pressed) to ``pos``; the cursor the view then shows."""
    vp = win.photo_view.viewport()
    qtbot.mouseMove(vp, pos)
    return vp.cursor().shape()


def test_hovering_the_selected_box_shows_what_a_press_does(qtbot, win):
    assert win.photo_view.viewport().hasMouseTracking()  # moves without a button reach the view
    x1, y1, x2, y2 = BOX
    g = int(HANDLE_GRAB) - 2  # a few screen pixels off a corner still grab it (PhotoView.handle_at)
    corners = {(x1, y1, -g, -g): S.SizeFDiagCursor, (x2, y2, g, g): S.SizeFDiagCursor,
               (x2, y1, g, -g): S.SizeBDiagCursor, (x1, y2, -g, g): S.SizeBDiagCursor}
    for (x, y, dx, dy), shape in corners.items():
        assert hover(qtbot, win, at(win, x, y)) == shape, (x, y)
        assert hover(qtbot, win, at(win, x, y, dx, dy)) == shape, (x, y, dx, dy)
        assert hover(qtbot, win, at(win, x, y, 3 * dx, 3 * dy)) == S.OpenHandCursor  # outside, past the grab
    assert hover(qtbot, win, at(win, 160, 125)) == S.SizeAllCursor  # inside: a press moves it
    assert hover(qtbot, win, at(win, 120, 97)) == S.PointingHandCursor  # the smaller box: a press selects it
    assert hover(qtbot, win, at(win, 250, 200)) == S.OpenHandCursor  # the photo outside: a drag pans
    # the cursor agrees with what a press there does
    view = win.photo_view
    for pos in (at(win, x2, y2, g, g), at(win, 160, 125), at(win, 120, 97), at(win, 250, 200)):
        shape = hover(qtbot, win, pos)
        scene = view.scene_pos(QPointF(pos))
        starts = view.handle_at(QPointF(pos)) is not None or view.box_at(scene) is view.selected_item()
        assert starts == (shape in (S.SizeFDiagCursor, S.SizeBDiagCursor, S.SizeAllCursor))
        selects = not starts and view.box_at(scene) is not None
        assert selects == (shape == S.PointingHandCursor)


def test_drawing_shows_the_cross_and_then_the_hover_cursor_again(qtbot, win):
    corner = at(win, BOX[2], BOX[3])
    assert hover(qtbot, win, corner) == S.SizeFDiagCursor
    qtbot.keyClick(win.photo_view, Qt.Key.Key_B)
    assert win.photo_view.drawing
    assert win.photo_view.viewport().cursor().shape() == S.CrossCursor  # at once, the mouse unmoved
    assert hover(qtbot, win, corner) == S.CrossCursor  # a press here draws, it does not resize
    assert hover(qtbot, win, at(win, 160, 125)) == S.CrossCursor
    qtbot.keyClick(win.photo_view, Qt.Key.Key_Escape)
    assert not win.photo_view.drawing
    assert win.photo_view.viewport().cursor().shape() == S.SizeAllCursor  # where the mouse is: inside the box
    assert hover(qtbot, win, at(win, 250, 200)) == S.OpenHandCursor


def test_after_a_drag_or_a_click_the_cursor_follows_the_box_under_the_mouse(qtbot, win):
    vp = win.photo_view.viewport()
    start, end = at(win, 160, 125), at(win, 170, 130)
    assert hover(qtbot, win, start) == S.SizeAllCursor
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    assert vp.cursor().shape() == S.SizeAllCursor
    qtbot.mouseMove(vp, end)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    assert win.store.bib(win.selected_bib).box != BOX  # moved and saved
    assert vp.cursor().shape() == S.SizeAllCursor  # still over the box (it used to fall back to the arrow)
    inner = at(win, 120, 97)
    assert hover(qtbot, win, inner) == S.PointingHandCursor
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=inner)  # selects the smaller box
    assert win.photo_view.selected_item().rect().getCoords() == INNER
    assert vp.cursor().shape() == S.SizeAllCursor  # it is now the selected box under the mouse


def test_a_wheel_zoom_refreshes_the_cursor_without_a_mouse_move(qtbot, win):
    """The hover cursor was set only by mouse moves: after a wheel zoom the mouse lay over something else
    (another box, a handle now within reach, the empty photo) and kept the old cursor until it moved."""
    view, vp = win.photo_view, win.photo_view.viewport()
    pos = at(win, 120, 97)
    hover(qtbot, win, at(win, 250, 200))  # (a move to where the mouse already is sends no event)
    before = hover(qtbot, win, pos)
    assert before == S.PointingHandCursor  # over the smaller box
    wheel = QWheelEvent(QPointF(pos), QPointF(vp.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, -720), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QApplication.sendEvent(vp, wheel)
    assert not view.fit_mode  # zoomed by the wheel
    now = view.cursor_at(QPointF(pos))
    assert now != before  # what lies under the unmoved mouse changed (else this test proves nothing)
    assert vp.cursor().shape() == now
    view.fit()  # the fit key (and the zoom keys, a zoom to a box) refresh it the same way
    assert vp.cursor().shape() == view.cursor_at(QPointF(pos)) == before
