"""The open folder itself goes while the window has it open: renamed or moved, deleted, its drive unplugged
(gui/live_updates.py, ``LiveUpdates._folder_gone``; docs/gui.md#changes-by-other-programs).

A real window on real folders and stores; the folder is renamed, deleted or emptied on disk as a file manager or an
unplugged drive would. Every edit, a number being typed included, must stay saved and the user be told where.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bibtagger_gui.core.imageio import ImageError
from bibtagger_gui.core.recognizer import Recognizer
from bibtagger_gui.core.store import Store
from bibtagger_gui.gui import live_updates
from bibtagger_gui.gui.live_updates import POLL_MS
from tests.test_gui_live_updates import WITHIN, messages, pid, table
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401
from tests.test_store import fill_up

GONE_FOR = 2 * POLL_MS  # the tests' GONE_FOR_MS: the rule, not its 5 s (each test waited that long at least once)
GONE = WITHIN + GONE_FOR  # it must stay gone that long, at every poll, before the window closes it


@pytest.fixture(autouse=True)
def gone_for(monkeypatch):
    monkeypatch.setattr(live_updates, "GONE_FOR_MS", GONE_FOR)


def _open(qtbot, make_window, monkeypatch, folder, made):
    fixed_predictions(monkeypatch, table(made))
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    win.select_photo(pid(win, 0))
    return win


@pytest.fixture
def in_folder(qtbot, make_window, tmp_path, monkeypatch):
    """A window on a folder whose project lies in the folder (FOLDER/.bibtagger), a number typed on its first photo."""
    monkeypatch.delenv("BIBTAGGER_STORE_DIR", raising=False)
    folder = tmp_path / "race"
    made = make_photos(folder, 4)
    win = _open(qtbot, make_window, monkeypatch, folder, made)
    win.store.set_reviewed(pid(win, 1), True)
    win.type_digit("8")
    win.number_edit.insert("21")  # typed, not entered, when the folder goes
    return win, folder


def _bib_numbers(db, relpath: str) -> list[str]:
    with Store(db) as store:
        return [b.number for b in store.bibs(store.photo_by_path(relpath).id)]


def test_a_folder_renamed_while_open_is_closed_with_where_its_edits_are_not_reopened_as_missing(qtbot, in_folder, tmp_path):
    win, folder = in_folder
    seen = messages(win)
    folder.rename(tmp_path / "race-sorted")
    qtbot.waitUntil(lambda: win.store is None and any("is gone" in m for m in seen), timeout=GONE)
    said = next(m for m in seen if "is gone" in m)
    assert "renamed, moved, deleted or its drive unplugged" in said and "the number 821 you were typing included" in said
    assert "Cannot open" not in " ".join(seen) and win.windowTitle() == "bibtagger"
    assert not folder.exists()  # nothing made again at the old place
    moved = tmp_path / "race-sorted" / ".bibtagger" / "project.db"
    assert "821" in _bib_numbers(moved, "photo_000.jpg")  # the typed number went with the folder
    with Store(moved) as store:
        assert store.photo_by_path("photo_001.jpg").reviewed


def test_a_folder_emptied_under_the_window_keeps_its_project_and_makes_no_new_one(qtbot, in_folder):
    """A drive unplugged from a mount point that stays (the folder is there, empty): reopening made a new, empty
    project in the bare mount point and showed nothing."""
    win, folder = in_folder
    seen = messages(win)
    for path in folder.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    qtbot.waitUntil(lambda: win.store is None and any("is gone" in m for m in seen), timeout=GONE)
    assert not (folder / ".bibtagger").exists() and win.list_model.rowCount() == 0
    said = next(m for m in seen if "is gone" in m)
    kept = said.split("kept as ")[1].split("; ")[0].split(". ")[0]
    assert "821" in _bib_numbers(kept, "photo_000.jpg")  # the copy holds the number being typed


def test_a_folder_deleted_whose_project_lies_elsewhere_is_closed_and_names_the_project(qtbot, make_window, tmp_path, monkeypatch):
    """The project in a store folder (BIBTAGGER_STORE_DIR, a read-only card's fallback): nothing under the window
    changed, so it went on showing a folder that was no longer there."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "card"
    made = make_photos(folder, 3)
    win = _open(qtbot, make_window, monkeypatch, folder, made)
    db = win.store.db_path
    seen = messages(win)
    shutil.rmtree(folder)
    qtbot.waitUntil(lambda: win.store is None, timeout=GONE)
    said = next(m for m in seen if "is gone" in m)
    assert str(db) in said and "no such folder" in said
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_folder_away_for_a_moment_is_not_closed(qtbot, in_folder, tmp_path):
    """A network share reconnecting or a drive waking up is away for a second or two: the first poll that missed
    the folder closed it (and the user had to open it again). It must stay gone for GONE_FOR_MS first."""
    win, folder = in_folder
    seen, looked = messages(win), []
    look = win.live_updates._folder_gone
    win.live_updates._folder_gone = lambda: looked.append(1) or look()  # the poll looks it up each time
    away = tmp_path / "away"
    folder.rename(away)
    qtbot.waitUntil(lambda: bool(looked), timeout=WITHIN)  # a poll found it gone (a fixed wait missed it on a loaded machine)
    away.rename(folder)
    qtbot.wait(GONE_FOR + 2 * POLL_MS)
    assert win.store is not None and not any("is gone" in m for m in seen)
    assert win.number_edit.text() == "821"  # the typing goes on where it was
    folder.rename(away)  # gone for good: closed, as above
    qtbot.waitUntil(lambda: win.store is None and any("is gone" in m for m in seen), timeout=GONE)


def test_a_box_drawn_with_no_number_is_not_said_saved_when_the_folder_goes(qtbot, in_folder, tmp_path, monkeypatch):
    """A box drawn and waiting for its number (none typed) has nothing to save: the message said "Every edit made
    here was saved …, the box you drew included"."""
    monkeypatch.setattr(live_updates, "GONE_FOR_MS", 0)
    win, folder = in_folder
    win.cancel_entry()
    win._box_drawn((10.0, 10.0, 40.0, 40.0))
    assert win.drawn_box_waits()
    seen = messages(win)
    folder.rename(tmp_path / "race-sorted")
    qtbot.waitUntil(lambda: win.store is None, timeout=WITHIN)
    said = next(m for m in seen if "is gone" in m)
    assert "included" not in said
    assert "The box you drew on photo_000.jpg had no number yet, so it was not saved: draw it again there" in said


def test_a_number_that_could_not_be_saved_as_the_folder_went_is_not_said_saved(qtbot, in_folder, tmp_path, monkeypatch):
    """The number being typed is saved as the folder closes; a save that fails (a full disk here; an unplugged drive
    answers an I/O error) was still said as "…, the number 821 you were typing included"."""
    monkeypatch.setattr(live_updates, "GONE_FOR_MS", 0)
    win, folder = in_folder
    seen = messages(win)
    fill_up(win.store)
    folder.rename(tmp_path / "race-sorted")
    qtbot.waitUntil(lambda: win.store is None, timeout=WITHIN)
    said = next(m for m in seen if "is gone" in m)
    assert "included" not in said and any(m.startswith("Not saved") and "disk" in m for m in seen)
    assert "The number 821 you were typing on photo_000.jpg could not be saved (said before): type it again" in said
    assert "821" not in _bib_numbers(tmp_path / "race-sorted" / ".bibtagger" / "project.db", "photo_000.jpg")


def test_f5_while_the_folder_is_away_makes_no_new_project_in_its_mount_point(qtbot, in_folder):
    """A drive unplugged from a mount point that stays: F5 before the folder was closed scanned the bare mount point,
    which made a new, empty project there; the window then took the folder as back, never closed it, and went on
    writing to a project file no longer on any disk."""
    win, folder = in_folder
    win.cancel_entry()
    seen = messages(win)
    for path in folder.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    win.actions_by_name["refresh_queue"].trigger()
    wait_idle(qtbot, win)
    assert not (folder / ".bibtagger").exists()
    assert any("cannot be read now" in m and "not scanned" in m for m in seen), seen
    qtbot.waitUntil(lambda: win.store is None and any("is gone" in m for m in seen), timeout=GONE)


def test_jobs_started_while_the_folder_is_away_open_nothing_there(qtbot, in_folder, tmp_path):
    """A drive unplugged from a mount point that stays: Re-run on Unreviewed Photos, a batch re-run, a batch mark, an
    import and an export started before the window closed the folder opened it by its path (a new, empty project in
    the bare mount point) or wrote there; each is refused, said as F5 says it, and the folder is then closed as ever."""
    from bibtagger_gui.core.photo_batch import BatchAction

    win, folder = in_folder
    win.cancel_entry()
    seen = messages(win)
    win.list_view.selectAll()
    for path in folder.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert win.rerun_unreviewed() is False
    assert win.batch_controller.trigger(BatchAction.RERUN) is False
    assert win.batch_controller.trigger(BatchAction.MARK_REVIEWED) is False
    labels = tmp_path / "server.json"
    relpath = win.store.photo(pid(win, 0)).relpath
    labels.write_text(f'[{{"image": "{relpath}", "width": 320, "height": 240, "bibs": []}}]', encoding="utf-8")
    win.import_controller.interactive = win.export_controller.interactive = False
    assert win.import_controller.import_file(labels) is None
    assert win.export_controller.trigger("bibcsv") is None
    win.keywords_controller.interactive = False
    win.keywords_controller.trigger()
    assert "Keywords not written" in win.keywords_controller.last_message
    assert win.finetune_controller.trigger() is None and "Improve Models not started" in win.finetune_controller.last_message
    wait_idle(qtbot, win)
    assert not (folder / ".bibtagger").exists()  # no project made in the bare mount point
    refused = [m for m in seen if "cannot be read now" in m]
    for what in ("Re-run not started", "Re-run Recognition not done", "Mark Reviewed not done", "Import not started", "Export not started"):
        assert any(what.lower() in m.lower() for m in refused), (what, seen)
    assert "Export not started" in win.export_controller.last_message
    qtbot.waitUntil(lambda: win.store is None and any("is gone" in m for m in seen), timeout=GONE)


def test_a_job_queued_when_the_folder_went_opens_nothing_there(qtbot, in_folder):
    """A scan and a recognition queued (one job at a time) when the drive was unplugged from its mount point: each
    opened the folder's project by path as it started, which made a new, empty one in the bare mount point; each now
    ends, said, without opening anything."""
    import threading

    from bibtagger_gui.gui.workers import ScanJob

    win, folder = in_folder
    win.cancel_entry()
    seen = messages(win)
    hold = threading.Event()
    win.start_job(ScanJob(folder, win.generation.value, win.generation, hold=hold))
    win.start_recognition([pid(win, 2), pid(win, 3)])
    for path in folder.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    hold.set()
    wait_idle(qtbot, win)
    assert not (folder / ".bibtagger").exists()
    assert any("cannot be read now" in m and "not scanned" in m for m in seen), seen
    assert any("cannot be read now" in m and "nothing recognized" in m for m in seen), seen


def test_photos_recognized_while_the_folder_is_away_for_a_moment_are_not_marked_unreadable(qtbot, make_window, tmp_path,
                                                                                            monkeypatch):
    """The window waits GONE_FOR_MS before closing a folder that went, but its recognition went on meanwhile: each
    photo it reached was marked "could not be read" (no such file) for good -- never recognized again on opening, the
    review showing it unreadable -- after a share's hiccup. The recognition waits for the folder and goes on."""
    monkeypatch.delenv("BIBTAGGER_STORE_DIR", raising=False)
    folder, away = tmp_path / "race", tmp_path / "away"
    made = make_photos(folder, 6)
    win = _open(qtbot, make_window, monkeypatch, folder, made)
    tried = []

    def read(self, path):  # as the models' reader: a file it cannot open is an ImageError
        if not tried:
            folder.rename(away)  # the share drops as the re-run reads its first photo
        tried.append(Path(path).name)
        if not Path(path).exists():
            raise ImageError(path, "no such file")
        return []

    monkeypatch.setattr(Recognizer, "recognize_path", read)
    assert win.rerun_unreviewed()
    qtbot.waitUntil(lambda: bool(tried), timeout=WITHIN)
    qtbot.wait(POLL_MS // 2)
    away.rename(folder)  # back within GONE_FOR_MS
    wait_idle(qtbot, win)
    assert win.store is not None
    assert [p.relpath for p in win.store.photos() if p.error] == []
    assert all(p.model_version is not None for p in win.store.photos())


def test_a_recognition_waiting_for_a_folder_gone_for_good_ends_with_it(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.delenv("BIBTAGGER_STORE_DIR", raising=False)
    folder, away = tmp_path / "race", tmp_path / "away"
    made = make_photos(folder, 3)
    win = _open(qtbot, make_window, monkeypatch, folder, made)
    seen, tried = messages(win), []

    def read(self, path):
        if not tried:
            folder.rename(away)
        tried.append(Path(path).name)
        raise ImageError(path, "no such file")

    monkeypatch.setattr(Recognizer, "recognize_path", read)
    assert win.rerun_unreviewed()
    qtbot.waitUntil(lambda: win.store is None and not win.jobs, timeout=GONE)  # closed, the job ended with it
    assert any("is gone" in m for m in seen) and len(tried) == 1
    with Store.open(away) as store:
        assert [p.relpath for p in store.photos() if p.error] == []
