"""A mouse-first review (a volunteer on a laptop's touchpad: menus, buttons, clicks, drags, the wheel; keys only for
bib numbers): what a click, a drag, a drop or a right click does (docs/gui.md#mouse-first). Mouse events go to the
real widgets, as a touchpad sends them."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QContextMenuEvent, QNativeGestureEvent, QPointingDevice, QWheelEvent
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit

from bibtagger_gui.core import photo_batch
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.photo_batch import BatchAction
from bibtagger_gui.core.review import ReviewFilter
from tests.test_gui_support import desktop_drop, fixed_predictions, gui_env, make_photos, make_window, select_photos, wait_idle  # noqa: F401

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


def double_click(qtbot, widget, pos: QPoint) -> None:
    """A double click as Qt delivers one: press, release, then press, the double-click event and release."""
    qtbot.mouseClick(widget, LEFT, pos=pos)
    qtbot.mousePress(widget, LEFT, pos=pos)
    qtbot.mouseDClick(widget, LEFT, pos=pos)
    qtbot.mouseRelease(widget, LEFT, pos=pos)


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


def drop(widget, path, as_text: bool = False) -> tuple[bool, bool]:
    """A desktop drag of ``path`` over ``widget`` and its drop there (Qt passes them up to a parent that takes drops):
    whether the move was accepted (else the no-entry cursor) and the drop. ``as_text``: the path as plain text too,
    as some file managers send it."""
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    if as_text:
        data.setText(str(path))
    return desktop_drop(widget, data)


def test_a_folder_or_photo_dropped_anywhere_on_the_window_opens(qtbot, make_window, tmp_path, monkeypatch):
    """Only the photo view took drops: a folder dropped on the photo list (the first thing a volunteer aims at), the
    bib panel or the search box met the no-entry cursor."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    other = tmp_path / "q"
    make_photos(other, 2, seed=3)
    assert drop(win.panel.table.viewport(), tmp_path / "p" / "photo_002.jpg") == (True, True)
    assert win.items[win.current_id].photo.relpath == "photo_002.jpg"
    for widget in (win.search_edit, win.panel):
        assert drop(widget, tmp_path / "p" / "photo_001.jpg") == (True, True)
    assert win.items[win.current_id].photo.relpath == "photo_001.jpg"
    assert drop(win.list_view.viewport(), other) == (True, True)
    assert win.folder == other.resolve()
    wait_idle(qtbot, win)


def test_a_photo_dropped_on_a_text_field_with_its_path_as_text_opens(qtbot, make_window, tmp_path, monkeypatch):
    """A file manager's drag that carries the path as plain text too, dropped on the search box, typed the path
    there (the search then hid every photo); on the number field, typed it into the number. Both open the photo,
    as a drop anywhere on the window does; text without a photo or folder is still the field's."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    for widget, name in ((win.search_edit, "photo_001.jpg"), (win.number_edit, "photo_002.jpg")):
        before = widget.text()
        assert drop(widget, tmp_path / "p" / name, as_text=True) == (True, True)
        assert widget.text() == before and win.items[win.current_id].photo.relpath == name
    data = QMimeData()
    data.setText("22")
    assert desktop_drop(win.search_edit, data) == (True, True) and win.search_edit.text() == "22"


def test_a_drop_while_a_box_is_drawn_keeps_it_and_says_so(qtbot, make_window, tmp_path, monkeypatch):
    """A folder dropped while a drawn box waited for its number opened that folder and dropped the box without a word;
    a photo dropped while a box was being drawn cancelled it, and "Showing photo_002.jpg" covered the note. Both keep
    the box and say how to finish it, as Ctrl+O does (docs/review-flow.md step 3)."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    other = tmp_path / "q"
    make_photos(other, 2, seed=3)
    shown, view = win.current_id, win.photo_view
    qtbot.mouseClick(button(win, "Draw Box"), LEFT)
    assert drop(view.viewport(), tmp_path / "p" / "photo_002.jpg") == (True, False)
    assert win.current_id == shown and view.drawing
    assert win.statusBar().currentMessage() == (
        "A new box is being drawn: drag it (or arrows), Enter takes it, Escape cancels it; then drop it again")
    drag(qtbot, view.viewport(), view.mapFromScene(100, 60), view.mapFromScene(180, 110))
    assert win.drawn_box_waits()
    assert drop(win.list_view.viewport(), other) == (True, False)
    assert win.folder == (tmp_path / "p").resolve() and win.current_id == shown and win.drawn_box_waits()
    assert win.statusBar().currentMessage() == "Type the number of the box you drew, then Return (Escape drops the box)"


