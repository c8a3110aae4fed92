"""*Try Demo Photos* (the no-folder card, gui/empty_state.py): open the demo folder of the user data folder,
making it first in a worker thread with a progress dialog (docs/gui.md#empty-states).

A folder that already holds the demo's photos is reused as it is (the review done on it kept); a missing or
empty one, or an interrupted demo without photos, is made with ``core.demo.write_demo`` (24 photos, about a
second on a laptop core: hence the worker, the dialog shows after ``SHOW_AFTER_MS``). A folder there that
holds anything else is left alone and the window says so.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog

from bibtagger_gui.core import demo
from bibtagger_gui.gui import look
from bibtagger_gui.gui.threads import emit_if_alive

#: photos made for the app (the same as ``bibtagger demo`` and ``make run``)
COUNT = 24
#: the progress dialog shows once the making has taken this long
SHOW_AFTER_MS = 400


def ready(folder: Path) -> bool:
    """Whether ``folder`` holds a demo to reuse: an earlier demo with its ground truth and photos."""
    try:
        return demo.is_demo_folder(folder) and (folder / demo.GROUND_TRUTH).is_file() and bool(demo.demo_photos(folder))
    except OSError:
        return False


class DemoMaker(QObject):
    """Makes (or reuses) the demo folder of one window and opens it there."""

    progressed = Signal(int, int)  # done, total (from the worker thread: queued)
    finished = Signal(object)  # the folder (Path), or the error message (str)

    def __init__(self, window: Any):
        super().__init__(window)
        self.window = window
        self.thread: threading.Thread | None = None
        self.dialog: QProgressDialog | None = None
        self.progressed.connect(self._on_progress)
        self.finished.connect(self._on_finished)

    def busy(self) -> bool:
        return self.thread is not None

    def open(self, folder: Path | None = None) -> None:
        """Open the demo folder (``demo.default_demo_dir()``), made first unless it is :func:`ready`."""
        if self.thread is not None:
            return
        folder = demo.default_demo_dir() if folder is None else Path(folder)
        if ready(folder):
            self.window.open_folder(folder)
            return
        dialog = QProgressDialog(f"Making {COUNT} demo photos in {folder}…", "", 0, COUNT, self.window)
        dialog.setCancelButton(None)  # about a second: nothing to cancel
        dialog.setObjectName("demoProgress")
        dialog.setWindowTitle("Demo Photos")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(SHOW_AFTER_MS)
        look.name_progress_dialog(dialog, "Making the demo photos", f"Writing {COUNT} synthetic race photos into {folder}")
        dialog.setValue(0)
        self.dialog = dialog
        self.window.statusBar().showMessage(f"Making the demo photos in {folder}…")
        self.thread = threading.Thread(target=self._make, args=(folder,), name="bibtagger-demo", daemon=True)
        self.thread.start()

    def _make(self, folder: Path) -> None:
        try:
            demo.write_demo(folder, COUNT, progress=lambda done, total: emit_if_alive(self.progressed, done, total))
        except demo.DemoFolderError as exc:
            emit_if_alive(self.finished, str(exc))
        except OSError as exc:
            emit_if_alive(self.finished, f"Cannot write the demo photos to {folder}: {exc.strerror or exc}")
        else:
            emit_if_alive(self.finished, folder)

    def _on_progress(self, done: int, total: int) -> None:
        if self.dialog is not None:
            self.dialog.setValue(min(done, total))

    def _on_finished(self, outcome: object) -> None:
        thread, self.thread = self.thread, None
        if thread is not None:
            thread.join(5)
        if self.dialog is not None:
            self.dialog.reset()
            self.dialog.deleteLater()
            self.dialog = None
        if isinstance(outcome, Path):
            self.window.statusBar().clearMessage()
            self.window.open_folder(outcome)
        else:
            self.window._error("Demo Photos", str(outcome))


def open_demo(window: Any) -> DemoMaker:
    """The *Try Demo Photos* button's slot: the window's :class:`DemoMaker` (made once) opens the demo."""
    maker = getattr(window, "demo_maker", None)
    if maker is None:
        maker = window.demo_maker = DemoMaker(window)
    maker.open()
    return maker
