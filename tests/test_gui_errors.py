"""Unexpected errors, the log file and the Help menu (docs/gui.md#unexpected-errors, #log-file, #help-menu).

The app's exception hooks are installed only inside each test's body (``error_report.installed``) and
put back when it ends, so pytest-qt's own capture of exceptions in Qt slots (and pytest's of thread
exceptions) works in every other test; each test checks that the hooks are back.
"""

from __future__ import annotations

import json
import logging
import sys
import threading

import pytest
from PySide6.QtCore import QThread, QTimer, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from bibtagger_gui import __version__
from bibtagger_gui.core import applog
from bibtagger_gui.gui import error_report
from bibtagger_gui.gui.error_report import ErrorDialog, ErrorReporter, installed
from bibtagger_gui.gui.keymap import DEFAULT_KEYMAP
from bibtagger_gui.gui.threads import WorkQueue
from tests.test_gui_a11y import _usable_widgets
from tests.test_gui_support import gui_env, make_window  # noqa: F401


@pytest.fixture
def file_log(tmp_path):
    """The log file in tmp_path (the real handler), removed afterwards."""
    path = applog.setup_file_log(tmp_path / "logs")
    assert path is not None
    yield path
    applog.close_file_log()


def _error_dialogs() -> list[ErrorDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, ErrorDialog) and w.isVisible()]


def _close_error_dialogs(qtbot) -> None:
    for d in _error_dialogs():
        d.close()
    qtbot.waitUntil(lambda: not _error_dialogs(), timeout=3000)


def _read(path) -> str:
    for h in logging.getLogger(applog.LOGGER).handlers:
        h.flush()
    return path.read_text(encoding="utf-8")


def slot_that_fails() -> None:
    raise RuntimeError("the review queue lost photo 17")


def test_an_exception_in_a_slot_is_logged_and_shown_once_in_a_dialog_naming_the_log(qtbot, qapp, file_log):
    reporter = ErrorReporter(file_log, None, "bibtagger: test versions")
    hooks = (sys.excepthook, threading.excepthook)
    with installed(reporter):
        QTimer.singleShot(0, slot_that_fails)  # called by Qt's event loop: an exception in a slot
        qtbot.waitUntil(lambda: len(_error_dialogs()) == 1, timeout=5000)
    assert (sys.excepthook, threading.excepthook) == hooks  # pytest's and pytest-qt's hooks are back
    dialog = _error_dialogs()[0]
    try:
        text = dialog.message.text()
        assert "RuntimeError: the review queue lost photo 17" in text
        assert str(file_log) in text  # the dialog names the log file
        assert "edits up to now are saved" in text
        assert not dialog.isModal()
        assert "slot_that_fails" in dialog.details.toPlainText()  # the traceback, behind Show Details
        assert not dialog.details.isVisible()
        dialog.toggle.click()
        assert dialog.details.isVisible()
        dialog.copy_button.click()  # Copy Details: message, versions and traceback for a bug report
        copied = QGuiApplication.clipboard().text()
        assert "slot_that_fails" in copied and "bibtagger: test versions" in copied
        logged = _read(file_log)
        assert "ERROR bibtagger_gui.gui.errors" in logged and "Traceback" in logged
        assert 'in slot_that_fails\n    raise RuntimeError("the review queue lost photo 17")' in logged
        unnamed = [type(w).__name__ for w in _usable_widgets(dialog) if not w.accessibleName() or not w.toolTip()]
        assert unnamed == []
    finally:
        _close_error_dialogs(qtbot)


def test_the_same_exception_again_opens_no_second_dialog(qtbot, qapp, file_log):
    reporter = ErrorReporter(file_log, None, "")
    with installed(reporter):
        QTimer.singleShot(0, slot_that_fails)
        qtbot.waitUntil(lambda: len(_error_dialogs()) == 1, timeout=5000)
        first = _error_dialogs()[0]
        for _ in range(5):  # a storm while the dialog is open: counted in it, no new window
            QTimer.singleShot(0, slot_that_fails)
        qtbot.waitUntil(lambda: sum(reporter.counts.values()) == 6, timeout=5000)
        qtbot.wait(50)  # the queued reports are shown
        assert _error_dialogs() == [first]
        assert "happened again (6 times" in first.more.text()
        _close_error_dialogs(qtbot)
        QTimer.singleShot(0, slot_that_fails)  # and after it was closed: still no second dialog
        qtbot.waitUntil(lambda: sum(reporter.counts.values()) == 7, timeout=5000)
        qtbot.wait(50)
        assert _error_dialogs() == [] and reporter.dialogs_opened == 1
    logged = _read(file_log)
    assert logged.count("Traceback") == error_report.FULL_REPEATS_LOGGED and "Same unexpected error again (7 times)" in logged


class FailingQThread(QThread):
    def run(self) -> None:
        raise ValueError("keyword worker broke")


