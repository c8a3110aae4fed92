"""F5 scans the open folder again (MainWindow.rescan_folder; docs/gui.md#changes-by-other-programs): photos copied in
while the window is open (a late card, a file still being copied), removed or renamed show up without reopening the
folder. A real window, real files, recognition answering by file name (placeholder models)."""

from __future__ import annotations

import shutil
import threading

from bibtagger_gui.core import review
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.store import Store
from tests.test_gui_live_updates import WITHIN, messages, pid, shoot, stores  # noqa: F401
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401


def _numbers(win, relpath: str) -> list[str]:
    photo = win.store.photo_by_path(relpath)
    return [b.number for b in win.store.bibs(photo.id)] if photo is not None else []


def test_photos_copied_in_while_open_show_after_f5_and_a_half_copied_one_once_complete(qtbot, make_window, tmp_path, monkeypatch):
    folder, card = tmp_path / "race", tmp_path / "card2"
    make_photos(folder, 2)
    late = make_photos(card, 2, seed=7)
    table = {f"late_{i}.jpg": [Bib(str(500 + i), box, 0.5)] for i, (_rel, _num, box) in enumerate(late)}
    fixed_predictions(monkeypatch, table)
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    said = messages(win)
    shutil.copy(card / late[0][0], folder / "late_0.jpg")
    whole = (card / late[1][0]).read_bytes()
    (folder / "late_1.jpg").write_bytes(whole[: len(whole) // 3])  # still being copied
    (folder / "photo_000.jpg").unlink()
    win.actions_by_name["refresh_queue"].trigger()
    wait_idle(qtbot, win)
    assert any("Folder scanned again: 2 new photo(s), 1 gone" in m for m in said), said
    rows = {win.list_model.data(win.list_model.index(r)) for r in range(win.list_model.rowCount())}
    assert any("late_0.jpg" in r for r in rows) and not any("photo_000.jpg" in r for r in rows)
    assert _numbers(win, "late_0.jpg") == ["500"]  # recognized
    (folder / "late_1.jpg").write_bytes(whole)  # the copy ends
    win.actions_by_name["refresh_queue"].trigger()
    wait_idle(qtbot, win)
    photo = win.store.photo_by_path("late_1.jpg")
    assert photo.error is None and _numbers(win, "late_1.jpg") == ["501"]  # read again whole, and recognized


def test_f5_during_a_paused_recognition_keeps_the_polls_going_and_says_when_the_folder_is_scanned(qtbot, shoot):
    """F5's scan waits behind the recognition under way (one job at a time), which may be paused for minutes: the
    polls waited for any scan of the window, so another window's edits went unseen (and its corrections unchecked)
    until the recognition ended, and nothing said the folder was not scanned yet."""
    win, folder, _made = shoot
    win.toggle_recognition_pause()
    assert win.start_recognition(review.rerun_candidates(win.store.photos())) and win.busy
    said = messages(win)
    win.actions_by_name["refresh_queue"].trigger()
    assert [j.kind for j in win.jobs] == ["recognize", "scan"]
    assert any("scanned again once the recognition under way is done (paused" in m for m in said), said
    with Store.open(folder) as other:
        other.set_reviewed(pid(win, 2), True)
    qtbot.waitUntil(lambda: win.items[pid(win, 2)].photo.reviewed, timeout=WITHIN)  # the poll did not wait
    win.toggle_recognition_pause()  # resumed: the recognition ends, then the scan runs
    wait_idle(qtbot, win)
    assert any(m.startswith("Folder scanned again") for m in said), said


def test_f5_again_while_its_scan_waits_for_the_recognition_says_so_again(qtbot, shoot):
    """F5 pressed again while its scan still waited behind a (paused) recognition did nothing without a word (F5
    during a scan under way says so): it says again that the folder is scanned once the recognition is done."""
    win, _folder, _made = shoot
    win.toggle_recognition_pause()
    assert win.start_recognition(review.rerun_candidates(win.store.photos())) and win.busy
    win.actions_by_name["refresh_queue"].trigger()
    win.statusBar().clearMessage()  # its 10 s are over
    said = messages(win)
    win.actions_by_name["refresh_queue"].trigger()
    assert [j.kind for j in win.jobs] == ["recognize", "scan"]  # still one scan
    assert any("scanned again once the recognition under way is done (paused" in m for m in said), said
    win.toggle_recognition_pause()
    wait_idle(qtbot, win)


def test_what_f5_s_scan_left_out_is_said_with_what_it_found(qtbot, make_window, tmp_path, monkeypatch):
    """The scan's own notes (a file in a format it cannot read, one it could not take in, a photo replaced by
    another picture) went up, then "Folder scanned again: …" took their place at once (the HEIC note is not among
    the short notes said again after the recognition)."""
    folder, card = tmp_path / "race", tmp_path / "card2"
    make_photos(folder, 2)
    (late,) = make_photos(card, 1, seed=7)
    fixed_predictions(monkeypatch, {})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    said = messages(win)
    shutil.copy(card / late[0], folder / "late_0.jpg")
    (folder / "IMG_0001.HEIC").write_bytes(b"\0\0\0\x18ftypheic")  # a phone's photo copied in with it
    win.actions_by_name["refresh_queue"].trigger()
    wait_idle(qtbot, win)
    assert win.scan_unsupported  # the scan's note of it (MainWindow._note_scan)
    (found,) = [m for m in said if m.startswith("Folder scanned again")]
    assert found.startswith("Folder scanned again: 1 new photo(s) (recognized next)") and win.scan_unsupported in found


def test_f5_while_the_folder_s_scan_runs_says_it_is_not_scanned_again(qtbot, make_window, tmp_path, monkeypatch):
    """The first scan of a large folder reads every file (minutes): a card copied in meanwhile may come after it listed
    the folder, and F5 then did nothing (no second scan) without a word."""
    folder = tmp_path / "race"
    make_photos(folder, 2)
    fixed_predictions(monkeypatch, {})
    going, real = threading.Event(), Store.scan

    def slow_scan(self, *args, **kwargs):
        going.wait(10)  # a large folder's scan, under way
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "scan", slow_scan)
    win = make_window()
    win.open_folder(folder)
    qtbot.waitUntil(lambda: win.jobs[0].task.started, timeout=WITHIN)
    said = messages(win)
    win.actions_by_name["refresh_queue"].trigger()
    going.set()
    wait_idle(qtbot, win)
    assert any(m.startswith("The folder is being scanned already: files copied in since") for m in said), said
