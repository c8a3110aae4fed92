"""A keyboard-only review: what the keys do wherever the focus is, and that a typed number is never lost
(docs/review-flow.md#keyboard-only). Keys go to the focused widget, as a real keyboard sends them."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.review import ReviewFilter
from bibtagger_gui.core.store import Store
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401

CTRL = Qt.KeyboardModifier.ControlModifier


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def typed(qtbot, digits: str):
    for d in digits:
        key(qtbot, Qt.Key(ord(d)))


def open_shoot(qtbot, make_window, folder, monkeypatch, n=4, base=500):
    make_photos(folder, n, seed=base)
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib(str(base + i), (10, 10, 60, 40), 0.5)] for i in range(n)})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    win.select_row(0)
    return win


def numbers(folder, relpath):
    with Store.open(folder) as store:
        return [b.number for b in store.bibs(store.photo_by_path(relpath).id)]


def two_shoots(qtbot, make_window, tmp_path, monkeypatch):
    """Shoot a open; Ctrl+O answers shoot b."""
    a, b = tmp_path / "a", tmp_path / "b"
    win = open_shoot(qtbot, make_window, a, monkeypatch)
    make_photos(b, 3, seed=9)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: str(b)))
    return win, a, b


def test_opening_another_folder_while_typing_keeps_the_typed_number(qtbot, make_window, tmp_path, monkeypatch):
    win, a, b = two_shoots(qtbot, make_window, tmp_path, monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    typed(qtbot, "77")
    key(qtbot, Qt.Key.Key_O, CTRL)  # Ctrl+O while typing: the number was dropped
    assert win.folder == b.resolve()
    assert numbers(a, rel) == ["77"]


def test_opening_another_folder_clears_the_search_and_gives_the_photo_the_keys(qtbot, make_window, tmp_path, monkeypatch):
    """A search typed in shoot a (the search box still has the focus) must not filter shoot b nor take its digits."""
    win, a, b = two_shoots(qtbot, make_window, tmp_path, monkeypatch)
    key(qtbot, Qt.Key.Key_F, CTRL)
    qtbot.keyClicks(win.search_edit, "501")
    assert win.list_model.total() == 1
    key(qtbot, Qt.Key.Key_O, CTRL)
    wait_idle(qtbot, win)
    assert win.search_edit.text() == "" and win.list_model.total() == 3
    assert QApplication.focusWidget() is win.photo_view
    typed(qtbot, "5")
    assert win.number_edit.text() == "5" and QApplication.focusWidget() is win.number_edit


def test_quitting_while_typing_keeps_the_typed_number(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    typed(qtbot, "42")
    key(qtbot, Qt.Key.Key_Q, CTRL)
    assert not win.isVisible()
    assert numbers(tmp_path / "p", rel) == ["42"]


def test_a_filter_that_empties_the_list_keeps_the_typed_number_on_its_photo(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    typed(qtbot, "88")
    win.filter_actions[ReviewFilter.REVIEWED].trigger()  # Review > Filter > Reviewed (Alt+R, F): none yet
    assert win.list_model.total() == 0 and win.current_id is None
    assert numbers(tmp_path / "p", rel) == ["88"]
    assert win.number_edit.text() == "" and QApplication.focusWidget() is win.photo_view


def test_exporting_while_typing_puts_the_typed_number_in_the_file(qtbot, make_window, tmp_path, monkeypatch):
    """A volunteer types their last fix and goes straight to Export > Export Bib Annotation JSON…: the file they
    send back held the old number (the typed one was saved only later, when they moved on)."""
    from bibtagger_gui.gui.export_action import ExportRequest

    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    typed(qtbot, "4242")
    out = tmp_path / "A.json"
    controller = win.export_controller
    controller.interactive = False
    controller.ask = lambda spec: ExportRequest(out)
    with qtbot.waitSignal(controller.finished, timeout=20000):
        controller.actions["json"].trigger()
    entry = next(e for e in json.loads(out.read_text()) if e["image"] == rel)
    assert [b["number"] for b in entry["bibs"]] == ["4242"] == numbers(tmp_path / "p", rel)


def test_importing_while_typing_keeps_the_typed_number(qtbot, make_window, tmp_path, monkeypatch):
    """File > Import Annotations… with a number typed: the import's emptied undo history dropped the typing (the
    field still showed it, and Enter then saved nothing). It is saved first, then the file merges with it."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    other = next(r for r in (win.list_model.items[i].photo.relpath for i in range(win.list_model.total())) if r != rel)
    typed(qtbot, "4242")
    ann = tmp_path / "more.json"
    ann.write_text(json.dumps([{"image": other, "bibs": [{"number": "77"}]}]))
    win.import_controller.interactive = False
    assert win.import_controller.import_file(ann) is not None
    assert numbers(tmp_path / "p", rel) == ["4242"]
    assert "77" in numbers(tmp_path / "p", other)


def test_space_bound_in_the_key_map_works_from_the_number_field(qtbot, make_window, tmp_path, monkeypatch):
    """docs/review-flow.md's own example binds Space to next_photo: in the number field it typed a space."""
    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"next_photo": ["N", "Space"]}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    first = win.current_id
    rel = win.items[first].photo.relpath
    typed(qtbot, "31")
    assert QApplication.focusWidget() is win.number_edit
    key(qtbot, Qt.Key.Key_Space)
    assert win.current_id != first and win.current_row() == 1
    assert numbers(tmp_path / "p", rel) == ["31"]  # committed, as J or Right commit


def test_return_commits_a_typed_number_when_accept_has_other_keys(qtbot, make_window, tmp_path, monkeypatch):
    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"accept_photo": "Space"}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    first = win.current_id
    rel = win.items[first].photo.relpath
    typed(qtbot, "64")
    key(qtbot, Qt.Key.Key_Return)  # did nothing: no shortcut, and the number field ignored it
    assert numbers(tmp_path / "p", rel) == ["64"] and QApplication.focusWidget() is win.photo_view
    assert win.current_id == first and not win.store.photo(first).reviewed
    typed(qtbot, "65")
    key(qtbot, Qt.Key.Key_Space)  # the user's accept key commits from the number field too
    assert numbers(tmp_path / "p", rel) == ["65"] and win.current_id == first
    key(qtbot, Qt.Key.Key_Space)
    assert win.store.photo(first).reviewed and win.current_id != first