def menu_action(menu, text: str):
    return next(a for a in menu.actions() if a.text().replace("&", "").startswith(text))


def test_the_edit_menu_cancels_a_box_being_drawn_or_waiting_for_its_number(qtbot, make_window, tmp_path, monkeypatch):
    """Escape was the only way to cancel a box being drawn or drop a drawn box waiting for its number: Cancel
    Typing/Drawing was in no menu, and Edit > Undo (which takes back either) is greyed out with nothing done yet."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    view = win.photo_view
    before = [(b.number, b.box) for b in win.store.bibs(win.current_id)]
    cancel = menu_action(win.edit_menu, "Cancel Typing/Drawing")
    assert cancel.shortcut().toString() == "Esc" and cancel.isEnabled() and not win.actions_by_name["undo"].isEnabled()
    qtbot.mouseClick(button(win, "Draw Box"), LEFT)
    cancel.trigger()
    assert not view.drawing and win.statusBar().currentMessage() == ""
    qtbot.mouseClick(button(win, "Draw Box"), LEFT)
    drag(qtbot, view.viewport(), view.mapFromScene(100, 60), view.mapFromScene(180, 110))
    assert win.drawn_box_waits()
    cancel.trigger()
    assert not win.drawn_box_waits() and win._entry is None
    assert [(b.number, b.box) for b in win.store.bibs(win.current_id)] == before


def right_click(view, pos: QPoint) -> None:
    """A right click's context-menu event on the photo view's viewport (QTest's click sends none)."""
    vp = view.viewport()
    QApplication.sendEvent(vp, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, vp.mapToGlobal(pos)))


def test_a_right_click_on_the_photo_offers_the_actions_there_with_their_keys(qtbot, make_window, tmp_path, monkeypatch):
    """A right click in the photo did nothing: a touchpad user looked for Delete or Edit Number on a box. It selects
    the box under the mouse and offers the window's actions with their keys; its Delete Bib deletes that bib."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    view = win.photo_view
    bib22 = next(b.id for b in win.current_bibs if b.number == "22")
    assert win.selected_bib != bib22  # the least confident (11) is selected first
    right_click(view, view.mapFromScene(240, 175))
    menu = QApplication.activePopupWidget()
    assert menu is not None and menu.objectName() == "photoMenu" and win.selected_bib == bib22
    shown = {a.text().replace("&", ""): a.shortcut().toString() for a in menu.actions() if not a.isSeparator()}
    assert shown == {"Edit Number": "F2", "Delete Bib": "Del", "Zoom to Bib": "Z", "Draw Box": "B", "Cancel Typing/Drawing": "Esc",
                     "Fit Photo": "F", "Zoom In": "+", "Zoom Out": "-", "Accept Photo": "Return"}  # fmt: skip
    menu_action(menu, "Delete Bib").trigger()
    menu.close()
    assert [b.number for b in win.store.bibs(win.current_id)] == ["11"]
    right_click(view, QPoint(3, 3))  # off every box: the menu, the selection as it was
    assert QApplication.activePopupWidget() is not None and win.selected_bib == win.current_bibs[0].id
    QApplication.activePopupWidget().close()
    table = win.panel.table  # a right click on a bib's row: the same menu
    at = table.visualRect(table.model().index(0, 0)).center()
    QApplication.sendEvent(table.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, table.viewport().mapToGlobal(at)))
    assert QApplication.activePopupWidget() is menu
    menu.close()


def test_a_double_click_on_a_box_edits_its_number(qtbot, make_window, tmp_path, monkeypatch):
    """A double click on a box did what a click does (a double click on its row in the bib panel edits its number)."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    view = win.photo_view
    pos = view.mapFromScene(240, 175)
    double_click(qtbot, view.viewport(), pos)
    assert QApplication.focusWidget() is win.number_edit and win.number_edit.selectedText() == "22"
    qtbot.keyClicks(win.number_edit, "23")
    qtbot.mouseClick(button(win, "Accept Photo"), LEFT)
    assert sorted(b.number for b in win.store.bibs(win.current_id)) == ["11", "23"]


