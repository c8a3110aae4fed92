"""Side panel: the current photo's bibs (number, confidence, source) and the number field.

The panel only displays and emits; the window turns its signals into undoable
commands. The table never takes keyboard focus, so the review keys keep working;
typing goes to the number field (``number_edit``).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

from bibtagger_gui.core.review import ReviewItem
from bibtagger_gui.gui.photo_view import bib_colour


class BibPanel(QWidget):
    """Bib table + number field + action buttons for the current photo."""

    bibSelected = Signal(int)
    numberFieldFocused = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("No photo")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.state = QLabel("")
        self.state.setWordWrap(True)

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Number", "Confidence", "Source"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.itemSelectionChanged.connect(self._row_selected)
        self.table.cellDoubleClicked.connect(lambda *_: self.number_edit.setFocus())

        self.number_edit = QLineEdit()
        self.number_edit.setObjectName("numberEdit")
        self.number_edit.setPlaceholderText("type digits to change the selected bib")
        self.number_edit.setMaxLength(12)
        font = self.number_edit.font()
        font.setPointSize(font.pointSize() + 6)
        self.number_edit.setFont(font)
        self.number_edit.installEventFilter(self)

        self.buttons = QHBoxLayout()
        form = QFormLayout()
        form.addRow("Number:", self.number_edit)

        self.help = QLabel()
        self.help.setWordWrap(True)
        self.help.setStyleSheet("color: gray")

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addLayout(self.buttons)
        layout.addWidget(self.help)
        self._bibs: list[Any] = []
        self._updating = False

    def add_button(self, action: QAction) -> None:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.buttons.addWidget(button)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.number_edit and event.type() == event.Type.FocusIn:
            self.numberFieldFocused.emit()
        return False

    # ---- content
    def show_item(self, item: ReviewItem | None, bibs: list[Any], selected_id: int | None) -> None:
        self._updating = True
        try:
            self._bibs = list(bibs)
            if item is None:
                self.title.setText("No photo")
                self.state.setText("")
            else:
                p = item.photo
                self.title.setText(PurePosixPath(p.relpath).name)
                self.title.setToolTip(p.relpath)
                size = f"{p.width}×{p.height} px" if p.width else ""
                parts = [size, "reviewed ✓" if p.reviewed else "not reviewed"]
                if item.conflict:
                    parts.append("conflict: model and people disagree")
                if p.error:
                    parts.append(f"error: {p.error}")
                self.state.setText(" · ".join(x for x in parts if x))
            self.table.setRowCount(len(self._bibs))
            for r, b in enumerate(self._bibs):
                conf = "" if b.confidence is None else f"{b.confidence:.2f}"
                cells = [b.number + ("" if b.box is not None else " (no box)"), conf, b.source]
                for c, text in enumerate(cells):
                    cell = QTableWidgetItem(text)
                    if c == 0:
                        cell.setForeground(QBrush(bib_colour(b.source, b.confidence)))
                        f = cell.font()
                        f.setBold(True)
                        cell.setFont(f)
                    self.table.setItem(r, c, cell)
            self.set_selected(selected_id)
        finally:
            self._updating = False

    def set_selected(self, bib_id: int | None) -> None:
        was = self._updating
        self._updating = True
        try:
            self.table.clearSelection()
            for r, b in enumerate(self._bibs):
                if b.id == bib_id:
                    self.table.selectRow(r)
                    break
            if not self.number_edit.hasFocus():
                number = next((b.number for b in self._bibs if b.id == bib_id), "")
                self.number_edit.setText(number)
        finally:
            self._updating = was

    def _row_selected(self) -> None:
        if self._updating:
            return
        rows = self.table.selectionModel().selectedRows()
        if rows and rows[0].row() < len(self._bibs):
            self.bibSelected.emit(self._bibs[rows[0].row()].id)
