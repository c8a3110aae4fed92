"""Changes another program writes to the open folder's store show in the window (gui/live_updates.py).

A real window on a real store; the writers are another ``Store`` connection and real ``bibtagger import`` /
``predict`` runs in-process through ``bibtagger_gui.cli.main`` (placeholder models, predictions fixed by
file name). Costs are checked as rows re-read, not as time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import review
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.store import Store
from bibtagger_gui.gui.live_updates import BULK, POLL_MS
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401

N = 6
WITHIN = 3 * POLL_MS  # a poll interval, with room for a loaded machine


@pytest.fixture(autouse=True)
def stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


def table(made, offset: int = 0) -> dict[str, list[Bib]]:
    return {rel: [Bib(str(int(num) + offset), box, 0.5)] for rel, num, box in made}


@pytest.fixture
def shoot(qtbot, make_window, tmp_path, monkeypatch):
    """N photos recognized by the window (each its own number), the first one shown; (window, folder, made)."""
    folder = tmp_path / "race"
    made = make_photos(folder, N)
    fixed_predictions(monkeypatch, table(made))
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    win.select_photo(pid(win, 0))
    return win, folder, made


def pid(win, i: int) -> int:
    return win.store.photo_by_path(f"photo_{i:03d}.jpg").id


def row_text(win, photo_id: int) -> str:
    return win.list_model.data(win.list_model.index(win.list_model.row_of(photo_id)))


def messages(win) -> list[str]:
    seen: list[str] = []
    win.statusBar().messageChanged.connect(lambda text: seen.append(text))
    return seen


def test_another_connection_s_edits_show_in_the_panel_and_the_list_within_a_poll(qtbot, shoot):
    win, folder, _made = shoot
    shown, other_id = pid(win, 0), pid(win, 3)
    win.list_view.selectionModel().select(win.list_model.index(win.list_model.row_of(other_id)),
                                          win.list_view.selectionModel().SelectionFlag.Select)  # fmt: skip
    selected = {p.id for p in win.selected_photos()}
    scroll = win.list_view.verticalScrollBar().value()
    assert "reviewed ✓" not in win.panel.state.text()
    with Store.open(folder) as other:  # a second window, a volunteer on the share
        other.set_reviewed(shown, True)
        new = other.add_bib(shown, "777", (5, 5, 40, 30))
        (bib,) = other.bibs(other_id)
        other.update_bib(bib.id, number="4242")
    qtbot.waitUntil(lambda: "reviewed ✓" in win.panel.state.text(), timeout=WITHIN)
    assert "777" in [b.number for b in win.current_bibs]
    assert "777" in [win.panel.table.item(r, 0).text().split()[0] for r in range(win.panel.table.rowCount())]
    assert new.id in {box.bib_id for box in win.photo_view.box_items()}  # its box drawn on the photo
    assert "4242" in row_text(win, other_id) and row_text(win, shown).startswith("✓")
    assert win.statusBar().currentMessage() == "Updated by another program: 2 photos"
    assert win.current_id == shown and {p.id for p in win.selected_photos()} == selected
    assert win.list_view.verticalScrollBar().value() == scroll
    assert "1 reviewed" in win.counts_label.text()
    assert win.items[other_id].numbers == ["4242"]  # a search or filter change sees it too
    win.search_edit.setText("4242")
    assert [it.photo_id for it in win.list_model.items] == [other_id]


def test_a_volunteer_file_imported_in_a_terminal_shows_at_once(qtbot, shoot, tmp_path):
    win, folder, made = shoot
    out = tmp_path / "handout.json"
    assert main(["export", str(folder), "--format", "json", "--out", str(out)]) == 0
    entries = json.loads(out.read_text(encoding="utf-8"))[:3]
    for e in entries:
        e["reviewed"] = True
        e["bibs"] = [{"number": "9" + b["number"], "box": b["box"]} for b in e["bibs"]]
    back = tmp_path / "volunteer.json"
    back.write_text(json.dumps(entries), encoding="utf-8")
    assert main(["import", str(folder), str(back)]) == 0
    renumbered = {win.store.photo_by_path(e["image"]).id: e["bibs"][0]["number"] for e in entries}
    qtbot.waitUntil(lambda: all(win.items[p].numbers == [n] and win.items[p].photo.reviewed
                                for p, n in renumbered.items()), timeout=WITHIN)  # fmt: skip
    assert win.current_id in renumbered  # photo_000, the first of the file
    assert [b.number for b in win.current_bibs] == [renumbered[win.current_id]]
    assert "reviewed ✓" in win.panel.state.text()
    for p, n in renumbered.items():
        assert n in row_text(win, p)
    assert win.statusBar().currentMessage() == "Updated by another program: 3 photos"


def test_predict_run_in_a_terminal_updates_the_photo_shown(qtbot, shoot, monkeypatch, placeholder_models_dir):
    win, folder, made = shoot
    fixed_predictions(monkeypatch, table(made, offset=400))  # other models: other readings
    assert main(["predict", str(folder), "--all", "--models", str(placeholder_models_dir)]) == 0
    want = str(int(made[0][1]) + 400)
    qtbot.waitUntil(lambda: [b.number for b in win.current_bibs] == [want], timeout=WITHIN)
    assert want in row_text(win, win.current_id)
    assert win.panel.table.item(0, 0).text() == want
    assert win.statusBar().currentMessage() == f"Updated by another program: {N} photos"


def test_coming_back_to_the_app_looks_at_once_and_a_start_list_imported_meanwhile_names_the_bibs(qtbot, shoot, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    win, folder, made = shoot
    win.live_updates.timer.stop()  # only the return to the app polls now
    start = tmp_path / "start.csv"
    start.write_text("Bib;Name\n" + "".join(f"{num};Runner {num}\n" for _rel, num, _box in made), encoding="utf-8")
    assert main(["startlist", "import", str(start), str(folder)]) == 0
    with Store.open(folder) as other:
        other.set_reviewed(win.current_id, True)
    QApplication.instance().applicationStateChanged.emit(Qt.ApplicationState.ApplicationActive)
    qtbot.waitUntil(lambda: "reviewed ✓" in win.panel.state.text(), timeout=POLL_MS // 2)
    assert win.panel.startlist is not None and win.panel.table.item(0, 1).text() == f"Runner {made[0][1]}"


def test_a_number_being_typed_survives_an_update_of_its_photo_and_is_saved(qtbot, shoot):
    win, folder, _made = shoot
    shown = win.current_id
    (bib,) = win.current_bibs
    win.type_digit("8")
    win.number_edit.insert("1")
    win.photo_view.setFocus()  # the user looks elsewhere (the field without focus is overwritten by a redraw)
    with Store.open(folder) as other:
        other.set_reviewed(shown, True)
        other.add_bib(shown, "555", None)
    qtbot.waitUntil(lambda: "reviewed ✓" in win.panel.state.text(), timeout=WITHIN)
    assert len(win.current_bibs) == 2
    assert win.number_edit.text() == "81" and win._entry is not None
    win.number_edit.setFocus()
    win.enter_pressed()
    assert win.store.bib(bib.id).number == "81"  # the typed number went to the bib it was typed over
    assert sorted(b.number for b in win.store.bibs(shown)) == ["555", "81"]


def test_a_box_being_dragged_is_not_redrawn_under_the_mouse(qtbot, shoot):
    from PySide6.QtCore import QPoint, Qt

    win, folder, _made = shoot
    (bib,) = win.current_bibs
    view, vp = win.photo_view, win.photo_view.viewport()
    x1, y1, x2, y2 = bib.box
    press = view.mapFromScene((x1 + x2) / 2, (y1 + y2) / 2)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=press)
    assert view.adjusting
    with Store.open(folder) as other:
        other.set_reviewed(win.current_id, True)
    assert win.live_updates.poll() == 0 and view.adjusting  # waits for the release
    qtbot.mouseMove(vp, press + QPoint(15, 10))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=press + QPoint(15, 10))
    assert win.store.bib(bib.id).box != bib.box  # the drag was saved
    qtbot.waitUntil(lambda: "reviewed ✓" in win.panel.state.text(), timeout=WITHIN)


def test_own_edits_cause_no_poll_read_but_another_program_s_do(qtbot, shoot, monkeypatch):
    win, folder, _made = shoot
    asked = []
    real = Store.changes_since
    monkeypatch.setattr(Store, "changes_since", lambda self, since: asked.append(since) or real(self, since))
    seen = messages(win)
    win.accept_photo()  # an own edit (reviewed, moves to the next photo)
    win.type_digit("6")
    win.enter_pressed()  # another own edit
    for _ in range(3):
        assert win.live_updates.poll() == 0
    qtbot.wait(int(POLL_MS * 1.5))  # the timer's own polls too
    assert asked == [] and not any("another program" in m for m in seen)
    with Store.open(folder) as other:
        other.set_reviewed(pid(win, 5), True)
    qtbot.waitUntil(lambda: "Updated by another program: 1 photo" in seen, timeout=WITHIN)
    assert len(asked) == 1


def test_the_window_s_own_recognition_is_not_announced_nor_read_twice_in_bulk(qtbot, shoot, monkeypatch):
    win, folder, made = shoot
    reads = {"photo": 0, "photos": 0}
    polling = [False]
    for name in reads:
        real = getattr(win.store, name)

        def spy(*a, _real=real, _name=name, **k):
            reads[_name] += polling[0]
            return _real(*a, **k)

        monkeypatch.setattr(win.store, name, spy)
    real_poll = win.live_updates.poll

    def poll():
        polling[0] = True
        try:
            return real_poll()
        finally:
            polling[0] = False

    monkeypatch.setattr(win.live_updates, "poll", poll)
    win.live_updates.timer.timeout.disconnect()
    win.live_updates.timer.timeout.connect(poll)
    resets = []
    win.list_model.modelReset.connect(lambda: resets.append(polling[0]))
    seen = messages(win)
    fixed_predictions(monkeypatch, table(made, offset=7))
    assert win.rerun_unreviewed()
    while win.busy:
        poll()
        qtbot.wait(5)
    assert [b.number for b in win.current_bibs] == [str(int(made[0][1]) + 7)]  # the job's own signals showed it
    assert reads["photo"] <= N and reads["photos"] == 0 and True not in resets
    assert not any("another program" in m for m in seen)
    with Store.open(folder) as other:  # and another program is still noticed after it
        other.set_reviewed(pid(win, 2), True)
    qtbot.waitUntil(lambda: "Updated by another program: 1 photo" in seen, timeout=WITHIN)


def test_while_the_window_recognizes_another_program_s_review_is_announced_its_predictions_are_not(qtbot, shoot):
    win, folder, _made = shoot
    win.toggle_recognition_pause()  # a job that runs and takes no photo (started as the import restarts one:
    assert win.start_recognition(review.rerun_candidates(win.store.photos())) and win.busy  # a re-run would resume)
    with Store.open(folder) as other:
        other.set_model_bibs(pid(win, 1), [Bib("31337", None, 0.9)], "det:x+read:y")  # as the job writes
        other.set_reviewed(pid(win, 2), True)
    assert win.live_updates.poll() == 1
    assert win.items[pid(win, 1)].numbers == ["31337"] and win.items[pid(win, 2)].photo.reviewed
    assert win.statusBar().currentMessage() == "Updated by another program: 1 photo"
    win.cancel_jobs()
    wait_idle(qtbot, win)


def big_shoot(folder: Path, n: int) -> None:
    """``n`` photos the scan takes as known and unchanged: hard links of one small JPEG, with rows copied
    from the scanned one (one scan of 10,000 files would cost seconds of the shared CPUs)."""
    make_photos(folder, 1)
    first = folder / "photo_000.jpg"
    with Store.open(folder) as store:
        store.scan()
        store.set_model_bibs(store.photo_by_path("photo_000.jpg").id, [Bib("100", (1, 1, 20, 20), 0.9)], "det:x+read:y")
        db = store.db_path
    for i in range(1, n):
        os.link(first, folder / f"photo_{i:05d}.jpg")
    con = sqlite3.connect(db)
    with con:
        row = con.execute("SELECT * FROM photos WHERE relpath = 'photo_000.jpg'").fetchone()
        names = [d[0] for d in con.execute("SELECT * FROM photos").description]
        cols = [c for c in names if c != "id"]
        values = dict(zip(names, row))
        con.executemany(
            f"INSERT INTO photos ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [tuple(f"photo_{i:05d}.jpg" if c == "relpath" else values[c] for c in cols) for i in range(1, n)],
        )
    con.close()


def test_10000_photos_a_poll_reads_only_the_changed_ones(qtbot, make_window, tmp_path, monkeypatch):
    folder = tmp_path / "big"
    big_shoot(folder, 10_000)
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    assert len(win.items) == 10_000
    win.live_updates.timer.stop()  # the test polls
    calls = dict.fromkeys(("photo", "bibs", "photos", "all_bibs"), 0)
    for name in calls:
        real = getattr(win.store, name)
        monkeypatch.setattr(win.store, name, lambda *a, _r=real, _n=name, **k: calls.__setitem__(_n, calls[_n] + 1) or _r(*a, **k))
    resets, rows = [], []
    win.list_model.modelReset.connect(lambda: resets.append(1))
    win.list_model.dataChanged.connect(lambda a, b, *_: rows.append(b.row() - a.row() + 1))
    assert win.live_updates.poll() == 0 and calls == dict.fromkeys(calls, 0)  # nothing changed: no read at all
    done = 0
    for changed in (12, BULK + 50):
        ids = [it.photo_id for it in win.list_model.items[done:done + changed]]  # rows not changed yet, all fetched
        done += changed
        with Store.open(folder) as other:
            with other.transaction():
                for i in ids[: changed // 2]:
                    other.set_reviewed(i, True)
                for i in ids[changed // 2:]:
                    other.add_bib(i, "4711", None)
        calls.update(dict.fromkeys(calls, 0))
        resets.clear()
        rows.clear()
        assert win.live_updates.poll() == changed
        if changed <= BULK:  # each changed photo read once, its row alone redrawn
            assert calls == {"photo": changed, "bibs": changed, "photos": 0, "all_bibs": 0}
            assert resets == [] and rows == [1] * changed
        else:  # one read of every photo instead of two queries each (and the photo shown once)
            assert calls == {"photo": 1, "bibs": 1, "photos": 1, "all_bibs": 1}
        assert all(win.items[i].photo.reviewed or win.items[i].numbers == ["4711"] for i in ids)
        assert win.statusBar().currentMessage() == f"Updated by another program: {changed} photos"


def test_a_number_typed_on_a_photo_another_program_finds_gone_keeps_it_out_of_the_list(qtbot, shoot):
    """The typed number is saved on its photo, but re-reading that photo put it back among the window's
    photos though it is missing from disk: the next search keystroke listed it again."""
    win, folder, _made = shoot
    gone = win.current_id
    win.type_digit("8")
    win.photo_view.setFocus()
    (folder / "photo_000.jpg").unlink()
    with Store.open(folder) as other:  # another window's scan finds it gone
        other.scan()
    qtbot.waitUntil(lambda: win.current_id != gone, timeout=WITHIN)
    assert [b.number for b in win.store.bibs(gone)][-1] == "8"  # the typed number was not lost
    win.search_edit.setText("5")
    win.search_edit.setText("")
    assert win.list_model.row_of(gone) is None


def _centre_rgb(win) -> tuple[int, int, int]:
    item = win.photo_view._pixmap_item
    if item is None:
        return (-1, -1, -1)
    img = item.pixmap().toImage()
    c = img.pixelColor(img.width() // 2, img.height() // 2)
    return (c.red(), c.green(), c.blue())


@pytest.mark.parametrize("how", ["typing", "drawing"])
def test_a_photo_replaced_while_typing_or_drawing_on_it_shows_its_new_pixels_once_that_ends(qtbot, shoot, how):
    """Another program replaced the file of the photo shown while a number was typed (or a box drawn) on
    it: its bibs were refreshed but its pixels never, so the view kept showing the old picture."""
    import cv2
    import numpy as np

    win, folder, _made = shoot
    shown = win.current_id
    qtbot.waitUntil(lambda: win.photo_view.image_loaded, timeout=5000)
    if how == "typing":
        win.type_digit("8")
        win.photo_view.setFocus()
    else:
        win.start_drawing()
    red = np.zeros((240, 320, 3), np.uint8)
    red[:, :] = (0, 0, 255)  # BGR: a red picture under the old name
    cv2.imwrite(str(folder / "photo_000.jpg"), red)
    with Store.open(folder) as other:  # another window's scan finds the new file
        other.scan()
        other.set_reviewed(shown, True)
    qtbot.waitUntil(lambda: "reviewed ✓" in win.panel.state.text(), timeout=WITHIN)
    assert win.photo_view.drawing if how == "drawing" else win.number_edit.text() == "8" and win._entry is not None
    assert _centre_rgb(win)[0] < 200  # not under the typing/drawing
    if how == "typing":
        win.number_edit.setFocus()
        win.enter_pressed()
        assert "8" in [b.number for b in win.store.bibs(shown)]  # the typed number was saved
    else:
        win.cancel_entry()
    qtbot.waitUntil(lambda: _centre_rgb(win)[0] > 200 and _centre_rgb(win)[1] < 60, timeout=WITHIN)
    assert win.current_id == shown


def test_a_bulk_change_that_replaced_the_photo_shown_shows_its_new_pixels(qtbot, shoot, monkeypatch):
    """Past BULK changed photos the window reloads everything (rebuild_queue): that re-read the photo shown's
    bibs but not its pixels, so a file another program replaced under its name kept its old picture."""
    import cv2
    import numpy as np

    from bibtagger_gui.gui import live_updates

    monkeypatch.setattr(live_updates, "BULK", 0)  # every change goes the bulk way
    win, folder, _made = shoot
    shown = win.current_id
    qtbot.waitUntil(lambda: win.photo_view.image_loaded, timeout=5000)
    red = np.zeros((240, 320, 3), np.uint8)
    red[:, :] = (0, 0, 255)
    cv2.imwrite(str(folder / "photo_000.jpg"), red)
    with Store.open(folder) as other:
        other.scan()
    qtbot.waitUntil(lambda: _centre_rgb(win)[0] > 200 and _centre_rgb(win)[1] < 60, timeout=WITHIN)
    assert win.current_id == shown


def test_a_project_file_replaced_under_the_window_is_reloaded_from_the_new_file(qtbot, shoot, tmp_path):
    """A sync tool (or the user putting a backup back) replaces project.db while the window has it open: the
    window's connection went on reading the old file, and the poll (data_version, changes_since) saw nothing.
    Now the poll notices, sets the old file's write-ahead log aside (SQLite would replay it onto the new file),
    opens the folder again from the new file and says so."""
    win, folder, _made = shoot
    shown = pid(win, 0)
    db = win.store.db_path
    backup = tmp_path / "backup.db"
    with sqlite3.connect(db) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)  # the project as it is now, with photo 0 unreviewed
    win.store.set_reviewed(shown, True)  # work done after the backup, written to the old file's log
    win.store.add_bib(shown, "555", None)
    win.refresh_photo(shown)
    assert win.live_updates.poll() == 0 and "reviewed ✓" in win.panel.state.text()
    old = win.store
    seen = messages(win)
    replacement = db.with_name("incoming.tmp")
    backup.replace(replacement)
    os.replace(replacement, db)  # how a sync tool puts its version in place
    qtbot.waitUntil(lambda: win.store is not old, timeout=WITHIN)
    assert any(m.startswith("Project reloaded: the project file") and "was replaced by another file" in m for m in seen), seen
    wait_idle(qtbot, win)
    assert win.store.db_path == db and not win.store.photo(shown).reviewed  # the new file's state, not the old log's
    assert "555" not in [b.number for b in win.store.bibs(shown)]
    assert win.current_id == shown and "reviewed ✓" not in win.panel.state.text()  # the window shows it too
    assert sorted(p.name.split(".replaced-")[0] for p in db.parent.glob("*.replaced-*")) == ["project.db", "project.db-shm", "project.db-wal"]
    (copy,) = db.parent.glob("project.db.replaced-*")  # the work done after the backup, which the new file lacks
    assert any(f"(edits the new file lacks) kept as {copy}" in m for m in seen), seen
    with contextlib.closing(sqlite3.connect(copy)) as kept:
        assert kept.execute("SELECT reviewed FROM photos WHERE id = ?", (shown,)).fetchone()[0] == 1
        assert "555" in [n for (n,) in kept.execute("SELECT number FROM bibs WHERE photo_id = ?", (shown,))]
    assert win.live_updates.poll() == 0 and win.store.replaced(win.live_updates._mark) is None



def test_a_project_file_deleted_under_the_window_is_kept_whole_before_the_folder_opens_again(qtbot, shoot):
    """project.db deleted while the window has it open (by mistake, or a sync tool's delete before its copy): the
    window's connection was the last to read the project, and the reload closed it and started an empty project.
    Now what it read -- the review and the number being typed included -- is kept as project.db.gone-<time>."""
    win, folder, _made = shoot
    shown = pid(win, 0)
    db = win.store.db_path
    win.store.set_reviewed(shown, True)
    win.refresh_photo(shown)
    assert win.live_updates.poll() == 0
    old = win.store
    seen = messages(win)
    win.number_edit.setFocus()
    win.number_edit.selectAll()
    qtbot.keyClicks(win.number_edit, "4321")  # typed, not yet entered, when the file goes
    db.unlink()
    qtbot.waitUntil(lambda: win.store is not old, timeout=WITHIN)
    wait_idle(qtbot, win)
    copies = list(db.parent.glob("project.db.gone-*"))
    assert len(copies) == 1 and any(f"kept as {copies[0]}" in m for m in seen), seen
    with contextlib.closing(sqlite3.connect(copies[0])) as kept:
        assert kept.execute("SELECT reviewed FROM photos WHERE id = ?", (shown,)).fetchone()[0] == 1
        assert "4321" in [n for (n,) in kept.execute("SELECT number FROM bibs WHERE photo_id = ?", (shown,))]


@pytest.mark.parametrize("kind", ["retyped", "new"])
def test_a_number_being_typed_when_the_project_file_is_replaced_is_saved_in_the_new_file(qtbot, shoot, tmp_path, kind):
    """The reload commits a number being typed, as closing a folder does: it went to the old file only, whose log
    is set aside, so the correction was lost without a word. It is now also written to the new file (the bib in
    its place gets it, or it is added) as an undoable edit, and the status bar says so."""
    win, folder, made = shoot
    shown = pid(win, 0)
    db = win.store.db_path
    backup = tmp_path / "backup.db"
    with sqlite3.connect(db) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)  # the copy a sync tool puts in place: the same project, as it is now
    before = {(b.number, b.box) for b in win.store.bibs(shown)}
    old, seen = win.store, messages(win)
    if kind == "retyped":
        win.edit_number()  # the selected bib's number, retyped
        retyped = win.selected_row()
    else:
        win.selected_bib = None  # a bib without a box, typed on the photo
        win.number_edit.setFocus()
        retyped = None
    win.number_edit.selectAll()
    qtbot.keyClicks(win.number_edit, "4321")
    replacement = db.with_name("incoming.tmp")
    backup.replace(replacement)
    os.replace(replacement, db)
    qtbot.waitUntil(lambda: win.store is not old, timeout=WITHIN)
    wait_idle(qtbot, win)
    after = {(b.number, b.box) for b in win.store.bibs(shown)}
    if retyped is not None:
        assert after == before - {(retyped.number, retyped.box)} | {("4321", retyped.box)}
    else:
        assert after == before | {("4321", None)}
    assert any("the number 4321 you were typing on photo_000.jpg was saved in the new file" in m for m in seen), seen
    assert win.undo_stack.count() == 1  # undoable there


@pytest.mark.parametrize("kind", ["drawn", "drawing"])
def test_a_box_drawn_when_the_project_file_is_replaced_is_put_back_on_its_photo(qtbot, shoot, tmp_path, kind):
    """The reload closes the folder: a drawn box waiting for its number (or a box being drawn) went with it without a
    word. It is put back on its photo in the new file (waiting for its number, or drawing goes on) and said."""
    from PySide6.QtCore import Qt

    win, folder, _made = shoot
    win.select_photo(pid(win, 2))
    shown = "photo_002.jpg"
    db = win.store.db_path
    backup = tmp_path / "backup.db"
    with sqlite3.connect(db) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    before = [b.number for b in win.store.bibs(pid(win, 2))]
    win.photo_view.setFocus()
    qtbot.keyClick(win.photo_view, Qt.Key.Key_B)
    qtbot.keyClick(win.photo_view, Qt.Key.Key_Right)
    placed = win.photo_view._rubber.rect()  # the box placed (not taken yet)
    if kind == "drawn":
        qtbot.keyClick(win.photo_view, Qt.Key.Key_Return)
        box = win._entry["box"]
    old, seen = win.store, messages(win)
    replacement = db.with_name("incoming.tmp")
    backup.replace(replacement)
    os.replace(replacement, db)
    qtbot.waitUntil(lambda: win.store is not old, timeout=WITHIN)
    wait_idle(qtbot, win)
    assert win.store.photo(win.current_id).relpath == shown
    reloaded = next(m for m in seen if m.startswith("Project reloaded"))
    if kind == "drawing":  # the box placed so far is back too (drawing went on from nothing: B pressed again)
        assert win.photo_view.drawing and win.photo_view._rubber is not None and win.photo_view._rubber.rect() == placed
        assert reloaded.endswith(f"; the box you were drawing on {shown}: drawing goes on (Enter takes the box, Escape cancels it)")
        win.photo_view.setFocus()
        qtbot.keyClick(win.photo_view, Qt.Key.Key_Return)
        assert win.drawn_box_waits() and not win.photo_view.drawing
        return
    assert win.drawn_box_waits() and win._entry["box"] == box
    assert reloaded.endswith(f"; the box you drew on {shown} waits for its number: type it, then Return"), reloaded
    for k in (Qt.Key.Key_6, Qt.Key.Key_1, Qt.Key.Key_Return):
        qtbot.keyClick(win.number_edit, k)
    assert sorted(b.number for b in win.store.bibs(pid(win, 2))) == sorted(before + ["61"])
    assert any(b.number == "61" and b.box == box for b in win.store.bibs(pid(win, 2)))


def test_a_box_drawn_while_the_scan_finds_its_photo_replaced_keeps_waiting(qtbot, shoot, monkeypatch):
    """The window's own scan (opening a folder) that found the file of the photo shown replaced on disk showed the
    photo again for its new pixels: that ended a drawn box waiting for its number without a word. The box stays, and
    the new pixels come once it is done."""
    import threading

    import cv2
    import numpy as np
    from PySide6.QtCore import Qt

    from bibtagger_gui.gui import workers

    win, folder, _made = shoot
    gate = threading.Event()
    scan = workers.ScanJob.__call__
    monkeypatch.setattr(workers.ScanJob, "__call__", lambda job: gate.wait(10) and scan(job))
    red = np.zeros((240, 320, 3), np.uint8)
    red[:, :] = (0, 0, 255)
    cv2.imwrite(str(folder / "photo_000.jpg"), red)  # another picture under the shown photo's name
    assert win.open_folder(folder)  # its scan waits for the gate: the box is drawn meanwhile
    shown = win.current_id
    assert win.store.photo(shown).relpath == "photo_000.jpg"
    qtbot.waitUntil(lambda: win.photo_view.image_loaded, timeout=5000)
    win.photo_view.setFocus()
    for k in (Qt.Key.Key_B, Qt.Key.Key_Right, Qt.Key.Key_Return):
        qtbot.keyClick(win.focusWidget(), k)
    assert win.drawn_box_waits()
    gate.set()
    wait_idle(qtbot, win)
    assert win.scan_replaced == ["photo_000.jpg"] and win.current_id == shown and win.drawn_box_waits()
    for k in (Qt.Key.Key_4, Qt.Key.Key_4, Qt.Key.Key_Return):
        qtbot.keyClick(win.number_edit, k)
    assert any(b.number == "44" and b.box is not None for b in win.store.bibs(shown))
    qtbot.waitUntil(lambda: _centre_rgb(win)[0] > 200 and _centre_rgb(win)[1] < 60, timeout=WITHIN)  # its new pixels
