"""Resuming where the user left off (gui/resume.py, docs/gui.md#resuming-where-you-left-off): the window's
geometry and, per folder, the photo shown, the filter and the search, given back on a restart, a reopen and
Open Recent, written as they change (a killed app keeps them), never in the photo folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, QSize, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402

from bibtagger_gui.core.bib import Bib  # noqa: E402
from bibtagger_gui.core.review import ReviewFilter  # noqa: E402
from bibtagger_gui.gui import resume  # noqa: E402
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: E402,F401

N = 6


def _shoot(folder: Path, monkeypatch) -> None:
    made = make_photos(folder, N)
    fixed_predictions(monkeypatch, {rel: [Bib(number, box, 0.9)] for rel, number, box in made})


def _open(qtbot, win, folder: Path) -> None:
    assert win.open_folder(folder)
    wait_idle(qtbot, win)


def _restarted(qtbot, settings, models):
    """A new window as run_gui makes it: the saved geometry given back before it is shown."""
    from bibtagger_gui.gui.main_window import MainWindow

    win = MainWindow(models_dir=models, settings=settings)
    qtbot.addWidget(win)
    win.resume.restore_window()
    win.show()
    qtbot.waitExposed(win)
    return win


def _rel(win) -> str:
    return win.items[win.current_id].photo.relpath


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".bibtagger" not in p.parts)


def _on_screen(win) -> bool:
    """The whole window (its client area: Qt's restore leaves the frame a pixel over the edge) on a screen."""
    return any(s.availableGeometry().contains(win.geometry()) for s in QGuiApplication.screens())


def test_a_restart_and_open_recent_give_back_photo_filter_search_and_geometry(qtbot, gui_env, tmp_path, monkeypatch,
                                                                              placeholder_models_dir):
    race, other = tmp_path / "race", tmp_path / "other"
    _shoot(race, monkeypatch)
    make_photos(other, 2, seed=3)
    before = _files(race)
    first = _restarted(qtbot, gui_env, placeholder_models_dir)
    _open(qtbot, first, race)
    first.set_filter(ReviewFilter.UNREVIEWED)
    first.search_edit.setText("10*")
    assert first.select_photo(first.store.photo_by_path("photo_004.jpg").id)
    first.resize(700, 500)
    first.move(40, 30)
    first.centralWidget().setSizes([150, 400, 150])
    qtbot.wait(50)
    geometry, sizes = first.geometry(), first.centralWidget().sizes()
    first.close()  # a clean quit writes at once

    win = _restarted(qtbot, gui_env, placeholder_models_dir)
    assert win.geometry() == geometry and win.centralWidget().sizes() == sizes
    messages: list[str] = []
    win.statusBar().messageChanged.connect(lambda m: messages.append(m) if m else None)
    assert win.open_folder(race)  # `bibtagger race` and the start's recent folder go through open_folder
    assert _rel(win) == "photo_004.jpg"  # at once, not only after the scan
    assert win.filter is ReviewFilter.UNREVIEWED and win.filter_box.currentData() == "unreviewed"
    assert win.search_edit.text() == "10*"
    assert any(m.startswith("Back at photo_004.jpg") for m in messages)
    wait_idle(qtbot, win)
    assert _rel(win) == "photo_004.jpg"  # the scan's and the recognition's queue rebuilds keep it

    # Open Recent: another folder in between, then back to this one, on another photo
    assert win.select_photo(win.store.photo_by_path("photo_002.jpg").id)
    _open(qtbot, win, other)
    assert win.search_edit.text() == "" and win.folder == other.resolve()
    win._fill_recent()
    (recent,) = [a for a in win.recent_menu.actions() if a.text() == str(race.resolve())]
    recent.trigger()
    assert win.folder == race.resolve() and _rel(win) == "photo_002.jpg" and win.search_edit.text() == "10*"
    wait_idle(qtbot, win)
    # nothing of it went into the photo folder or the project's history
    assert _files(race) == before
    assert [h.after for h in win.store.history() if h.action == "meta"] == [{"folder": str(race.resolve())}]  # the store's own


def test_a_photo_gone_since_falls_back_to_the_queue_head_with_a_message(qtbot, make_window, tmp_path, monkeypatch):
    race = tmp_path / "race"
    _shoot(race, monkeypatch)
    win = make_window()
    _open(qtbot, win, race)
    assert win.select_photo(win.store.photo_by_path("photo_003.jpg").id)
    win.close()
    (race / "photo_003.jpg").unlink()

    win = make_window()
    messages: list[str] = []
    win.statusBar().messageChanged.connect(lambda m: messages.append(m) if m else None)
    assert win.open_folder(race)
    assert win.current_id == win.list_model.item(0).photo_id  # its file is gone: not shown, even before the scan
    wait_idle(qtbot, win)
    assert win.current_id == win.list_model.item(0).photo_id and _rel(win) != "photo_003.jpg"
    said = [m for m in messages if "photo_003.jpg" in m]
    assert said and "no longer in this folder" in said[0] and "first photo of the queue" in said[0]


def test_a_photo_renamed_since_is_found_by_its_id_after_the_scan(qtbot, make_window, tmp_path, monkeypatch):
    race = tmp_path / "race"
    _shoot(race, monkeypatch)
    win = make_window()
    _open(qtbot, win, race)
    pid = win.store.photo_by_path("photo_002.jpg").id
    assert win.select_photo(pid)
    qtbot.waitUntil(lambda: not win.resume.timer.isActive())  # written
    (race / "day2").mkdir()
    (race / "photo_002.jpg").rename(race / "day2" / "finish.jpg")
    _open(qtbot, win, race)  # a reopen (File > Open Recent) in the same session
    assert win.current_id == pid and _rel(win) == "day2/finish.jpg"  # the scan re-matched it by its hash


def test_a_folder_renamed_as_a_whole_is_recognised_by_its_project(qtbot, make_window, tmp_path, monkeypatch):
    """The state is kept per path, but a shoot folder renamed or moved as a whole carries its store (and its
    ``created`` stamp): the project is recognised and the photo, filter and search come back."""
    race = tmp_path / "race"
    _shoot(race, monkeypatch)
    win = make_window()
    _open(qtbot, win, race)
    project = win.store.get_meta("created")
    win.search_edit.setText("10*")
    pid = win.store.photo_by_path("photo_003.jpg").id
    assert win.select_photo(pid) and win.list_model.item(0).photo_id != pid
    win.close()
    moved = tmp_path / "2026" / "race-renamed"
    moved.parent.mkdir()
    race.rename(moved)

    win = make_window()
    messages: list[str] = []
    win.statusBar().messageChanged.connect(lambda m: messages.append(m) if m else None)
    assert win.open_folder(moved)
    assert win.store.get_meta("created") == project  # the same project database, under another path
    assert win.current_id == pid and _rel(win) == "photo_003.jpg" and win.search_edit.text() == "10*"
    assert any(m.startswith("Back at photo_003.jpg") for m in messages)
    wait_idle(qtbot, win)
    assert _rel(win) == "photo_003.jpg"

    # a project made anew (another database) under a path with no state of its own starts at the head
    other = tmp_path / "other"
    _shoot(other, monkeypatch)
    win = make_window()
    _open(qtbot, win, other)
    assert win.current_id == win.list_model.item(0).photo_id and win.search_edit.text() == ""


def test_a_reviewed_photo_the_filter_hides_now_leaves_the_filter_and_says_so(qtbot, make_window, tmp_path, monkeypatch):
    race = tmp_path / "race"
    _shoot(race, monkeypatch)
    win = make_window()
    _open(qtbot, win, race)
    win.set_filter(ReviewFilter.UNREVIEWED)
    pid = win.store.photo_by_path("photo_001.jpg").id
    assert win.select_photo(pid)
    qtbot.waitUntil(lambda: not win.resume.timer.isActive())
    win.store.set_reviewed(pid, True)  # e.g. accepted from another window since
    _open(qtbot, win, race)
    assert win.filter is ReviewFilter.UNREVIEWED and win.current_id == win.list_model.item(0).photo_id
    msg = win.resume.last_message
    assert "photo_001.jpg" in msg and "hidden by the filter 'Unreviewed'" in msg


CHILD = textwrap.dedent(
    """
    import sys, time
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    from bibtagger_gui.core.bib import Bib
    from bibtagger_gui.core.recognizer import Recognizer
    from bibtagger_gui.core.review import ReviewFilter
    from bibtagger_gui.gui.main_window import MainWindow

    Recognizer.recognize_path = lambda self, path: [Bib("1" + path.name[-5], (5.0, 5.0, 50.0, 30.0), 0.9)]
    folder, models, settings = sys.argv[1:4]
    app = QApplication([])
    win = MainWindow(models_dir=models, settings=QSettings(settings, QSettings.Format.IniFormat))
    win.show()
    assert win.open_folder(folder)
    deadline = time.time() + 60
    while win.busy and time.time() < deadline:
        app.processEvents()
        time.sleep(0.01)
    win.set_filter(ReviewFilter.NO_BIB)
    win.set_filter(ReviewFilter.ALL)
    win.search_edit.setText("1*")
    assert win.select_photo(win.store.photo_by_path("photo_004.jpg").id)
    print("READY", flush=True)
    app.exec()  # runs until killed: no closeEvent, no clean quit
    """
)


def test_a_killed_app_still_gives_back_the_last_photo_shown(qtbot, gui_env, tmp_path, monkeypatch, placeholder_models_dir):
    race = tmp_path / "race"
    make_photos(race, N)
    ini = tmp_path / "killed.ini"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), BIBTAGGER_KEYMAP=str(tmp_path / "no-keymap.json"),
               BIBTAGGER_STORE_DIR=str(tmp_path / "stores"), PYTHONPATH=str(Path(__file__).parents[1]))  # fmt: skip
    args = [sys.executable, "-c", CHILD, str(race), str(placeholder_models_dir), str(ini)]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    key = f"resume/folders/{resume.folder_key(race.resolve())}/relpath"
    try:
        line = child.stdout.readline()
        assert line.startswith("READY"), line or child.stderr.read()
        deadline = time.monotonic() + 20  # written while it runs, within SAVE_DELAY_MS
        while QSettings(str(ini), QSettings.Format.IniFormat).value(key) != "photo_004.jpg":
            assert time.monotonic() < deadline and child.poll() is None, "not written while the app ran"
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", env["BIBTAGGER_STORE_DIR"])
    fixed_predictions(monkeypatch, {})
    win = _restarted(qtbot, QSettings(str(ini), QSettings.Format.IniFormat), placeholder_models_dir)
    _open(qtbot, win, race)
    assert _rel(win) == "photo_004.jpg" and win.search_edit.text() == "1*"


