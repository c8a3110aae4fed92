"""Export menu: the CLI's exports (csv, bibcsv, xlsx, json, coco, crops, bibfolders) from the GUI.

Each action asks for the target (file or folder), which photos (all, reviewed, unreviewed, the
ones the list shows now, the ones selected in it) and options in :class:`ExportDialog`, then runs
:func:`bibtagger_gui.core.photo_selection.select_photos` and
:func:`bibtagger_gui.core.exporters.export` -- what ``bibtagger export [--photos LIST]
[--unreviewed-only]`` runs -- on a Python thread with its own :class:`Store` (a Store is used from
one thread), shows a progress dialog, and ends with a summary. The photos of the list are handed
over as their relative paths, exactly a ``--photos`` list. Tests replace ``ExportController.ask``
(or build the real dialog with ``ExportController.dialog``, or call ``ExportController.start``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QButtonGroup,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from bibtagger_gui.core.exporters import ExportError, ExportReport, export
from bibtagger_gui.core.photo_selection import select_photos
from bibtagger_gui.gui import look
from bibtagger_gui.gui.keywords_action import find_or_add_menu
from bibtagger_gui.gui.feature_controller import FeatureController


@dataclass(frozen=True)
class ExportSpec:
    """One Export menu entry."""

    fmt: str  # format name of core.exporters / `bibtagger export --format`
    text: str  # menu text
    folder: bool  # writes a folder (crops, bibfolders) rather than one file
    default_name: str  # suggested file/folder name, after the photo folder's name
    file_filter: str = ""


SPECS: tuple[ExportSpec, ...] = (
    ExportSpec("csv", "Export CSV (photo → bibs)…", False, "bibs.csv", "CSV files (*.csv)"),
    ExportSpec("bibcsv", "Export CSV (bib → photos)…", False, "photos_by_bib.csv", "CSV files (*.csv)"),
    ExportSpec("xlsx", "Export Excel Workbook (photos and bibs)…", False, "bibs.xlsx", "Excel workbooks (*.xlsx)"),
    ExportSpec("json", "Export Bib Annotation JSON…", False, "annotations.json", "JSON files (*.json)"),
    ExportSpec("coco", "Export COCO JSON…", False, "coco.json", "JSON files (*.json)"),
    ExportSpec("crops", "Export Crops for Training…", True, "crops"),
    ExportSpec("bibfolders", "Export Per-Bib Folders…", True, "by_bib"),
)
SPEC_BY_FORMAT = {s.fmt: s for s in SPECS}


@dataclass(frozen=True)
class ExportRequest:
    """What the dialog asked for: where to write, which photos, and the options."""

    target: Path
    reviewed_only: bool = False  # --reviewed-only
    copy: bool = False  # bibfolders: copy photos instead of symlinking them
    unreviewed_only: bool = False  # --unreviewed-only
    photos: tuple[str, ...] | None = None  # relative paths, as a --photos LIST (None: no list)


# "Which photos" in the dialog: key, text (with its Alt mnemonic)
WHICH: tuple[tuple[str, str], ...] = (
    ("all", "&All photos"),
    ("reviewed", "&Reviewed photos only"),
    ("unreviewed", "&Unreviewed photos only"),
    ("shown", "The photos the list &shows now"),
    ("selected", "The photos s&elected in the list"),
)


def default_target(spec: ExportSpec, folder: Path | None) -> Path:
    base = Path(folder) if folder else Path.home()
    return base.parent / f"{base.name}_{spec.default_name}"


class ExportDialog(QDialog):
    """Target path (with Browse…), "Which photos" and, for per-bib folders, "Copy photos".

    ``shown`` / ``selected``: relative paths of the photos the window's list shows / has selected
    (None: the window has no list, the choice is hidden; empty: it is disabled). ``shown_note`` says
    what the list shows (filter, search). Every control has an Alt mnemonic; Enter exports.
    """

    def __init__(self, spec: ExportSpec, target: Path, counts: Any = None, parent=None,
                 shown: list[str] | None = None, selected: list[str] | None = None, shown_note: str = ""):  # fmt: skip
        super().__init__(parent)
        self.spec = spec
        self.setWindowTitle(spec.text.rstrip("…"))
        self.path_edit = QLineEdit(str(target))
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.shown, self.selected = list(shown or []), list(selected or [])
        counted = {"shown": f"{len(self.shown)}{': ' + shown_note if shown_note else ''}", "selected": str(len(self.selected))}
        if counts is not None:
            counted.update(all=str(counts.photos), reviewed=f"{counts.reviewed} of {counts.photos}",
                           unreviewed=f"{counts.photos - counts.reviewed} of {counts.photos}")  # fmt: skip
        box = QGroupBox("Which photos")
        box_layout = QVBoxLayout(box)
        self.which_group = QButtonGroup(self)
        self.which_buttons: dict[str, QRadioButton] = {}
        for key, text in WHICH:
            button = QRadioButton(f"{text} ({counted[key]})" if key in counted else text)
            button.setObjectName(f"which_{key}")
            self.which_group.addButton(button)
            self.which_buttons[key] = button
            box_layout.addWidget(button)
        self.which_buttons["all"].setChecked(True)
        self.which_buttons["shown"].setVisible(shown is not None)
        self.which_buttons["shown"].setEnabled(bool(self.shown))
        self.which_buttons["selected"].setVisible(selected is not None)
        self.which_buttons["selected"].setEnabled(bool(self.selected))
        self.reviewed_only = self.which_buttons["reviewed"]  # the former check box's name
        # (not &Copy: GNOME's theme gives Cancel its Alt+C)
        self.copy = QCheckBox("C&opy the photos (default: symbolic links)")
        self.copy.setVisible(spec.fmt == "bibfolders")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.path_edit.textChanged.connect(lambda t: self.ok_button.setEnabled(bool(t.strip())))
        layout = QVBoxLayout(self)
        target_label = QLabel("&Write to folder:" if spec.folder else "&Write to file:")
        target_label.setBuddy(self.path_edit)  # what a screen reader calls the field; Alt+W goes to it
        layout.addWidget(target_label)
        layout.addLayout(row)
        layout.addWidget(box)
        layout.addWidget(self.copy)
        layout.addWidget(buttons)

    def browse(self) -> None:
        current = self.path_edit.text()
        if self.spec.folder:
            path = QFileDialog.getExistingDirectory(self, self.windowTitle(), current)
        else:
            path, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), current, self.spec.file_filter)
        if path:
            self.path_edit.setText(path)

    def which(self) -> str:
        """The checked "Which photos" key (all, reviewed, unreviewed, shown, selected)."""
        return next(key for key, button in self.which_buttons.items() if button.isChecked())

    def set_which(self, key: str) -> None:
        self.which_buttons[key].setChecked(True)

    def request(self) -> ExportRequest:
        which = self.which()
        photos = tuple(self.shown) if which == "shown" else tuple(self.selected) if which == "selected" else None
        return ExportRequest(Path(self.path_edit.text().strip()).expanduser(), which == "reviewed",
                             self.copy.isChecked() and self.spec.fmt == "bibfolders", which == "unreviewed", photos)  # fmt: skip


class ExportSignals(QObject):
    progress = Signal(int, int)
    done = Signal(object)  # ExportReport, or the error message (str)


class ExportJob:
    """One export on a Python thread (see gui/threads.py for why not QThread/QRunnable)."""

    def __init__(self, folder: Path, db_path: Path, spec: ExportSpec, request: ExportRequest):
        self.folder, self.db_path, self.spec, self.request = folder, db_path, spec, request
        self.cancel_event = threading.Event()
        self.signals = ExportSignals()  # created in the GUI thread: emits are queued to it
        self.thread = threading.Thread(target=self.run, name=f"bibtagger-export-{spec.fmt}", daemon=True)

    def run(self) -> None:
        from bibtagger_gui.core.store import Store, StoreError

        request = self.request
        names = None if request.photos is None else list(enumerate(request.photos, 1))  # a --photos LIST
        try:
            with Store.open(self.folder, db_path=self.db_path) as store:
                sel = select_photos(store, names, (), request.unreviewed_only)
                if sel.unmatched:  # gone from the folder since the list was shown: never a silently smaller export
                    gone = ", ".join(name for _line, name, _why in sel.unmatched[:3])
                    more = ", …" if len(sel.unmatched) > 3 else ""
                    self.signals.done.emit(f"{len(sel.unmatched)} of the chosen photos are no longer in the folder "
                                           f"({gone}{more}); nothing exported")  # fmt: skip
                    return
                rep, _ = export(store, self.spec.fmt, request.target, reviewed_only=request.reviewed_only,
                                copy=request.copy, progress=self.signals.progress.emit,
                                cancel=self.cancel_event.is_set, only=sel.only)  # fmt: skip
        except (StoreError, ExportError) as exc:  # said as it is (not "ExportError: …"): a refused target
            self.signals.done.emit(str(exc))
        except OSError as exc:
            self.signals.done.emit(f"cannot write {self.request.target}: {exc.strerror or exc}")
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            self.signals.done.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.signals.done.emit(rep)


def list_note(window: Any) -> str:
    """What the window's list shows: 'filter Unreviewed, search "12*"' (empty when it shows every photo)."""
    parts = []
    flt = getattr(window, "filter", None)
    if flt is not None and getattr(flt, "value", "all") != "all":
        parts.append(f"filter {flt.label}")
    search = getattr(window, "search_edit", None)
    if search is not None and search.text().strip():
        parts.append(f"search \"{search.text().strip()}\"")
    return ", ".join(parts)