def test_re_run_with_nothing_to_re_run_says_why(qtbot, make_window, tmp_path, monkeypatch):
    """Recognition > Re-run on Unreviewed Photos with no folder open, or with every photo reviewed, did nothing
    without a word."""
    win = make_window()
    rerun = win.actions_by_name["rerun"]
    rerun.trigger()
    assert win.statusBar().currentMessage() == "No folder is open (Ctrl+O)"
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch, n=2)
    for _ in range(2):
        qtbot.mouseClick(button(win, "Accept Photo"), LEFT)
    assert all(p.reviewed for p in win.store.photos())
    win.actions_by_name["rerun"].trigger()
    assert not win.busy and win.statusBar().currentMessage().startswith("Nothing to re-run: every photo is reviewed")


def test_every_menu_entry_says_what_it_does_in_the_status_bar(qtbot, make_window):
    """A mouse user reads what an entry does in the status bar as the mouse rests on it: Recognition > Load Model
    Folder…, Re-run on Unreviewed Photos and Cancel, the Crowd menu's two entries and the filters said nothing."""
    win = make_window()

    def leaves(menu, path):
        for act in menu.actions():
            if act.menu() is not None and act.menu() is not win.recent_menu:  # (its entries are folders)
                yield from leaves(act.menu(), f"{path} > {act.text()}")
            elif not act.isSeparator() and act.menu() is None:
                yield f"{path} > {act.text()}", act

    entries = [x for top in win.menuBar().actions() for x in leaves(top.menu(), top.text())]
    assert len(entries) > 50
    assert [path for path, act in entries if not act.statusTip()] == []


def test_each_filter_of_the_filter_box_says_what_it_shows(qtbot, make_window):
    """ReviewFilter.description is said to be the filter box's tooltip too, but the box's choices had none: a mouse
    user resting on "Conflicts" or "Low confidence" in the box read nothing (the menu's entries said it)."""
    box = make_window().filter_box
    tips = {box.itemData(i): box.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(box.count())}
    assert tips == {f.value: f.description for f in ReviewFilter}