def test_a_burst_of_changes_is_one_write(qtbot, make_window, tmp_path, monkeypatch):
    race = tmp_path / "race"
    _shoot(race, monkeypatch)
    win = make_window()
    _open(qtbot, win, race)
    qtbot.waitUntil(lambda: not win.resume.timer.isActive())
    writes, start = win.resume.writes, time.monotonic()
    win.search_edit.setFocus()
    qtbot.keyClicks(win.search_edit, "10*")  # one keystroke at a time, each rebuilding the list
    for _ in range(N):
        win.step_photo(1)
    took_ms = (time.monotonic() - start) * 1000
    qtbot.waitUntil(lambda: not win.resume.timer.isActive())
    # 3 keystrokes and 6 steps: one write per SAVE_DELAY_MS at most (one or two on any but a crawling machine)
    assert 1 <= win.resume.writes - writes <= took_ms // resume.SAVE_DELAY_MS + 2 < 3 + N
    saved = win.resume._read(resume.folder_key(win.folder))
    assert saved.search == "10*" and saved.relpath == _rel(win) == win.list_model.item(N - 1).photo.relpath


def test_an_off_screen_saved_position_comes_back_on_screen(qtbot, gui_env, placeholder_models_dir):
    first = _restarted(qtbot, gui_env, placeholder_models_dir)
    first.resize(700, 500)
    first.move(5000, 4000)  # on a monitor that will be unplugged
    qtbot.waitUntil(lambda: first.pos().x() == 5000)
    assert not _on_screen(first)
    first.close()

    win = _restarted(qtbot, gui_env, placeholder_models_dir)
    qtbot.waitUntil(lambda: _on_screen(win))
    assert (win.width(), win.height()) == (700, 500)  # the saved size, on an attached screen


