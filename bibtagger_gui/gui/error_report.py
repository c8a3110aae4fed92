"""Unexpected exceptions in the desktop app: logged, shown once in a clear dialog, and the app goes on.

``run_gui`` installs :class:`ErrorReporter` as ``sys.excepthook`` (exceptions in Qt slots and
virtual methods, also those of a ``QThread.run``) and ``threading.excepthook`` (Python threads; the
``WorkQueue`` workers hand theirs to it too). Each exception is written to the log at once, with its
traceback, from whatever thread it happened in; the dialog is always opened on the GUI thread
(a queued signal), never inside the code that failed. See docs/gui.md#unexpected-errors.

No storm of dialogs: an exception is identified by its type and where it was raised (the frames
of its traceback, not its message, which often carries ids). One dialog is open at most; another
error while it is open is added to its details; an error already shown once this session only
says so in the status bar (and the log counts it); after :data:`MAX_DIALOGS` dialogs the rest go to
the status bar and the log only.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from bibtagger_gui.core import child_env
from bibtagger_gui.gui import screen_fit
from bibtagger_gui.gui.look import name_widget

log = logging.getLogger("bibtagger_gui.gui.errors")

MAX_DIALOGS = 5  # per session; after that the status bar and the log only
FULL_REPEATS_LOGGED = 3  # a repeat's traceback is logged this often, then one line per repeat...
LINE_REPEATS_LOGGED = 50  # ...up to this many, then every 100th


def fingerprint(exc_type: type, tb: Any) -> str:
    """Identity of an exception for "the same error again": its type and the frames it was raised through."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    where = "|".join(f"{f.filename}:{f.lineno}:{f.name}" for f in frames)
    return hashlib.sha1(f"{exc_type.__module__}.{exc_type.__qualname__}|{where}".encode()).hexdigest()[:16]


def summary_of(exc_type: type, exc: BaseException | None) -> str:
    text = str(exc) if exc is not None else ""
    text = text if len(text) <= 300 else text[:300] + "…"
    return f"{exc_type.__name__}: {text}" if text else exc_type.__name__