@pytest.mark.parametrize("kind", ["workqueue", "thread", "qthread"])
def test_a_worker_exception_is_shown_on_the_ui_thread(qtbot, qapp, file_log, kind):
    reporter = ErrorReporter(file_log, None, "")
    hooks = (sys.excepthook, threading.excepthook)

    def job() -> None:
        raise ValueError("keyword worker broke")

    with installed(reporter):
        if kind == "workqueue":  # the GUI's jobs, thumbnails and photo loads run here
            pool = WorkQueue(1, name="jobs")
            pool.submit(job)
        elif kind == "thread":  # exports run on a plain Python thread
            worker = threading.Thread(target=job, name="bibtagger-export-csv")
            worker.start()
        else:
            worker = FailingQThread()
            worker.start()
        qtbot.waitUntil(lambda: len(_error_dialogs()) == 1, timeout=5000)
        if kind == "workqueue":
            assert pool.wait_for_done(5) and pool.submit(lambda: None) is not None  # the worker thread lives on
            pool.shutdown()
        else:
            worker.wait() if kind == "qthread" else worker.join()
    assert (sys.excepthook, threading.excepthook) == hooks
    dialog = _error_dialogs()[0]
    try:
        assert dialog.thread() is qapp.thread()  # made on the UI thread, not in the worker
        assert "ValueError: keyword worker broke in the background" in dialog.message.text()
        assert "keyword worker broke" in _read(file_log)
    finally:
        _close_error_dialogs(qtbot)


def test_log_setup_where_nothing_can_be_written_does_not_crash(qtbot, qapp, tmp_path, monkeypatch):
    blocker = tmp_path / "home-file"
    blocker.write_text("a file where the data folder should be")  # mkdir under it fails, even for root
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    hooks = (sys.excepthook, threading.excepthook)
    from bibtagger_gui.gui.app import start_error_reporting

    try:
        reporter, restore = start_error_reporting()  # what run_gui does first
        try:
            assert reporter.log_path is None and applog.state.path is None
            assert str(blocker) in applog.state.error
            logging.getLogger("bibtagger_gui.gui.main_window").error("still fine")  # no handler error
            QTimer.singleShot(0, slot_that_fails)
            qtbot.waitUntil(lambda: len(_error_dialogs()) == 1, timeout=5000)
            text = _error_dialogs()[0].message.text()
            assert "No log file could be written" in text and "Copy Details" in text
            assert not _error_dialogs()[0].open_log_button.isEnabled()
        finally:
            restore()
            _close_error_dialogs(qtbot)
    finally:
        applog.close_file_log()
    assert (sys.excepthook, threading.excepthook) == hooks


def test_a_log_write_that_fails_later_is_dropped_quietly(tmp_path, file_log):
    handler = next(h for h in logging.getLogger(applog.LOGGER).handlers if isinstance(h, applog.QuietRotatingFileHandler))
    handler.stream.close()  # as a disk that went away: every write now fails
    logging.getLogger("bibtagger_gui.core.store").error("cannot be written")
    assert handler.failures == 1


def test_the_log_rotates_and_stays_small(tmp_path):
    path = applog.setup_file_log(tmp_path / "logs", max_bytes=2000, backups=2)
    try:
        log = logging.getLogger("bibtagger_gui.gui.main_window")
        for i in range(200):
            log.warning("warning number %d of a long session", i)
        logging.getLogger("bibtagger_gui.core.recognizer").info("not logged: INFO below WARNING")
        files = sorted(p.name for p in path.parent.iterdir())
        assert files == ["bibtagger.log", "bibtagger.log.1", "bibtagger.log.2"]
        assert all((path.parent / f).stat().st_size <= 2000 for f in files)
        assert "number 199" in _read(path) and "not logged" not in _read(path)
    finally:
        applog.close_file_log()


def test_startup_lines_name_the_versions(tmp_path, file_log):
    applog.log_startup({"Qt": "6.x-test"}, "/models/here")
    logged = _read(file_log)
    assert f"bibtagger {__version__} starting" in logged and "Qt: 6.x-test" in logged and "ONNX Runtime: " in logged
    assert "Python: " in logged and "OS: " in logged and "models: /models/here" in logged


# ---------------------------------------------------------------- Help menu


def test_help_menu_shortcuts_window_lists_the_users_own_binding(qtbot, tmp_path, monkeypatch, gui_env):
    from PySide6.QtCore import Qt

    from bibtagger_gui.gui.main_window import MainWindow

    keymap = tmp_path / "keymap.json"
    keymap.write_text(json.dumps({"next_photo": ["N", "Space"], "zoom_bib": "F"}))  # F taken from 'fit'
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(keymap))
    win = MainWindow(settings=gui_env)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=3000)
    titles = [a.text() for a in win.menuBar().actions()]
    assert titles[-1] == "&Help"  # the rightmost menu, reached with Alt+H
    assert [a.text() for a in win.help_menu.actions() if not a.isSeparator()] == [
        "&Keyboard Shortcuts", "Open &Log Folder", "&Model Information", "&About bibtagger"]
    qtbot.keyClick(win, Qt.Key.Key_F1)  # the key map's "shortcuts" action
    qtbot.waitUntil(lambda: getattr(win, "shortcuts_dialog", None) is not None and win.shortcuts_dialog.isVisible(),
                    timeout=3000)  # fmt: skip
    dialog = win.shortcuts_dialog
    rows = {r[0]: r for r in dialog.rows()}
    assert rows["next_photo"][1:] == ("N, Space", DEFAULT_KEYMAP["next_photo"][1], "you (your key map)")
    assert rows["zoom_bib"][1] == "F" and rows["fit"][1] == "(none)"
    assert rows["prev_photo"][1:4:2] == ("Left, K", "default")
    assert set(rows) == set(win.keymap.keys)  # every binding of the key map
    howto = dialog.howto_text()
    assert str(keymap) in howto and "F is now 'zoom_bib', no longer 'fit'" in howto  # the file to edit, its problems
    unnamed = [type(w).__name__ for w in _usable_widgets(dialog) if not w.accessibleName() or not w.toolTip()]
    assert unnamed == []
    win.show_shortcuts()  # again: the same window, not a second one
    assert win.shortcuts_dialog is dialog