def test_the_on_screen_check_moves_a_window_whose_title_bar_is_on_no_screen(qtbot, gui_env, placeholder_models_dir):
    win = _restarted(qtbot, gui_env, placeholder_models_dir)
    small = win.minimumSizeHint().expandedTo(QSize(600, 400))  # a small window (never below its minimum)
    win.resize(small)
    win.move(30, 40)
    qtbot.waitUntil(lambda: win.pos().x() == 30)
    assert not resume.ensure_on_screen(win) and win.pos().x() == 30  # on screen: left alone
    win.move(-5000, 4000)
    qtbot.waitUntil(lambda: win.pos().x() == -5000)
    assert resume.ensure_on_screen(win)
    assert _on_screen(win) and win.size() == small


def test_a_settings_file_that_cannot_be_written_costs_nothing_else(qtbot, gui_env, tmp_path, monkeypatch, placeholder_models_dir, caplog):
    race = tmp_path / "race"
    _shoot(race, monkeypatch)
    (tmp_path / "afile").write_text("x")
    settings = QSettings(str(tmp_path / "afile" / "s.ini"), QSettings.Format.IniFormat)  # a file where a folder must be
    win = _restarted(qtbot, settings, placeholder_models_dir)
    _open(qtbot, win, race)
    win.step_photo(1)
    win.resume.flush()
    assert "settings not written" in caplog.text
    win.step_photo(1)
    assert win.current_row() == 2 and win.store is not None


def test_a_maximized_window_comes_back_maximized(qtbot, gui_env, placeholder_models_dir):
    first = _restarted(qtbot, gui_env, placeholder_models_dir)
    first.setWindowState(Qt.WindowState.WindowMaximized)
    qtbot.waitUntil(lambda: first.isMaximized())
    first.close()
    win = _restarted(qtbot, gui_env, placeholder_models_dir)
    qtbot.waitUntil(lambda: win.isMaximized())
