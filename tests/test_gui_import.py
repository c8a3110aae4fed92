"""File > Import Annotations… (gui/import_action.py) with a real window, store and files: several files,
the conflicts dialog and "Take the file's version for these photos"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.importers import PREDICTION_HINT
from bibtagger_gui.core.store import Store
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
        return [str(preds)], filters

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(fake_open))
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
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a: ([str(bad)], "")))
    action.trigger()  # a message, not a crash
    assert controller.last_message == f"{bad}: $: expected a list of photos, got dict"
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a: ([], "")))
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


# ---------------------------------------------------------------- volunteers' files: several, conflicts, take the file's version
def _entry(rel, number, box, reviewed=True):
    return {"image": rel, "width": 320, "height": 240, "reviewed": reviewed, "bibs": [{"number": number, "box": list(box)}]}


@pytest.fixture
def volunteers(tmp_path):
    """An organiser's folder (photo_000 reviewed with 100; photo_001 holding the organiser's own 555) and two
    volunteers' reviews: vol1 (000: 999, 001: 101, 002: 102) and vol2 (000: 998, 002: 112, 003: 103).
    Conflicts: 000 in both files (reviewed here), 001 in vol1 (555 not in the review), 002 in vol2 (vol1 reviewed it)."""
    folder = tmp_path / "race"
    made = make_photos(folder, 4)
    box = [m[2] for m in made]
    with Store.open(folder) as store:
        store.scan()
        a = store.photo_by_path("photo_000.jpg").id
        store.add_bib(a, "100", box[0])
        store.set_reviewed(a, True)
        store.add_bib(store.photo_by_path("photo_001.jpg").id, "555", None)
    vol1, vol2 = tmp_path / "vol1.json", tmp_path / "vol2.json"
    vol1.write_text(json.dumps([_entry("photo_000.jpg", "999", box[0]), _entry("photo_001.jpg", "101", box[1]),
                                _entry("photo_002.jpg", "102", box[2])]))  # fmt: skip
    vol2.write_text(json.dumps([_entry("photo_000.jpg", "998", box[0]), _entry("usb/photo_002.jpg", "112", box[2]),
                                _entry("photo_003.jpg", "103", box[3])]))  # fmt: skip (a name: matched by file name)
    cli_copy = tmp_path / "cli_race"  # the same folder and project, for `bibtagger import` to compare with
    shutil.copytree(folder, cli_copy)
    return folder, cli_copy, vol1, vol2


def state(store) -> dict:
    """Per photo: reviewed, and its bibs (number, box, source)."""
    return {p.relpath: (p.reviewed, sorted((b.number, b.box, b.source) for b in store.bibs(p.id))) for p in store.photos()}


def rows(dialog):
    tree = dialog.tree
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return [(it.text(0), it.text(1), it.checkState(0) == Qt.CheckState.Checked) for it in items]


def test_several_files_conflicts_listed_and_the_files_version_taken(qtbot, tmp_path, monkeypatch, make_window, volunteers, capsys):
    from bibtagger_gui.cli import main
    from bibtagger_gui.gui.import_action import ConflictsDialog

    folder, cli_copy, vol1, vol2 = volunteers
    fixed_predictions(monkeypatch, {})
    win = make_window()
    controller = win.import_controller
    controller.interactive = False
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a: asked.append(a[1]) or ([str(vol1), str(vol2)], "")))
    with qtbot.waitSignal(controller.finished, timeout=5000) as sig:
        controller.action.trigger()  # File > Import Annotations…, two files chosen at once
    assert asked == ["Import bib annotation JSON"] and [f.path for f in sig.args[0]] == [vol1, vol2]
    status = win.statusBar().currentMessage()
    assert status.startswith("Imported vol1.json: 3 of 3 photo(s) matched") and " · Imported vol2.json: 3 of 3" in status
    assert status.endswith("(an import cannot be undone: the undo history was cleared)")

    dialog = controller.conflicts_dialog
    assert isinstance(dialog, ConflictsDialog) and dialog.isVisible() and not dialog.isModal()
    # the last file's row is checked for a photo in conflict in both files: one version per photo
    assert rows(dialog) == [("photo_000.jpg", "vol1.json", False), ("photo_001.jpg", "vol1.json", True),
                            ("photo_000.jpg", "vol2.json", True), ("photo_002.jpg", "vol2.json", True)]  # fmt: skip
    assert "4 conflict(s) on 3 photo(s)" in dialog.label.text()  # photo_002: vol2's "usb/photo_002.jpg", shown as the photo it matched
    assert "your bib(s) 555 are not in the file's review" in dialog.tree.topLevelItem(1).text(2)
    imported = state(win.store)

    # Enter on a row shows its photo in the window, clearing a search that hides it; it presses no button
    win.search_edit.setText("103")
    assert win.current_id == win.store.photo_by_path("photo_003.jpg").id
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=3000)
    assert QApplication.focusWidget() is dialog.tree
    qtbot.keyClick(dialog.tree, Qt.Key.Key_Return)
    assert win.current_id == win.store.photo_by_path("photo_000.jpg").id and win.search_edit.text() == ""
    assert win.statusBar().currentMessage().startswith("Import conflict: photo_000.jpg (vol1.json): reviewed here with 100")
    qtbot.keyClick(dialog.tree, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.tree, Qt.Key.Key_Enter)
    assert win.current_id == win.store.photo_by_path("photo_001.jpg").id
    tree = dialog.tree
    where = tree.visualItemRect(tree.topLevelItem(3)).center()
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=where)  # (QTest's double click alone has no press)
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert win.current_id == win.store.photo_by_path("photo_002.jpg").id
    assert state(win.store) == imported and QApplication.activeWindow() is dialog  # looking changes nothing

    # Space: photo_001 keeps the organiser's 555 (unchecked); vol1's version of photo_000 instead of vol2's
    tree.setCurrentItem(tree.topLevelItem(1))
    qtbot.keyClick(tree, Qt.Key.Key_Space)
    tree.setCurrentItem(tree.topLevelItem(0))
    qtbot.keyClick(tree, Qt.Key.Key_Space)
    assert rows(dialog) == [("photo_000.jpg", "vol1.json", True), ("photo_001.jpg", "vol1.json", False),
                            ("photo_000.jpg", "vol2.json", False), ("photo_002.jpg", "vol2.json", True)]  # fmt: skip

    # an edit, undone: the stack has it to redo; the file's version clears it, as any import does
    win.select_photo(win.store.photo_by_path("photo_003.jpg").id)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=3000)
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Delete)
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert win.undo_stack.count() == 1 and state(win.store) == imported

    with qtbot.waitSignal(controller.finished, timeout=5000) as sig:
        qtbot.mouseClick(dialog.take_button, Qt.MouseButton.LeftButton)
    assert [f.path for f in sig.args[0]] == [vol1, vol2]
    assert [(f.report.entries, f.report.human_removed) for f in sig.args[0]] == [(1, 1), (1, 1)]  # only the checked photos
    assert win.undo_stack.count() == 0
    assert win.statusBar().currentMessage().startswith("Took the version of vol1.json for 2 photo(s): 1 of 1 photo(s) matched")
    assert win.statusBar().currentMessage().endswith("(an import cannot be undone: the undo history was cleared)")
    assert rows(dialog) == [("photo_001.jpg", "vol1.json", False)] and dialog.isVisible()  # what is left to decide
    got = state(win.store)
    assert got["photo_000.jpg"][1][0][0] == "999" and got["photo_002.jpg"][1][0][0] == "112"
    assert got["photo_001.jpg"] == imported["photo_001.jpg"]  # unchecked: left as the import left it

    # exactly what the command line does: import both, then --overwrite with those photos' entries only
    capsys.readouterr()
    assert main(["import", str(cli_copy), str(vol1), str(vol2)]) == 0
    only = tmp_path / "only"
    only.mkdir()
    for vol, rel in ((vol1, "photo_000.jpg"), (vol2, "usb/photo_002.jpg")):
        (only / vol.name).write_text(json.dumps([e for e in json.loads(vol.read_text()) if e["image"] == rel]))
    assert main(["import", str(cli_copy), str(only / "vol1.json"), str(only / "vol2.json"), "--overwrite"]) == 0
    with Store.open(cli_copy) as cli_store:
        assert state(cli_store) == got


def test_taking_the_files_version_is_one_transaction(qtbot, monkeypatch, make_window, volunteers):
    """A failure on the second file leaves the first file's photos as they were too."""
    from bibtagger_gui.gui import import_action

    folder, _cli, vol1, vol2 = volunteers
    fixed_predictions(monkeypatch, {})
    win = make_window()
    controller = win.import_controller
    controller.interactive = False
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    assert len(controller.import_files([vol1, vol2])) == 2
    dialog = controller.conflicts_dialog
    before = dump(win.store)
    real, calls = import_action.import_annotations, []

    def second_fails(store, entries, **kw):
        calls.append(kw["name"])
        if len(calls) == 2:
            raise OSError("disk full")
        return real(store, entries, **kw)

    monkeypatch.setattr(import_action, "import_annotations", second_fails)
    assert dialog.take_files_version() is None
    assert calls == ["vol1.json", "vol2.json"]  # photo_001 (vol1) was written, then rolled back
    assert dump(win.store) == before and controller.last_message == "Nothing was changed: disk full"
    assert len(rows(dialog)) == 4  # nothing resolved


