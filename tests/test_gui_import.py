"""File > Import Annotations… (gui/import_action.py) with a real window, store and files."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from bibtagger_gui.core.bib import Bib
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401
from tests.test_gui_undo_exact import CTRL, dump, key, race  # noqa: F401


def test_import_annotations_action(qtbot, tmp_path, monkeypatch, make_window):
    folder = tmp_path / "race"
    made = make_photos(folder, 3)
    fixed_predictions(monkeypatch, {})  # local recognition finds nothing
    win = make_window()
    action = next(a for a in win.file_menu.actions() if a.objectName() == "import_annotations")
    assert action.text() == "Import &Annotations…"
    controller = win.import_controller
    controller.interactive = False
    action.trigger()  # no folder open: a message, no dialog
    assert controller.last_message == "Open a photo folder first."
    assert win.open_folder(folder)
    wait_idle(qtbot, win)

    preds = tmp_path / "server.json"
    preds.write_text(json.dumps([
        {"image": made[0][0], "width": 320, "height": 240, "bibs": [{"number": made[0][1], "box": list(made[0][2]), "confidence": 0.99}]},
        {"image": "not_here.jpg", "width": 320, "height": 240, "bibs": []},
    ]))
    asked = []

    def fake_open(parent, caption, start, filters):
        asked.append((caption, start))
        return str(preds), filters

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_open))
    with qtbot.waitSignal(controller.imported, timeout=3000) as sig:
        action.trigger()
    assert asked == [("Import bib annotation JSON", str(folder))]
    report = sig.args[0]
    assert (report.matched, report.model_added, report.missing_photos) == (1, 1, ["not_here.jpg"])
    assert win.statusBar().currentMessage().startswith("Imported server.json: 1 of 2 photo(s) matched; 0 human and 1 model bib(s) added")
    assert controller.last_message.endswith("\n1 photo(s) not imported (see details).")  # details: the problems
    assert report.problems == ["not_here.jpg: no such photo in the folder"]
    pid = win.store.photo_by_path(made[0][0]).id
    assert [(b.number, b.source) for b in win.store.bibs(pid)] == [(made[0][1], "model")]
    assert win.items[pid].photo.bib_count == 1  # the queue was rebuilt from the store

    bad = tmp_path / "bad.json"
    bad.write_text('{"image": "x"}')
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a: (str(bad), "")))
    action.trigger()  # a message, not a crash
    assert controller.last_message == f"{bad}: $: expected a list of photos, got dict"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a: ("", "")))
    action.trigger()  # cancelled: nothing happens
    assert controller.last_message == f"{bad}: $: expected a list of photos, got dict"


def test_import_stops_recognition_and_restarts_it_for_the_rest(qtbot, tmp_path, monkeypatch, make_window):
    import threading

    folder = tmp_path / "race"
    made = make_photos(folder, 3)
    gate = threading.Event()
    from bibtagger_gui.core.recognizer import Recognizer

    def slow(self, path):
        gate.wait(5)
        return [Bib("999", (0, 0, 10, 10), 0.5)]

    monkeypatch.setattr(Recognizer, "recognize_path", slow)
    win = make_window()
    win.import_controller.interactive = False
    assert win.open_folder(folder)
    qtbot.waitUntil(lambda: any(j.kind == "recognize" for j in win.jobs), timeout=20000)
    gate.set()
    preds = [{"image": rel, "bibs": [{"number": n, "box": list(b), "confidence": 0.9}]} for rel, n, b in made[:2]]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(preds))
    report = win.import_controller.import_file(path)
    assert report is not None and report.matched == 2
    wait_idle(qtbot, win)
    got = {p.relpath: sorted(b.number for b in win.store.bibs(p.id)) for p in win.store.photos()}
    assert got == {made[0][0]: [made[0][1]], made[1][0]: [made[1][1]], made[2][0]: ["999"]}


def test_annotation_import_empties_the_undo_stack_and_says_so(qtbot, race, tmp_path):
    win, _, ids = race
    store = win.store
    pid = ids["photo_000.jpg"]
    win.select_photo(pid)
    win.select_bib(next(b.id for b in win.current_bibs if b.number == "555"))
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Delete)
    assert win.undo_stack.canUndo()
    ann = tmp_path / "preds.json"
    ann.write_text(json.dumps([{"image": "photo_000.jpg", "width": 320, "height": 240,
                                "bibs": [{"number": "808", "box": [10, 10, 60, 40], "confidence": 0.9}]}]))  # fmt: skip
    win.import_controller.interactive = False
    assert win.import_controller.import_file(ann) is not None
    imported = dump(store)
    assert [b.number for b in store.bibs(pid)] == ["808"]  # the import replaced the predictions
    assert win.undo_stack.count() == 0 and not win.actions_by_name["undo"].isEnabled()
    assert "cannot be undone" in win.statusBar().currentMessage()
    assert win.isWindowModified()  # the data changed since the checkpoint
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert dump(store) == imported  # nothing stale comes back (the deleted 555 beside 808)
    # an import that changed nothing keeps the stack
    key(qtbot, Qt.Key.Key_Delete)
    assert win.undo_stack.count() == 1
    win.import_controller.import_file(ann)
    assert win.undo_stack.count() == 1
