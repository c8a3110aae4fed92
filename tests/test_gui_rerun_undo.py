"""Recognition > Re-run on Unreviewed Photos is one undo step (docs/gui.md#saving-and-the-undo-stack): it used to be
the one change of bibs that no undo reached. The job still writes each photo as it reads it (the reviewer sees the new
predictions at once); it records what each write changed, and the window pushes them as one step when it ends. Undo
puts every photo's old predictions back exactly (rows, ids, times, model version), redo the new ones; a photo changed
again after the job wrote it is left out of the step (its own later edit is undone first, as the stack says)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bibtagger_gui.core.bib import Bib  # noqa: E402
from bibtagger_gui.core.recognizer import Recognizer  # noqa: E402
from bibtagger_gui.core.store import Store  # noqa: E402
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: E402,F401

CTRL = Qt.KeyboardModifier.ControlModifier
N = 5
BOX = (10.0, 10.0, 60.0, 40.0)


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def dump(store) -> dict:
    """Every photo as the store holds it: review mark, model version, every bib row (ids, sources, times)."""
    return {p.relpath: (p.reviewed, p.model_version, tuple(store.bibs(p.id))) for p in store.photos()}


def opened(qtbot, make_window, tmp_path, monkeypatch):
    folder = tmp_path / "race"
    make_photos(folder, N)
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib(str(100 + i), BOX, 0.5)] for i in range(N)})
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    return win, folder


def new_models(monkeypatch, version: str = "det:new+read:new") -> None:
    """The models changed: other readings, another version (what a re-run is for)."""
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib(str(200 + i), BOX, 0.7), Bib("9", (70.0, 10.0, 90.0, 30.0), 0.4)]
                                    for i in range(N)})  # fmt: skip
    monkeypatch.setattr(Recognizer, "version", property(lambda self: version))


def test_a_rerun_on_unreviewed_photos_is_one_undo_step_exact_both_ways(qtbot, make_window, tmp_path, monkeypatch):
    win, folder = opened(qtbot, make_window, tmp_path, monkeypatch)
    store = win.store
    p1, p3 = store.photo_by_path("photo_001.jpg").id, store.photo_by_path("photo_003.jpg").id
    assert win.select_photo(p1)
    win.photo_view.setFocus()
    for k in (Qt.Key.Key_1, Qt.Key.Key_1, Qt.Key.Key_8, Qt.Key.Key_Return):  # a person's bib: the re-run keeps it
        key(qtbot, k)
    assert win.select_photo(p3)
    key(qtbot, Qt.Key.Key_Return)  # accepted: a re-run leaves it alone
    edits = win.undo_stack.count()
    before = dump(store)
    new_models(monkeypatch)
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    after = dump(store)
    assert win.last_job_outcome[:2] == ("recognize", "done")
    changed = sorted(rel for rel in after if after[rel] != before[rel])
    assert changed == [f"photo_{i:03d}.jpg" for i in range(N) if i != 3]  # every unreviewed photo got new readings
    assert all(after[rel][1] == "det:new+read:new" for rel in changed)
    assert win.undo_stack.count() == edits + 1
    assert win.undo_stack.undoText() == f"Re-run on Unreviewed Photos ({len(changed)} photos)"
    assert "undoes it (4 photo(s) get their old predictions back)" in win.statusBar().currentMessage()
    for _ in range(2):
        key(qtbot, Qt.Key.Key_Z, CTRL)
        assert dump(store) == before  # every photo's old predictions, ids, times and model version
        assert [b.number for b in win.items[p1].bibs] == ["118"] and win.items[p1].photo.model_version == before["photo_001.jpg"][1]
        key(qtbot, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
        assert dump(store) == after  # the re-run's very rows again
    assert sorted(b.number for b in win.items[p1].bibs) == ["118", "9"]  # the list's snapshots follow
    key(qtbot, Qt.Key.Key_Z, CTRL)
    key(qtbot, Qt.Key.Key_Z, CTRL)  # the accept before it, then the typed number: the stack goes on below
    assert not store.photo(p3).reviewed
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert [(b.number, b.source) for b in store.bibs(p1)] == [("101", "model")]


def test_a_photo_changed_after_the_rerun_wrote_it_is_left_out_of_its_undo_step(qtbot, make_window, tmp_path, monkeypatch):
    """Another program (or the reviewer) changed a photo the re-run had already written, before the re-run ended:
    the undo step would fail as a whole on it, so it is left out and keeps its new predictions; the others undo."""
    win, folder = opened(qtbot, make_window, tmp_path, monkeypatch)
    before = dump(win.store)
    new_models(monkeypatch)
    taken: list[str] = []
    real = Recognizer.recognize_path
    lock = threading.Lock()

    def reading(self, path):
        with lock:
            taken.append(Path(path).name)
            if len(taken) == N:  # the last photo: the first one, written already, is changed by someone else
                with Store.open(folder) as other:
                    other.add_bib(other.photo_by_path(taken[0]).id, "77", None)
        return real(self, path)

    monkeypatch.setattr(Recognizer, "recognize_path", reading)
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    first = taken[0]
    assert "1 photo(s) you changed after it read them keep its predictions" in win.statusBar().currentMessage()
    assert win.undo_stack.undoText() == f"Re-run on Unreviewed Photos ({N - 1} photos)"
    after = dump(win.store)
    key(qtbot, Qt.Key.Key_Z, CTRL)
    now = dump(win.store)
    assert {rel: now[rel] for rel in now if rel != first} == {rel: before[rel] for rel in before if rel != first}
    assert now[first] == after[first] and "77" in [b.number for b in now[first][2]]


def test_a_cancelled_rerun_is_one_undo_step_for_what_it_wrote(qtbot, make_window, tmp_path, monkeypatch):
    win, folder = opened(qtbot, make_window, tmp_path, monkeypatch)
    before = dump(win.store)
    new_models(monkeypatch)
    real = Recognizer.recognize_path
    taken: list[str] = []

    def reading(self, path):
        taken.append(Path(path).name)
        if len(taken) == 2:  # Cancel while the second photo is read: it is finished and written, then the run stops
            next(j for j in list(win.jobs) if j.kind == "recognize").cancel()
        return real(self, path)

    monkeypatch.setattr(Recognizer, "recognize_path", reading)
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    assert win.last_job_outcome[:2] == ("recognize", "cancelled")
    after = dump(win.store)
    assert sorted(rel for rel in after if after[rel] != before[rel]) == sorted(taken) and len(taken) == 2
    assert win.undo_stack.undoText() == "Re-run on Unreviewed Photos (2 photos)"
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert dump(win.store) == before


def test_a_long_undo_of_a_rerun_says_so_with_a_wait_cursor_and_holds_off_the_cycle_collector(qtbot, make_window, tmp_path,
                                                                                            monkeypatch):
    """Over BULK photos (here 2) the undo and redo of a re-run stop the window for a second or more (bench-app
    gui_rerun_undo): before the store is touched the status bar says what is being undone and the cursor waits; Python's
    cycle collector waits too (it ran full collections in the middle of it); all put back after, and the undo exact."""
    import gc

    from bibtagger_gui.core import photo_record
    from bibtagger_gui.gui import main_window

    win, folder = opened(qtbot, make_window, tmp_path, monkeypatch)
    before = dump(win.store)
    new_models(monkeypatch)
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    after = dump(win.store)
    monkeypatch.setattr(main_window, "BULK", 2)
    seen = []
    for name in ("revert_all", "reapply_all"):
        real = getattr(photo_record, name)

        def watched(store, records, *args, real=real):
            cursor = QApplication.overrideCursor()
            seen.append((win.statusBar().currentMessage(), cursor.shape() if cursor else None, gc.isenabled()))
            return real(store, records, *args)

        monkeypatch.setattr(photo_record, name, watched)
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert dump(win.store) == before
    assert QApplication.overrideCursor() is None and gc.isenabled()
    assert win.statusBar().currentMessage() == f"Undid Re-run on Unreviewed Photos ({N} photos)"
    key(qtbot, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert dump(win.store) == after
    assert QApplication.overrideCursor() is None and gc.isenabled()
    text = f"Re-run on Unreviewed Photos ({N} photos)…"
    assert seen == [(f"Undoing {text}", Qt.CursorShape.WaitCursor, False), (f"Redoing {text}", Qt.CursorShape.WaitCursor, False)]


@pytest.mark.parametrize("bulk", [2, None], ids=["over-BULK", "few-photos"])
def test_the_undone_and_redone_photos_are_shown_from_what_the_undo_wrote_as_a_fresh_read_would_show_them(
        qtbot, make_window, tmp_path, monkeypatch, bulk):  # fmt: skip
    """The undo and redo of a re-run put its photos into the list from the states the undo wrote
    (photo_record.PhotoState), not from a read of every photo (0.2-0.4 s of the 10,000-photo undo, bench-app
    gui_rerun_undo): the window's snapshots (bibs, review mark, version, bib count, lowest confidence), its list rows
    (over BULK in their new order; a few photos keep their rows, as after any edit), its counts and the photo shown are
    what a fresh read of the store gives, and nothing is read."""
    from bibtagger_gui.core import review
    from bibtagger_gui.core.review_index import ReviewIndex
    from bibtagger_gui.gui import main_window

    win, folder = opened(qtbot, make_window, tmp_path, monkeypatch)
    store = win.store
    p1, p3 = store.photo_by_path("photo_001.jpg").id, store.photo_by_path("photo_003.jpg").id
    assert win.select_photo(p1)
    win.photo_view.setFocus()
    for k in (Qt.Key.Key_1, Qt.Key.Key_1, Qt.Key.Key_8, Qt.Key.Key_Return):  # a person's bib (no confidence)
        key(qtbot, k)
    assert win.select_photo(p3)
    key(qtbot, Qt.Key.Key_Return)  # reviewed: left out of the re-run
    assert win.select_photo(p1)
    new_models(monkeypatch)
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    if bulk is not None:
        monkeypatch.setattr(main_window, "BULK", bulk)
    load_items, reads = review.load_items, []
    for name in ("load_items", "item_for"):  # the window's reads of photos
        real = getattr(review, name)
        monkeypatch.setattr(review, name, lambda *a, real=real, name=name: reads.append(name) or real(*a))

    def as_read_now():
        fresh = ReviewIndex(load_items(store), win.order)
        rows = [it.photo_id for it in fresh.queue(win.filter)]
        return {pid: fresh[pid] for pid in fresh}, rows if bulk else sorted(rows), store.counts(), tuple(store.bibs(p1))

    for k, mod in [(Qt.Key.Key_Z, CTRL), (Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)] * 2:
        key(qtbot, k, mod)
        rows = [it.photo_id for it in win.list_model.items]
        shown = ({pid: win.items[pid] for pid in win.items}, rows if bulk else sorted(rows), win.items.counts(),
                 tuple(win.current_bibs))  # fmt: skip
        assert shown == as_read_now() and win.current_id == p1
        assert reads == []
    redone = win.items[p1]  # a person's bib and a prediction: the count and lowest confidence are not trivial here
    assert {b.source for b in redone.bibs} == {"human", "model"} and redone.photo.bib_count == len(redone.bibs)


def test_the_undo_of_a_rerun_encodes_no_row_and_reads_no_photo_logged_unchanged_since(qtbot, make_window, tmp_path,
                                                                                     monkeypatch):
    """What the window does while the user waits on the undo or redo of a re-run (bench-app gui_rerun_undo): the rows'
    history JSON was made by the re-run's worker, and a photo the history logged no change of since the step last
    wrote it is neither read nor checked. Another program's bib added since is read and shown; its retyped prediction
    still refuses the whole undo, nothing written."""
    from bibtagger_gui.core import store as store_module

    win, folder = opened(qtbot, make_window, tmp_path, monkeypatch)
    store = win.store
    new_models(monkeypatch)
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    before_undo = dump(store)
    encoded, reads = [], []
    real_encode = store_module._JSON.encode
    monkeypatch.setattr(store_module._JSON, "encode", lambda value: encoded.append(value) or real_encode(value))
    for name in ("bibs_of", "photo_marks"):
        real = getattr(Store, name)
        monkeypatch.setattr(Store, name, lambda self, pids, real=real: reads.append(sorted(pids)) or real(self, pids))
    for mod in (CTRL, CTRL | Qt.KeyboardModifier.ShiftModifier, CTRL):
        key(qtbot, Qt.Key.Key_Z, mod)
    assert [v for v in encoded if isinstance(v, dict)] == [] and reads == []
    key(qtbot, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert dump(store) == before_undo
    p2 = store.photo_by_path("photo_002.jpg").id
    with Store.open(folder) as other:
        other.add_bib(p2, "55", None)
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert reads == [[p2], [p2]]  # that photo alone read and checked
    assert "55" in [b.number for b in win.items[p2].bibs] and "55" in [b.number for b in store.bibs(p2)]
    with Store.open(folder) as other:  # the old prediction the undo put back, retyped
        other.update_bib(next(b.id for b in other.bibs(p2) if b.source == "model"), number="66")
    changed = dump(store)
    key(qtbot, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert dump(store) == changed  # the redo refused as a whole, nothing written
    assert "changed" in win.statusBar().currentMessage()