class ErrorDialog(QDialog):
    """What happened, that the edits are saved, where the log is; the traceback behind Show Details."""

    def __init__(self, summary: str, details: str, log_path: Path | None, log_error: str | None,
                 versions: str = "", parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setWindowTitle("bibtagger: unexpected error")
        self.setModal(False)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.versions = versions
        self.log_path = log_path
        if log_path is not None:
            where = f"The details are in the log file:\n{log_path}\n(Help > Open Log Folder). Please send it with a bug report."
        else:
            where = (f"No log file could be written ({log_error or 'unknown reason'}): use Copy Details to keep "
                     "them for a bug report.")  # fmt: skip
        text = (
            f"Something went wrong inside bibtagger:\n{summary}\n\n"
            "Your edits up to now are saved: every edit is written to the project as you make it. "
            "You can go on working; if the window looks wrong, open the folder again (File > Open Recent).\n\n"
            f"{where}"
        )
        self.message = QLabel(text)
        self.message.setObjectName("errorMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setAccessibleName("What happened")
        self.more = QLabel("")  # "happened again" / "more errors since"
        self.more.setObjectName("errorMore")
        self.more.setWordWrap(True)
        self.more.hide()
        self.details = QPlainTextEdit(details)
        self.details.setObjectName("errorDetails")
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setMinimumHeight(160)
        self.details.hide()
        self.toggle = QPushButton("Show &Details")
        self.toggle.setObjectName("errorShowDetails")
        self.toggle.setCheckable(True)
        self.toggle.toggled.connect(self._toggle_details)
        self.copy_button = QPushButton("C&opy Details")  # not &C: GNOME gives Close its Alt+C
        self.copy_button.setObjectName("errorCopy")
        self.copy_button.clicked.connect(self.copy_details)
        self.open_log_button = QPushButton("Open &Log Folder")
        self.open_log_button.setObjectName("errorOpenLog")
        self.open_log_button.setEnabled(log_path is not None)
        self.open_log_button.clicked.connect(lambda _c=False: open_folder(log_path.parent if log_path else None))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.toggle, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.open_log_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setDefault(True)
        for widget, name, desc in (
            (self.details, "Error details", "The traceback of the error, for a bug report"),
            (self.toggle, "Show details", "Show or hide the traceback"),
            (self.copy_button, "Copy details", "Copy the error, its traceback and the versions to the clipboard"),
            (self.open_log_button, "Open log folder", "Open the folder of the log file in the file manager"),
            (self.close_button, "Close", "Close this message; the app goes on"),
        ):
            name_widget(widget, name, desc)
        lay = QVBoxLayout(self)
        lay.addWidget(self.message)
        lay.addWidget(self.more)
        lay.addWidget(self.details, 1)
        lay.addWidget(buttons)
        screen_fit.resize_within(self, 640, 260)

    def _toggle_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.toggle.setText("Hide &Details" if shown else "Show &Details")
        self.adjustSize()

    def details_text(self) -> str:
        return f"{self.message.text()}\n\n{self.versions}\n\n{self.details.toPlainText()}".strip() + "\n"

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details_text())
        self.copy_button.setText("C&opied")

    def add_note(self, note: str, details: str | None = None) -> None:
        self.more.setText(note)
        self.more.show()
        if details:
            self.details.appendPlainText(f"\n--- another error ---\n{details}")


def open_folder(folder: Path | None) -> bool:
    """Open ``folder`` in the system's file manager; False when there is none or it cannot be opened."""
    if folder is None:
        return False
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    if child_env.bundle() is not None and sys.platform.startswith("linux"):
        # the packaged app: xdg-open (what Qt's openUrl runs here) and the file manager get the system's environment
        # (docs/packaging.md#programs-the-app-starts), given to that process alone: swapping os.environ around openUrl
        # raced with a worker thread starting exiftool meanwhile (a KeyError, or exiftool without the user's paths)
        return start_detached("xdg-open", [str(folder)], child_env.system_environ())
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def start_detached(program: str, args: list[str], environ: dict[str, str]) -> bool:
    """Start ``program`` on its own (not a child the app waits for) with exactly ``environ``; False when it cannot."""
    proc = QProcess()
    env = QProcessEnvironment()
    for name, value in environ.items():
        env.insert(name, value)
    proc.setProgram(program)
    proc.setArguments(args)
    proc.setProcessEnvironment(env)
    started = proc.startDetached()  # (ok, pid) in PySide6's stubs; a bare bool in some of its releases
    return bool(started[0] if isinstance(started, tuple) else started)


class ErrorReporter(QObject):
    """Receives unexpected exceptions from any thread (:meth:`handle`), logs them, shows them on the GUI thread."""

    raised = Signal(str, str, str, str)  # key, summary, details, thread name

    def __init__(self, log_path: Path | None = None, log_error: str | None = None, versions: str = "",
                 parent: QObject | None = None):  # fmt: skip
        super().__init__(parent)
        self.log_path = log_path
        self.log_error = log_error
        self.versions = versions
        self.window: Any = None  # the main window: dialog parent and status bar
        self.counts: dict[str, int] = {}
        self.shown_keys: set[str] = set()
        self.dialog: ErrorDialog | None = None
        self.dialog_key: str | None = None
        self.dialogs_opened = 0
        self.extra_since = 0  # other errors while the dialog was open
        self._lock = threading.Lock()
        self._showing = False
        # queued even on the GUI thread: the dialog never opens inside the code that failed
        self.raised.connect(self._show, Qt.ConnectionType.QueuedConnection)

    # ------------------------------------------------------------------ any thread
    def handle(self, exc_type: type, exc: BaseException | None, tb: Any, thread: str | None = None) -> None:
        """Log the exception now and ask the GUI thread to show it."""
        thread = thread or threading.current_thread().name
        key = fingerprint(exc_type, tb)
        with self._lock:
            n = self.counts[key] = self.counts.get(key, 0) + 1
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        summary = summary_of(exc_type, exc)
        if n <= FULL_REPEATS_LOGGED:
            again = f" (again, {n} times)" if n > 1 else ""
            log.error("Unexpected error in thread %s%s:\n%s", thread, again, details.rstrip())
        elif n <= LINE_REPEATS_LOGGED or n % 100 == 0:
            log.error("Same unexpected error again (%d times) in thread %s: %s", n, thread, summary)
        self.raised.emit(key, summary, details, thread)

    # ------------------------------------------------------------------ GUI thread
    def _show(self, key: str, summary: str, details: str, thread: str) -> None:
        if self._showing:
            return
        self._showing = True
        try:
            self._show_once(key, summary, details, thread)
        except Exception:  # noqa: BLE001 - reporting must not raise into the hook again
            log.exception("cannot show an unexpected error")
        finally:
            self._showing = False

    def _show_once(self, key: str, summary: str, details: str, thread: str) -> None:
        count = self.counts.get(key, 1)
        if self.dialog is not None and self.dialog.isVisible():
            if key == self.dialog_key:
                note = f"This error happened again ({count} times in all)."
                if self.extra_since:
                    note += f" {self.extra_since} other error(s) since: in the details and the log."
                self.dialog.add_note(note)
            else:
                self.extra_since += 1
                self.dialog.add_note(f"{self.extra_since} more error(s) since this one: in the details and the log.",
                                     details)  # fmt: skip
            return
        if key in self.shown_keys or self.dialogs_opened >= MAX_DIALOGS:
            self._status(f"Unexpected error again ({summary}; {count} time(s))")
            return
        self.shown_keys.add(key)
        self.dialogs_opened += 1
        self.extra_since = 0
        where = f" in the background ({thread})" if thread != "MainThread" else ""
        parent = self.window if isinstance(self.window, QWidget) else None
        dialog = ErrorDialog(f"{summary}{where}", details, self.log_path, self.log_error, self.versions, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _o=None: self._dialog_gone())
        self.dialog, self.dialog_key = dialog, key
        dialog.show()
        dialog.raise_()
        self._status(f"Unexpected error: {summary}")

    def _dialog_gone(self) -> None:
        self.dialog, self.dialog_key = None, None

    def _status(self, text: str) -> None:
        window = self.window
        if window is None:
            return
        where = f"; see the log {self.log_path}" if self.log_path else ""
        try:
            window.statusBar().showMessage(f"{text}{where}", 15000)
        except RuntimeError:  # the window is gone
            self.window = None

    # ------------------------------------------------------------------ hooks
    def sys_hook(self, exc_type: type, exc: BaseException, tb: Any) -> None:
        """``sys.excepthook``: Qt slots and virtual methods, ``QThread.run``."""
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        try:
            self.handle(exc_type, exc, tb)
        except Exception:  # noqa: BLE001 - the last resort must not fail
            sys.__excepthook__(exc_type, exc, tb)

    def thread_hook(self, args: Any) -> None:
        """``threading.excepthook``: Python threads (exports) and ``WorkQueue`` workers."""
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else None
        try:
            self.handle(args.exc_type, args.exc_value, args.exc_traceback, name)
        except Exception:  # noqa: BLE001
            threading.__excepthook__(args)


def install(reporter: ErrorReporter) -> Callable[[], None]:
    """Make ``reporter`` the process's exception hooks; returns the function that puts the old ones back."""
    old_sys, old_thread = sys.excepthook, threading.excepthook
    sys.excepthook = reporter.sys_hook
    threading.excepthook = reporter.thread_hook

    def restore() -> None:
        if sys.excepthook == reporter.sys_hook:
            sys.excepthook = old_sys
        if threading.excepthook == reporter.thread_hook:
            threading.excepthook = old_thread

    return restore


@contextmanager
def installed(reporter: ErrorReporter) -> Iterator[ErrorReporter]:
    """``install`` for a block (tests): the previous hooks (pytest's, pytest-qt's) are back afterwards."""
    restore = install(reporter)
    try:
        yield reporter
    finally:
        restore()
