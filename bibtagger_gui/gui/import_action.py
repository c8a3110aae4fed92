"""File > "Import Annotations…": bib annotation JSON into the open folder's project store.

Runs :func:`bibtagger_gui.core.importers.import_annotations` -- what ``bibtagger import`` runs
-- on the window's store, on the UI thread (one SQLite transaction per file; no image is read).
Several files are read first (a malformed one imports nothing) and imported in turn, as by
``bibtagger import DIR A.json B.json``. A running recognition is stopped first, so it cannot
overwrite the imported predictions, and started again afterwards for the photos that still need
it. An import that changed the store cannot be undone: it empties the window's undo stack
(``drop_undo_history``) and says so.

Conflicts (docs/volunteers.md: a file with hand-out states is merged bib by bib, so a row names the bibs both
sides changed) are listed in :class:`ConflictsDialog`, each with its photo (Enter or
a double-click shows it in the window); its "Take the file's version for these photos" imports the
checked photos' entries again with ``overwrite=True`` -- ``bibtagger import --overwrite`` for
exactly those photos -- in one transaction. Tests patch ``QFileDialog.getOpenFileNames`` or call
:meth:`ImportController.import_files` / :meth:`ImportController.import_file`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from bibtagger_gui.core.annotations import AnnotationError, PhotoAnnotation, load_annotations
from bibtagger_gui.core.handout_merge import OVERWRITE_HINT
from bibtagger_gui.core.importers import ImportReport, import_annotations, photos_for
from bibtagger_gui.gui import look, screen_fit
from bibtagger_gui.gui.feature_controller import FeatureController

TITLE = "Import Annotations"
TAKE_TEXT = "&Take the file's version for these photos"
UNDO_NOTE = " (an import cannot be undone: the undo history was cleared)"


@dataclass
class FileImport:
    """One file of an import: its entries (kept for "take the file's version") and what it did."""

    path: Path
    entries: list[PhotoAnnotation]
    source: str = "auto"
    mark_reviewed: bool = False
    report: ImportReport | None = None


@dataclass(frozen=True)
class Conflict:
    """One conflict of an import, with the photo it is about (None: the photo is no longer there)."""

    file: FileImport
    image: str  # the entry's name in the file
    why: str  # what differs (ImportReport.conflicts)
    photo_id: int | None
    relpath: str


def conflicts_of(store: Any, files: list[FileImport]) -> list[Conflict]:
    """Every conflict of ``files``' reports, with its photo as the import matched it."""
    out = []
    for f in files:
        if f.report is None or not f.report.conflicts:
            continue
        photos = photos_for(store, [image for image, _why in f.report.conflicts])
        for image, why in f.report.conflicts:
            photo = photos.get(image)
            why = why.replace(OVERWRITE_HINT, "")  # the command line's way; here the dialog's button takes the file's
            out.append(Conflict(f, image, why, photo.id if photo else None, photo.relpath if photo else image))
    return out


#: the widest a name column of the conflicts list grows, in average characters (longer names are elided)
NAME_COLUMN_CHARS = 40