def test_a_new_import_frees_the_last_conflicts_window(qtbot, tmp_path, monkeypatch, make_window, volunteers):
    from PySide6.QtCore import QEvent

    from bibtagger_gui.gui.import_action import ConflictsDialog

    folder, _cli_copy, vol1, _vol2 = volunteers
    fixed_predictions(monkeypatch, {})
    win = make_window()
    controller = win.import_controller
    controller.interactive = False
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a: ([str(vol1)], "")))
    for _ in range(3):
        with qtbot.waitSignal(controller.finished, timeout=5000):
            controller.action.trigger()
        assert controller.conflicts_dialog is not None
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    alive = [w for w in QApplication.allWidgets() if isinstance(w, ConflictsDialog)]
    assert alive == [controller.conflicts_dialog]  # one list, not one hidden window per import


def test_conflicts_window_says_who_did_what_since_the_hand_out(qtbot, tmp_path, monkeypatch, make_window, capsys):
    """A volunteer's file that carries its hand-out state (export --format json): the window's row says which side
    did what to the bib both changed, the photo's other bibs merge, and the photo the volunteer alone changed is
    merged without a row."""
    from bibtagger_gui.cli import main

    folder, vol = tmp_path / "race", tmp_path / "vol"
    made = make_photos(folder, 3)
    with Store.open(folder) as store:
        store.scan()
        for rel, number, box in made:
            store.set_model_bibs(store.photo_by_path(rel).id, [Bib(number, box, 0.9)], "det:x+read:y")
        for rel in (made[1][0], made[2][0]):
            store.add_bib(store.photo_by_path(rel).id, "567", (0.0, 0.0, 40.0, 30.0))
    todo, back = tmp_path / "todo.json", tmp_path / "vol.json"
    assert main(["export", str(folder), "--format", "json", "--out", str(todo)]) == 0
    vol.mkdir()
    for rel, _n, _b in made:
        shutil.copy2(folder / rel, vol / rel)
    assert main(["import", str(vol), str(todo)]) == 0
    with Store.open(vol) as store:  # the volunteer deletes 567 on photos 1 and 2 and accepts them
        for rel in (made[1][0], made[2][0]):
            pid = store.photo_by_path(rel).id
            store.delete_bib(next(b for b in store.bibs(pid) if b.number == "567").id)
            store.update_bib(next(b for b in store.bibs(pid) if b.number != "567").id)
            store.set_reviewed(pid, True)
    assert main(["export", str(vol), "--format", "json", "--out", str(back)]) == 0
    with Store.open(folder) as store:  # meanwhile the organiser adds 1234 on photo 1 and reads its 567 as 568
        pid = store.photo_by_path(made[1][0]).id
        store.add_bib(pid, "1234", (200.0, 150.0, 260.0, 190.0))
        store.update_bib(next(b for b in store.bibs(pid) if b.number == "567").id, number="568")
    fixed_predictions(monkeypatch, {})
    win = make_window()
    controller = win.import_controller
    controller.interactive = False
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    controller.import_files([back])
    dialog = controller.conflicts_dialog
    assert rows(dialog) == [(made[1][0], "vol.json", True)]
    assert dialog.tree.topLevelItem(0).text(2) == (  # not the command line's "(--overwrite takes the file's)":
        "you changed 567 to 568 after the hand-out; the volunteer deleted 567: that bib left as you have it, "
        "the rest merged"
    )  # the dialog's own button does that here
    got = state(win.store)
    assert [(n, s) for n, _b, s in got[made[2][0]][1]] == [(made[2][1], "human")] and got[made[2][0]][0]  # merged
    # photo 1: 568 left as the organiser has it, their 1234 kept, the volunteer's confirmation of 101 merged;
    # not reviewed (the volunteer's review never saw 568 or 1234)
    assert not got[made[1][0]][0]
    assert sorted((n, s) for n, _b, s in got[made[1][0]][1]) == [("101", "human"), ("1234", "human"), ("568", "human")]
    assert dialog.take_files_version() is not None and not dialog.isVisible()  # nothing left to decide
    got = state(win.store)
    assert got[made[1][0]][0] and [(n, s) for n, _b, s in got[made[1][0]][1]] == [(made[1][1], "human")]


