"""File > "Import Start List…": read a CSV of bib numbers and names into the open project's store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from bibtagger_gui.core.startlist import (
    StartList,
    StartListError,
    load_from_store,
    off_list_reads,
    parse_startlist,
    save_to_store,
)
from bibtagger_gui.gui.feature_controller import FeatureController


# A start list lives in the project's meta, not in any photo's bibs: the import is not an edit on the undo
# stack, and it leaves the stack as it is (no undo of an earlier edit can bring back anything it replaced).
UNDO_NOTE = ("A start list import cannot be undone (import a corrected list to replace it); "
             "it changes no bib, so your edits can still be undone.")  # fmt: skip


class StartListController(FeatureController):
    """Imports start lists into the window's store and reports what happened."""

    imported = Signal(object)  # StartList

    def __init__(self, window: Any):
        super().__init__(window)

    def trigger(self) -> None:
        if getattr(self.window, "store", None) is None:
            self._message(QMessageBox.Icon.Information, "Import Start List", "Open a photo folder first.")
            return
        start = str(getattr(self.window, "folder", None) or Path.home())
        path, _ = QFileDialog.getOpenFileName(self.window, "Import start list", start,
                                              "Start lists (*.csv *.txt *.tsv);;All files (*)")  # fmt: skip
        if path:
            self.import_file(path)

    def import_file(self, path: str | Path) -> StartList | None:
        """Parse ``path`` and store it; None (after a message) when the file is unusable."""
        store = getattr(self.window, "store", None)
        if store is None:
            return None
        try:
            startlist = parse_startlist(Path(path))
        except StartListError as exc:
            self._message(QMessageBox.Icon.Warning, "Import Start List", str(exc))
            return None
        save_to_store(store, startlist)
        stored = load_from_store(store)
        off = off_list_reads(store, stored) if stored else []
        named = sum(1 for v in startlist.entries.values() if v)
        text = f"Imported {len(startlist)} bib numbers ({named} with names) from {Path(path).name}."
        text += "".join(f"\n{note[:1].upper()}{note[1:]}." for note in startlist.notes)  # the bib column chosen
        if startlist.problems:
            text += f"\n{len(startlist.problems)} line(s) were skipped (see details)."
        if off:
            text += f"\n{len(off)} bib read(s) in this folder are not on the start list."
        text += f"\n{UNDO_NOTE}"
        status = getattr(self.window, "statusBar", None)
        if callable(status):
            status().showMessage(f"{text.splitlines()[0]} {UNDO_NOTE}", 15000)
        icon = QMessageBox.Icon.Warning if startlist.problems else QMessageBox.Icon.Information
        self._message(icon, "Import Start List", text, "\n".join(startlist.problems))
        self.imported.emit(startlist)
        return startlist


def install(window: Any) -> StartListController:
    """Add "Import Start List…" to the window's File menu (or a new one)."""
    controller = StartListController(window)
    controller.add_file_action("Import Start &List…", "import_startlist", "Read a CSV of valid bib numbers and runners' names")
    window.startlist_controller = controller
    return controller
