"""The one key map of the GUI: action name -> key sequences, overridable.

Defaults are in :data:`DEFAULT_KEYMAP` (plus :data:`PLATFORM_EXTRA_KEYS`: Backspace deletes a bib on
macOS too). Overrides, later ones winning:

1. QSettings, key ``keys/<action>`` (a string like ``"Right; J"``);
2. a JSON file ``{"action": "Key" | ["Key", ...]}`` named by the environment
   variable ``BIBTAGGER_KEYMAP``, else ``bibtagger/keymap.json`` in the user's config
   dir (``QStandardPaths.GenericConfigLocation``: ``$XDG_CONFIG_HOME``, by default
   ``~/.config``, so ``~/.config/bibtagger/keymap.json`` on Linux).

Unknown actions and unparsable keys are reported in :attr:`Keymap.problems` and
otherwise ignored. Digits 0-9 (also on the keypad) are not actions: typed anywhere
outside a text field they go to the bib number field (see docs/review-flow.md), so
an override naming one is refused (reported; the action's other keys stay).

Conflicts: a key you bind to an action is taken away from the action that has it
by default (reported, e.g. ``F`` for ``next_photo`` leaves ``fit`` without ``F``).
A key you bind to two actions is refused for both (reported), and an action left
with none of its keys gets its defaults back, unless that brings a conflict too.
The window shows :attr:`Keymap.problems` in the status bar and on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt
from PySide6.QtGui import QKeySequence

#: action -> (default keys, description). Order is the documentation order.
DEFAULT_KEYMAP: dict[str, tuple[list[str], str]] = {
    "next_photo": (["Right", "J"], "Next photo of the list (in its order: review queue, capture time or file name)"),
    "prev_photo": (["Left", "K"], "Previous photo of the list"),
    "next_bib": (["Tab"], "Select the next bib of the photo (commits a typed number)"),
    "prev_bib": (["Shift+Tab"], "Select the previous bib (commits a typed number)"),
    "accept_photo": (["Return", "Enter"], "Commit a typed number; otherwise accept the photo and go to the next unreviewed one of the list"),
    "edit_number": (["F2"], "Edit the selected bib's number (letters too); digits start editing by themselves"),
    "draw_box": (["B"], "Draw a new box (drag with the mouse, or arrows to move and Shift+arrows to size it, Enter), then type its number; again while drawing, no box placed yet: cancel it"),
    "delete_bib": (["Delete"], "Delete the selected bib"),
    "copy_prev_bibs": (["Ctrl+D"], "Copy the bibs of the photo taken just before this one (its folder, capture order) onto it as your bibs; boxes only from a frame of the same burst and pixel size"),
    "apply_fix_to_burst": (["Ctrl+B"], "Apply your last fix of a reading (A to B) to the other unreviewed frames of its burst whose prediction reads A"),
    "box_left": (["Alt+Left"], "Move the selected bib's box left by 1 % of its width (at least 2 px)"),
    "box_right": (["Alt+Right"], "Move the selected box right (a burst of moves and sizes is one undo step)"),
    "box_up": (["Alt+Up"], "Move the selected box up"),
    "box_down": (["Alt+Down"], "Move the selected box down"),
    "box_narrower": (["Alt+Shift+Left"], "Move the selected box's right edge left (narrower)"),
    "box_wider": (["Alt+Shift+Right"], "Move the selected box's right edge right (wider)"),
    "box_shorter": (["Alt+Shift+Up"], "Move the selected box's bottom edge up (shorter)"),
    "box_taller": (["Alt+Shift+Down"], "Move the selected box's bottom edge down (taller)"),
    "cancel": (["Escape"], "Cancel typing / drawing; in the search box: clear the search"),
    "undo": (["Ctrl+Z"], "Undo the last edit (the store changes back at once)"),
    "redo": (["Ctrl+Shift+Z", "Ctrl+Y"], "Redo"),
    "zoom_bib": (["Z"], "Zoom to the selected bib"),
    "fit": (["F"], "Fit the photo in the view"),
    "zoom_in": (["+", "="], "Zoom in"),
    "zoom_out": (["-"], "Zoom out"),
    "order_queue": (["Ctrl+1"], "Order the photo list as the review queue: unreviewed first, least confident first (the default)"),
    "order_capture": (["Ctrl+2"], "Order the photo list by capture time (EXIF time, else file time; each sub-folder in turn): bursts together"),
    "order_name": (["Ctrl+3"], "Order the photo list by file name (IMG_2 before IMG_10)"),
    "search": (["Ctrl+F"], "Search a bib number (list shows only photos with it; commits a typed number); Enter goes to the first match, Escape clears the search"),
    "focus_list": (["Ctrl+L"], "Put the keys in the photo list: Up/Down move, Shift+Up/Down select several photos (for an export or Edit > Selected Photos; the Menu key opens their batch actions); Escape goes back to the photo"),
    "refresh_queue": (["F5"], "Rescan the folder (photos added, changed, removed) and rebuild the review queue"),
    "pause_recognition": (["Ctrl+P", "Pause"], "Pause the recognition running in the background (the photo under way is finished and kept); again to resume"),
    "open_folder": (["Ctrl+O"], "Open a photo folder"),
    "checkpoint": (["Ctrl+S"], "Mark a checkpoint (edits are always saved already)"),
    "quit": (["Ctrl+Q"], "Quit"),
    "shortcuts": (["F1"], "Show every keyboard shortcut (Help > Keyboard Shortcuts) and how to change them"),
}

#: keys added on one platform: a Mac keyboard's "delete" key is Backspace to Qt (its forward
#: Delete needs Fn). ``Ctrl`` needs no such entry: Qt reads it as Cmd on macOS.
PLATFORM_EXTRA_KEYS: dict[str, dict[str, list[str]]] = {"darwin": {"delete_bib": ["Backspace"]}}


def default_keys(platform: str | None = None) -> dict[str, list[str]]:
    """Action -> default keys on ``platform`` (``sys.platform`` when None)."""
    extra = PLATFORM_EXTRA_KEYS.get(sys.platform if platform is None else platform, {})
    return {a: [*keys, *extra.get(a, [])] for a, (keys, _) in DEFAULT_KEYMAP.items()}


SETTINGS_GROUP = "keys"
ENV_VAR = "BIBTAGGER_KEYMAP"


#: folder under the user's config dir that holds keymap.json
CONFIG_DIR_NAME = "bibtagger"


def default_json_path() -> Path:
    """``<config dir>/bibtagger/keymap.json``, e.g. ``~/.config/bibtagger/keymap.json``.

    GenericConfigLocation, not AppConfigLocation: the latter appends organisation
    *and* application name (``~/.config/bibtagger/bibtagger``), which is not where
    the docs say the file is.
    """
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base or ".") / CONFIG_DIR_NAME / "keymap.json"


def json_path_in_use() -> Path:
    """The key map file read at start: ``$BIBTAGGER_KEYMAP`` when set, else :func:`default_json_path`."""
    return Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else default_json_path()


def _parse(value: object) -> list[str] | None:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(";")]
    elif isinstance(value, (list, tuple)):
        parts = [str(p).strip() for p in value]
    else:
        return None
    parts = [p for p in parts if p]
    for p in parts:
        seq = QKeySequence(p)
        if seq.isEmpty() or seq.toString() == "":
            return None
    return parts


_DIGITS = {Qt.Key(Qt.Key.Key_0.value + i) for i in range(10)}


def _norm(key: str) -> str:
    """One spelling per key sequence (``"ctrl+z"`` and ``"Ctrl+Z"`` are the same key)."""
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)


def is_reserved(key: str) -> bool:
    """True for keys the window keeps for itself: digits 0-9, also on the keypad (they type a number)."""
    seq = QKeySequence(key)
    if seq.isEmpty():
        return False
    combo = seq[0]
    mods = combo.keyboardModifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return combo.key() in _DIGITS and mods == Qt.KeyboardModifier.NoModifier


@dataclass
class Keymap:
    """Resolved key map: action -> list of key strings, plus any problems found."""

    keys: dict[str, list[str]] = field(default_factory=default_keys)
    problems: list[str] = field(default_factory=list)
    #: actions whose keys come from an override (QSettings or the JSON file)
    overridden: set[str] = field(default_factory=set)

    def sequences(self, action: str) -> list[QKeySequence]:
        return [QKeySequence(k) for k in self.keys[action]]

    def text(self, action: str) -> str:
        return ", ".join(self.keys[action])

    def _apply(self, source: str, overrides: dict[str, object]) -> None:
        for action, value in overrides.items():
            if action not in DEFAULT_KEYMAP:
                self.problems.append(f"{source}: unknown action {action!r}")
                continue
            keys = _parse(value)
            if keys is None:
                self.problems.append(f"{source}: cannot read keys {value!r} for {action!r}")
                continue
            reserved = [k for k in keys if is_reserved(k)]
            if reserved:
                self.problems.append(
                    f"{source}: {', '.join(reserved)} for {action!r} refused: digits type a bib number"
                )
                keys = [k for k in keys if not is_reserved(k)]
                if not keys:
                    continue  # nothing left: the current keys stay
            self.keys[action] = keys
            self.overridden.add(action)

    def _resolve_conflicts(self) -> None:
        """Give every key to one action at most (rules in the module doc); report what changed."""
        owners: dict[str, list[str]] = {}
        emptied: list[str] = []
        for action, keys in self.keys.items():
            for k in keys:
                owners.setdefault(_norm(k), []).append(action)
        for key, acts in owners.items():
            if len(acts) < 2:
                continue
            mine = [a for a in acts if a in self.overridden]
            if len(mine) == 1:
                for a in acts:
                    if a != mine[0]:
                        self.keys[a] = [k for k in self.keys[a] if _norm(k) != key]
                        left = f"; {a!r} keeps {self.text(a)}" if self.keys[a] else f"; {a!r} has no key left"
                        self.problems.append(f"{key} is now {mine[0]!r}, no longer {a!r}{left}")
            else:
                for a in mine:
                    self.keys[a] = [k for k in self.keys[a] if _norm(k) != key]
                    emptied.append(a)
                self.problems.append(f"{key} set for {', '.join(repr(a) for a in mine)}: refused for all of them")
        for action in dict.fromkeys(emptied):
            if not self.keys[action]:
                default = default_keys()[action]
                taken = {_norm(k) for a, ks in self.keys.items() if a != action for k in ks}
                free = [k for k in default if _norm(k) not in taken]
                self.keys[action] = free
                self.problems.append(
                    f"{action!r} keeps its default {', '.join(free)}" if free else f"{action!r} has no key left"
                )


def load_keymap(settings: QSettings | None = None, json_path: str | Path | None = None) -> Keymap:
    """Defaults, then QSettings ``keys/*``, then the JSON file (see module doc)."""
    km = Keymap()
    settings = settings if settings is not None else QSettings()
    settings.beginGroup(SETTINGS_GROUP)
    try:
        km._apply("settings", {k: settings.value(k) for k in settings.childKeys()})
    finally:
        settings.endGroup()
    path = Path(json_path) if json_path else json_path_in_use()
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))  # Notepad's byte order mark, if any
            if not isinstance(data, dict):
                raise ValueError("expected an object {action: keys}")
            km._apply(str(path), data)
        except (OSError, ValueError) as exc:
            km.problems.append(f"{path}: {exc}")
    km._resolve_conflicts()
    return km


def markdown_table(km: Keymap | None = None) -> str:
    """The key map as a Markdown table (used to write docs/review-flow.md)."""
    km = km or Keymap()
    rows = ["| Action | Keys | What it does |", "|---|---|---|"]
    for action, (_, desc) in DEFAULT_KEYMAP.items():
        keys = ", ".join(f"`{k}`" for k in km.keys[action])
        rows.append(f"| `{action}` | {keys} | {desc} |")
    return "\n".join(rows)
