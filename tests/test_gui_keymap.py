"""The one key map: defaults, QSettings and JSON overrides, problems reported."""

from __future__ import annotations

import json

from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence

from bibtagger_gui.gui.keymap import DEFAULT_KEYMAP, load_keymap, markdown_table
from tests.test_gui_support import gui_env, make_window  # noqa: F401 - fixtures


def test_defaults(tmp_path, qapp):
    km = load_keymap(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), tmp_path / "none.json")
    assert km.keys["next_photo"] == ["Right", "J"] and km.problems == []
    assert km.sequences("undo") == [QKeySequence("Ctrl+Z")]
    assert set(km.keys) == set(DEFAULT_KEYMAP)


def test_settings_then_json_override_and_bad_entries_are_reported(tmp_path, qapp):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("keys/next_photo", "N; Space")
    settings.setValue("keys/fit", "Ctrl+0")
    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"fit": ["Home"], "accept_photo": "Ctrl+Return", "fly": "X", "zoom_bib": 5}))
    km = load_keymap(settings, path)
    assert km.keys["next_photo"] == ["N", "Space"]
    assert km.keys["fit"] == ["Home"]  # the JSON file wins over QSettings
    assert km.keys["accept_photo"] == ["Ctrl+Return"]
    assert km.keys["zoom_bib"] == ["Z"]  # unreadable value: default kept
    assert any("fly" in p for p in km.problems) and any("zoom_bib" in p for p in km.problems)
    (tmp_path / "broken.json").write_text("{nope")
    assert load_keymap(settings, tmp_path / "broken.json").problems


def test_a_keymap_saved_with_a_byte_order_mark_is_read(tmp_path, qapp):
    """Windows Notepad (before 2019) saves UTF-8 with a byte order mark: json.loads refused the file ("Unexpected UTF-8
    BOM") and every key of it was ignored, the user's map reported as a problem."""
    path = tmp_path / "keymap.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"next_photo": ["N"]}).encode())
    km = load_keymap(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), path)
    assert km.problems == [] and km.keys["next_photo"] == ["N"]


def test_window_uses_the_overridden_keys(qtbot, tmp_path, monkeypatch, qapp):
    from bibtagger_gui.gui.main_window import MainWindow

    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"next_photo": "N"}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    assert win.actions_by_name["next_photo"].shortcuts() == [QKeySequence("N")]


def test_key_help_under_the_bib_panel_names_the_search_list_and_help_keys(qtbot, tmp_path, monkeypatch, qapp):
    """A keyboard user learns from the panel how to reach the search box, the photo list and every key."""
    from bibtagger_gui.gui.main_window import MainWindow

    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"focus_list": "Ctrl+Shift+P", "shortcuts": []}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    text = win.panel.help.text()
    assert f"{win.keymap.text('search')}: search" in text
    assert "Ctrl+Shift+P: photo list" in text and "all keys" not in text  # a disabled action is not offered


def test_markdown_table_lists_every_action():
    table = markdown_table()
    assert all(f"`{a}`" in table for a in DEFAULT_KEYMAP)


def test_review_flow_doc_carries_the_current_key_table():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "review-flow.md").read_text(encoding="utf-8")
    assert markdown_table() in doc, "regenerate the key table in docs/review-flow.md from keymap.markdown_table()"


def test_keymap_json_is_read_from_the_documented_path(tmp_path, monkeypatch, qapp):
    """README/docs: ``~/.config/bibtagger/keymap.json`` (``$XDG_CONFIG_HOME`` respected)."""
    from bibtagger_gui.gui import keymap as keymap_mod
    from bibtagger_gui.gui.app import make_app

    org, app_name = qapp.organizationName(), qapp.applicationName()
    make_app()  # the names the real app runs with ("bibtagger", "bibtagger")
    try:
        monkeypatch.delenv("BIBTAGGER_KEYMAP", raising=False)
        settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
        for config in (tmp_path / "xdg", tmp_path / "home" / ".config"):
            if config.name == "xdg":
                monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
            else:
                monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
                monkeypatch.setenv("HOME", str(tmp_path / "home"))
            (config / "bibtagger").mkdir(parents=True)
            (config / "bibtagger" / "keymap.json").write_text(json.dumps({"next_photo": "N"}))
            assert keymap_mod.default_json_path() == config / "bibtagger" / "keymap.json"
            km = load_keymap(settings)
            assert km.keys["next_photo"] == ["N"] and km.problems == []
    finally:
        qapp.setOrganizationName(org)
        qapp.setApplicationName(app_name)