def test_model_information_shows_versions_calibration_and_cards(qtbot, make_window, shipped_models_dir):
    from bibtagger_gui.core.recognizer import Recognizer

    win = make_window(shipped_models_dir)
    win.actions_by_name["model_info"].trigger()
    dialog = win.model_info_dialog
    qtbot.waitUntil(lambda: not getattr(dialog, "loading", False), timeout=20000)  # read in a worker
    rec = Recognizer.from_dir(shipped_models_dir)
    text = dialog.browser.toPlainText()
    assert rec.version in text and rec.detector.version in text
    assert all(m.version in text for m in rec.readers)
    assert rec.calibration_note in text
    for card in shipped_models_dir.glob("*.md"):
        assert f"Model card {card.name}" in text
    assert all(w.accessibleName() for w in _usable_widgets(dialog))


def test_model_information_loads_the_models_in_a_worker_once_never_on_the_ui_thread(qtbot, make_window,
                                                                                 shipped_models_dir, monkeypatch):
    """Opening Help > Model Information loaded every ONNX model on the UI thread, each time it opened (the
    window froze). Now a worker reads them once; opened again with the same files it shows that text."""
    import threading

    from bibtagger_gui.core import recognizer

    loads: list[str] = []
    real = recognizer.Recognizer.from_dir.__func__

    def spy(cls, folder, *args, **kwargs):
        loads.append(threading.current_thread().name)
        return real(cls, folder, *args, **kwargs)

    monkeypatch.setattr(recognizer.Recognizer, "from_dir", classmethod(spy))
    win = make_window(shipped_models_dir)
    win.actions_by_name["model_info"].trigger()
    dialog = win.model_info_dialog
    qtbot.waitUntil(lambda: not getattr(dialog, "loading", False), timeout=20000)
    assert loads and threading.main_thread().name not in loads
    n = len(loads)
    text = dialog.browser.toPlainText()
    win.actions_by_name["model_info"].trigger()  # opened again: the text read before, no second load
    assert len(loads) == n and not dialog.loading and dialog.browser.toPlainText() == text


def test_about_names_version_components_and_licences(qtbot, make_window, file_log):
    win = make_window()
    win.actions_by_name["about"].trigger()
    text = win.about_dialog.browser.toPlainText()
    assert f"bibtagger {__version__}" in text and "LGPL-3.0" in text and "ONNX Runtime" in text and "MIT" in text
    assert str(file_log) in text


def test_open_log_folder_opens_the_log_folder(qtbot, make_window, file_log, monkeypatch):
    opened = []
    monkeypatch.setattr(error_report.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    win = make_window()
    win.actions_by_name["open_log_folder"].trigger()
    assert opened == [QUrl.fromLocalFile(str(file_log.parent))]
    applog.close_file_log()  # no log (the CLI, or a folder that could not be written): said, nothing opened
    win.actions_by_name["open_log_folder"].trigger()
    assert len(opened) == 1 and "No log file" in win.statusBar().currentMessage()


@pytest.mark.parametrize("kind", ["photo_view", "thumbnail"])
def test_a_photo_loaded_after_its_view_was_deleted_is_dropped_not_reported(qapp, tmp_path, kind):
    """Found by the worker hook: a photo/thumbnail load that ends after its view (or window) was deleted
    emitted on the deleted QObject, and the RuntimeError escaped the work function as an error."""
    import shiboken6

    from bibtagger_gui.gui import photo_view, thumbnails
    from tests.test_gui_support import make_photos

    make_photos(tmp_path, 1)
    photo = tmp_path / "photo_000.jpg"
    if kind == "photo_view":
        signals = photo_view._LoadSignals()
        from bibtagger_gui.gui.look_ahead import file_version

        # at a preview side, with the version the store has: the job also makes the print, emitted after the photo
        job = photo_view._LoadJob(signals, 1, photo, photo_view.VIEW_MIN_SIDE, file_version(photo))
    else:
        signals = thumbnails._Emitter()
        job = thumbnails._ThumbJob(signals, 1, 1, photo, None, 160)
    shiboken6.delete(signals)  # the view was closed while the photo loaded
    job()  # raised RuntimeError("Signal source has been deleted") into the worker before
    assert not shiboken6.isValid(signals)
