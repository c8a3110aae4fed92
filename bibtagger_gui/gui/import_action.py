"""File > "Import Annotations…": bib annotation JSON into the open folder's project store.

Runs :func:`bibtagger_gui.core.importers.import_annotations` -- what ``bibtagger import`` runs
-- on the window's store, on the UI thread (one SQLite transaction; no image is read). A running
recognition is stopped first, so it cannot overwrite the imported predictions, and started again
afterwards for the photos that still need it. An import that changed the store cannot be undone: it
empties the window's undo stack (``drop_undo_history``) and says so. Tests patch ``QFileDialog.getOpenFileName`` or call
:meth:`ImportController.import_file`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from bibtagger_gui.core.annotations import AnnotationError, load_annotations
from bibtagger_gui.core.importers import ImportReport, import_annotations
from bibtagger_gui.gui.feature_controller import FeatureController

TITLE = "Import Annotations"


class ImportController(FeatureController):
    """Imports annotation files into the window's store and reports what happened."""

    imported = Signal(object)  # ImportReport

    def trigger(self) -> None:
        if getattr(self.window, "store", None) is None:
            self._message(QMessageBox.Icon.Information, TITLE, "Open a photo folder first.")
            return
        start = str(getattr(self.window, "folder", None) or Path.home())
        path, _ = QFileDialog.getOpenFileName(self.window, "Import bib annotation JSON", start,
                                              "Bib annotation JSON (*.json);;All files (*)")  # fmt: skip
        if path:
            self.import_file(path)

    def import_file(self, path: str | Path, source: str = "auto", mark_reviewed: bool = False) -> ImportReport | None:
        """Import ``path``; None (after a message) when the file or the store is unusable."""
        window, path = self.window, Path(path)
        store = getattr(window, "store", None)
        if store is None:
            return None
        try:
            entries = load_annotations(path)
        except AnnotationError as exc:
            self._message(QMessageBox.Icon.Warning, TITLE, str(exc))
            return None
        jobs = list(getattr(window, "jobs", []) or [])
        if any(j.kind == "scan" for j in jobs):
            self._message(QMessageBox.Icon.Information, TITLE, "The folder is still being scanned; import when the scan is done.")
            return None
        restart = bool(jobs)
        if restart:  # recognition would overwrite the imported predictions of the photos it has queued
            window.cancel_jobs()
            window.job_pool.wait_for_done(30)
            QApplication.processEvents()  # deliver the job's "cancelled" before our summary
        mark = store.last_change()
        try:
            report = import_annotations(store, entries, source=source, mark_reviewed=mark_reviewed, name=path.name)
        except Exception as exc:  # noqa: BLE001 - one transaction: nothing was imported
            self._message(QMessageBox.Icon.Warning, TITLE, f"Nothing was imported from {path.name}: {exc}")
            return None
        changed = store.last_change() != mark
        if changed and hasattr(window, "drop_undo_history"):  # not undoable: older edits must not be undone over it
            window.drop_undo_history()
        if hasattr(window, "rebuild_queue"):
            window.rebuild_queue()
        if restart and hasattr(window, "start_recognition"):
            from bibtagger_gui.core import review

            window.start_recognition([p.id for p in store.photos() if review.needs_recognition(p)])
        text = f"Imported {path.name}: {report.summary()}"
        if changed:
            text += " (an import cannot be undone: the undo history was cleared)"
        status = getattr(window, "statusBar", None)
        if callable(status):
            status().showMessage(text, 15000)
        problems = report.problems
        if problems:  # the status bar has the summary; the list of photos left out needs a message
            self._message(QMessageBox.Icon.Warning, TITLE, text + f"\n{len(problems)} photo(s) not imported (see details).",
                          "\n".join(problems))  # fmt: skip
        else:
            self.last_message = text
        self.imported.emit(report)
        return report


def install(window: Any) -> ImportController:
    """Add "Import Annotations…" to the window's File menu (or a new one), before Quit."""
    controller = ImportController(window)
    controller.add_file_action("Import &Annotations…", "import_annotations",
                               "Read bib annotation JSON (predict --json, an export, ground truth) into this folder's project")  # fmt: skip
    window.import_controller = controller
    return controller
