"""Base of the feature modules' controllers (keywords, start list, exports): window + messages."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox


class FeatureController(QObject):
    """Holds the window a feature acts on and shows its messages (tests set interactive=False)."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.window = window
        self.interactive = True
        self.last_message = ""

    def _message(self, icon, title: str, text: str, details: str = "") -> None:
        self.last_message = text
        if not self.interactive:
            return
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.window)
        if details:
            box.setDetailedText(details)
        box.exec()
