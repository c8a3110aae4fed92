"""The README's key table and the menu paths of the user docs match the app.

The README's "Review with the keyboard" table may only name keys the key map binds by default (or the
photo list's own Up/Down), and must name a key of every action a reviewer needs. Every *Menu > Entry*
named in README.md and the user-facing notes is an entry (or submenu) of that menu in the window.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence

from bibtagger_gui.gui.keymap import default_keys

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
USER_DOCS = ("README.md", "docs/review-flow.md", "docs/bursts.md", "docs/volunteers.md", "docs/exports.md",
             "docs/training.md", "docs/gui.md", "docs/packaging.md", "docs/imports.md", "docs/keywords.md",
             "docs/mturk.md")
#: actions a reviewer needs from the first session on: the README's table names a key of each
REVIEWER_ACTIONS = (
    "accept_photo", "edit_number", "cancel", "next_bib", "prev_bib", "draw_box", "delete_bib", "box_left",
    "box_wider", "undo", "redo", "next_photo", "prev_photo", "order_queue", "order_capture", "order_name",
    "zoom_bib", "fit", "search", "focus_list", "copy_prev_bibs", "apply_fix_to_burst", "pause_recognition",
    "shortcuts",
)
#: keys of the photo list itself (Qt's item view), not of the key map
LIST_KEYS = {"Up", "Down", "Shift+Up", "Shift+Down"}
KEY = re.compile(r"^(?:(?:Ctrl|Shift|Alt)\+)*(?:[A-Z][A-Za-z]*|F\d{1,2}|\d)$")


def norm(key: str) -> str:
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)


def readme_key_cells() -> list[str]:
    block = re.search(r"Review with the keyboard:\n\n(\| Key \|.*?)\n\n", README, re.S)
    assert block, "README.md has no 'Review with the keyboard' table"
    rows = [r for r in block.group(1).splitlines()[2:] if r.startswith("|")]
    assert len(rows) > 10
    return [r.split("|")[1].strip() for r in rows]


def keys_in(cell: str) -> list[str]:
    """``"Ctrl+L, Shift+Up/Down, Escape"`` -> Ctrl+L, Shift+Up, Shift+Down, Escape; ``Alt+arrows`` -> the four."""
    keys = []
    for part in re.split(r",\s*|\s+/\s+|\s+or\s+|\s+then\s+|\s+", cell):
        prefix, _, last = part.rpartition("+")
        prefix = prefix + "+" if prefix else ""
        for k in ("Left", "Right", "Up", "Down") if last == "arrows" else last.split("/"):
            if KEY.match(prefix + k):
                keys.append(prefix + k)
    return keys


def test_key_parsing():
    assert keys_in("Ctrl+L, Shift+Up/Down, Escape") == ["Ctrl+L", "Shift+Up", "Shift+Down", "Escape"]
    assert keys_in("Right/Left or J/K") == ["Right", "Left", "J", "K"]
    assert keys_in("B, drag, digits, Enter") == ["B", "Enter"]
    assert keys_in("Alt+Shift+arrows") == ["Alt+Shift+Left", "Alt+Shift+Right", "Alt+Shift+Up", "Alt+Shift+Down"]


def test_readme_key_table_matches_the_key_map():
    owner = {norm(k): a for a, keys in default_keys("linux").items() for k in keys}
    named = [k for cell in readme_key_cells() for k in keys_in(cell)]
    unknown = [k for k in named if norm(k) not in owner and k not in LIST_KEYS]
    assert not unknown, f"README's key table names keys the key map does not bind: {unknown}"
    covered = {owner[norm(k)] for k in named if norm(k) in owner}
    missing = [a for a in REVIEWER_ACTIONS if a not in covered]
    assert not missing, f"README's key table names no key of: {missing} (gui/keymap.py)"


MENU_PATH = re.compile(r"\b(File|Edit|Review|View|Recognition|Export|Crowd|Help) > \*{0,2}([^\n*]{1,80})")


def menu_entries(window) -> dict[str, list[str]]:
    """Menu title -> its entries' and submenus' texts (no ``&``, no trailing ``…``, no count suffix)."""
    out: dict[str, list[str]] = {}

    def plain(text: str) -> str:
        # "Selected Photos (3)" -> "Selected Photos"; "Mark Checkpoint (edits are always saved)" -> "Mark Checkpoint"
        return re.sub(r" \(.*\)$", "", text.replace("&", "").rstrip("…"))

    for bar_action in window.menuBar().actions():
        menu = bar_action.menu()
        texts = []
        for act in menu.actions():
            if act.isSeparator():
                continue
            texts.append(plain(act.text()))
        out[plain(bar_action.text())] = texts
    return out


def test_menu_paths_in_the_user_docs_exist(qtbot, tmp_path, monkeypatch, qapp):
    from bibtagger_gui.gui.main_window import MainWindow

    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(tmp_path / "none.json"))
    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    entries = menu_entries(win)
    entries["Edit"] += ["Undo", "Redo"]  # "Undo Copy bibs…": the text follows the undo stack
    problems, found = [], 0
    for doc in USER_DOCS:
        text = re.sub(r"\s*\n\s*", " ", (ROOT / doc).read_text(encoding="utf-8"))
        for menu, rest in MENU_PATH.findall(text):
            rest = rest.replace("\\", "")
            found += 1
            names = entries.get(menu)
            if names is None:
                problems.append(f"{doc}: {menu} > {rest[:40]}: no menu {menu!r}")
            elif not any(rest.startswith(n) or (" …" in rest and n.startswith(rest.split(" …")[0])) for n in names):
                problems.append(f"{doc}: {menu} > {rest[:50]}: not an entry of {menu} ({', '.join(names)})")
    assert found > 30  # the paths were found and read
    assert not problems, "menu paths in the docs that the window does not have:\n" + "\n".join(problems)
