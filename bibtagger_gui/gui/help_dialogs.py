"""The Help menu's windows: Keyboard Shortcuts, Model Information, About bibtagger (docs/gui.md#help-menu).

Each is a non-modal window, one per main window (opened again it is refreshed and raised), every
control named for screen readers, Escape or Close to close it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QObject, Qt, Signal, qVersion
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from bibtagger_gui import __version__
from bibtagger_gui.core import applog
from bibtagger_gui.gui import screen_fit
from bibtagger_gui.gui.keymap import DEFAULT_KEYMAP, ENV_VAR, SETTINGS_GROUP, Keymap, json_path_in_use
from bibtagger_gui.gui.look import name_widget
from bibtagger_gui.gui.threads import WorkQueue, emit_if_alive

#: what the repository knows of the licences of what the packaged app bundles (build.spec):
#: component, its key in ``applog.component_versions``, licence as published by the project.
BUNDLED = [
    ("Python", "Python", "Python Software Foundation License"),
    ("Qt 6 (through PySide6-Essentials)", "Qt", "LGPL-3.0 (Qt's open-source licence)"),
    ("PySide6 (Qt for Python)", "PySide6", "LGPL-3.0"),
    ("ONNX Runtime", "ONNX Runtime", "MIT"),
    ("NumPy", "NumPy", "BSD-3-Clause (its wheels bundle OpenBLAS: BSD-3-Clause)"),
    ("OpenCV (opencv-python-headless)", "OpenCV", "Apache-2.0 (OpenCV 4.5 and later; the Python wrapper: MIT)"),
]


def qt_versions() -> dict[str, str]:
    return {"Qt": qVersion(), "PySide6": PYSIDE_VERSION}


def _close_buttons(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.close)
    close = buttons.button(QDialogButtonBox.StandardButton.Close)
    close.setAccessibleName("Close")
    close.setAccessibleDescription(f"Close the {dialog.windowTitle()} window")
    close.setToolTip("Close (Escape)")
    return buttons


class ShortcutsDialog(QDialog):
    """Every action of the key map with this user's keys (overrides included) and how to change them."""

    COLUMNS = ("Action", "Keys", "What it does", "Set by")

    def __init__(self, keymap: Keymap, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard Shortcuts")
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        name_widget(self.table, "Keyboard shortcuts", "Every action with its keys; arrow keys move through the rows")
        self.howto = QLabel()
        self.howto.setObjectName("shortcutsHowTo")
        self.howto.setWordWrap(True)
        self.howto.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.howto)
        lay.addWidget(_close_buttons(self))
        screen_fit.resize_within(self, 820, 640)  # less on a small screen (docs/gui.md#small-screens)
        self.fill(keymap)

    def fill(self, keymap: Keymap) -> None:
        self.table.setRowCount(len(DEFAULT_KEYMAP))
        for row, (action, (_defaults, description)) in enumerate(DEFAULT_KEYMAP.items()):
            keys = keymap.text(action) or "(none)"
            mine = action in keymap.overridden
            cells = (action, keys, description, "you (your key map)" if mine else "default")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(description)
                if mine:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        self.table.resizeRowsToContents()
        problems = "".join(f"<li>{html.escape(p)}</li>" for p in keymap.problems)
        self.howto.setText(
            "<p>Digits 0–9 always type a bib number; while a box is drawn, arrows move it, Shift+arrows size "
            "it, Enter takes it and Escape cancels (these keys are fixed). On macOS Ctrl is the Cmd key.</p>"
            "<p><b>To change a key</b>, put the action's name and its keys in "
            f"<code>{html.escape(str(json_path_in_use()))}</code> (or the file named by "
            f"<code>${ENV_VAR}</code>), e.g. <code>{{\"next_photo\": [\"N\", \"Space\"], \"accept_photo\": "
            "\"Ctrl+Return\"}</code>, or in the app's settings as "
            f"<code>{SETTINGS_GROUP}/&lt;action&gt;</code>; then restart bibtagger. A key you give an action is "
            "taken from the action that had it (listed below as a problem); a key given to two actions is refused for "
            "both.</p>"
            + (f"<p><b>Problems in your key map:</b></p><ul>{problems}</ul>" if problems else "")
        )

    def howto_text(self) -> str:
        """The how-to-change text below the table, as plain text."""
        return QTextDocumentFragment.fromHtml(self.howto.text()).toPlainText()

    def rows(self) -> list[tuple[str, ...]]:
        """The table as text (tests, and what a screen reader reads)."""
        return [tuple(self.table.item(r, c).text() for c in range(self.table.columnCount())) for r in range(self.table.rowCount())]


class _TextWindow(QDialog):
    """A read-only rich text window with a Close button."""

    def __init__(self, title: str, object_name: str, description: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setWindowTitle(title)
        self.browser = QTextBrowser()
        self.browser.setObjectName(f"{object_name}Text")
        self.browser.setOpenExternalLinks(False)
        name_widget(self.browser, title, description)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser, 1)
        lay.addWidget(_close_buttons(self))
        screen_fit.resize_within(self, 760, 640)