def test_a_touchpad_pinch_zooms_and_a_sideways_scroll_pans(qtbot, make_window, tmp_path, monkeypatch):
    """A touchpad's pinch did nothing and a sideways two-finger scroll was dropped (only an up/down scroll zoomed)."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    view, vp = win.photo_view, win.photo_view.viewport()
    fitted = view.zoom_level()
    at = QPointF(vp.rect().center())
    pinch = QNativeGestureEvent(Qt.NativeGestureType.ZoomNativeGesture, QPointingDevice.primaryPointingDevice(), 2,
                                at, at, QPointF(vp.mapToGlobal(at)), 1.0, QPointF(0, 0))  # fmt: skip
    QApplication.sendEvent(vp, pinch)
    assert view.zoom_level() == pytest.approx(2 * fitted) and not view.fit_mode
    bar = view.horizontalScrollBar()
    bar.setValue(bar.maximum() // 2)
    before, zoom = bar.value(), view.zoom_level()
    sideways = QWheelEvent(at, QPointF(vp.mapToGlobal(at)), QPoint(0, 0), QPoint(-120, 0), Qt.MouseButton.NoButton,
                           Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QApplication.sendEvent(vp, sideways)
    assert bar.value() > before and view.zoom_level() == zoom


def test_a_click_into_the_number_field_then_digits_replace_the_number(qtbot, make_window, tmp_path, monkeypatch):
    """A click into the number field put the cursor where it landed: "22" clicked, then "23" typed, was committed as
    2223 by Accept Photo. The click selects the number, so digits replace it, as digits typed from the photo do; a
    second click places the cursor, for a fix of one digit."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    view, edit = win.photo_view, win.number_edit
    qtbot.mouseClick(view.viewport(), LEFT, pos=view.mapFromScene(240, 175))  # select bib 22
    qtbot.mouseClick(edit, LEFT, pos=edit.rect().center())
    assert QApplication.focusWidget() is edit and edit.selectedText() == "22"
    qtbot.keyClicks(edit, "23")
    qtbot.mouseClick(button(win, "Accept Photo"), LEFT)
    assert sorted(b.number for b in win.store.bibs(win.current_id)) == ["11", "23"]
    qtbot.mouseClick(edit, LEFT, pos=edit.rect().center())
    qtbot.mouseClick(edit, LEFT, pos=QPoint(edit.rect().right() - 2, edit.rect().center().y()))  # a second click
    assert not edit.hasSelectedText() and edit.cursorPosition() == len(edit.text())


def test_a_double_click_on_a_button_acts_once(qtbot, make_window, tmp_path, monkeypatch):
    """A volunteer who double-clicks buttons: a double click on Accept Photo accepted the photo shown and then the
    next one, unseen; one on Delete Bib deleted the selected bib and the next. Each acts once."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    first = win.current_id
    double_click(qtbot, button(win, "Accept Photo"), button(win, "Accept Photo").rect().center())
    assert win.store.photo(first).reviewed and win.current_id != first
    assert [p.id for p in win.store.photos() if p.reviewed] == [first]
    shown = win.current_id
    double_click(qtbot, button(win, "Delete Bib"), button(win, "Delete Bib").rect().center())
    assert len(win.store.bibs(shown)) == 1
    qtbot.mouseClick(button(win, "Delete Bib"), LEFT)  # a click after it is a click
    assert win.store.bibs(shown) == []


def test_a_handle_dragged_to_the_edge_hides_neither_the_list_nor_the_bib_panel(qtbot, make_window, tmp_path, monkeypatch):
    """A splitter handle dragged (on a touchpad, often by accident) to the window's edge collapsed the photo list or
    the bib panel, with its number field and buttons: no menu brought them back, and the app remembered it."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    splitter = win.centralWidget()
    for i, away in ((1, QPoint(-2000, 0)), (2, QPoint(2000, 0))):
        handle = splitter.handle(i)
        at = handle.rect().center()
        qtbot.mousePress(handle, LEFT, pos=at)
        qtbot.mouseMove(handle, at + away / 2)
        qtbot.mouseMove(handle, at + away)
        qtbot.mouseRelease(handle, LEFT, pos=at + away)
    left, photo, right = splitter.sizes()
    assert left >= splitter.widget(0).minimumSizeHint().width() > 0
    assert right >= splitter.widget(2).minimumSizeHint().width() > 0 and photo > 0
    assert win.list_view.isVisible() and win.number_edit.isVisible() and button(win, "Accept Photo").isVisible()


def side_button(qtbot, widget, which) -> None:
    """A press and release of a mouse's Back or Forward (thumb) button over ``widget``, through its native window
    (as the system sends them: to the window, which passes them to the widget under the mouse)."""
    top = widget.window()
    at = widget.mapTo(top, widget.rect().center())
    qtbot.mousePress(top.windowHandle(), which, pos=at)
    qtbot.mouseRelease(top.windowHandle(), which, pos=at)