def summary(spec: ExportSpec, request: ExportRequest, rep: ExportReport) -> str:
    """One line, like the CLI's: what was exported where."""
    head = "Export cancelled after" if rep.cancelled else "Exported"
    text = f"{head} {rep.bibs} bib(s) from {rep.photos} photo(s) as {spec.fmt} to {request.target}"
    if rep.errors:
        text += f"; {len(rep.errors)} problem(s), see details"
    elif rep.notes:
        text += "; see details"
    return text + "."


class ExportController(FeatureController):
    """The Export menu actions of one window."""

    finished = Signal(object)  # ExportReport or error message

    def __init__(self, window: Any):
        super().__init__(window)
        self.job: ExportJob | None = None
        self.progress_dialog: QProgressDialog | None = None
        self.last_report: ExportReport | None = None
        self.actions: dict[str, QAction] = {}

    def dialog(self, spec: ExportSpec) -> ExportDialog:
        """The export dialog for ``spec``, filled from the window: counts, the list's shown and selected photos."""
        window = self.window
        store = getattr(window, "store", None)
        counts = store.counts() if store is not None else None
        shown = selected = None
        note = ""
        if store is not None and callable(getattr(window, "shown_photos", None)):
            shown = [p.relpath for p in window.shown_photos()]
            selected = [p.relpath for p in window.selected_photos()]
            note = list_note(window)
        return ExportDialog(spec, default_target(spec, getattr(window, "folder", None)), counts, window,
                            shown=shown, selected=selected, shown_note=note)  # fmt: skip

    def ask(self, spec: ExportSpec) -> ExportRequest | None:
        """Show the export dialog; None when cancelled. Tests replace this method."""
        dialog = self.dialog(spec)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.request()
        finally:
            dialog.deleteLater()  # a child of the window: kept until the window closes otherwise, one per export

    def trigger(self, fmt: str) -> ExportJob | None:
        spec = SPEC_BY_FORMAT[fmt]
        if getattr(self.window, "store", None) is None:
            self._message(QMessageBox.Icon.Information, "Export", "Open a photo folder first.")
            return None
        if self.job is not None:
            self._message(QMessageBox.Icon.Information, "Export", "An export is still running.")
            return None
        if self._refused_while_away("Export not started"):  # the folder is away: nothing opened or written there
            return None
        self._save_typed_number()  # in the file and the dialog's counts: a volunteer's last fix was left out of it
        request = self.ask(spec)
        if request is None:
            return None
        return self.start(fmt, request)

    def start(self, fmt: str, request: ExportRequest) -> ExportJob | None:
        """Run the export in the background (no dialogs asked); ``finished`` fires with the report."""
        spec = SPEC_BY_FORMAT[fmt]
        store = getattr(self.window, "store", None)
        if store is None or self.job is not None:
            return None
        if not spec.folder and request.target.is_dir():
            self._message(QMessageBox.Icon.Warning, "Export", f"{request.target} is a folder: choose a file name.")
            return None
        self.job = job = ExportJob(store.folder, store.db_path, spec, request)
        job.signals.progress.connect(self._on_progress)
        job.signals.done.connect(self._on_done)
        if self.interactive:
            self.progress_dialog = QProgressDialog(f"{spec.text.rstrip('…')} to {request.target}…", "Cancel", 0, 0,
                                                   self.window)  # fmt: skip
            self.progress_dialog.setWindowTitle("Export")
            look.name_progress_dialog(self.progress_dialog, "Export", f"{spec.text.rstrip('…')} to {request.target}")
            self.progress_dialog.setMinimumDuration(300)
            self.progress_dialog.canceled.connect(job.cancel_event.set)
        job.thread.start()
        return job

    def _on_progress(self, done: int, total: int) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.setMaximum(max(1, total))
            self.progress_dialog.setValue(done)
        status = getattr(self.window, "statusBar", None)
        if callable(status):
            status().showMessage(f"Export: {done}/{total} photos", 2000)

    def stop(self) -> None:
        """Cancel a running export and wait for it (the window is closing): a cancelled export still writes
        its labels.csv / manifest for what it made, while a killed daemon thread would leave neither."""
        job = self.job
        if job is not None and job.thread.is_alive():
            job.cancel_event.set()
            job.thread.join(60)

    def _on_done(self, outcome: object) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.thread.join(5)
        if self.progress_dialog is not None:
            self.progress_dialog.reset()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None
        if isinstance(outcome, ExportReport) and job is not None:
            self.last_report = outcome
            text = summary(job.spec, job.request, outcome)
            details = "\n".join([*outcome.notes, *(f"{rel}: {msg}" for rel, msg in outcome.errors)])
            icon = QMessageBox.Icon.Warning if outcome.errors or outcome.cancelled else QMessageBox.Icon.Information
            status = getattr(self.window, "statusBar", None)
            if callable(status):
                status().showMessage(text, 10000)
            self._message(icon, "Export", text, details)
        else:
            self._message(QMessageBox.Icon.Critical, "Export", f"Export failed: {outcome}")
        self.finished.emit(outcome)


def install(window: Any) -> ExportController:
    """Add the export actions (one per ``SPECS`` entry) to the window's Export menu (created when absent)."""
    controller = ExportController(window)
    menu = find_or_add_menu(window, "Export")
    if menu.actions():  # e.g. "Write Keywords to Photos…" from keywords_action
        menu.addSeparator()
    for spec in SPECS:
        action = QAction(spec.text, window)
        action.setObjectName(f"export_{spec.fmt}")
        action.setStatusTip(f"Same as `bibtagger export --format {spec.fmt}`")
        action.triggered.connect(lambda _checked=False, f=spec.fmt: controller.trigger(f))
        menu.addAction(action)
        controller.actions[spec.fmt] = action
    window.export_controller = controller
    controller.menu = menu
    return controller