def test_j_k_and_arrows_after_typed_digits_commit_the_number_and_move_on(qtbot, make_window, tmp_path, monkeypatch):
    """The flow says Right/Left and J/K commit a typed number and move on: in the number field Right/Left moved
    its cursor and J/K were typed as text ("123j"), the number neither saved nor the photo changed."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    typed_on = {}
    for digits, k, row in (("123", Qt.Key.Key_J, 1), ("124", Qt.Key.Key_Right, 2), ("125", Qt.Key.Key_K, 1), ("126", Qt.Key.Key_Left, 0)):
        typed_on[win.items[win.current_id].photo.relpath] = [digits]
        typed(qtbot, digits)
        assert QApplication.focusWidget() is win.number_edit
        key(qtbot, k)
        assert win.current_row() == row and QApplication.focusWidget() is win.photo_view, (digits, k)
    assert len(typed_on) == 3 and {r: numbers(tmp_path / "p", r) for r in typed_on} == typed_on
    first = win.items[win.current_id].photo.relpath
    # a drawn box's number too
    key(qtbot, Qt.Key.Key_B)
    key(qtbot, Qt.Key.Key_Right)
    key(qtbot, Qt.Key.Key_Return)
    typed(qtbot, "88")
    key(qtbot, Qt.Key.Key_J)
    assert win.current_row() == 1 and sorted(numbers(tmp_path / "p", first)) == ["123", "88"]
    # after F2 the field's keys stay its own (letters, cursor): A12 is typed, not a move
    key(qtbot, Qt.Key.Key_F2)
    for k in (Qt.Key.Key_J, Qt.Key.Key_Left, Qt.Key.Key_Right):
        key(qtbot, k)
    assert win.current_row() == 1 and QApplication.focusWidget() is win.number_edit


def test_a_letter_bound_to_next_photo_commits_typed_digits(qtbot, make_window, tmp_path, monkeypatch):
    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"next_photo": ["N"]}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    typed(qtbot, "41")
    key(qtbot, Qt.Key.Key_N)
    assert win.current_row() == 1 and numbers(tmp_path / "p", rel) == ["41"]
    typed(qtbot, "42")
    key(qtbot, Qt.Key.Key_J)  # J is no longer a move key in this key map: text, as any unbound letter
    assert win.current_row() == 1 and win.number_edit.text() == "42j"


def test_a_letter_bound_to_accept_commits_typed_digits(qtbot, make_window, tmp_path, monkeypatch):
    """With "accept_photo": "A", digits then A typed "12a"; the status bar's "then A" after a drawn box too."""
    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"accept_photo": ["A"]}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    first = win.current_id
    rel = win.items[first].photo.relpath
    typed(qtbot, "12")
    key(qtbot, Qt.Key.Key_A)  # commits
    assert numbers(tmp_path / "p", rel) == ["12"] and win.current_id == first
    key(qtbot, Qt.Key.Key_B)
    key(qtbot, Qt.Key.Key_Right)
    key(qtbot, Qt.Key.Key_Return)  # takes the drawn box (drawing's own Enter)
    assert "then A (Escape drops the box)" in win.statusBar().currentMessage()
    typed(qtbot, "5")
    key(qtbot, Qt.Key.Key_A)
    assert sorted(numbers(tmp_path / "p", rel)) == ["12", "5"] and win.current_id == first
    key(qtbot, Qt.Key.Key_A)  # nothing typed: accepts the photo
    assert win.store.photo(first).reviewed and win.current_id != first