def model_information_markdown(models_dir: Path | None) -> str:
    """The models in ``models_dir`` (default: the bundled ones): versions, calibration, model cards."""
    from bibtagger_gui.core.recognizer import ModelError, Recognizer, default_models_dir

    folder = Path(models_dir) if models_dir else default_models_dir()
    parts = [f"# Models\n\nFolder: `{folder}`\n"]
    try:
        rec = Recognizer.from_dir(folder)
    except ModelError as exc:
        parts.append(f"**These models cannot be loaded:** {exc}\n")
    else:
        parts.append(f"- in use: **{rec.label}**")
        parts.append(f"- full version (stored with every prediction): `{rec.version}`")
        parts.append(f"- detector `{rec.detector.path.name}`: version `{rec.detector.version}`")
        for m in rec.readers:
            parts.append(f"- reader `{m.path.name}`: version `{m.version}`")
        parts.append(f"- calibration: {rec.calibration_note}\n")
    cards = sorted(folder.glob("*.md"))
    if not cards:
        parts.append("No model cards (`*.md`) in this folder.")
    for card in cards:
        try:
            text = card.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            text = f"(cannot read {card.name}: {exc})"
        parts.append(f"\n---\n\n*Model card `{card.name}`:*\n\n{text}")
    return "\n".join(parts)


def models_signature(models_dir: Path | None) -> tuple:
    """What the Model Information text depends on: the folder and each file's name, size and mtime (a few
    ``stat`` calls, cheap on the UI thread); the same signature: the text read before still holds."""
    from bibtagger_gui.core.recognizer import default_models_dir

    folder = Path(models_dir) if models_dir else default_models_dir()
    try:
        files = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in folder.iterdir() if f.is_file())
    except OSError:
        files = []
    return (str(folder), tuple(files))


class _InfoSignals(QObject):
    ready = Signal(object, str)  # signature, markdown


class ModelInfoDialog(_TextWindow):
    """Loading the ONNX models (to read their versions and calibration) takes a while: it runs in a worker,
    never on the UI thread, and its text is kept for as long as the folder's files stay the same, so the
    window opens at once, says it is reading the models, and opened again shows the text read before."""

    def __init__(self, models_dir: Path | None, parent: QWidget | None = None):
        super().__init__("Model Information", "modelInfoDialog",
                         "Versions, calibration and model cards of the recognition models", parent)  # fmt: skip
        self.pool = WorkQueue(1, lifo=True, name="model-info")
        self._signals = _InfoSignals(self)
        self._signals.ready.connect(self._ready)
        self._cache: dict[tuple, str] = {}
        self._wanted: tuple | None = None
        self.markdown = ""
        self.loading = False
        self.fill(models_dir)

    def fill(self, models_dir: Path | None) -> None:
        sig = models_signature(models_dir)
        self._wanted = sig
        if sig in self._cache:
            self._show(self._cache[sig])
            return
        self.loading = True
        self._show(f"# Models\n\nFolder: `{sig[0]}`\n\n*Reading the models…*")
        signals = self._signals
        self.pool.submit(lambda: emit_if_alive(signals.ready, sig, model_information_markdown(models_dir)))

    def _ready(self, sig: tuple, markdown: str) -> None:
        self._cache[sig] = markdown
        if sig == self._wanted:
            self.loading = False
            self._show(markdown)

    def _show(self, markdown: str) -> None:
        self.markdown = markdown
        self.browser.setMarkdown(markdown)


def about_markdown() -> str:
    versions = applog.component_versions(qt_versions())
    log_line = (f"`{applog.state.path}`" if applog.state.path else f"none ({applog.state.error or 'not set up'})")
    rows = ["| Component | Version | Licence |", "|---|---|---|"]
    for name, key, licence in BUNDLED:
        rows.append(f"| {name} | {versions.get(key, '')} | {licence} |")
    return "\n".join([
        f"# bibtagger {__version__}",
        "",
        "Finds runners' race bib numbers in event photos, offline, and lets you review and correct them.",
        "",
        f"Running on {versions['OS']}, Python {versions['Python']}, {versions['frozen']}.",
        "",
        f"Log file: {log_line}",
        "",
        "## Bundled components",
        "",
        *rows,
        "",
        "The recognition models (`detector.onnx`, `reader*.onnx`) were trained by this project from scratch "
        "(no pretrained weights); Help > Model Information shows their cards. exiftool, used to write "
        "keywords into photos, is not bundled (Perl, its own licence).",
        "",
        "bibtagger's own licence is not stated in this repository (pyproject.toml names none); "
        "ask the distributor of your copy.",
    ])


class AboutDialog(_TextWindow):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("About bibtagger", "aboutDialog", "bibtagger's version and the licences of its components",
                         parent)  # fmt: skip
        self.fill()

    def fill(self) -> None:
        self.markdown = about_markdown()
        self.browser.setMarkdown(self.markdown)


def show_window(owner: Any, attr: str, make, refresh) -> QDialog:
    """Open the owner's one window of a kind (``attr``), made on first use, refreshed and raised after."""
    dialog = getattr(owner, attr, None)
    if dialog is None:
        dialog = make()
        setattr(owner, attr, dialog)
    else:
        refresh(dialog)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