def test_the_mouse_back_and_forward_buttons_go_to_the_previous_and_next_photo(qtbot, make_window, tmp_path, monkeypatch):
    """A mouse's Back/Forward (thumb) buttons did nothing: they go to the previous/next photo wherever the mouse is in
    the window, as K/J do (a number typed from the photo is committed first; a box being drawn keeps them from it).
    In a dialog of the window they are the dialog's."""
    back, forward = Qt.MouseButton.BackButton, Qt.MouseButton.ForwardButton
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    view, rows = win.photo_view, [win.current_row()]
    for widget, which in ((view.viewport(), forward), (win.list_view.viewport(), forward), (win.panel.table.viewport(), back)):
        side_button(qtbot, widget, which)
        rows.append(win.current_row())
    assert rows == [0, 1, 2, 1]
    view.setFocus()
    for digit in "345":  # digits typed from the photo: Back commits them, then goes back (as K)
        qtbot.keyClick(QApplication.focusWidget(), digit)
    typed_on = win.current_id
    side_button(qtbot, button(win, "Accept Photo"), back)
    assert "345" in [b.number for b in win.store.bibs(typed_on)] and win.current_row() == 0
    assert not win.store.photo(typed_on).reviewed  # the button under the mouse did not click
    qtbot.mouseClick(button(win, "Draw Box"), LEFT)
    side_button(qtbot, view.viewport(), forward)
    assert win.current_row() == 0 and view.drawing
    assert win.statusBar().currentMessage().endswith("then go to another photo")
    win.cancel_entry()
    dialog = QDialog(win)
    field = QLineEdit(dialog)
    dialog.show()
    side_button(qtbot, field, forward)
    assert win.current_row() == 0
    dialog.close()



def test_draw_box_again_while_drawing_cancels_the_drawing(qtbot, make_window, tmp_path, monkeypatch):
    """Draw Box clicked again while drawing did nothing (the drawing went on): it cancels the drawing, as Escape does,
    and says so; a third click draws again."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    view = win.photo_view
    qtbot.mouseClick(button(win, "Draw Box"), LEFT)
    assert view.drawing
    qtbot.mouseClick(button(win, "Draw Box"), LEFT)
    assert not view.drawing and win._entry is None
    assert win.statusBar().currentMessage() == "Cancelled the box you were drawing (nothing was saved; Draw Box (B) draws one)"
    qtbot.mouseClick(button(win, "Draw Box"), LEFT)
    assert view.drawing
    drag(qtbot, view.viewport(), view.mapFromScene(100, 60), view.mapFromScene(180, 110))
    assert win.drawn_box_waits()


def test_the_photo_list_menu_says_how_many_photos_each_action_takes(qtbot, make_window, tmp_path, monkeypatch):
    """The list's context menu said "Mark Reviewed", "Re-run Recognition", … whatever the selection: each entry says
    how many of the selected photos it will change (a reviewed photo is not marked reviewed again nor re-run)."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch, n=4)
    qtbot.mouseClick(button(win, "Accept Photo"), LEFT)  # photo 0 reviewed
    ids = [win.list_model.item(r).photo_id for r in range(3)]
    select_photos(win, ids)
    view = win.list_view
    at = view.visualRect(view.model().index(1, 0)).center()
    QApplication.sendEvent(view.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, view.viewport().mapToGlobal(at)))
    menu = win.batch_controller.context_menu
    qtbot.waitUntil(menu.isVisible, timeout=3000)
    items = [win.list_model.item(r) for r in range(3)]
    todo = {a: len(photo_batch.plan(a, items).todo) for a in BatchAction}
    assert list(todo.values()) == [2, 1, 2, 2]  # (photo 0 reviewed: its bibs confirmed, no prediction left)
    assert [a.text() for a in menu.actions()] == [
        "Mark &Reviewed (2 of 3 Selected Photos)", "Mark &Unreviewed (1 of 3 Selected Photos)",
        "Re-run Re&cognition (2 of 3 Selected Photos)", "&Delete Predictions (Keep My Bibs) (2 of 3 Selected Photos)"]
    menu.close()
    select_photos(win, ids[1:2])
    win.batch_controller.show_context_menu(at)
    assert menu.actions()[0].text() == "Mark &Reviewed (1 Selected Photo)"
    menu.close()