def test_next_and_previous_at_the_ends_of_the_list_say_so(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    win.statusBar().clearMessage()
    key(qtbot, Qt.Key.Key_K)
    assert win.current_row() == 0 and "first photo of the list (1 of 4)" in win.statusBar().currentMessage()
    win.select_row(3)
    key(qtbot, Qt.Key.Key_J)
    assert win.current_row() == 3 and "last photo of the list (4 of 4)" in win.statusBar().currentMessage()


def test_search_by_keys_only_digits_go_to_the_search_and_enter_shows_the_first_match(qtbot, make_window, tmp_path, monkeypatch):
    """Ctrl+F, digits (they must not start a number entry), Enter: the first match is shown and the photo has the
    keys, the search stays; a search with no match keeps the focus and says so; Escape clears it."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    win.select_row(3)
    key(qtbot, Qt.Key.Key_F, CTRL)
    assert QApplication.focusWidget() is win.search_edit
    typed(qtbot, "50*")
    assert win.search_edit.text() == "50*" and win.number_edit.text() != "50" and win._entry is None
    assert win.list_model.total() == 4
    key(qtbot, Qt.Key.Key_Return)
    assert win.current_row() == 0 and QApplication.focusWidget() is win.photo_view
    assert win.search_edit.text() == "50*"  # kept: Enter goes to the results
    key(qtbot, Qt.Key.Key_F, CTRL)
    typed(qtbot, "99")  # selected by Ctrl+F: replaced
    assert win.search_edit.text() == "99" and win.list_model.total() == 0
    key(qtbot, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is win.search_edit and "No photo has bib '99'" in win.statusBar().currentMessage()
    key(qtbot, Qt.Key.Key_Escape)
    assert win.search_edit.text() == "" and win.list_model.total() == 4 and QApplication.focusWidget() is win.photo_view
    assert "No photo has bib" not in win.statusBar().currentMessage()  # it stayed up over the photos shown again


def test_enter_in_the_search_goes_to_the_first_match_when_accept_has_other_keys(qtbot, make_window, tmp_path, monkeypatch):
    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"accept_photo": "Space"}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    win.select_row(2)
    key(qtbot, Qt.Key.Key_F, CTRL)
    typed(qtbot, "5*")
    key(qtbot, Qt.Key.Key_Return)
    assert win.current_row() == 0 and QApplication.focusWidget() is win.photo_view


def test_ctrl_l_puts_the_keys_in_the_list_to_select_photos_for_an_export(qtbot, make_window, tmp_path, monkeypatch):
    """No mouse: Ctrl+L, Down walks the list (it keeps the focus), Shift+Down selects several photos, digits still
    go to the number field, Escape gives the photo the keys back with the selection kept."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    act = win.actions_by_name["focus_list"]
    assert act in win.review_menu.actions() and act.shortcut().toString() == "Ctrl+L"
    typed(qtbot, "12")
    rel = win.items[win.current_id].photo.relpath
    key(qtbot, Qt.Key.Key_L, CTRL)  # commits the typed number, as Ctrl+F does
    assert numbers(tmp_path / "p", rel) == ["12"]
    assert QApplication.focusWidget() is win.list_view
    key(qtbot, Qt.Key.Key_Down)
    assert win.current_row() == 1 and QApplication.focusWidget() is win.list_view
    key(qtbot, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    key(qtbot, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    rows = sorted(i.row() for i in win.list_view.selectionModel().selectedRows())
    assert rows == [1, 2, 3] and win.current_row() == 3 and QApplication.focusWidget() is win.list_view
    assert [p.relpath for p in win.selected_photos()] == [win.list_model.item(r).photo.relpath for r in rows]
    key(qtbot, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is win.photo_view and len(win.selected_photos()) == 3
    key(qtbot, Qt.Key.Key_L, CTRL)
    typed(qtbot, "4")
    assert win.number_edit.text() == "4" and QApplication.focusWidget() is win.number_edit


def test_the_list_and_search_keys_follow_the_key_map(qtbot, make_window, tmp_path, monkeypatch):
    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"focus_list": "Ctrl+Shift+L", "search": "Ctrl+K"}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    assert win.keymap.problems == []
    key(qtbot, Qt.Key.Key_L, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is win.list_view
    key(qtbot, Qt.Key.Key_K, CTRL)
    assert QApplication.focusWidget() is win.search_edit
    assert "Ctrl+K" in win.search_edit.placeholderText()


ALT = Qt.KeyboardModifier.AltModifier


def message(win) -> str:
    return win.statusBar().currentMessage()


def test_delete_with_no_bib_to_delete_says_so(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    pid = win.current_id
    key(qtbot, Qt.Key.Key_Delete)  # deletes the one bib
    assert win.store.bibs(pid) == [] and win.current_id == pid
    win.statusBar().clearMessage()
    key(qtbot, Qt.Key.Key_Delete)
    assert "This photo has no bib to delete" in message(win)
    win.select_row(1)
    win.select_bib(None)  # e.g. a click beside every box
    win.statusBar().clearMessage()
    key(qtbot, Qt.Key.Key_Delete)
    assert "No bib is selected to delete (Tab selects one)" in message(win)
    assert len(win.store.bibs(win.current_id)) == 1


def test_alt_arrows_on_a_bib_without_a_box_say_so(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    pid = win.current_id
    key(qtbot, Qt.Key.Key_Delete)
    typed(qtbot, "77")  # a photo without bibs: a bib without a box
    key(qtbot, Qt.Key.Key_Return)
    assert [(b.number, b.box) for b in win.store.bibs(pid)] == [("77", None)]
    win.statusBar().clearMessage()
    key(qtbot, Qt.Key.Key_Left, ALT)
    assert "Bib 77 has no box to move or size (B draws one)" in message(win)
    key(qtbot, Qt.Key.Key_Delete)
    win.statusBar().clearMessage()
    key(qtbot, Qt.Key.Key_Right, ALT)
    assert "This photo has no bib to move" in message(win)


def test_digits_with_no_photo_shown_say_why(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    key(qtbot, Qt.Key.Key_F, CTRL)
    typed(qtbot, "99")
    assert win.list_model.total() == 0 and win.current_id is None
    win.photo_view.setFocus()  # e.g. a click on the empty view
    win.statusBar().clearMessage()
    typed(qtbot, "5")
    assert "No photo shown: no photo has bib '99' (Escape in the search box clears it)" in message(win)
    assert win._entry is None and QApplication.focusWidget() is win.photo_view
    win.search_edit.clear()
    win.filter_actions[ReviewFilter.REVIEWED].trigger()
    win.statusBar().clearMessage()
    typed(qtbot, "5")
    assert "No photo shown: the filter 'Reviewed' leaves none" in message(win)
    win.close_folder()
    typed(qtbot, "5")
    assert "no folder is open (Ctrl+O)" in message(win)


def tab_to(qtbot, widget, limit=6):
    for _ in range(limit):
        if QApplication.focusWidget() is widget:
            return
        key(qtbot, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is widget


def remapped_tab_shoot(qtbot, make_window, tmp_path, monkeypatch):
    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"next_bib": "N"}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    assert "Tab" not in win.keymap.keys["next_bib"]
    return win


def test_tab_through_the_number_field_leaves_no_entry_open(qtbot, make_window, tmp_path, monkeypatch):
    """next_bib bound away from Tab: Tab moves the focus through the number field. The empty entry that opened
    there stayed open after the focus left and silently blocked Alt+arrows until Escape."""
    win = remapped_tab_shoot(qtbot, make_window, tmp_path, monkeypatch)
    pid, before = win.current_id, win.selected_row().box
    tab_to(qtbot, win.number_edit)
    assert win._entry is not None  # focusing the field starts an entry (typing there edits the selected bib)
    key(qtbot, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not win.number_edit
    assert win._entry is None and win.number_edit.text() == "500"
    key(qtbot, Qt.Key.Key_Left, ALT)
    box = win.store.bibs(pid)[0].box
    assert box[0] < before[0] and (box[1], box[3]) == (before[1], before[3])  # moved left


def test_alt_arrows_from_the_number_field_with_nothing_typed_move_the_box(qtbot, make_window, tmp_path, monkeypatch):
    win = remapped_tab_shoot(qtbot, make_window, tmp_path, monkeypatch)
    pid, before = win.current_id, win.selected_row().box
    tab_to(qtbot, win.number_edit)
    key(qtbot, Qt.Key.Key_Down, ALT)
    box = win.store.bibs(pid)[0].box
    assert box[1] > before[1] and QApplication.focusWidget() is win.photo_view and win._entry is None
    typed(qtbot, "9")  # digits still start an entry afterwards
    assert win._entry is not None and win.number_edit.text() == "9"


def test_a_typed_number_stays_when_the_focus_leaves_and_alt_arrows_say_so(qtbot, make_window, tmp_path, monkeypatch):
    win = remapped_tab_shoot(qtbot, make_window, tmp_path, monkeypatch)
    pid, before = win.current_id, win.selected_row().box
    typed(qtbot, "61")
    key(qtbot, Qt.Key.Key_Tab)  # the focus leaves the field; what was typed is not dropped
    assert QApplication.focusWidget() is not win.number_edit and win._entry is not None
    win.statusBar().clearMessage()
    key(qtbot, Qt.Key.Key_Left, ALT)
    assert "A number is being typed" in message(win) and win.store.bibs(pid)[0].box == before
    key(qtbot, Qt.Key.Key_Return)
    assert numbers(tmp_path / "p", win.store.photo(pid).relpath) == ["61"]


BOX = (10.0, 10.0, 60.0, 40.0)


def typing_while_recognition_finds(qtbot, make_window, tmp_path, monkeypatch, typed_number, found, before=()):
    """Photo 0 shows ``before`` (none: a photo without bibs); the user types ``typed_number`` on it, and a
    recognition run meanwhile finds ``found`` on it; then Enter. Returns the window and the photo's bibs."""
    folder = tmp_path / "p"
    make_photos(folder, 2, seed=3)
    fixed_predictions(monkeypatch, {"photo_000.jpg": list(before), "photo_001.jpg": [Bib("7", BOX, 0.99)]})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    pid = win.store.photo_by_path("photo_000.jpg").id
    win.select_photo(pid)
    assert [b.number for b in win.current_bibs] == [b.number for b in before]
    typed(qtbot, typed_number)
    fixed_predictions(monkeypatch, {"photo_000.jpg": list(found)})
    win.start_recognition([pid])  # e.g. Recognition > Re-run on Unreviewed Photos
    wait_idle(qtbot, win)
    assert win.current_id == pid and QApplication.focusWidget() is win.number_edit
    assert win.number_edit.text() == typed_number  # the typing was not touched
    key(qtbot, Qt.Key.Key_Return)
    return win, sorted(((b.number, b.box, b.source) for b in win.store.bibs(pid)), key=str)


def test_a_number_typed_while_recognition_finds_the_same_number_confirms_it(qtbot, make_window, tmp_path, monkeypatch):
    """It used to add the typed number again, as a second bib without a box."""
    win, bibs = typing_while_recognition_finds(qtbot, make_window, tmp_path, monkeypatch, "123", [Bib("123", BOX, 0.6)])
    assert bibs == [("123", BOX, "human")]
    assert "Recognition found 123 on photo_000.jpg while you typed: confirmed it" in message(win)
    win.undo()  # one undo step back to the prediction
    assert [(b.number, b.source) for b in win.store.bibs(win.current_id)] == [("123", "model")]


def test_a_number_typed_while_recognition_finds_another_number_is_added_and_said(qtbot, make_window, tmp_path, monkeypatch):
    win, bibs = typing_while_recognition_finds(qtbot, make_window, tmp_path, monkeypatch, "123", [Bib("456", BOX, 0.6)])
    assert bibs == [("123", None, "human"), ("456", BOX, "model")]
    assert "Added 123 to photo_000.jpg without a box; recognition found 456 on photo_000.jpg while you typed" in message(win)


def test_a_number_retyped_while_a_rerun_replaces_its_bib_goes_to_the_new_reading(qtbot, make_window, tmp_path, monkeypatch):
    """The retyped bib got a new id from the re-run: the typed number was dropped without a word."""
    win, bibs = typing_while_recognition_finds(
        qtbot, make_window, tmp_path, monkeypatch, "501", [Bib("999", BOX, 0.6)], before=[Bib("500", BOX, 0.5)]
    )
    assert bibs == [("501", BOX, "human")]
    assert "Recognition read this bib again on photo_000.jpg (999) while you typed: it is now 501" in message(win)


def test_an_untouched_number_field_commits_nothing_over_a_rerun_s_new_reading(qtbot, make_window, tmp_path, monkeypatch):
    """F2 with nothing typed, a re-run reads the bib again: Enter wrote the old number (still shown in the
    field) over the new reading, though the user typed nothing."""
    folder = tmp_path / "p"
    make_photos(folder, 2, seed=3)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("500", BOX, 0.5)], "photo_001.jpg": [Bib("7", BOX, 0.99)]})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    pid = win.store.photo_by_path("photo_000.jpg").id
    win.select_photo(pid)
    win.edit_number()  # F2: the field has the keys, showing 500
    assert win._entry is not None and win.number_edit.text() == "500"
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("999", BOX, 0.6)]})
    win.start_recognition([pid])
    wait_idle(qtbot, win)
    key(qtbot, Qt.Key.Key_Return)
    assert [(b.number, b.source) for b in win.store.bibs(pid)] == [("999", "model")]


def test_an_untouched_number_field_commits_nothing_over_another_program_s_edit(qtbot, make_window, tmp_path, monkeypatch):
    """F2 with nothing typed, another program retypes the bib: Enter wrote the old number back."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    pid = win.current_id
    (bib,) = win.current_bibs
    win.edit_number()
    with Store.open(tmp_path / "p") as other:
        other.update_bib(bib.id, number="4242")
    qtbot.waitUntil(lambda: [b.number for b in win.current_bibs] == ["4242"], timeout=3000)
    key(qtbot, Qt.Key.Key_Return)
    assert [b.number for b in win.store.bibs(pid)] == ["4242"]


def test_writing_keywords_while_typing_saves_the_typed_number_first(qtbot, make_window, tmp_path, monkeypatch):
    """File > Write Keywords to Photos… with a number typed: the keywords were read from the store, which still held
    the number it replaced (the photo got the old runner's bib). It is saved when the command starts, whatever follows
    (here: exiftool is missing)."""
    from bibtagger_gui.core.keywords import KeywordError
    from bibtagger_gui.gui import keywords_action

    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath

    def missing():
        raise KeywordError("exiftool was not found")

    monkeypatch.setattr(keywords_action, "find_exiftool", missing)
    typed(qtbot, "4242")
    win.keywords_controller.interactive = False
    win.keywords_controller.trigger()
    assert numbers(tmp_path / "p", rel) == ["4242"]


def test_improving_models_while_typing_saves_the_typed_number_first(qtbot, make_window, tmp_path, monkeypatch):
    """Recognition > Improve Models… counts and trains on the reviewed photos' labels: a fix being typed is one."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    typed(qtbot, "4242")
    win.finetune_controller.trigger()
    assert numbers(tmp_path / "p", rel) == ["4242"]


def test_importing_an_mturk_batch_while_typing_saves_the_typed_number_first(qtbot, make_window, tmp_path, monkeypatch):
    """Crowd > Import MTurk Batch… puts the workers' boxes into the store: the typed number goes in before them."""
    from tests.test_mturk import answer, row, write_csv

    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    other = next(r for r in (win.list_model.items[i].photo.relpath for i in range(win.list_model.total())) if r != rel)
    src = write_csv(tmp_path / "batch.csv", [row("A1", other, answer((5, 5, 30, 20, "77")), worker="W1")])
    typed(qtbot, "4242")
    dialog = win.mturk_controller.open_batch(src)
    try:
        assert numbers(tmp_path / "p", rel) == ["4242"]
        assert "77" in numbers(tmp_path / "p", other)
    finally:
        dialog.close()


def test_undo_while_a_number_is_typed_takes_back_the_typing_only(qtbot, make_window, tmp_path, monkeypatch):
    """Edit > Undo (or Ctrl+Z with the focus off the number field) while a number was typed dropped the number
    without a word and also undid the saved edit before it: here the accept of the photo before."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    first = win.current_id
    key(qtbot, Qt.Key.Key_Return)  # accept the first photo; on to the next
    second = win.current_id
    rel = win.items[second].photo.relpath
    before = numbers(tmp_path / "p", rel)
    typed(qtbot, "12")
    win.actions_by_name["undo"].trigger()  # the menu, as Alt+E, U reaches it
    assert win.current_id == second and win.store.photo(first).reviewed, "the accept before was undone"
    assert numbers(tmp_path / "p", rel) == before and [win.number_edit.text()] == before
    said = win.statusBar().currentMessage()
    assert "dropped the number 12 you were typing" in said and "again undoes Accept photo" in said
    win.actions_by_name["undo"].trigger()  # now the saved edit
    assert win.current_id == first and not win.store.photo(first).reviewed
    typed(qtbot, "13")
    win.actions_by_name["redo"].trigger()  # redo would drop the typing: it says how to finish it first
    assert not win.store.photo(first).reviewed and win.number_edit.text() == "13"
    assert "A number is being typed" in win.statusBar().currentMessage()
    key(qtbot, Qt.Key.Key_Return)
    assert numbers(tmp_path / "p", win.items[first].photo.relpath) == ["13"]


def test_a_drawn_box_waits_for_its_number_and_its_instructions_go_when_it_is_added(qtbot, make_window, tmp_path, monkeypatch):
    """Enter with nothing typed after drawing a box dropped the box without a word (a second Enter then accepted the
    photo without it), and "… then type its number and press Enter" stayed up over the bib just added."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    first = win.current_id
    rel = win.items[first].photo.relpath
    before = numbers(tmp_path / "p", rel)
    key(qtbot, Qt.Key.Key_B)
    key(qtbot, Qt.Key.Key_Right)  # a box in the middle of the view
    key(qtbot, Qt.Key.Key_Return)  # take it
    for k in (Qt.Key.Key_Return, Qt.Key.Key_Return, Qt.Key.Key_J):
        key(qtbot, k)
        assert win.current_id == first and not win.store.photo(first).reviewed, k
        assert QApplication.focusWidget() is win.number_edit and win.number_edit.text() == ""
        assert "Type the number of the box you drew, then Return (Escape drops the box)" == win.statusBar().currentMessage()
    typed(qtbot, "77")
    key(qtbot, Qt.Key.Key_Return)
    assert sorted(numbers(tmp_path / "p", rel)) == sorted(before + ["77"])
    with Store.open(tmp_path / "p") as store:
        assert next(b for b in store.bibs(store.photo_by_path(rel).id) if b.number == "77").box is not None
    assert win.statusBar().currentMessage() == ""  # the instructions went with the box they were about
    key(qtbot, Qt.Key.Key_B)
    assert "Drag a box" in win.statusBar().currentMessage()
    key(qtbot, Qt.Key.Key_Escape)  # drawing cancelled: its instructions go too
    assert win.statusBar().currentMessage() == ""


def test_ctrl_s_says_that_every_edit_is_already_saved(qtbot, make_window, tmp_path, monkeypatch):
    """Ctrl+S, pressed out of habit, only took the * off the title: nothing said that there is no Save to do."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    key(qtbot, Qt.Key.Key_Return)
    assert win.isWindowModified()
    win.statusBar().clearMessage()
    key(qtbot, Qt.Key.Key_S, CTRL)
    assert not win.isWindowModified()
    assert "Every edit is saved as you make it" in win.statusBar().currentMessage()


def test_f5_that_takes_the_photo_shown_out_of_the_list_says_so(qtbot, make_window, tmp_path, monkeypatch):
    """Under Show: Unreviewed, F5 after going back to an accepted photo showed another photo without a word."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    win.set_filter(ReviewFilter.UNREVIEWED)
    first = win.current_id
    key(qtbot, Qt.Key.Key_Return)  # accepted: on to the next unreviewed photo
    key(qtbot, Qt.Key.Key_K)  # back to the accepted one, still in the list until it is rebuilt
    assert win.current_id == first
    key(qtbot, Qt.Key.Key_F5)
    assert win.current_id != first
    said = win.statusBar().currentMessage()
    assert said == f"{win.items[first].photo.relpath} is no longer in this list (Show: Unreviewed): showing the first photo of the list"


def test_delete_while_a_drawn_box_waits_for_its_number_deletes_nothing_and_says_so(qtbot, make_window, tmp_path, monkeypatch):
    """Edit > Delete Bib (the menu: Delete in the number field is the field's own key) while a drawn box waited for
    its number deleted the photo's selected bib and dropped the drawn box and the typed number without a word."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    before = numbers(tmp_path / "p", rel)
    assert win.selected_bib is not None
    key(qtbot, Qt.Key.Key_B)
    key(qtbot, Qt.Key.Key_Right)
    key(qtbot, Qt.Key.Key_Return)
    typed(qtbot, "66")
    win.actions_by_name["delete_bib"].trigger()
    assert numbers(tmp_path / "p", rel) == before and win.number_edit.text() == "66"
    assert "A box you drew waits for its number" in win.statusBar().currentMessage()
    key(qtbot, Qt.Key.Key_Return)
    assert sorted(numbers(tmp_path / "p", rel)) == sorted(before + ["66"])


def test_redo_while_a_drawn_box_waits_for_its_number_says_so(qtbot, make_window, tmp_path, monkeypatch):
    """Redo with a drawn box waiting for its number (nothing typed) said "A number is being typed: Return commits it",
    and Return then only asked for the box's number: it says a box waits for its number."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    first = win.current_id
    key(qtbot, Qt.Key.Key_Return)  # accept the first photo (a step to redo)
    win.actions_by_name["undo"].trigger()
    assert win.current_id == first and not win.store.photo(first).reviewed
    key(qtbot, Qt.Key.Key_B)
    key(qtbot, Qt.Key.Key_Right)  # a box in the middle of the view
    key(qtbot, Qt.Key.Key_Return)  # take it: it waits for its number
    win.actions_by_name["redo"].trigger()
    said = win.statusBar().currentMessage()
    assert not win.store.photo(first).reviewed and win._entry is not None and win._entry.get("box") is not None
    assert "A number is being typed" not in said, said
    assert said == "A box you drew waits for its number: type it, then Return; Escape drops the box; then redo", said


def draw_a_box(qtbot):
    """B, an arrow (a box in the middle of the view), Return (take it): the box waits for its number."""
    for k in (Qt.Key.Key_B, Qt.Key.Key_Right, Qt.Key.Key_Return):
        key(qtbot, k)


def click_list_row(qtbot, win, row: int):
    rect = win.list_view.visualRect(win.list_model.index(row))
    qtbot.mouseClick(win.list_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_clicking_another_photo_while_a_drawn_box_waits_adds_it_with_its_number_or_says_it_was_dropped(qtbot, make_window, tmp_path, monkeypatch):
    """A click in the list while a drawn box waited for its number (none typed) dropped the box without a word; with
    its number typed the box is added, as any typed number is committed on leaving the photo."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    before = numbers(tmp_path / "p", rel)
    draw_a_box(qtbot)
    click_list_row(qtbot, win, 2)
    assert win.current_row() == 2 and numbers(tmp_path / "p", rel) == before
    assert win.statusBar().currentMessage() == f"Dropped the box you drew on {rel}: it had no number (B there draws it again)"
    rel2 = win.items[win.current_id].photo.relpath
    before2 = numbers(tmp_path / "p", rel2)
    draw_a_box(qtbot)
    typed(qtbot, "66")
    click_list_row(qtbot, win, 1)
    assert win.current_row() == 1 and sorted(numbers(tmp_path / "p", rel2)) == sorted(before2 + ["66"])
    with Store.open(tmp_path / "p") as store:
        assert next(b for b in store.bibs(store.photo_by_path(rel2).id) if b.number == "66").box is not None
    assert "Dropped" not in win.statusBar().currentMessage()


def test_ctrl_f_while_a_drawn_box_waits_for_its_number_keeps_it_and_says_so(qtbot, make_window, tmp_path, monkeypatch):
    """Ctrl+F (and Ctrl+L) while a drawn box waited for its number dropped the box at once, without a word; they keep
    it, as J/K and Enter do, and say to type its number. With its number typed, Ctrl+F adds it and goes to the search."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    first = win.current_id
    rel = win.items[first].photo.relpath
    before = numbers(tmp_path / "p", rel)
    draw_a_box(qtbot)
    for k in (Qt.Key.Key_F, Qt.Key.Key_L):
        key(qtbot, k, CTRL)
        assert QApplication.focusWidget() is win.number_edit and win._entry is not None and win._entry.get("box") is not None, k
        assert win.statusBar().currentMessage() == "Type the number of the box you drew, then Return (Escape drops the box)"
    typed(qtbot, "77")
    key(qtbot, Qt.Key.Key_F, CTRL)
    assert QApplication.focusWidget() is win.search_edit and win.current_id == first
    assert sorted(numbers(tmp_path / "p", rel)) == sorted(before + ["77"])
    with Store.open(tmp_path / "p") as store:
        assert next(b for b in store.bibs(store.photo_by_path(rel).id) if b.number == "77").box is not None


def test_a_filter_that_hides_the_photo_of_a_drawn_box_without_a_number_says_it_was_dropped(qtbot, make_window, tmp_path, monkeypatch):
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    key(qtbot, Qt.Key.Key_Return)  # accepted: the next photo is shown
    rel = win.items[win.current_id].photo.relpath
    draw_a_box(qtbot)
    win.set_filter(ReviewFilter.REVIEWED)  # lists the accepted photo only
    assert win.items[win.current_id].photo.relpath != rel
    assert win.statusBar().currentMessage() == f"Dropped the box you drew on {rel}: it had no number (B there draws it again)"
    # F5 taking the photo out of the list says both: why another photo is shown, and that the box was dropped
    win.set_filter(ReviewFilter.UNREVIEWED)
    key(qtbot, Qt.Key.Key_Return)
    key(qtbot, Qt.Key.Key_K)  # back to the accepted photo, in the list until F5
    accepted = win.items[win.current_id].photo.relpath
    draw_a_box(qtbot)
    key(qtbot, Qt.Key.Key_F5)
    said = win.statusBar().currentMessage()
    assert said.startswith(f"{accepted} is no longer in this list (Show: Unreviewed)"), said
    assert said.endswith(f"Dropped the box you drew on {accepted}: it had no number (B there draws it again)"), said


def test_ctrl_o_while_a_drawn_box_waits_for_its_number_keeps_it_and_says_so(qtbot, make_window, tmp_path, monkeypatch):
    """Ctrl+O while a drawn box waited for its number opened the other folder, the box gone without a word."""
    win, a, b = two_shoots(qtbot, make_window, tmp_path, monkeypatch)
    draw_a_box(qtbot)
    key(qtbot, Qt.Key.Key_O, CTRL)
    assert win.folder == a.resolve() and win._entry is not None and win._entry.get("box") is not None
    assert win.statusBar().currentMessage() == "Type the number of the box you drew, then Return (Escape drops the box)"
    key(qtbot, Qt.Key.Key_Escape)  # drops the box: Ctrl+O opens the other folder
    key(qtbot, Qt.Key.Key_O, CTRL)
    assert win.folder == b.resolve()


def test_tab_and_ctrl_d_while_a_drawn_box_waits_for_its_number_keep_it_and_say_so(qtbot, make_window, tmp_path, monkeypatch):
    """Tab (next bib) and Ctrl+D (copy the previous photo's bibs) while a drawn box waited for its number dropped the
    box without a word (Ctrl+D then copied over the photo); they keep it and say to type its number, as J/K do."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    win.select_row(1)
    rel = win.items[win.current_id].photo.relpath
    before = numbers(tmp_path / "p", rel)
    draw_a_box(qtbot)
    for k, mod in ((Qt.Key.Key_Tab, Qt.KeyboardModifier.NoModifier), (Qt.Key.Key_D, CTRL)):
        win.statusBar().clearMessage()
        key(qtbot, k, mod)
        assert win._entry is not None and win._entry.get("box") is not None and numbers(tmp_path / "p", rel) == before, k
        assert win.statusBar().currentMessage() == "Type the number of the box you drew, then Return (Escape drops the box)"
    typed(qtbot, "9")
    key(qtbot, Qt.Key.Key_Tab)  # its number typed: Tab adds it, as any typed number
    assert sorted(numbers(tmp_path / "p", rel)) == sorted(before + ["9"]) and win._entry is None


def test_an_export_or_import_while_a_drawn_box_waits_for_its_number_leaves_it_waiting(qtbot, make_window, tmp_path, monkeypatch):
    """Export, import, keywords, Improve Models and an MTurk batch first save a typed number (save_typed_number); with a
    drawn box waiting for its number and none typed, that ended the entry and the box went without a word. It stays
    waiting through them, and its number typed after adds it with its box."""
    from bibtagger_gui.gui.export_action import ExportRequest

    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    before = numbers(tmp_path / "p", rel)
    draw_a_box(qtbot)
    controller = win.export_controller
    controller.interactive = False
    controller.ask = lambda spec: ExportRequest(tmp_path / "A.json")
    with qtbot.waitSignal(controller.finished, timeout=20000):
        controller.actions["json"].trigger()
    assert win.drawn_box_waits()
    ann = tmp_path / "more.json"
    ann.write_text(json.dumps([{"image": rel, "bibs": [{"number": "77"}]}]))
    win.import_controller.interactive = False
    assert win.import_controller.import_file(ann) is not None
    assert win.drawn_box_waits()
    win.number_edit.setFocus()
    typed(qtbot, "9")
    key(qtbot, Qt.Key.Key_Return)
    assert sorted(numbers(tmp_path / "p", rel)) == sorted(before + ["77", "9"])
    assert any(b.number == "9" and b.box is not None for b in win.current_bibs)


BEING_DRAWN = "A new box is being drawn: drag it (or arrows), Enter takes it, Escape cancels it; then "


def test_j_k_enter_and_ctrl_o_while_a_box_is_being_drawn_keep_it_and_say_so(qtbot, make_window, tmp_path, monkeypatch):
    """J, K, Enter (no box yet: the accept key) and Ctrl+O while a box was being drawn (B, not taken yet) ended the
    drawing without a word (Enter accepted the photo and went on): they keep it, as they keep a drawn box waiting for
    its number, and say how to finish it."""
    win, a, _b = two_shoots(qtbot, make_window, tmp_path, monkeypatch)
    win.select_row(1)
    shown = win.current_id
    key(qtbot, Qt.Key.Key_B)
    for k, mod, then in ((Qt.Key.Key_J, None, "go to another photo"), (Qt.Key.Key_K, None, "go to another photo"),
                         (Qt.Key.Key_Return, None, "accept the photo"), (Qt.Key.Key_O, CTRL, "open another folder")):
        win.statusBar().clearMessage()
        key(qtbot, k, mod or Qt.KeyboardModifier.NoModifier)
        assert win.current_id == shown and win.photo_view.drawing and win.folder == a.resolve(), k
        assert not win.store.photo(shown).reviewed
        assert win.statusBar().currentMessage() == BEING_DRAWN + then
    key(qtbot, Qt.Key.Key_Right)  # a box in the middle of the view: J keeps it too
    key(qtbot, Qt.Key.Key_J)
    assert win.current_id == shown and win.photo_view.drawing and win.photo_view._rubber is not None
    key(qtbot, Qt.Key.Key_Return)  # takes it: it waits for its number
    assert win.drawn_box_waits() and not win.photo_view.drawing
    typed(qtbot, "31")
    key(qtbot, Qt.Key.Key_J)  # its number typed: J adds it and moves on
    assert win.current_id != shown and "31" in numbers(a, win.store.photo(shown).relpath)


def test_leaving_the_photo_while_a_box_is_being_drawn_says_the_drawing_was_cancelled(qtbot, make_window, tmp_path, monkeypatch):
    """A click on another photo in the list while a box was being drawn ended the drawing without a word."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    rel = win.items[win.current_id].photo.relpath
    before = numbers(tmp_path / "p", rel)
    key(qtbot, Qt.Key.Key_B)
    key(qtbot, Qt.Key.Key_Right)  # a box placed, not taken
    click_list_row(qtbot, win, 2)
    assert win.current_row() == 2 and not win.photo_view.drawing and numbers(tmp_path / "p", rel) == before
    assert win.statusBar().currentMessage() == f"Cancelled the box you were drawing on {rel}: it was not taken (B there draws it again)"


def test_undo_redo_and_delete_while_a_box_is_being_drawn_say_so_and_undo_cancels_the_drawing_alone(qtbot, make_window, tmp_path, monkeypatch):
    """Delete (and Edit > Delete Bib) while a box was being drawn (B, not taken yet) deleted the selected bib and ended
    the drawing without a word; Edit > Redo redid an edit and ended it too; Ctrl+Z (Edit > Undo) ended it and undid the
    saved edit before it as well. Delete and Redo keep the drawing and say how to finish it; Undo takes back the
    drawing alone, the last thing done, as it does a typed number (docs/review-flow.md step 3)."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    first = win.current_id
    key(qtbot, Qt.Key.Key_Return)  # accept the first photo: on to the second
    second = win.current_id
    key(qtbot, Qt.Key.Key_Return)  # accept the second, then take that back: an undo and a redo are there
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert win.current_id == second and not win.store.photo(second).reviewed and win.undo_stack.canRedo()
    rel = win.items[second].photo.relpath
    before = numbers(tmp_path / "p", rel)
    assert win.selected_bib is not None
    key(qtbot, Qt.Key.Key_B)
    key(qtbot, Qt.Key.Key_Right)  # a box in the middle of the view, not taken
    for act, then in ((lambda: key(qtbot, Qt.Key.Key_Delete), "delete a bib"),
                      (win.actions_by_name["delete_bib"].trigger, "delete a bib"),
                      (win.actions_by_name["redo"].trigger, "redo")):
        win.statusBar().clearMessage()
        act()
        assert win.photo_view.drawing and win.photo_view._rubber is not None, then
        assert numbers(tmp_path / "p", rel) == before and not win.store.photo(second).reviewed
        assert win.statusBar().currentMessage() == BEING_DRAWN + then
    more = win.undo_stack.undoText()
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert not win.photo_view.drawing and win.current_id == second
    assert win.store.photo(first).reviewed  # the saved edit before the drawing is not undone with it
    assert win.statusBar().currentMessage() == (
        f"Undid drawing: cancelled the box you were drawing (nothing was saved); Ctrl+Z again undoes {more}")
    key(qtbot, Qt.Key.Key_B)
    win.actions_by_name["undo"].trigger()  # the menu's Undo, the drawing not placed yet: the same
    assert not win.photo_view.drawing and win.store.photo(first).reviewed
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert not win.store.photo(first).reviewed


def test_a_click_on_another_bib_while_a_drawn_box_waits_keeps_it_and_says_so(qtbot, make_window, tmp_path, monkeypatch):
    """A click on another bib's box in the photo view (or its row in the bib panel) while a drawn box waited for its
    number selected that bib and dropped the drawn box without a word; a drag of the selected box did too. The click
    keeps it, as Tab does; the drag is saved and the box still waits. Its number typed, a click adds it first."""
    folder = tmp_path / "p"
    make_photos(folder, 1, seed=3)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("11", (10, 10, 60, 40), 0.5), Bib("22", (200, 150, 280, 200), 0.9)]})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    win.select_row(0)
    qtbot.waitUntil(lambda: win.photo_view.image_loaded, timeout=5000)
    selected = win.selected_bib
    other = next(b for b in win.current_bibs if b.id != selected)
    draw_a_box(qtbot)
    said = "Type the number of the box you drew, then Return (Escape drops the box)"
    view = win.photo_view
    win.statusBar().clearMessage()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(240, 175))  # in bib 22's box
    assert win.selected_bib == selected and win.drawn_box_waits() and win.statusBar().currentMessage() == said
    assert QApplication.focusWidget() is win.number_edit
    win.statusBar().clearMessage()
    row = [b.id for b in win.current_bibs].index(other.id)
    qtbot.mouseClick(win.panel.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=win.panel.table.visualRect(win.panel.table.model().index(row, 0)).center())  # fmt: skip
    assert win.selected_bib == selected and win.drawn_box_waits() and win.statusBar().currentMessage() == said
    assert [r.row() for r in win.panel.table.selectionModel().selectedRows()] == [[b.id for b in win.current_bibs].index(selected)]
    box = next(b.box for b in win.current_bibs if b.id == selected)
    a, b = view.mapFromScene((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), view.mapFromScene(box[0] + 40, box[1] + 25)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=a)  # a drag of the selected box: saved
    qtbot.mouseMove(view.viewport(), (a + b) / 2)
    qtbot.mouseMove(view.viewport(), b)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=b)
    assert next(x.box for x in win.store.bibs(win.current_id) if x.id == selected) != box
    assert win.drawn_box_waits() and win.statusBar().currentMessage() == said
    typed(qtbot, "77")
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(240, 175))  # adds 77, selects 22
    assert win.selected_bib == other.id and win._entry is None
    assert any(x.number == "77" and x.box is not None for x in win.store.bibs(win.current_id))


def test_b_again_keeps_a_box_placed_with_the_arrows_and_cancels_one_not_placed_yet(qtbot, make_window, tmp_path, monkeypatch):
    """B again while drawing cancels the drawing (the button's toggle, docs/review-flow.md); a box already placed with
    the arrows (a slip, the key held a moment) was thrown away with it, no undo bringing it back: it stays."""
    win = open_shoot(qtbot, make_window, tmp_path / "p", monkeypatch)
    view = win.photo_view
    key(qtbot, Qt.Key.Key_B)
    key(qtbot, Qt.Key.Key_Right)  # places a box
    key(qtbot, Qt.Key.Key_Right)  # moves it
    placed = view.box_being_drawn()
    key(qtbot, Qt.Key.Key_B)
    assert view.drawing and view.box_being_drawn() == placed
    assert "Return takes it, Escape cancels it" in win.statusBar().currentMessage()
    key(qtbot, Qt.Key.Key_Return)  # taken: it waits for its number
    assert win.drawn_box_waits()
    key(qtbot, Qt.Key.Key_Escape)
    key(qtbot, Qt.Key.Key_B)
    key(qtbot, Qt.Key.Key_B)  # nothing placed yet: cancelled, as before
    assert not view.drawing and "Cancelled the box you were drawing" in win.statusBar().currentMessage()
