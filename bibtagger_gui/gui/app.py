"""Start the GUI: QApplication setup, optional folder, and the --screenshot mode."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.desktop_entry import APP_ID

ORG, APP = "bibtagger", APP_ID


def make_app(argv: list[str] | None = None) -> QApplication:
    # the program name is the app id, not argv[0]: on X11 it is the instance part of WM_CLASS, which was
    # "__main__.py" under `python -m bibtagger_gui` (the class part is the application name: StartupWMClass of the
    # desktop entry, docs/desktop.md)
    app = QApplication.instance() or QApplication(argv or [APP])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    # the Wayland app_id (X11: _KDE_NET_WM_DESKTOP_FILE), what a desktop matches a .desktop file, icon and task bar
    # entry by; without it Qt takes the executable's name, "python3" from source or pip (docs/wayland.md#found-here)
    app.setDesktopFileName(APP)
    # the window icon of every window: Windows, macOS, X11 without the desktop entry and task switchers take it from
    # the app; PNGs rendered from the entry's SVG, a missing one only warned about (docs/desktop.md#window-icon)
    from bibtagger_gui.gui.app_icon import set_app_icon

    set_app_icon(app)
    return app  # type: ignore[return-value]


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Process events until ``predicate()`` is true or ``timeout`` seconds pass."""
    app = QApplication.instance()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.005)
    return True


def open_target(window, target: str | Path) -> bool:
    """Open a folder, or a photo file at that photo in its folder: what a file manager's Open With, or a photo
    dropped on the app's icon, passes (a photo dropped on the window opens the same way). Another file is refused
    with the reason in the status bar; False when nothing was opened."""
    from bibtagger_gui.core.imageio import is_supported
    from bibtagger_gui.gui.empty_state import file_refusal

    path = Path(target).expanduser()
    if not path.is_file():
        return window.open_folder(path)
    if is_supported(path):
        return window.open_photo(path)
    window.statusBar().showMessage(file_refusal(path))
    return False


def take_screenshot(window, path: str | Path, timeout: float = 600.0) -> tuple[int, int]:
    """Wait for scan + recognition, show the first photo with bibs, save ``window.grab()``."""
    wait_until(lambda: not window.busy, timeout)
    window.rebuild_queue()
    window.select_first_with_bibs()
    wait_until(lambda: window.photo_view.image_loaded or window.photo_view.image_error is not None or window.current_id is None, 60)
    wait_until(lambda: window.thumbnails.pending == 0, 60)
    QApplication.processEvents()
    pixmap = window.grab()
    path = Path(path)  # its folder exists (gui_cmd checks it: core.store.out_folder_problem)
    if not pixmap.save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")
    return pixmap.width(), pixmap.height()


def run_gui(folder: str | Path | None = None, models: str | Path | None = None, screenshot: str | Path | None = None) -> int:
    """Open the main window; with ``screenshot``, save a PNG of it when the folder is processed and exit."""
    app = make_app()
    from bibtagger_gui.gui import heap
    from bibtagger_gui.gui.main_window import MainWindow

    heap.enable()  # the collector's full passes after a folder is read, not at a key press (gui/heap.py)

    reporter, restore_hooks = start_error_reporting(models)
    try:
        return _run_window(app, MainWindow, reporter, folder, models, screenshot)
    finally:
        restore_hooks()


def start_error_reporting(models: str | Path | None = None):
    """The log file (docs/gui.md#log-file), its startup lines, and the exception hooks that show unexpected
    errors in a dialog (gui/error_report.py). Returns the reporter and the function that removes the hooks."""
    from bibtagger_gui.core import applog
    from bibtagger_gui.gui import app_icon
    from bibtagger_gui.gui.error_report import ErrorReporter, install
    from bibtagger_gui.gui.help_dialogs import qt_versions

    path = applog.setup_file_log()
    # the window icon's warnings of make_app came before the log file: its line here keeps them
    app = QApplication.instance()
    extra = {**qt_versions(), "Qt platform": QApplication.platformName(), "Window icon": app_icon.summary(app)}
    applog.log_startup(extra, str(models) if models else None)
    versions = "\n".join(applog.startup_lines(extra))
    reporter = ErrorReporter(path, applog.state.error, versions)
    return reporter, install(reporter)


def _run_window(app, MainWindow, reporter, folder, models, screenshot) -> int:  # noqa: N803
    window = MainWindow(models_dir=models)
    reporter.window = window
    if screenshot is None:
        restored = window.resume.restore_window()  # size, position, splitter of the last session (before show)
        window.fit_to_screen(keep_splitter=restored)  # no larger than this screen (a 1366x768 laptop)
    else:
        window.resume.active = False  # a screenshot shows the default window and changes nothing remembered
    if models and not window.load_models_dir(models, remember=False):
        print(f"bibtagger gui: {window.statusBar().currentMessage()}", file=sys.stderr)
        if screenshot is not None:  # a picture of the bundled models' readings is not what was asked for
            window.close()
            return 1
    window.show()
    if folder is None and screenshot is None:
        recent = window.settings.value("recent_folder")
        if recent and Path(str(recent)).is_dir():
            folder = str(recent)
    if folder is not None and not open_target(window, folder):
        print(f"bibtagger gui: {window.statusBar().currentMessage()}", file=sys.stderr)
        if screenshot is not None:
            return 1
    if screenshot is not None:
        try:
            w, h = take_screenshot(window, screenshot)
        except OSError as exc:
            print(f"bibtagger gui: {exc}", file=sys.stderr)
            return 1
        if window.last_job_outcome and window.last_job_outcome[1] == "failed":
            print(f"bibtagger gui: {window.last_job_outcome[2]}", file=sys.stderr)
        print(f"{screenshot}: {w}x{h} px")
        window.close()
        return 0
    return app.exec()