def _km(tmp_path, overrides):
    path = tmp_path / "keymap.json"
    path.write_text(overrides if isinstance(overrides, str) else json.dumps(overrides))
    return load_keymap(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), path)


def test_a_key_you_bind_is_taken_from_the_action_that_had_it_by_default(tmp_path, qapp):
    km = _km(tmp_path, {"next_photo": ["F"], "zoom_in": "-"})
    assert km.keys["next_photo"] == ["F"] and km.keys["fit"] == []
    assert km.keys["zoom_in"] == ["-"] and km.keys["zoom_out"] == []
    assert any("'next_photo'" in p and "'fit'" in p for p in km.problems)
    assert any("'zoom_in'" in p and "'zoom_out'" in p for p in km.problems)
    km = _km(tmp_path, {"next_photo": "Return"})  # accept_photo keeps its other default key
    assert km.keys["accept_photo"] == ["Enter"] and any("keeps Enter" in p for p in km.problems)


def test_a_key_bound_to_two_actions_is_refused_for_both(tmp_path, qapp):
    km = _km(tmp_path, {"next_photo": "X", "prev_photo": ["x", "P"]})
    assert km.keys["next_photo"] == ["Right", "J"]  # nothing left: its defaults come back
    assert km.keys["prev_photo"] == ["P"]
    assert any("X set for 'next_photo', 'prev_photo'" in p for p in km.problems)
    keys = [k for ks in km.keys.values() for k in ks]
    assert len(keys) == len({QKeySequence(k).toString() for k in keys})  # every key does one thing


def test_digits_are_refused_as_action_keys(tmp_path, qapp):
    km = _km(tmp_path, {"next_photo": ["1", "N"], "prev_photo": "Num+2", "fit": "Ctrl+1"})
    assert km.keys["next_photo"] == ["N"]
    assert km.keys["prev_photo"] == ["Left", "K"]  # only a digit given: the default stays
    assert km.keys["fit"] == ["Ctrl+1"]  # a digit with Ctrl is not typing
    assert sum("digits type a bib number" in p for p in km.problems) == 2


def test_an_empty_list_still_disables_an_action_quietly(tmp_path, qapp):
    km = _km(tmp_path, {"accept_photo": []})
    assert km.keys["accept_photo"] == [] and km.problems == []


def _window_with_keymap(qtbot, make_window, tmp_path, monkeypatch, overrides):
    from tests.test_gui_support import fixed_predictions, make_photos, wait_idle
    from bibtagger_gui.core.bib import Bib

    path = tmp_path / "user-keymap.json"
    path.write_text(overrides if isinstance(overrides, str) else json.dumps(overrides))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    make_photos(tmp_path / "p", 3)
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib("11", (10, 10, 60, 40), 0.5)] for i in range(3)})
    win = make_window()
    start_message = win.statusBar().currentMessage()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    win.select_row(0)
    return win, start_message


def test_window_reports_a_malformed_keymap_in_the_status_bar_and_on_stderr(qtbot, make_window, tmp_path, monkeypatch, capfd):
    win, start_message = _window_with_keymap(qtbot, make_window, tmp_path, monkeypatch, '{"next_photo": "N",')
    assert win.keymap.problems
    assert start_message.startswith("keymap: ") and "user-keymap.json" in start_message
    assert "bibtagger: keymap: " in capfd.readouterr().err
    # after recognition replaced that message, the status bar still says so
    assert win.keymap_label.isVisible() and win.keymap_label.text() == "keymap: 1 problem(s)"
    assert "user-keymap.json" in win.keymap_label.toolTip()


