"""A scripted, keyboard-only review session over 50 demo photos; counts the key presses."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.bib import iou
from bibtagger_gui.core.store import Store
from tests.test_gui_support import demo_folder, demo_template, gui_env, ground_truth, make_window, wait_idle  # noqa: F401

WRONG_EVERY = 6  # every 6th bib is proposed with a wrong number (and a low confidence)


def _wrong(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 3) % 10)


def _propose(folder, truth):
    """Seed the store with model bibs: the true boxes, a few wrong numbers. Returns #wrong bibs."""
    wrong = 0
    k = 0
    with Store.open(folder) as store:
        store.scan()
        for photo in store.photos():
            bibs = []
            for b in truth[photo.relpath]:
                k += 1
                if k % WRONG_EVERY == 0:
                    bibs.append(Bib(_wrong(b.number), b.box, 0.35))
                    wrong += 1
                else:
                    bibs.append(Bib(b.number, b.box, 0.9))
            store.set_model_bibs(photo.id, bibs, "seeded")
    return wrong


DOC = Path(__file__).resolve().parents[1] / "docs" / "review-flow.md"
BLOCK = re.compile(r"(<!-- measured:review-session -->\n)(.*?)(<!-- /measured -->)", re.S)


def _doc_block(measured: dict) -> None:
    """docs/review-flow.md carries the measurement: rewritten with BIBTAGGER_UPDATE_DOCS=1, else checked."""
    b = measured["breakdown"]
    text = (
        f"```json\n{json.dumps(measured)}\n```\n\n"
        f"{measured['key_presses']} key presses for {measured['photos']} photos "
        f"({measured['key_presses_per_photo']} per photo) with {measured['bibs']} bibs, "
        f"{measured['wrong_numbers_corrected']} of them corrected: {b['accept_enter']} Enter to accept, "
        f"{b['digits']} digits, {b['commit_enter']} Enter to commit a number, {b['tab']} Tab.\n"
    )
    doc = DOC.read_text(encoding="utf-8")
    m = BLOCK.search(doc)
    assert m, "docs/review-flow.md lost its measured block"
    if os.environ.get("BIBTAGGER_UPDATE_DOCS"):
        DOC.write_text(doc[: m.start(2)] + text + doc[m.end(2) :], encoding="utf-8")
    else:
        assert m.group(2) == text, "docs/review-flow.md is out of date: run with BIBTAGGER_UPDATE_DOCS=1"


class Keyboard:
    """Sends key clicks to whatever has focus, like a keyboard, and counts them."""

    def __init__(self, qtbot):
        self.qtbot, self.presses = qtbot, 0

    def click(self, k, mod=Qt.KeyboardModifier.NoModifier):
        self.qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)
        self.presses += 1

    def type(self, text: str):
        for ch in text:
            self.click(Qt.Key(ord(ch.upper())))


def test_keyboard_only_review_of_50_demo_photos(qtbot, make_window, demo_folder, capsys):
    truth = ground_truth(demo_folder)
    assert len(truth) == 50
    n_wrong = _propose(demo_folder, truth)
    assert n_wrong >= 5
    win = make_window()
    win.open_folder(demo_folder)
    wait_idle(qtbot, win)
    assert win.list_model.total() == 50
    kb = Keyboard(qtbot)
    corrected = typed = tabs = 0
    for _step in range(200):
        if win.current_id is None or win.items[win.current_id].photo.reviewed:
            break
        rel = win.items[win.current_id].photo.relpath
        # look at the screen: which shown bibs carry a wrong number?
        for true_bib in truth[rel]:
            shown = max(win.current_bibs, key=lambda b: iou(b.box, true_bib.box))
            if shown.number == true_bib.number:
                continue
            while win.selected_bib != shown.id:
                kb.click(Qt.Key.Key_Tab)
                tabs += 1
            kb.type(true_bib.number)  # digits replace the selected bib's number
            typed += len(true_bib.number)
            kb.click(Qt.Key.Key_Return)  # commit the number
            corrected += 1
        kb.click(Qt.Key.Key_Return)  # accept the photo -> next unreviewed
    assert corrected == n_wrong

    with Store.open(demo_folder) as store:
        photos = store.photos()
        assert len(photos) == 50 and all(p.reviewed for p in photos)
        for p in photos:
            rows = store.bibs(p.id)
            assert sorted(b.number for b in rows) == sorted(b.number for b in truth[p.relpath])
            assert all(b.source == "human" for b in rows)

    bibs_total = sum(len(v) for v in truth.values())
    measured = {
        "photos": 50,
        "bibs": bibs_total,
        "wrong_numbers_corrected": corrected,
        "key_presses": kb.presses,
        "key_presses_per_photo": round(kb.presses / 50, 2),
        "breakdown": {"accept_enter": 50, "digits": typed, "commit_enter": corrected, "tab": tabs},
    }
    with capsys.disabled():
        print(f"\nreview session measured: {json.dumps(measured)}")
    _doc_block(measured)
    # nothing else was needed: one Enter per photo (accept jumps to the next unreviewed one),
    # and per wrong bib the Tabs to reach it, its digits and one Enter
    assert kb.presses == 50 + typed + corrected + tabs


def test_undo_redo_and_navigation_keys(qtbot, make_window, demo_folder):
    truth = ground_truth(demo_folder)
    _propose(demo_folder, truth)
    win = make_window()
    win.open_folder(demo_folder)
    wait_idle(qtbot, win)
    kb = Keyboard(qtbot)
    assert win.select_first_with_bibs()
    first = win.current_id
    kb.click(Qt.Key.Key_Return)  # accept
    assert win.store.photo(first).reviewed and win.current_id != first
    kb.click(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo shows the photo it changes
    assert win.current_id == first and not win.store.photo(first).reviewed
    assert any(b.source == "model" for b in win.store.bibs(first))
    kb.click(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert win.store.photo(first).reviewed
    row = win.current_row()
    kb.click(Qt.Key.Key_J)
    assert win.current_row() == row + 1
    kb.click(Qt.Key.Key_Left)
    assert win.current_row() == row
    kb.click(Qt.Key.Key_Right)
    assert win.current_row() == row + 1
    kb.click(Qt.Key.Key_K)
    assert win.current_row() == row
    # Tab / Shift+Tab cycle the bibs of a photo with several
    multi = next(it for it in win.list_model.items if len(it.bibs) >= 2)
    win.select_photo(multi.photo_id)
    start = win.selected_bib
    kb.click(Qt.Key.Key_Tab)
    assert win.selected_bib != start
    kb.click(Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert win.selected_bib == start
    # Delete removes the selected bib, Ctrl+Z brings it back with the same id
    kb.click(Qt.Key.Key_Delete)
    assert start not in [b.id for b in win.store.bibs(multi.photo_id)]
    kb.click(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert start in [b.id for b in win.store.bibs(multi.photo_id)]
    # Z zooms to the selected bib, F fits the photo
    fit = win.photo_view.zoom_level()
    kb.click(Qt.Key.Key_Z)
    assert win.photo_view.zoom_level() > fit
    kb.click(Qt.Key.Key_F)
    assert abs(win.photo_view.zoom_level() - fit) < 1e-6
    # Escape drops a number being typed
    kb.type("77")
    assert QApplication.focusWidget() is win.number_edit
    kb.click(Qt.Key.Key_Escape)
    assert "77" not in [b.number for b in win.store.bibs(multi.photo_id)]