class ConflictsDialog(QDialog):
    """The conflicts of an import, one row each: photo, file, what differs.

    Enter or a double-click shows the row's photo in the window (the dialog stays open, not modal);
    Space (or a click in the box) checks or unchecks a row -- one file's version per photo, the
    last file's checked at first -- and "Take the file's version for these photos" imports the
    checked rows' entries again with overwrite. Escape closes it.
    """

    def __init__(self, controller: ImportController, conflicts: list[Conflict]):
        super().__init__(controller.window)
        self.controller = controller
        self.store = getattr(controller.window, "store", None)  # the folder these photo ids belong to
        self.setWindowTitle("Import conflicts")
        self.setModal(False)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("importConflicts")
        look.name_widget(self.tree, "Import conflicts", "One row per conflict: photo, file, what differs. Enter shows the "
                         "photo; Space checks or unchecks the row")  # fmt: skip
        self.tree.setHeaderLabels(["Photo", "File", "What differs"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setWordWrap(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        # a long photo or file name is cut in its middle (whole in the tooltip) instead of pushing "What differs"
        # (the last, stretched column) out of sight
        self.tree.header().setMaximumSectionSize(self.tree.fontMetrics().averageCharWidth() * NAME_COLUMN_CHARS)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.itemActivated.connect(lambda item, _col: self.show_photo(item))
        self.tree.installEventFilter(self)  # Enter shows the photo (it must not press a button)
        self.take_button = QPushButton(TAKE_TEXT)
        self.take_button.setObjectName("takeFilesVersion")
        self.take_button.clicked.connect(self.take_files_version)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.take_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.set_conflicts(conflicts)
        self.tree.itemChanged.connect(self._checked_changed)
        screen_fit.resize_within(self, 900, 360)

    def set_conflicts(self, conflicts: list[Conflict], checks: list[bool] | None = None) -> None:
        """List ``conflicts``; ``checks``: each row's check (default: the last file's row of each photo)."""
        self.tree.blockSignals(True)
        self.tree.clear()
        last: dict[Any, int] = {}  # photo -> row of its last file: checked at first
        for row, c in enumerate(conflicts):
            last[c.photo_id if c.photo_id is not None else ("image", row)] = row
        for row, c in enumerate(conflicts):
            item = QTreeWidgetItem([c.relpath, c.file.path.name, c.why])
            item.setData(0, Qt.ItemDataRole.UserRole, c)
            item.setToolTip(0, c.relpath)
            item.setToolTip(1, str(c.file.path))
            item.setToolTip(2, c.why)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            key = c.photo_id if c.photo_id is not None else ("image", row)
            on = checks[row] if checks is not None else last[key] == row
            item.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.tree.addTopLevelItem(item)
        self.tree.blockSignals(False)
        if self.tree.topLevelItemCount():
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self.tree.setFocus()
        self._update()

    def conflicts(self) -> list[Conflict]:
        return [self.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) for i in range(self.tree.topLevelItemCount())]

    def _checks(self) -> list[bool]:
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [it.checkState(0) == Qt.CheckState.Checked for it in items]

    def checked(self) -> list[Conflict]:
        return [c for c, on in zip(self.conflicts(), self._checks()) if on]

    def _checked_changed(self, item: QTreeWidgetItem, column: int) -> None:
        """One file's version per photo: checking a row unchecks the same photo's other rows."""
        c: Conflict = item.data(0, Qt.ItemDataRole.UserRole)
        if column == 0 and item.checkState(0) == Qt.CheckState.Checked and c.photo_id is not None:
            self.tree.blockSignals(True)
            for i in range(self.tree.topLevelItemCount()):
                other = self.tree.topLevelItem(i)
                if other is not item and other.data(0, Qt.ItemDataRole.UserRole).photo_id == c.photo_id:
                    other.setCheckState(0, Qt.CheckState.Unchecked)
            self.tree.blockSignals(False)
        self._update()

    def _update(self) -> None:
        n, photos = self.tree.topLevelItemCount(), len({c.photo_id for c in self.conflicts()})
        self.label.setText(
            f"{n} conflict(s) on {photos} photo(s): a bib changed differently here and in the file since the "
            "hand-out (left as you have it; the photo's other bibs were merged), or, from a file without hand-out "
            "states, a photo reviewed differently or holding your own bibs the file's review lacks (left as it is). "
            "Enter or a double-click shows the photo; Space unchecks a row. The button imports the checked rows' "
            "photos again, letting the file win (bibs it lacks are deleted), like `bibtagger import --overwrite`."
        )
        self.take_button.setEnabled(any(c.photo_id is not None for c in self.checked()))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.tree and event.type() == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            item = self.tree.currentItem()
            if item is not None:
                self.show_photo(item)
            return True
        return super().eventFilter(obj, event)

    def _same_folder(self) -> bool:
        if getattr(self.controller.window, "store", None) is self.store and self.store is not None:
            return True
        self.controller._message(QMessageBox.Icon.Information, TITLE, "The folder of this import is no longer open.")
        return False

    def show_photo(self, item: QTreeWidgetItem) -> bool:
        """Show the row's photo in the window (clearing a search or filter that hides it)."""
        c: Conflict = item.data(0, Qt.ItemDataRole.UserRole)
        if c.photo_id is None or not self._same_folder():
            return False
        window = self.controller.window
        reveal = getattr(window, "reveal_photo", None)
        shown = reveal(c.photo_id, "Import conflict:") if callable(reveal) else window.select_photo(c.photo_id)
        if shown:
            window.statusBar().showMessage(f"Import conflict: {c.relpath} ({c.file.path.name}): {c.why}", 15000)
        return bool(shown)

    def take_files_version(self) -> list[FileImport] | None:
        """Import the checked rows' entries again with overwrite; the rows of those photos leave the list."""
        chosen = [c for c in self.checked() if c.photo_id is not None]
        if not chosen or not self._same_folder():
            return None
        done = self.controller.take_files_version(chosen)
        if done is None:
            return None
        taken = {c.photo_id for c in chosen}
        left = [(c, on) for c, on in zip(self.conflicts(), self._checks()) if c.photo_id not in taken]
        if left:
            self.set_conflicts([c for c, _on in left], [on for _c, on in left])
        else:
            self.accept()
        return done


class ImportController(FeatureController):
    """Imports annotation files into the window's store and reports what happened."""

    imported = Signal(object)  # ImportReport, once per file
    finished = Signal(object)  # list[FileImport] of one import (or of a "take the file's version")

    def __init__(self, window: Any):
        super().__init__(window)
        self.conflicts_dialog: ConflictsDialog | None = None

    def trigger(self) -> None:
        if getattr(self.window, "store", None) is None:
            self._message(QMessageBox.Icon.Information, TITLE, "Open a photo folder first.")
            return
        start = str(getattr(self.window, "folder", None) or Path.home())
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Import bib annotation JSON", start,
                                                "Bib annotation JSON (*.json);;All files (*)")  # fmt: skip
        if paths:
            self.import_files(paths)

    def import_file(self, path: str | Path, source: str = "auto", mark_reviewed: bool = False) -> ImportReport | None:
        """Import one file; its report, or None (after a message) when the file or the store is unusable."""
        done = self.import_files([path], source, mark_reviewed)
        return done[0].report if done else None

    def import_files(self, paths: list[str | Path], source: str = "auto", mark_reviewed: bool = False) -> list[FileImport] | None:
        """Import ``paths`` in turn (each one transaction, as ``bibtagger import DIR A.json B.json``); the files
        imported, or None (after a message) when a file is malformed (nothing imported) or the store unusable."""
        if getattr(self.window, "store", None) is None:
            return None
        files = []
        for path in map(Path, paths):  # all are read first: a malformed one imports nothing
            try:
                files.append(FileImport(path, load_annotations(path), source, mark_reviewed))
            except AnnotationError as exc:
                self._message(QMessageBox.Icon.Warning, TITLE, str(exc))
                return None

        def work(store: Any) -> list[FileImport]:
            done = []
            for f in files:
                try:
                    f.report = import_annotations(store, f.entries, source=source, mark_reviewed=mark_reviewed, name=f.path.name)
                except Exception as exc:  # noqa: BLE001 - one transaction: nothing of this file was imported
                    self._failed = f"Nothing was imported from {f.path.name}: {exc}"
                    break
                done.append(f)
            return done

        done = self._run(work, lambda f: f"Imported {f.path.name}: {f.report.summary()}")
        if done is None:
            return None
        conflicts = conflicts_of(self.window.store, done)
        if self.conflicts_dialog is not None:  # the last import's list: replaced, and freed (a child of the window)
            self.conflicts_dialog.close()
            self.conflicts_dialog.deleteLater()
            self.conflicts_dialog = None
        if conflicts:
            self.conflicts_dialog = ConflictsDialog(self, conflicts)
            self.conflicts_dialog.show()
        return done

    def take_files_version(self, chosen: list[Conflict]) -> list[FileImport] | None:
        """Import the entries of ``chosen`` conflicts again with overwrite (the file wins), all in one
        transaction, file by file in import order; None when nothing was done."""
        by_file: dict[int, tuple[FileImport, set[str]]] = {}
        for c in chosen:
            by_file.setdefault(id(c.file), (c.file, set()))[1].add(c.image)
        photos = len({c.photo_id for c in chosen})

        def work(store: Any) -> list[FileImport]:
            done = []
            try:
                with store.transaction():  # all of them or none
                    for f, images in by_file.values():
                        entries = [e for e in f.entries if e.image in images]
                        report = import_annotations(store, entries, source=f.source, mark_reviewed=f.mark_reviewed,
                                                    name=f.path.name, overwrite=True)  # fmt: skip
                        done.append(FileImport(f.path, entries, f.source, f.mark_reviewed, report))
            except Exception as exc:  # noqa: BLE001 - rolled back: nothing was changed
                self._failed = f"Nothing was changed: {exc}"
                return []
            return done

        return self._run(work, lambda f: f"Took the version of {f.path.name} for {photos} photo(s): {f.report.summary()}")

    def _run(self, work: Callable[[Any], list[FileImport]], describe: Callable[[FileImport], str]) -> list[FileImport] | None:
        """Run ``work(store)`` the way every import runs: not during a scan, recognition stopped and
        started again, the undo stack emptied when the store changed (the status bar says so), the
        queue rebuilt, the problems in a message."""
        window = self.window
        store = getattr(window, "store", None)
        if store is None:
            return None
        if self._refused_while_away("Import not started"):  # the folder is away: nothing opened or written there
            return None
        self._save_typed_number()  # then merged with the file (the emptied undo history dropped it, still shown)
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
        self._failed = ""
        done = work(store)
        changed = store.last_change() != mark
        if changed and hasattr(window, "drop_undo_history"):  # not undoable: older edits must not be undone over it
            window.drop_undo_history()
        if hasattr(window, "rebuild_queue"):
            window.rebuild_queue()
        if restart and hasattr(window, "start_recognition"):
            from bibtagger_gui.core import review

            window.start_recognition([p.id for p in store.photos() if review.needs_recognition(p)])
        if not done and self._failed:
            self._message(QMessageBox.Icon.Warning, TITLE, self._failed)
            return None
        text = " · ".join(describe(f) for f in done)
        if changed:
            text += UNDO_NOTE
        status = getattr(window, "statusBar", None)
        if callable(status):
            status().showMessage(text, 15000)
        several = len(done) > 1
        left_out = [f"{f.path.name}: {line}" if several else line for f in done for line in f.report.left_out]
        # photos the merge left unreviewed (a review that did not see all their merged bibs): named, as the command does
        notes = [f"{f.path.name}: {line}" if several else line for f in done for line in f.report.notes]
        # photos of a volunteer's older file than one of theirs imported before: left as the newer file had them
        older = [f"{f.path.name}: {line}" if several else line for f in done for line in f.report.older_notes]
        # bibs fixed (a number's spaces, a box outside its photo) or left out, bib by bib (core.importers._checked)
        bibs = [f"{f.path.name}: {line}" if several else line for f in done for line in f.report.bib_notes]
        if left_out or notes or older or bibs or self._failed:  # the status bar has the summary; which photos: a message
            more = f"\n{len(left_out)} photo(s) not imported (see details)." if left_out else ""
            if notes:
                more += f"\n{len(notes)} photo(s) left unreviewed for you to look at again (see details)."
            if older:
                more += (f"\n{len(older)} photo(s) of a volunteer's older file than one of theirs imported before, left as "
                         "the newer one had them (see details).")  # fmt: skip
            if bibs:
                more += f"\n{len(bibs)} bib(s) fixed or left out (see details)."
            warn = left_out or self._failed or any(f.report.bibs_skipped or f.report.predictions_dropped for f in done)
            self._message(QMessageBox.Icon.Warning if warn else QMessageBox.Icon.Information, TITLE,
                          text + more + (f"\n{self._failed}" if self._failed else ""), "\n".join(left_out + notes + older + bibs))  # fmt: skip
        else:
            self.last_message = text
        for f in done:
            self.imported.emit(f.report)
        self.finished.emit(done)
        return done


def install(window: Any) -> ImportController:
    """Add "Import Annotations…" to the window's File menu (or a new one), before Quit."""
    controller = ImportController(window)
    controller.add_file_action("Import &Annotations…", "import_annotations",
                               "Read bib annotation JSON (predict --json, an export, ground truth, volunteers' reviews) "
                               "into this folder's project")  # fmt: skip
    window.import_controller = controller
    return controller
