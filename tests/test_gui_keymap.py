"""The one key map: defaults, QSettings and JSON overrides, problems reported."""

from __future__ import annotations

import json

from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence

from bibtagger_gui.gui.keymap import DEFAULT_KEYMAP, load_keymap, markdown_table


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


def test_window_uses_the_overridden_keys(qtbot, tmp_path, monkeypatch, qapp):
    from bibtagger_gui.gui.main_window import MainWindow

    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"next_photo": "N"}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    assert win.actions_by_name["next_photo"].shortcuts() == [QKeySequence("N")]


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
