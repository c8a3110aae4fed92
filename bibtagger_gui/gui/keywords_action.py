"""Export > "Write Keywords to Photos…": confirm, then write bib keywords with exiftool in a worker thread.

The job list is built from the window's store in the GUI thread (a Store is used from one
thread); the worker only gets plain paths and numbers and runs
:func:`bibtagger_gui.core.keywords.write_keywords`, reporting progress and per-file results.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QVBoxLayout,
)

from bibtagger_gui.core.keywords import (
    DEFAULT_PREFIX,
    FileResult,
    KeywordError,
    KeywordJob,
    KeywordOptions,
    KeywordReport,
    earlier_picture_notes,
    find_exiftool,
    jobs_from_store,
    write_keywords,
)
from bibtagger_gui.gui import look
from bibtagger_gui.gui.feature_controller import FeatureController


def find_or_add_menu(window: Any, *titles: str):
    """The first menu-bar menu whose title (without '&') is one of ``titles``, else a new one."""
    bar = window.menuBar()
    for action in bar.actions():
        menu = action.menu()
        if menu is not None and menu.title().replace("&", "") in titles:
            return menu
    return bar.addMenu("E&xport" if "Export" in titles else f"&{titles[0]}")


class KeywordsDialog(QDialog):
    """Confirmation: how many photos, and the options (dry run, reviewed only, sidecars, prefix)."""

    def __init__(self, store: Any, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Write Keywords to Photos")
        self.store = store
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.dry_run = QCheckBox("&Dry run: only show what would change")
        self.reviewed_only = QCheckBox("Only &reviewed photos")
        self.sidecar = QCheckBox("Write .xmp &sidecar files, leave the photos untouched")
        self.hierarchical = QCheckBox("Also write &hierarchical keywords (Bib|1234)")
        self.prefix = QLineEdit(DEFAULT_PREFIX)
        form = QFormLayout()
        form.addRow("Keyword &prefix:", self.prefix)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Write Keywords")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        for box in (self.dry_run, self.reviewed_only, self.sidecar, self.hierarchical):
            layout.addWidget(box)
        layout.addLayout(form)
        note = QLabel("Only keywords starting with the prefix are added or removed; the photos' other "
                      "keywords, pixels and file dates are kept. RAW files always get a sidecar.")  # fmt: skip
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.reviewed_only.toggled.connect(self._update)
        self.dry_run.toggled.connect(self._update)
        self.prefix.textChanged.connect(self._update)
        self._update()

    def jobs(self) -> list[KeywordJob]:
        return jobs_from_store(self.store, reviewed_only=self.reviewed_only.isChecked())

    def options(self) -> KeywordOptions:
        return KeywordOptions(
            prefix=self.prefix.text(), hierarchical=self.hierarchical.isChecked(),
            sidecar=self.sidecar.isChecked(), dry_run=self.dry_run.isChecked(),
        )  # fmt: skip

    def _update(self) -> None:
        jobs = self.jobs()
        tagged = sum(1 for j in jobs if j.numbers)
        bibs = sum(len(j.numbers) for j in jobs)
        self.summary.setText(
            f"{len(jobs)} photos will be checked: {tagged} carry {bibs} bib numbers; photos without bibs only "
            "lose stale bib keywords. Photos already up to date are not touched."
        )
        self.ok_button.setText("Show Changes" if self.dry_run.isChecked() else "Write Keywords")
        self.ok_button.setEnabled(bool(jobs) and bool(self.prefix.text().strip()))


class KeywordsWorker(QThread):
    """Runs write_keywords off the GUI thread."""

    progress = Signal(int, int)
    result = Signal(str, str)  # status, line
    done = Signal(object)  # KeywordReport, or the error message (str)

    def __init__(self, jobs: list[KeywordJob], options: KeywordOptions, exiftool: str, parent=None):
        super().__init__(parent)
        self.jobs, self.options, self.exiftool = jobs, options, exiftool
        self.cancel_event = threading.Event()

    def run(self) -> None:
        def on_result(r: FileResult) -> None:
            self.result.emit(r.status, r.describe())

        try:
            report = write_keywords(
                self.jobs, self.options, exiftool=self.exiftool, progress=self.progress.emit,
                cancel=self.cancel_event.is_set, on_result=on_result,
            )  # fmt: skip
        except KeywordError as exc:
            self.done.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            self.done.emit(f"{type(exc).__name__}: {exc}")
            return
        self.done.emit(report)


class KeywordsController(FeatureController):
    """State of the keyword action of one window."""

    finished = Signal(object)  # KeywordReport or error message

    def __init__(self, window: Any):
        super().__init__(window)
        self.worker: KeywordsWorker | None = None
        self.folder: Path | None = None  # the project of the running or last write
        self.progress_dialog: QProgressDialog | None = None
        self.lines: list[str] = []
        self.last_report: KeywordReport | None = None

    def trigger(self) -> None:
        store = getattr(self.window, "store", None)
        if store is None:
            self._message(QMessageBox.Icon.Information, "Write Keywords", "Open a photo folder first.")
            return
        if self.worker is not None:
            return
        if self._refused_while_away("Keywords not written"):  # the folder is away: nothing opened or written there
            return
        self._save_typed_number()  # the number being typed is what the photo gets, not the one it replaces
        try:
            exe = find_exiftool()
        except KeywordError as exc:
            self._message(QMessageBox.Icon.Warning, "exiftool missing", str(exc))
            return
        dialog = KeywordsDialog(store, self.window)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            options = dialog.options()
            jobs = dialog.jobs()
        except KeywordError as exc:
            self._message(QMessageBox.Icon.Warning, "Write Keywords", str(exc))
            return
        finally:
            dialog.deleteLater()  # a child of the window (holding its store): one per use otherwise
        self.start(jobs, options, exe)

    def start(self, jobs: list[KeywordJob], options: KeywordOptions, exiftool: str | None = None) -> KeywordsWorker:
        """Start the worker (no dialogs); ``finished`` fires with the report."""
        exe = exiftool or find_exiftool()
        self.lines = earlier_picture_notes(jobs)  # bibs of an earlier picture under a photo's name: left out
        self.folder = getattr(self.window, "folder", None)  # the project the jobs came from
        self.worker = KeywordsWorker(jobs, options, exe, self)
        self.worker.result.connect(self._on_result)
        self.worker.progress.connect(self._on_progress)
        self.worker.done.connect(self._on_done)
        if self.interactive:
            verb = "Checking" if options.dry_run else "Writing keywords to"
            self.progress_dialog = QProgressDialog(f"{verb} {len(jobs)} photos…", "Cancel", 0, max(1, len(jobs)),
                                                   self.window)  # fmt: skip
            self.progress_dialog.setWindowTitle("Write Keywords")
            look.name_progress_dialog(self.progress_dialog, "Write Keywords", f"{verb} {len(jobs)} photos")
            self.progress_dialog.setMinimumDuration(300)
            self.progress_dialog.canceled.connect(self.worker.cancel_event.set)
        self.worker.start()
        return self.worker

    def _on_progress(self, done: int, total: int) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.setMaximum(max(1, total))
            self.progress_dialog.setValue(done)
        status = getattr(self.window, "statusBar", None)
        if callable(status):
            status().showMessage(f"Keywords: {done}/{total} photos", 2000)

    def _on_result(self, status: str, line: str) -> None:
        if status != "unchanged":
            self.lines.append(line)

    def _refresh_hashes(self, relpaths: list[str]) -> None:
        """In the project the keywords were written for, even if the window has opened another folder since."""
        store = getattr(self.window, "store", None)
        if store is not None and getattr(self.window, "folder", None) == self.folder:
            store.refresh_files(relpaths)
            self._show_refreshed(store, relpaths)
        elif self.folder is not None:
            from bibtagger_gui.core.store import Store, StoreError

            try:
                with Store.open(self.folder) as other:
                    other.refresh_files(relpaths)
            except StoreError:
                pass  # the next scan of that folder treats the files as metadata edits

    def _show_refreshed(self, store: Any, relpaths: list[str]) -> None:
        """The window's snapshots of the rewritten photos, read again: the new file facts can clear a load error
        (``Store.refresh_files`` takes the file's own, as a scan does), which the list, Enter and the status
        bar's counts (kept by the snapshots, not queried) must show. One read of every photo, not two per photo."""
        from bibtagger_gui.core import review

        items, refresh = getattr(self.window, "items", None), getattr(self.window, "refresh_photo", None)
        if items is None or not callable(refresh):
            return
        rewritten = set(relpaths)
        for item in review.load_items(store):
            if item.photo.relpath in rewritten and items.get(item.photo_id) != item:
                refresh(item.photo_id, item=item)

    def stop(self) -> None:
        """Cancel a running write and wait for it (the window is closing)."""
        worker = self.worker
        if worker is not None and worker.isRunning():
            worker.cancel_event.set()
            worker.wait(60000)  # the file being written is finished, not cut

    def _on_done(self, outcome: object) -> None:
        worker, self.worker = self.worker, None
        dry_run = worker is not None and worker.options.dry_run
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        if self.progress_dialog is not None:
            self.progress_dialog.reset()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None
        if isinstance(outcome, KeywordReport):
            self.last_report = outcome
            if outcome.rewritten():  # stored hashes follow the rewritten files
                self._refresh_hashes(outcome.rewritten())
            icon = QMessageBox.Icon.Warning if outcome.errors or outcome.count("changed") else QMessageBox.Icon.Information
            note = outcome.read_only_note(dry_run)
            text = outcome.summary().capitalize() + "." + (f"\n\n{note[len('note: '):].capitalize()}" if note else "")
            self._message(icon, "Write Keywords", text, "\n".join(self.lines))
            status = getattr(self.window, "statusBar", None)
            if callable(status):
                status().showMessage(f"Keywords: {outcome.summary()}", 10000)
        else:
            self._message(QMessageBox.Icon.Critical, "Write Keywords", f"Writing keywords failed: {outcome}")
        self.finished.emit(outcome)


def install(window: Any) -> KeywordsController:
    """Add "Write Keywords to Photos…" to the window's Photo or Export menu."""
    controller = KeywordsController(window)
    menu = find_or_add_menu(window, "Export", "Photo")
    action = QAction("Write Keywords to Photos…", window)
    action.setObjectName("write_keywords")
    action.setStatusTip("Write the bib numbers into the photos' XMP/IPTC keywords (exiftool)")
    action.triggered.connect(lambda _checked=False: controller.trigger())
    menu.addAction(action)
    window.keywords_controller = controller
    controller.action, controller.menu = action, menu
    return controller
