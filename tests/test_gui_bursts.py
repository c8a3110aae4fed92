"""The burst tools in the window (gui/burst_action.py), driven with their keys: Copy Bibs from Previous Photo
(Ctrl+D) and Apply This Fix to the Burst (Ctrl+B). What the store holds after each, one undo step each
(undo and redo exact), the status bar's messages and the edge cases (first photo, a previous photo without
bibs, another pixel size, another burst, reviewed photos and people's bibs untouched)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bibtagger_gui.core.bib import Bib  # noqa: E402
from bibtagger_gui.gui.keymap import DEFAULT_KEYMAP  # noqa: E402
from tests.test_bursts import shot  # noqa: E402
from tests.test_gui_support import fixed_predictions, gui_env, make_window, wait_idle  # noqa: E402,F401

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
T0 = datetime(2024, 5, 12, 10, 31, 2)
BOX = (40.0, 60.0, 140.0, 110.0)


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def dump(store) -> dict:
    return {p.relpath: (p.reviewed, tuple(store.bibs(p.id))) for p in store.photos()}


#: file -> (seconds after T0, pixel size, predictions); list order (least confident first): empty, far, f0..f3, g;
#: capture order: f0..f3, g, empty (10 min later), far (15 min)
SHOOT = {
    "empty.jpg": (600.0, (320, 240), []),
    "far.jpg": (900.0, (320, 240), [Bib("1234", BOX, 0.30), Bib("808", (10.0, 10.0, 60.0, 40.0), 0.97)]),
    "f0.jpg": (0.0, (320, 240), [Bib("1234", BOX, 0.40), Bib("55", (200.0, 50.0, 260.0, 90.0), 0.95)]),
    "f1.jpg": (0.3, (320, 240), [Bib("1234", (44.0, 62.0, 144.0, 112.0), 0.45)]),
    "f2.jpg": (0.6, (320, 240), [Bib("1234", (48.0, 64.0, 148.0, 114.0), 0.50)]),
    "f3.jpg": (0.9, (320, 240), [Bib("1234", (52.0, 66.0, 152.0, 116.0), 0.55), Bib("66", (5.0, 5.0, 30.0, 20.0), 0.96)]),
    "g.jpg": (1.2, (400, 240), [Bib("1234", (56.0, 68.0, 156.0, 118.0), 0.60)]),  # same burst, another size
}


@pytest.fixture
def burst(make_window, tmp_path, monkeypatch, qtbot):
    folder = tmp_path / "race"
    for name, (dt, size, _bibs) in SHOOT.items():
        shot(folder / name, T0 + timedelta(seconds=dt), size=size)
    fixed_predictions(monkeypatch, {name: bibs for name, (_dt, _size, bibs) in SHOOT.items()})
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    assert [it.photo.relpath for it in win.list_model.items] == list(SHOOT)  # the order the tests rely on
    return win


def show(win, relpath: str) -> int:
    pid = win.store.photo_by_path(relpath).id
    assert win.select_photo(pid)
    win.photo_view.setFocus()
    return pid


def numbers(win, relpath: str) -> dict[str, tuple]:
    return {b.number: (b.box, b.source) for b in win.store.bibs(win.store.photo_by_path(relpath).id)}


def message(win) -> str:
    return win.statusBar().currentMessage()


def test_keys_and_menu_entries_come_from_the_key_map(burst):
    win = burst
    for name in ("copy_prev_bibs", "apply_fix_to_burst"):
        act = win.actions_by_name[name]
        assert act in win.edit_menu.actions()
        assert [s.toString() for s in act.shortcuts()] == DEFAULT_KEYMAP[name][0]


def test_copy_within_a_burst_keeps_boxes_and_confirms_the_same_number(burst, qtbot):
    win = burst
    before = dump(win.store)
    pid = show(win, "f1.jpg")
    own_box = numbers(win, "f1.jpg")["1234"][0]
    key(qtbot, Qt.Key.Key_D, CTRL)
    got = numbers(win, "f1.jpg")
    prev = numbers(win, "f0.jpg")
    assert got == {"1234": (own_box, "human"), "55": (prev["55"][0], "human")}  # confirmed, not duplicated
    assert "From f0.jpg" in message(win) and "copied 55 with their boxes" in message(win)
    assert "confirmed 1234" in message(win)
    assert [b.id for b in win.current_bibs] == [b.id for b in win.store.bibs(pid)]  # the view shows them
    after = dump(win.store)
    key(qtbot, Qt.Key.Key_Z, CTRL)  # one undo step puts everything back exactly
    assert dump(win.store) == before
    key(qtbot, Qt.Key.Key_Z, CTRL | SHIFT)
    assert dump(win.store) == after
    # again: nothing left to copy, said so, nothing pushed
    index = win.undo_stack.index()
    key(qtbot, Qt.Key.Key_D, CTRL)
    assert "nothing copied" in message(win) and win.undo_stack.index() == index and dump(win.store) == after


def test_copy_from_another_size_or_another_burst_copies_numbers_without_boxes(burst, qtbot):
    win = burst
    show(win, "g.jpg")  # previous: f3, same burst but 320x240 against 400x240
    key(qtbot, Qt.Key.Key_D, CTRL)
    got = numbers(win, "g.jpg")
    assert got["66"] == (None, "human") and got["1234"][1] == "human"
    assert "without boxes (another pixel size)" in message(win)

    show(win, "empty.jpg")  # first in the list, but taken after g.jpg: its previous frame, ten minutes earlier
    key(qtbot, Qt.Key.Key_D, CTRL)
    assert numbers(win, "empty.jpg") == {n: (None, "human") for n in numbers(win, "g.jpg")}  # 1234 and the 66 copied above
    assert "From g.jpg" in message(win) and "without boxes (not the same burst)" in message(win)


def test_copy_on_the_first_photo_or_from_a_photo_without_bibs_does_nothing(burst, qtbot):
    win = burst
    before = dump(win.store)
    show(win, "f0.jpg")  # third in the list, first taken
    key(qtbot, Qt.Key.Key_D, CTRL)
    assert "first photo taken in its folder" in message(win)
    show(win, "far.jpg")  # previous frame: empty.jpg
    key(qtbot, Qt.Key.Key_D, CTRL)
    assert "empty.jpg) has no bib to copy" in message(win)
    assert dump(win.store) == before and win.undo_stack.count() == 0


def test_apply_fix_to_the_burst(burst, qtbot):
    win = burst
    store = win.store
    ids = {p.relpath: p.id for p in store.photos()}
    store.set_reviewed(ids["f3.jpg"], True)  # reviewed: never touched
    win.refresh_photo(ids["f3.jpg"])
    show(win, "f0.jpg")
    assert win.selected_row().number == "1234"  # the least confident bib is selected
    for d in "1243":
        key(qtbot, getattr(Qt.Key, f"Key_{d}"))
    key(qtbot, Qt.Key.Key_Return)
    assert numbers(win, "f0.jpg")["1243"][1] == "human"
    hint = message(win)  # the cheap check names the key: f1, f2, g qualify
    assert "Bib 1234 is now 1243 on f0.jpg; 3 other unreviewed frame(s) of its burst read 1234" in hint and "Ctrl+B" in hint
    before = dump(store)

    key(qtbot, Qt.Key.Key_B, CTRL)
    changed = [rel for rel in SHOOT if dump(store)[rel] != before[rel]]
    assert changed == ["f1.jpg", "f2.jpg", "g.jpg"]
    for rel in changed:
        old = {b.number: b for b in before[rel][1]}["1234"]
        assert numbers(win, rel)["1243"] == (old.box, "human") and "1234" not in numbers(win, rel)
    assert "1234 → 1243 on 3 more photo(s) of the burst: f1.jpg, f2.jpg, g.jpg" in message(win)
    assert "f3.jpg: reviewed" in message(win)  # left alone, and said
    assert numbers(win, "far.jpg")["1234"][1] == "model"  # another burst
    assert numbers(win, "f3.jpg")["1234"][1] == "model"
    after = dump(store)

    index = win.undo_stack.index()
    key(qtbot, Qt.Key.Key_B, CTRL)  # again: nothing to apply, said, nothing pushed
    assert "was just applied" in message(win) and win.undo_stack.index() == index

    key(qtbot, Qt.Key.Key_Z, CTRL)  # one step for the three photos
    assert dump(store) == before
    key(qtbot, Qt.Key.Key_Z, CTRL | SHIFT)
    assert dump(store) == after


def test_apply_fix_says_why_when_nothing_qualifies(burst, qtbot):
    win = burst
    hint = "fixes them too"
    show(win, "f2.jpg")
    key(qtbot, Qt.Key.Key_B, CTRL)
    assert "No fix to apply" in message(win)

    show(win, "far.jpg")  # alone in its burst
    win.statusBar().clearMessage()
    for d in "99":
        key(qtbot, getattr(Qt.Key, f"Key_{d}"))
    key(qtbot, Qt.Key.Key_Return)
    assert hint not in message(win)  # no hint: no frame qualifies
    before = dump(win.store)
    key(qtbot, Qt.Key.Key_B, CTRL)
    assert "far.jpg is not part of a burst" in message(win) and dump(win.store) == before

    # a person's bib and reviewed frames only: the burst has frames, none qualifies
    store = win.store
    ids = {p.relpath: p.id for p in store.photos()}
    for rel in ("f1.jpg", "f2.jpg", "f3.jpg", "g.jpg"):
        store.set_reviewed(ids[rel], True)
        win.refresh_photo(ids[rel])
    show(win, "f0.jpg")
    win.statusBar().clearMessage()
    for d in "4321":
        key(qtbot, getattr(Qt.Key, f"Key_{d}"))
    key(qtbot, Qt.Key.Key_Return)
    assert hint not in message(win)
    before = dump(store)
    key(qtbot, Qt.Key.Key_B, CTRL)
    assert "No other unreviewed photo of the burst of f0.jpg (5 frames)" in message(win)
    assert dump(store) == before


def test_copy_from_the_number_field_commits_the_typed_number_first(burst, qtbot):
    win = burst
    show(win, "f2.jpg")  # previous: f1 (1234)
    key(qtbot, Qt.Key.Key_9)
    assert win.number_edit.hasFocus()
    index = win.undo_stack.index()
    key(qtbot, Qt.Key.Key_D, CTRL)
    got = numbers(win, "f2.jpg")
    assert set(got) == {"9", "1234"} and got["9"][1] == got["1234"][1] == "human"  # the typed 9, then the copy
    assert got["1234"][0] == numbers(win, "f1.jpg")["1234"][0]  # same burst, same size: f1's box
    assert win.undo_stack.index() == index + 2  # two steps: the typed number, the copy


def test_undo_and_redo_of_a_copy_say_so(burst, qtbot):
    """The copy's message ends "Ctrl+Z undoes it" and stayed up after Ctrl+Z (and after Ctrl+Shift+Z), as if
    the key had done nothing; an undo or redo that says nothing itself now says what it undid or redid."""
    win = burst
    show(win, "f1.jpg")
    key(qtbot, Qt.Key.Key_D, CTRL)
    assert message(win).endswith("Ctrl+Z undoes it")
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert message(win) == "Undid Copy bibs from f0.jpg"
    key(qtbot, Qt.Key.Key_Z, CTRL | SHIFT)
    assert message(win) == "Redid Copy bibs from f0.jpg"
    key(qtbot, Qt.Key.Key_Return)  # accept: the next photo of the list is shown
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert message(win) == "Undid Accept photo" and win.store.photo(win.current_id).relpath == "f1.jpg"
    key(qtbot, Qt.Key.Key_B, CTRL)  # "No fix to apply": another message up when the undo comes
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert message(win) == "Undid Copy bibs from f0.jpg"


def test_copy_on_a_photo_without_any_capture_time_says_so(make_window, tmp_path, qtbot):
    import os

    from tests.test_gui_support import make_photos

    folder = tmp_path / "undated"
    made = make_photos(folder, 2)  # no EXIF date
    for name, *_ in made:
        os.utime(folder / name, (0, 0))  # and no file time either (a file system that keeps none)
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    show(win, made[1][0])
    key(qtbot, Qt.Key.Key_D, CTRL)
    assert "has no capture time" in message(win) and win.undo_stack.count() == 0


def test_a_burst_key_counts_from_the_snapshots_not_a_store_query(burst, qtbot, monkeypatch):
    """The status bar's counts after an edit come from the window's snapshots (a store query per key cost 4-8 ms
    over 10,000 photos, docs/bursts.md#cost), and say what the store says."""
    win = burst
    store = win.store
    queried = []
    real = store.counts
    monkeypatch.setattr(store, "counts", lambda: queried.append(1) or real())
    show(win, "f0.jpg")
    for d in "1243":
        key(qtbot, getattr(Qt.Key, f"Key_{d}"))
    key(qtbot, Qt.Key.Key_Return)
    key(qtbot, Qt.Key.Key_B, CTRL)
    show(win, "f1.jpg")
    key(qtbot, Qt.Key.Key_Return)  # an accept: one more reviewed
    qtbot.wait(win._counts_timer.interval() + 50)  # the coalesced update after the edits too
    c = real()
    assert c.reviewed == 1 and c.tagged == len(SHOOT) - 1
    assert win.counts_label.text() == f"{c.photos} photos · {c.tagged} tagged · {c.reviewed} reviewed · {c.errors} errors"
    assert not queried


def test_a_misread_that_ctrl_d_retyped_is_a_fix_ctrl_b_repeats(make_window, tmp_path, monkeypatch, qtbot):
    """Frame r0 reads 10264; r1..r3 misread it 10267 on the same plate. Ctrl+D on r1 retypes it (the copied box
    lands on the misread), and that retype is the fix the hint names and Ctrl+B applies to r2, r3."""
    folder = tmp_path / "fold"
    plates = {"r0.jpg": ("10264", 0.0), "r1.jpg": ("10267", 0.3), "r2.jpg": ("10267", 0.6), "r3.jpg": ("10267", 0.9)}
    for k, (name, (_n, dt)) in enumerate(plates.items()):
        shot(folder / name, T0 + timedelta(seconds=dt), size=(320, 240))
    fixed_predictions(monkeypatch, {name: [Bib(n, (40.0 + 2 * k, 60.0, 140.0 + 2 * k, 110.0), 0.5)]
                                    for k, (name, (n, _dt)) in enumerate(plates.items())})  # fmt: skip
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    show(win, "r1.jpg")
    key(qtbot, Qt.Key.Key_D, CTRL)
    assert set(numbers(win, "r1.jpg")) == {"10264"} and "replaced 10267 with 10264" in message(win)
    hint = message(win)
    key(qtbot, Qt.Key.Key_B, CTRL)
    for rel in ("r2.jpg", "r3.jpg"):
        assert numbers(win, rel) == {"10264": (numbers(win, rel)["10264"][0], "human")}
    assert "10267 → 10264 on 2 more photo(s)" in message(win), hint


def test_the_first_burst_key_after_a_folder_opens_builds_no_timeline_and_a_changed_photo_gets_a_new_one(burst, qtbot,
                                                                                                         monkeypatch):
    """The first Ctrl+D after a folder opened built the capture timeline on the key's path (30-40 ms at 10,000
    photos, docs/bursts.md#cost); it is built while the window is idle after the load, kept over the store's re-reads
    of the same photos (a job's end, F5), and built again, from the photos as they are, when one changes its time."""
    from bibtagger_gui.core import review_index
    from bibtagger_gui.core.bursts import Timeline
    from bibtagger_gui.core.store import Store
    from tests.test_bursts import shot

    win = burst
    qtbot.waitUntil(lambda: win.items.timeline_built, timeout=5000)  # built after the load, before any key
    built = []

    class Counting(Timeline):
        def __init__(self, photos, *args, **kwargs):
            built.append(1)
            super().__init__(photos, *args, **kwargs)

    monkeypatch.setattr(review_index, "Timeline", Counting)
    show(win, "f1.jpg")
    key(qtbot, Qt.Key.Key_D, CTRL)
    assert message(win).startswith("From f0.jpg: ") and not built
    win.rebuild_queue()  # F5: every photo read again, the same names and times
    assert win.items.timeline_built and not built
    # another program's scan finds far.jpg replaced by a frame taken right after g.jpg (the burst's last)
    folder = win.folder
    shot(folder / "far.jpg", T0 + timedelta(seconds=1.5), size=(320, 240))
    with Store.open(folder) as other:
        other.scan()
    win.live_updates.poll()
    far = win.store.photo_by_path("far.jpg").id
    assert win.items[far].photo.captured_at.startswith(T0.date().isoformat())
    assert not built or win.items.timeline_built
    qtbot.waitUntil(lambda: win.items.timeline_built, timeout=5000)
    assert built == [1]  # once, while idle
    assert win.items.timeline().previous_frame(far) == win.store.photo_by_path("g.jpg").id  # not empty.jpg any more
    show(win, "far.jpg")
    key(qtbot, Qt.Key.Key_D, CTRL)
    assert message(win).startswith("From g.jpg: ") and built == [1]