def handed_out(folder: Path, vol: Path, todo: Path) -> list:
    """Two photos in ``folder`` with a prediction each, exported to ``todo`` and imported into the volunteer's copy
    ``vol`` (the hand-out); the photos as ``make_photos`` made them."""
    from bibtagger_gui.cli import main

    made = make_photos(folder, 2)
    with Store.open(folder) as store:
        store.scan()
        for rel, number, box in made:
            store.set_model_bibs(store.photo_by_path(rel).id, [Bib(number, box, 0.9)], "det:x+read:y")
    assert main(["export", str(folder), "--format", "json", "--out", str(todo)]) == 0
    vol.mkdir()
    for rel, _n, _b in made:
        shutil.copy2(folder / rel, vol / rel)
    assert main(["import", str(vol), str(todo)]) == 0
    return made


def window_saying(qtbot, make_window, monkeypatch, folder: Path):
    """A window over ``folder`` whose import messages are kept in ``shown`` ((text, details) each), not shown."""
    fixed_predictions(monkeypatch, {})
    win = make_window()
    controller = win.import_controller
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(controller, "_message", lambda icon, title, text, details="": shown.append((text, details)))
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    return win, controller, shown


def test_photos_the_merge_left_unreviewed_are_named_with_why(qtbot, tmp_path, monkeypatch, make_window, capsys):
    """The command prints a line per photo the three-way merge left unreviewed (a review that did not see all
    its merged bibs); the app named none of them, only a count in the status bar, so the organiser could not
    tell which photos to look at again. The app's message now lists the same lines as the command."""
    from bibtagger_gui.cli import main

    folder, vol = tmp_path / "race", tmp_path / "vol"
    made = handed_out(folder, vol, tmp_path / "todo.json")
    back = tmp_path / "vol.json"
    with Store.open(vol) as store:  # the volunteer accepts both photos as they are
        for rel, _n, _b in made:
            store.set_reviewed(store.photo_by_path(rel).id, True)
    assert main(["export", str(vol), "--format", "json", "--out", str(back)]) == 0
    with Store.open(folder) as store:  # meanwhile the organiser adds 1234 on the first photo
        store.add_bib(store.photo_by_path(made[0][0]).id, "1234", (200.0, 150.0, 260.0, 190.0))
    shutil.copytree(folder, tmp_path / "cli")
    capsys.readouterr()
    assert main(["import", str(tmp_path / "cli"), str(back)]) == 0
    printed = [line.split("vol.json: ", 1)[1] for line in capsys.readouterr().err.splitlines() if ": left unreviewed: " in line]
    assert len(printed) == 1 and printed[0].startswith(f"{made[0][0]}: left unreviewed: ")

    win, controller, shown = window_saying(qtbot, make_window, monkeypatch, folder)
    controller.import_files([back])
    assert controller.conflicts_dialog is None  # no conflict: the photo's bibs merged, its review did not hold
    assert len(shown) == 1
    text, details = shown[0]
    assert "1 photo(s) left unreviewed" in text and "(see details)" in text
    assert details.splitlines() == printed  # the command's lines
    assert {p.relpath: p.reviewed for p in win.store.photos()} == {made[0][0]: False, made[1][0]: True}


