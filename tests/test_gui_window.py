"""Main window: background recognition, cancel, stale results, undo/redo, unsaved marker, search."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.recognizer import Recognizer
from bibtagger_gui.core.store import Store
from bibtagger_gui.core.review import LOW_CONFIDENCE
from bibtagger_gui.gui.commands import AcceptPhotoCommand, AddBibCommand, DeleteBibCommand, EditBibCommand, EditContext
from tests.test_gui_support import (  # noqa: F401 - fixtures
    demo_folder,
    demo_template,
    fixed_predictions,
    gui_env,
    make_photos,
    make_window,
    wait_idle,
)


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def test_recognition_fills_the_store_and_progress_reaches_100(qtbot, make_window, demo_folder, placeholder_models_dir):
    win = make_window()
    assert win.feature_errors == []  # the feature modules present (mturk, keywords, ...) installed cleanly
    assert win.open_folder(demo_folder)
    wait_idle(qtbot, win, 60000)
    version = Recognizer.from_dir(placeholder_models_dir).version
    with Store.open(demo_folder) as store:
        photos = store.photos()
        assert photos and all(p.model_version == version for p in photos)
    done, total = win.last_progress
    assert done == total == len(photos)
    assert win.progress.value() == win.progress.maximum()
    assert win.last_job_outcome[:2] == ("recognize", "done")
    assert win.list_model.total() == len(photos)
    assert f"{len(photos)} photos" in win.counts_label.text()


def test_cancel_stops_recognition(qtbot, make_window, tmp_path, monkeypatch):
    make_photos(tmp_path / "p", 25)

    def slow(self, path):
        time.sleep(0.2)  # 25 photos take 5 s: a cancel after the 2nd always comes before the end
        return []

    monkeypatch.setattr(Recognizer, "recognize_path", slow)
    win = make_window()
    win.open_folder(tmp_path / "p")
    qtbot.waitUntil(lambda: any(j.kind == "recognize" for j in win.jobs) and win.last_progress[0] >= 2, timeout=20000)
    assert win.cancel_button.isVisible()
    win.cancel_button.click()
    wait_idle(qtbot, win)
    assert win.last_job_outcome[:2] == ("recognize", "cancelled")
    assert not win.progress.isVisible()
    with Store.open(tmp_path / "p") as store:
        recognized = [p for p in store.photos() if p.model_version]
    assert 2 <= len(recognized) < 25
    # the message counts the photos processed, not the photos asked for
    assert win.statusBar().currentMessage() == f"Recognition cancelled: {len(recognized)} of 25 photo(s)"
    assert win.last_progress == (len(recognized), 25)


def test_results_for_a_closed_folder_are_dropped(qtbot, make_window, tmp_path, monkeypatch):
    make_photos(tmp_path / "a", 5)
    make_photos(tmp_path / "b", 3, seed=1)
    started, release = threading.Event(), threading.Event()

    def fake(self, path):
        if Path(path).parent.name == "a":
            started.set()
            release.wait(10)
            return [Bib("999", (1, 1, 20, 20), 0.9)]
        return [Bib("7", (1, 1, 20, 20), 0.9)]

    monkeypatch.setattr(Recognizer, "recognize_path", fake)
    win = make_window()
    win.open_folder(tmp_path / "a")
    qtbot.waitUntil(started.is_set, timeout=20000)
    seen_rows = []
    win.list_model.dataChanged.connect(lambda a, b, *r: seen_rows.append(win.list_model.item(a.row()).photo.relpath))
    win.open_folder(tmp_path / "b")  # while folder a's recognition is in the middle of a photo
    release.set()
    wait_idle(qtbot, win)
    assert win.folder == (tmp_path / "b").resolve()
    with Store.open(tmp_path / "a") as store_a:
        numbers_a = [b.number for p in store_a.photos() for b in store_a.bibs(p.id)]
        assert numbers_a == []  # the result computed for a after it was closed was not written
        assert all(p.model_version is None for p in store_a.photos())
    with Store.open(tmp_path / "b") as store_b:
        assert [b.number for p in store_b.photos() for b in store_b.bibs(p.id)] == ["7"] * 3
    assert {it.photo.relpath for it in win.list_model.items} == {f"photo_{i:03d}.jpg" for i in range(3)}
    assert all(it.numbers == ["7"] for it in win.list_model.items)


def _state(store, pid):
    return (store.photo(pid).reviewed, sorted((b.id, b.number, b.box, b.confidence, b.source) for b in store.bibs(pid)))


def test_undo_redo_of_each_command_changes_the_store_and_back(tmp_path):
    make_photos(tmp_path, 1)
    with Store.open(tmp_path) as store:
        store.scan()
        pid = store.photos()[0].id
        store.set_model_bibs(pid, [Bib("100", (10, 10, 60, 40), 0.4), Bib("200", (100, 10, 150, 40), 0.95)], "v")
        stack = QUndoStack()
        changes = []
        ctx = EditContext(store, lambda p, b: changes.append((p, b)))
        model_100, model_200 = store.bibs(pid)
        commands = [
            (EditBibCommand(ctx, pid, model_100, "108"), lambda: [b.number for b in store.bibs(pid)] == ["108", "200"]),
            (AddBibCommand(ctx, pid, "300", (5, 50, 40, 80)), lambda: "300" in [b.number for b in store.bibs(pid)]),
            (DeleteBibCommand(ctx, pid, model_200), lambda: "200" not in [b.number for b in store.bibs(pid)]),
            (AcceptPhotoCommand(ctx, pid), lambda: store.photo(pid).reviewed and {b.source for b in store.bibs(pid)} == {"human"}),
        ]
        states = [_state(store, pid)]
        for cmd, applied in commands:
            stack.push(cmd)
            assert applied(), cmd.text()
            states.append(_state(store, pid))
        assert len(set(map(repr, states))) == len(states)  # every command changed the store
        for i in range(len(commands), 0, -1):
            stack.undo()
            assert _state(store, pid) == states[i - 1], f"undo of {commands[i - 1][0].text()}"
        for i in range(1, len(commands) + 1):
            stack.redo()
            assert _state(store, pid) == states[i], f"redo of {commands[i - 1][0].text()}"
        assert changes and all(p == pid for p, _ in changes)
        # undo restored the model bib with its id, confidence and source
        for _ in commands:
            stack.undo()
        assert store.bib(model_100.id).source == "model" and store.bib(model_100.id).confidence == pytest.approx(0.4)


def test_unsaved_marker_follows_the_undo_stack_clean_state(qtbot, make_window, tmp_path, monkeypatch):
    make_photos(tmp_path / "p", 2)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("111", (10, 10, 60, 40), 0.5)]})
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    assert not win.isWindowModified()
    win.select_photo(win.store.photo_by_path("photo_000.jpg").id)
    key(qtbot, Qt.Key.Key_Delete)
    assert win.isWindowModified() and win.store.bibs(win.current_id) == []  # written at once all the same
    key(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not win.isWindowModified() and [b.number for b in win.store.bibs(win.current_id)] == ["111"]
    key(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert win.isWindowModified() and win.store.bibs(win.current_id) == []
    key(qtbot, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # checkpoint
    assert not win.isWindowModified()


def test_human_edit_survives_rerunning_the_recognizer(qtbot, make_window, tmp_path, monkeypatch):
    make_photos(tmp_path / "p", 3)
    box = (10.0, 10.0, 60.0, 40.0)
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib("111", box, 0.5)] for i in range(3)})
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    pid = win.store.photo_by_path("photo_001.jpg").id
    win.select_photo(pid)
    for k in (Qt.Key.Key_1, Qt.Key.Key_1, Qt.Key.Key_8, Qt.Key.Key_Return):
        key(qtbot, k)
    assert [(b.number, b.source) for b in win.store.bibs(pid)] == [("118", "human")]
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    assert win.last_job_outcome[:2] == ("recognize", "done")
    assert [(b.number, b.source) for b in win.store.bibs(pid)] == [("118", "human")]
    other = win.store.photo_by_path("photo_002.jpg").id
    assert [(b.number, b.source) for b in win.store.bibs(other)] == [("111", "model")]


def test_search_shows_only_photos_with_the_number_and_filters(qtbot, make_window, tmp_path, monkeypatch):
    make_photos(tmp_path / "p", 6)
    # confidences step across the low-confidence cut: photos 0-2 below it, 3-4 above
    table = {f"photo_{i:03d}.jpg": [Bib(str(500 + i % 3), (10, 10, 60, 40), round(LOW_CONFIDENCE - 0.125 + 0.05 * i, 3))]
             for i in range(5)}
    fixed_predictions(monkeypatch, table)  # photo_005 gets nothing
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    from bibtagger_gui.core import review

    reads = []
    load_items = review.load_items
    monkeypatch.setattr(review, "load_items", lambda store: reads.append(1) or load_items(store))
    key(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is win.search_edit
    qtbot.keyClicks(win.search_edit, "501")
    assert sorted(it.photo.relpath for it in win.list_model.items) == ["photo_001.jpg", "photo_004.jpg"]
    key(qtbot, Qt.Key.Key_Escape)
    assert win.list_model.total() == 6
    win.set_filter("no-bib")
    assert [it.photo.relpath for it in win.list_model.items] == ["photo_005.jpg"]
    win.set_filter("low-confidence")
    assert sorted(it.photo.relpath for it in win.list_model.items) == ["photo_000.jpg", "photo_001.jpg", "photo_002.jpg"]
    win.set_filter("all")  # queue order: nothing found first, then lowest confidence first
    assert [it.photo.relpath for it in win.list_model.items][:3] == ["photo_005.jpg", "photo_000.jpg", "photo_001.jpg"]
    assert reads == []  # searching and filtering re-read no photo from the store (10,000 of them per keystroke)
    win.actions_by_name["refresh_queue"].trigger()
    assert reads == [1]  # Rebuild Queue does


def test_draw_a_box_with_the_mouse_then_type_its_number(qtbot, make_window, tmp_path, monkeypatch):
    make_photos(tmp_path / "p", 1)
    fixed_predictions(monkeypatch, {})
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    key(qtbot, Qt.Key.Key_B)
    assert win.photo_view.drawing
    vp = win.photo_view.viewport()
    a = win.photo_view.mapFromScene(50, 40)
    b = win.photo_view.mapFromScene(150, 100)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(vp, b)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    assert QApplication.focusWidget() is win.number_edit
    qtbot.keyClicks(win.number_edit, "4321")
    key(qtbot, Qt.Key.Key_Return)
    (bib,) = win.store.bibs(win.current_id)
    assert bib.number == "4321" and bib.source == "human"
    assert bib.box == pytest.approx((50, 40, 150, 100), abs=3)


def test_errors_are_shown_per_photo_and_the_rest_goes_on(qtbot, make_window, tmp_path):
    make_photos(tmp_path / "p", 3)
    (tmp_path / "p" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    items = {it.photo.relpath: it for it in win.list_model.items}
    assert items["broken.jpg"].photo.error
    row = win.list_model.row_of(items["broken.jpg"].photo_id)
    tip = win.list_model.data(win.list_model.index(row), Qt.ItemDataRole.ToolTipRole)
    assert items["broken.jpg"].photo.error in tip
    assert all(items[f"photo_{i:03d}.jpg"].photo.model_version for i in range(3))
    assert "1 errors" in win.counts_label.text()


def test_exif_rotated_photo_is_shown_upright(qtbot, make_window, demo_folder):
    win = make_window()
    win.open_folder(demo_folder)
    wait_idle(qtbot, win, 60000)
    photo = win.store.photo_by_path("race_002.jpg")  # stored sideways with EXIF orientation 6
    assert photo.orientation == 6
    win.select_photo(photo.id)
    qtbot.waitUntil(lambda: win.photo_view.image_loaded, timeout=10000)
    pix = win.photo_view._pixmap_item.pixmap()
    assert (pix.width() > pix.height()) == (photo.width > photo.height)
    assert pix.width() * photo.height == pytest.approx(pix.height() * photo.width, rel=0.02)


def test_model_folder_switch_and_remembered_folders(qtbot, make_window, gui_env, tmp_path, placeholder_models_dir):
    make_photos(tmp_path / "p", 2)
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    assert gui_env.value("recent_folder") == str((tmp_path / "p").resolve())
    assert win.recent_folders()[0] == str((tmp_path / "p").resolve())
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "detector.onnx").write_bytes(b"not onnx")
    assert not win.load_models_dir(tmp_path / "bad")
    assert "Cannot load models" in win.statusBar().currentMessage()
    stale = tmp_path / "stale"  # valid models beside another pair's calibration: loads, says so
    stale.mkdir()
    for f in placeholder_models_dir.glob("*.onnx"):
        (stale / f.name).write_bytes(f.read_bytes())
    (stale / "calibration.json").write_text('{"slope": 2, "intercept": 0, "detector_version": "x", "reader_version": "y"}')
    assert win.load_models_dir(stale, remember=False)
    assert "confidences uncalibrated" in win.statusBar().currentMessage() and "detector x" in win.model_label.toolTip()
    assert win.load_models_dir(placeholder_models_dir)
    rec = Recognizer.from_dir(placeholder_models_dir)
    assert win.model_label.text() == f"models: {rec.label}" and rec.version in win.model_label.toolTip()
    assert gui_env.value("models_dir") == str(placeholder_models_dir)
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    assert win.last_job_outcome[:2] == ("recognize", "done")


def _open_four(qtbot, make_window, tmp_path, monkeypatch):
    make_photos(tmp_path / "p", 4)
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib(str(500 + i), (10, 10, 60, 40), 0.5)] for i in range(4)})
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    return win


def test_clicking_another_photo_in_the_list_commits_a_typed_number(qtbot, make_window, tmp_path, monkeypatch):
    win = _open_four(qtbot, make_window, tmp_path, monkeypatch)
    win.select_row(0)
    pid = win.current_id
    (before,) = win.store.bibs(pid)
    key(qtbot, Qt.Key.Key_7)
    key(qtbot, Qt.Key.Key_7)
    assert win.number_edit.text() == "77"
    rect = win.list_view.visualRect(win.list_model.index(1))
    qtbot.mouseClick(win.list_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert win.current_row() == 1 and win.current_id != pid
    assert [(b.id, b.number, b.source) for b in win.store.bibs(pid)] == [(before.id, "77", "human")]
    key(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undoable edit, like Tab or J would make
    assert [b.number for b in win.store.bibs(pid)] == [before.number]


def test_ctrl_f_commits_a_typed_number(qtbot, make_window, tmp_path, monkeypatch):
    win = _open_four(qtbot, make_window, tmp_path, monkeypatch)
    win.select_row(0)
    pid = win.current_id
    (before,) = win.store.bibs(pid)
    key(qtbot, Qt.Key.Key_7)
    key(qtbot, Qt.Key.Key_7)
    key(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)  # a search must not drop the correction
    assert QApplication.focusWidget() is win.search_edit
    assert [(b.id, b.number, b.source) for b in win.store.bibs(pid)] == [(before.id, "77", "human")]


def test_undo_and_redo_show_a_photo_the_search_hides(qtbot, make_window, tmp_path, monkeypatch):
    win = _open_four(qtbot, make_window, tmp_path, monkeypatch)
    p0 = win.store.photo_by_path("photo_000.jpg").id
    win.select_photo(p0)
    key(qtbot, Qt.Key.Key_Delete)
    assert win.store.bibs(p0) == []
    key(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(win.search_edit, "502")
    key(qtbot, Qt.Key.Key_Return)
    assert [it.photo.relpath for it in win.list_model.items] == ["photo_002.jpg"]
    assert win.current_id != p0
    key(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [b.number for b in win.store.bibs(p0)] == ["500"]
    assert win.current_id == p0 and win.list_model.row_of(p0) is not None  # the view went to the photo concerned
    assert [b.number for b in win.current_bibs] == ["500"]
    assert win.search_edit.text() == ""
    msg = win.statusBar().currentMessage()
    assert "photo_000.jpg" in msg and "502" in msg
    # redo with a filter hiding the photo: the filter goes back to all photos
    win.set_filter("reviewed")
    assert win.list_model.row_of(p0) is None
    key(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert win.store.bibs(p0) == [] and win.current_id == p0 and win.filter.value == "all"
    assert "Reviewed" in win.statusBar().currentMessage()


def test_load_model_folder_menu_keeps_the_uncalibrated_warning(qtbot, make_window, tmp_path, monkeypatch, placeholder_models_dir):
    from PySide6.QtWidgets import QFileDialog

    win = make_window()
    models = tmp_path / "m"
    models.mkdir()
    for f in placeholder_models_dir.glob("*.onnx"):
        (models / f.name).write_bytes(f.read_bytes())
    (models / "calibration.json").write_text("{not json")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(models)))
    win.actions_by_name["load_models"].trigger()  # Recognition > Load Model Folder…
    assert win.models_dir == models
    msg = win.statusBar().currentMessage()
    assert "confidences uncalibrated" in msg and "Re-run on Unreviewed Photos" in msg
    (models / "calibration.json").unlink()  # a clean folder: no warning, and none left over from before
    win.actions_by_name["load_models"].trigger()
    assert win.statusBar().currentMessage() == "Models loaded; use Recognition > Re-run on Unreviewed Photos to apply them"


def test_a_file_the_scan_leaves_out_is_reported_not_silently_dropped(qtbot, make_window, tmp_path):
    import os
    import sys

    if sys.platform == "darwin" or os.name == "nt":
        pytest.skip("needs a file system that stores names that are not UTF-8")
    folder = tmp_path / "latin1"
    make_photos(folder, 2)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")  # in the store with an error: listed, not "left out"
    os.rename(os.fsencode(folder / "photo_000.jpg"), os.fsencode(folder) + b"/caf\xe9.jpg")  # a Latin-1 name
    win = make_window()
    messages = []
    win.statusBar().messageChanged.connect(lambda m: messages.append(m) if m else None)
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    assert sorted(it.photo.relpath for it in win.list_model.items) == ["broken.jpg", "photo_001.jpg"]
    left_out = [m for m in messages if "left out of the review" in m]
    assert left_out and left_out[0].startswith("1 file(s) left out of the review: caf") and "not valid UTF-8" in left_out[0]
    assert win.queue_label.text() == "2 of 2 photos · 1 file(s) left out"
    assert "not valid UTF-8; rename it" in win.queue_label.toolTip() and "broken.jpg" not in win.queue_label.toolTip()
    assert "1 file(s) left out by the scan" in win.statusBar().currentMessage()  # the recognition message keeps saying so
    win.close_folder()
    assert win.scan_skipped == []


def test_heic_and_raw_files_are_named_not_silently_ignored(qtbot, make_window, tmp_path):
    """A folder of HEIC/RAW files (formats bibtagger cannot read) must not just look empty."""
    folder = tmp_path / "iphone"
    make_photos(folder, 1)
    for name in ("IMG_1.HEIC", "IMG_2.heic", "IMG_3.CR2", "._IMG_4.HEIC"):  # the AppleDouble file stays hidden
        (folder / name).write_bytes(b"\x00\x00\x00\x18ftypheic")
    win = make_window()
    messages = []
    win.statusBar().messageChanged.connect(lambda m: messages.append(m) if m else None)
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    note = "3 file(s) in formats bibtagger cannot read were left out (2 HEIC, 1 CR2): convert them to JPEG; RAW files: use the camera's JPEGs"
    assert note in messages
    assert win.queue_label.text() == "1 of 1 photos · other formats left out"
    assert note in win.queue_label.toolTip()
    win.close_folder()
    assert win.scan_unsupported is None


def test_a_read_only_folder_says_where_its_review_is_saved(qtbot, make_window, tmp_path, monkeypatch):
    """A read-only folder's project lives in the user data folder (core/store.py): the window says so, in the status bar
    and in a label that stays, and not for a folder that holds its own project."""
    from bibtagger_gui.core.store import fallback_db_path

    writable, read_only = tmp_path / "mine", tmp_path / "share"
    make_photos(writable, 1)
    make_photos(read_only, 1)
    opened = Store.open
    # what Store.open does for a folder it cannot write (root, running the tests, writes everywhere)
    monkeypatch.setattr(Store, "open", classmethod(lambda cls, f, db_path=None: cls(fallback_db_path(f), Path(f).resolve())
                                                    if Path(f).resolve() == read_only.resolve() else opened(f, db_path)))  # fmt: skip
    win = make_window()
    assert win.open_folder(read_only)
    said = win.statusBar().currentMessage()
    assert str(fallback_db_path(read_only).parent) in said and "cannot be written" in said, said
    assert win.store_label.isVisibleTo(win) and str(fallback_db_path(read_only).parent) in win.store_label.toolTip()
    wait_idle(qtbot, win)
    assert win.store_label.isVisibleTo(win)
    assert win.open_folder(writable)
    assert not win.store_label.isVisibleTo(win)
    wait_idle(qtbot, win)


def test_a_read_only_folder_whose_own_project_changed_since_the_copy_says_so(qtbot, make_window, tmp_path, monkeypatch):
    """The read-only folder's own project changed since the user's copy was made (someone reviewed on the share): the
    status bar and the read-only label say so, and that the review here is kept (core/store.py copy_behind_note)."""
    from bibtagger_gui.core.store import fallback_db_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    share = tmp_path / "share"
    make_photos(share, 1)
    with Store.open(share) as theirs:  # the folder's own project, from when it was writable
        theirs.scan()
    local, copy = share / ".bibtagger" / "project.db", fallback_db_path(share)
    Store._copy_readonly(local, copy)  # what Store.open does once for the read-only folder
    with Store(local, share) as theirs:  # someone on the share reviews after that
        theirs.set_reviewed(theirs.photos()[0].id, True)
    opened = Store.open

    def open_read_only(cls, f, db_path=None):  # Store.open's fallback for this folder (root writes everywhere)
        if Path(f).resolve() != share.resolve():
            return opened(f, db_path)
        store = cls(copy, share.resolve())
        store._note_copy_behind(local)  # what Store.open does there (not a copy of it)
        return store

    monkeypatch.setattr(Store, "open", classmethod(open_read_only))
    win = make_window()
    assert win.open_folder(share)
    said = win.statusBar().currentMessage()
    assert "the folder's own project" in said and "changed since your copy of" in said and "is kept" in said, said
    assert "changed" in win.store_label.text() and "changed since your copy of" in win.store_label.toolTip()
    wait_idle(qtbot, win)


def test_the_scan_of_an_opened_folder_waits_for_the_lists_first_paint(qtbot, make_window, tmp_path, monkeypatch):
    """Opening a folder starts its scan on a worker thread; the scan's Python work took the GIL from the list's
    first paint and the heap's settle (40-230 ms of opening 10,000 photos, docs/gui.md#opening-a-folder). It waits
    for the event loop's first pass after the open: nothing while the caller of open_folder keeps the loop, and it
    runs right after the paint. A folder closed before that lets it go at once (no wait for the time limit)."""
    from PySide6.QtCore import QEvent, QObject

    make_photos(tmp_path / "p", 4)
    with Store.open(tmp_path / "p") as store:
        store.scan()
    events: list[str] = []
    real_scan = Store.scan
    monkeypatch.setattr(Store, "scan", lambda self, *a, **k: events.append("scan") or real_scan(self, *a, **k))

    class Watch(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint and "paint" not in events:
                events.append("paint")
            return False

    win = make_window()
    watch = Watch(win)
    win.list_view.viewport().installEventFilter(watch)
    assert win.open_folder(tmp_path / "p") and win.busy
    time.sleep(0.5)  # the event loop does not run: the scan waits (it used to start at once)
    assert events == []
    wait_idle(qtbot, win)
    assert events[:2] == ["paint", "scan"] and win.list_model.total() == 4

    assert win.open_folder(tmp_path / "p")
    job = win.jobs[0]
    win.close_folder()
    assert job.hold.is_set() and job.cancel_event.is_set()
