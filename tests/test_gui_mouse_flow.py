"""A mouse-first review (a volunteer on a laptop's touchpad: menus, buttons, clicks, drags, the wheel; keys only for
bib numbers): what a click, a drag, a drop or a right click does (docs/gui.md#mouse-first). Mouse events go to the
real widgets, as a touchpad sends them."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.bib import Bib
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401

LEFT = Qt.MouseButton.LeftButton


def open_shoot(qtbot, make_window, folder, monkeypatch, n=3):
    """n photos, each with bibs 11 (top left) and 22 (bottom right); the first shown, its pixels loaded."""
    make_photos(folder, n, seed=7)
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib("11", (10, 10, 60, 40), 0.5), Bib("22", (200, 150, 280, 200), 0.9)]
                                    for i in range(n)})  # fmt: skip
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    win.select_row(0)
    qtbot.waitUntil(lambda: win.photo_view.image_loaded, timeout=5000)
    return win


def button(win, text: str):
    return next(b for b in win.panel.button_widgets() if text in b.text())


def drag(qtbot, widget, a: QPoint, b: QPoint) -> None:
    qtbot.mousePress(widget, LEFT, pos=a)
    qtbot.mouseMove(widget, (a + b) / 2)
    qtbot.mouseMove(widget, b)
    qtbot.mouseRelease(widget, LEFT, pos=b)


def test_a_click_while_drawing_keeps_the_drawing_and_says_to_drag(qtbot, make_window, tmp_path, monkeypatch):
    """Draw Box, then a click (a touchpad's tap) instead of a drag ended the drawing without a word, and "Drag a box
    around the bib …" stayed up: the drag that followed panned the photo. The drawing goes on and the status bar says
    to drag; the drag then draws the box."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    view, vp = win.photo_view, win.photo_view.viewport()
    qtbot.mouseClick(button(win, "Draw Box"), LEFT)
    assert view.drawing
    qtbot.mouseClick(vp, LEFT, pos=view.mapFromScene(150, 100))
    assert view.drawing and view._rubber is None and win._entry is None
    assert win.statusBar().currentMessage() == (
        "A click draws no box: drag from one corner of the bib to the other, then type its number (Escape cancels the box)")
    drag(qtbot, vp, view.mapFromScene(100, 60), view.mapFromScene(100, 150))  # a flat drag: no box either
    assert view.drawing and view._rubber is None and win.statusBar().currentMessage().startswith("A click draws no box")
    drag(qtbot, vp, view.mapFromScene(100, 60), view.mapFromScene(180, 110))
    assert not view.drawing and win.drawn_box_waits() and QApplication.focusWidget() is win.number_edit
    qtbot.keyClicks(win.number_edit, "345")
    qtbot.mouseClick(button(win, "Accept Photo"), LEFT)  # commits the number (a second click accepts the photo)
    assert any(b.number == "345" and b.box is not None for b in win.store.bibs(win.current_id))