def test_a_number_typed_over_a_prediction_with_its_confidence_kept_is_said_in_the_app(qtbot, tmp_path, monkeypatch, make_window):
    """A returned file with 999 typed over a prediction by hand, its "confidence" kept: the merge leaves the 999 out (a
    new prediction is nobody's decision) and the app said nothing of it. Its status bar summary and its message's
    details now name it, with what to do."""
    folder = tmp_path / "race"
    made = handed_out(folder, tmp_path / "vol", tmp_path / "todo.json")
    entries = json.loads((tmp_path / "todo.json").read_text())
    rel = made[1][0]
    typed = next(e for e in entries if e["image"] == rel)["bibs"][0]
    assert typed.get("confidence") is not None
    typed["number"] = "999"
    back = tmp_path / "back.json"
    back.write_text(json.dumps(entries))
    win, controller, shown = window_saying(qtbot, make_window, monkeypatch, folder)
    controller.import_files([back])
    said = win.statusBar().currentMessage()
    assert f'1 new bib(s) with a "confidence" left out, as predictions nobody decided on ({rel} 999)' in said, said
    (text, details), = shown
    assert "1 bib(s) fixed or left out (see details)" in text
    assert details.splitlines() == [f'{rel}: 999 left out: it has a "confidence" (a prediction) and the hand-out had no '
                                    f"such bib; {PREDICTION_HINT}"]  # fmt: skip