def test_window_remapped_key_wins_over_a_default_and_digits_still_type(qtbot, make_window, tmp_path, monkeypatch, capfd):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    win, start_message = _window_with_keymap(qtbot, make_window, tmp_path, monkeypatch, {"next_photo": ["F", "1"]})
    assert "'fit'" in " ".join(win.keymap.problems) and "keymap: " in start_message
    assert "digits type a bib number" in capfd.readouterr().err

    def press(k):
        qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k)

    press(Qt.Key.Key_F)
    assert win.current_row() == 1  # F moves on; it used to do nothing at all
    press(Qt.Key.Key_1)
    assert win.current_row() == 1 and win.number_edit.text() == "1"  # 1 still types a number


def test_macos_delete_key_deletes_a_bib(tmp_path, qapp, monkeypatch):
    """A Mac keyboard's "delete" key sends Backspace; Ctrl in the map is Cmd there (Qt does that)."""
    import sys

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert "Backspace" not in load_keymap(settings, tmp_path / "none.json").keys["delete_bib"]
    monkeypatch.setattr(sys, "platform", "darwin")
    km = load_keymap(settings, tmp_path / "none.json")
    assert km.keys["delete_bib"] == ["Delete", "Backspace"] and km.problems == []
    settings.setValue("keys/zoom_out", "Backspace")  # taking it for another action still works as documented
    km = load_keymap(settings, tmp_path / "none.json")
    assert km.keys["zoom_out"] == ["Backspace"] and km.keys["delete_bib"] == ["Delete"]


def test_core_data_dir_is_qt_generic_data_location(tmp_path, qapp, monkeypatch):
    """The Qt-free core picks the same per-user folder as QStandardPaths (Linux here; the table in
    docs/portability.md gives Qt's Windows and macOS answers, which core.portable follows)."""
    from pathlib import Path

    from PySide6.QtCore import QStandardPaths

    from bibtagger_gui.core.portable import user_data_dir

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    qt = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    assert Path(qt) / "bibtagger" == user_data_dir()


def test_list_multi_selection_leaves_the_review_keys_alone(qtbot, make_window, tmp_path, monkeypatch):
    """Extended selection in the photo list (for "Export… the photos selected in the list"): Shift/Ctrl+click and
    Shift+Down select several photos; J/K, digits and Enter still work from the list and select one photo again."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from bibtagger_gui.core.bib import Bib
    from tests.test_gui_support import fixed_predictions, make_photos, wait_idle

    make_photos(tmp_path / "p", 6)
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib(str(500 + i), (10, 10, 60, 40), 0.5)] for i in range(6)})
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    view, model = win.list_view, win.list_model
    win.select_row(0)

    def rows():
        return sorted(i.row() for i in view.selectionModel().selectedRows())

    def press(k, mod=Qt.KeyboardModifier.NoModifier):
        qtbot.keyClick(QApplication.focusWidget(), k, mod)

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     pos=view.visualRect(model.index(1)).center())  # fmt: skip
    assert rows() == [0, 1] and win.current_row() == 1
    assert QApplication.focusWidget() is win.photo_view  # a click in the list hands the keys back, as before
    view.setFocus()
    press(Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    press(Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)  # the list kept the focus: this one extends too
    assert rows() == [0, 1, 2, 3] and win.current_row() == 3 and QApplication.focusWidget() is view
    assert [p.relpath for p in win.selected_photos()] == [model.item(r).photo.relpath for r in range(4)]
    press(Qt.Key.Key_J)  # review keys work from the list; moving selects the one photo shown
    assert win.current_row() == 4 and rows() == [4] and QApplication.focusWidget() is win.photo_view
    view.setFocus()
    press(Qt.Key.Key_7)  # digits still type a number, Enter commits it, Enter accepts
    assert win.number_edit.text() == "7"
    press(Qt.Key.Key_Return)
    pid = win.current_id
    assert [b.number for b in win.store.bibs(pid)] == ["7"]
    press(Qt.Key.Key_Return)
    assert win.store.photo(pid).reviewed and win.current_id != pid and len(rows()) == 1
