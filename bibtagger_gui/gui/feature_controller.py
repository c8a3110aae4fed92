"""Base of the feature modules' controllers (keywords, start list, exports): window + messages."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox


def save_typed_number(window: Any) -> None:
    """The number being typed in ``window``'s field becomes its edit now (its own undo step), as moving to another
    photo makes it: what a feature reads or writes next (an export, a merge, keywords, a fine-tune, an MTurk batch)
    holds it. A window without a number field (a test's stand-in) has nothing to save. A box drawn and still waiting
    for its number is left waiting (committing ended it: the box went without a word); it is no bib until numbered."""
    waits = getattr(window, "drawn_box_waits", None)
    if callable(waits) and waits():
        return
    commit = getattr(window, "_commit_entry", None)
    if callable(commit):
        commit()


def refused_while_away(window: Any, done: str) -> str | None:
    """The status bar's message when ``window``'s open folder cannot be seen now (renamed, deleted, its drive unplugged:
    ``MainWindow.refuse_while_away``, within the wait before the window closes it), else None: a feature must then
    start nothing that opens the folder by its path (a new, empty project in a bare mount point) or writes there.
    ``done``: what did not happen ("Export not started"). A window without the check (a test's stand-in): None."""
    refuse = getattr(window, "refuse_while_away", None)
    if callable(refuse) and refuse(done):
        return window.statusBar().currentMessage()
    return None


class FeatureController(QObject):
    """Holds the window a feature acts on and shows its messages (tests set interactive=False)."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.window = window
        self.interactive = True
        self.last_message = ""

    def add_file_action(self, text: str, name: str, tip: str) -> Any:
        """A File-menu action (before Quit) that runs :meth:`trigger`; kept as ``self.action``/``self.menu``."""
        menu = getattr(self.window, "file_menu", None)
        if menu is None:
            from bibtagger_gui.gui.keywords_action import find_or_add_menu

            menu = find_or_add_menu(self.window, "File")
        action = QAction(text, self.window)
        action.setObjectName(name)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: self.trigger())
        quit_action = next((a for a in menu.actions() if a.objectName() == "quit"), None)
        if quit_action is not None:
            menu.insertAction(quit_action, action)
        else:
            menu.addAction(action)
        self.action, self.menu = action, menu
        return action

    def _refused_while_away(self, done: str) -> bool:
        """True (said in the status bar, kept as ``last_message``) while the open folder is away (:func:`refused_while_away`)."""
        said = refused_while_away(self.window, done)
        if said is not None:
            self.last_message = said
        return said is not None

    def _save_typed_number(self) -> None:
        save_typed_number(self.window)

    #: how long :meth:`_say`'s status-bar message stays (ms) unless told
    say_ms = 6000

    def _say(self, message: str, ms: int | None = None, photo: bool = False) -> bool:
        """Say ``message`` in the status bar (and keep it as ``last_message``); False, for ``return self._say(...)``
        where a key or action cannot act. ``photo``: it speaks of the photo shown, and goes when another photo is
        shown (the window's ``say_of_photo``; docs/gui.md#status-bar-messages)."""
        self.last_message = message
        ms = self.say_ms if ms is None else ms
        of_photo = getattr(self.window, "say_of_photo", None) if photo else None
        if of_photo is not None:
            of_photo(message, ms)
        else:
            self.window.statusBar().showMessage(message, ms)
        return False

    def _message(self, icon, title: str, text: str, details: str = "") -> None:
        self.last_message = text
        if not self.interactive:
            return
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.window)
        if details:
            box.setDetailedText(details)
        box.exec()
        box.deleteLater()  # a child of the window: one per message for as long as the window lives otherwise