def test_bibs_fixed_or_left_out_by_an_import_are_said_bib_by_bib_and_a_typed_number_follows_the_same_rule(
        qtbot, tmp_path, monkeypatch, make_window):  # fmt: skip
    """File > Import Annotations… says which bibs it fixed ("12 34" read as 1234, a box clamped to its photo) or
    left out, in the message's details as the command prints them; a number typed with a space (F2) is 1234 too."""
    folder = tmp_path / "race"
    made = make_photos(folder, 2)  # 320x240
    fixed_predictions(monkeypatch, {})
    win = make_window()
    controller = win.import_controller
    shown = []
    monkeypatch.setattr(controller, "_message", lambda icon, title, text, details="": shown.append((icon, text, details)))
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps([{"image": made[0][0], "bibs": [{"number": "12 34", "box": [-50, -60, 99999, 99999]},
                                                              {"number": "12345678901234", "box": None}]}]))  # fmt: skip
    controller.import_files([odd])
    pid = win.store.photo_by_path(made[0][0]).id
    assert [(b.number, b.box) for b in win.store.bibs(pid)] == [("1234", (0.0, 0.0, 320.0, 240.0))]
    (icon, text, details), = shown
    assert icon == QMessageBox.Icon.Warning and "3 bib(s) fixed or left out (see details)" in text
    assert details.splitlines() == [
        f"{made[0][0]}: bib '12 34': read as 1234 (a bib number has no spaces)",
        f"{made[0][0]}: bib '1234': box [-50, -60, 99999, 99999] clamped to the 320x240 photo",
        f"{made[0][0]}: bib '12345678901234': '12345678901234' is no bib number (longer than 12 characters): left out",
    ]
    other = win.store.photo_by_path(made[1][0]).id
    assert win.select_photo(other)
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_F2)  # the number field, for letters and anything else
    win.number_edit.setText("56 78")  # (Space is a shortcut's key in the field; pasted text keeps it)
    key(qtbot, Qt.Key.Key_Return)
    assert [b.number for b in win.store.bibs(other)] == ["5678"]


def test_a_volunteers_older_file_after_their_newer_one_is_said_and_changes_nothing(qtbot, tmp_path, monkeypatch,
                                                                                    make_window, capsys):  # fmt: skip
    """The app's import of a volunteer's A2.json, then their A1.json saved before it: A1.json changes nothing A2.json
    decided and the message names the photo with the command's line (docs/volunteers.md#which-file-is-newer)."""
    from bibtagger_gui.cli import main

    folder, vol = tmp_path / "race", tmp_path / "vol"
    made = handed_out(folder, vol, tmp_path / "todo.json")
    rel, n, _box = made[0]
    for number, name in (("777", "A1"), ("778", "A2")):  # the volunteer reads 777, sends A1, corrects it to 778, sends A2
        with Store.open(vol) as store:
            row = store.bibs(store.photo_by_path(rel).id)[0]
            store.update_bib(row.id, number=number, box=row.box)
        assert main(["export", str(vol), "--format", "json", "--out", str(tmp_path / f"{name}.json")]) == 0
    a1, a2 = tmp_path / "A1.json", tmp_path / "A2.json"
    shutil.copytree(folder, tmp_path / "cli")
    capsys.readouterr()
    assert main(["import", str(tmp_path / "cli"), str(a2), str(a1)]) == 0
    printed = [line.split(f"{a1}: ", 1)[1] for line in capsys.readouterr().err.splitlines() if " older than " in line]
    assert len(printed) == 1 and printed[0].startswith(f"{rel}: older than A2.json, which you imported at ")

    win, controller, shown = window_saying(qtbot, make_window, monkeypatch, folder)
    controller.import_files([a2, a1])
    assert controller.conflicts_dialog is None
    assert [b.number for b in win.store.bibs(win.store.photo_by_path(rel).id)] == ["778"]  # A2's, not A1's 777
    assert len(shown) == 1
    text, details = shown[0]
    assert "1 photo(s) of a volunteer's older file than one of theirs imported before" in text and "(see details)" in text
    lines = details.splitlines()  # the command's line, but for the time the file was imported
    assert len(lines) == 1 and lines[0].startswith(f"A1.json: {rel}: older than A2.json, which you imported at ")
    assert lines[0].split(" (the volunteer saved", 1)[1] == printed[0].split(" (the volunteer saved", 1)[1]
