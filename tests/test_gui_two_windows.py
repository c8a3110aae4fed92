"""Two windows on one folder (two reviewers on a share, or one user with two windows): an edit of a bib the other
window changed a moment before -- before this window's poll showed it -- is not written over it unsaid
(gui/commands.py ``EditBibCommand``; docs/gui.md#changes-by-other-programs). Real windows on one real store."""

from __future__ import annotations

import time

import pytest

from bibtagger_gui.core.store import Store
from bibtagger_gui.gui import workers
from tests.test_gui_live_updates import WITHIN, messages, pid, shoot, stores, table  # noqa: F401
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401


@pytest.fixture
def two(qtbot, shoot, make_window):
    """Window a (the shoot's) and a second window b on its folder, both showing the first photo, with its one bib
    (as both saw it) and b's status bar messages: (a, b, bib, said)."""
    a, folder, _made = shoot
    (bib,) = a.current_bibs
    b = _second(qtbot, make_window, folder, a.current_id)
    return a, b, bib, messages(b)


def _second(qtbot, make_window, folder, photo_id):
    """A second window on ``folder``, showing ``photo_id``."""
    other = make_window()
    other.open_folder(folder)
    wait_idle(qtbot, other)
    other.select_photo(photo_id)
    return other


def _until_written(folder, photo_id: int, written) -> None:
    """Wait, no Qt event handled (the window's job's photo_done stays queued), until ``written(bibs)`` holds in the store."""
    deadline = time.monotonic() + 20
    with Store.open(folder) as other:
        while not written(other.bibs(photo_id)):
            assert time.monotonic() < deadline, "the re-run never wrote the photo"
            time.sleep(0.01)


def _enter(win, number: str) -> None:
    win.type_digit(number[0])
    win.number_edit.insert(number[1:])
    win.enter_pressed()


def test_a_number_typed_over_a_bib_the_other_window_just_corrected_is_not_written_over_it_unsaid(qtbot, two):
    a, b, bib, said = two
    _enter(a, "111")
    assert a.store.bib(bib.id).number == "111"
    _enter(b, "222")  # b has not polled since: it still shows the old number
    assert b.store.bib(bib.id).number == "111"  # a's correction stands
    text = " ".join(said)
    assert "was changed to 111 meanwhile" in text and "222 stays in the field" in text
    assert [x.number for x in b.current_bibs] == ["111"] and b.number_edit.text() == "222"
    b.enter_pressed()  # seen now: Enter writes 222 over 111 knowingly, one undo step
    assert b.store.bib(bib.id).number == "222" and b.undo_stack.count() == 1
    qtbot.waitUntil(lambda: [x.number for x in a.current_bibs] == ["222"], timeout=WITHIN)


def test_a_box_moved_here_does_not_put_back_the_number_the_other_window_replaced(qtbot, two):
    a, b, bib, said = two
    _enter(a, "333")
    b.photo_view.setFocus()
    b.nudge_box(4, 0, 0, 0)  # b has not polled since: its row still has the old number
    assert b.store.bib(bib.id).number == "333"  # the nudge wrote its stale number back over the correction before
    assert b.store.bib(bib.id).box == a.store.bib(bib.id).box == bib.box and b.undo_stack.count() == 0
    assert "was changed to 333 meanwhile" in " ".join(said)
    b.nudge_box(4, 0, 0, 0)  # the photo was read again: the nudge goes on from what is saved
    assert b.store.bib(bib.id).number == "333" and b.store.bib(bib.id).box != bib.box


def test_an_accept_of_a_photo_whose_bibs_the_other_window_just_changed_confirms_nothing_unseen(qtbot, shoot, make_window):
    a, folder, _made = shoot
    shown = a.current_id
    b = _second(qtbot, make_window, folder, shown)
    said = messages(b)
    _enter(a, "111")
    with Store.open(folder) as other:  # and a program (or a third window) adds a bib the model missed
        other.add_bib(shown, "222", (5, 5, 40, 30), source="human")
    assert sorted(x.number for x in a.store.bibs(shown)) == ["111", "222"]
    b.enter_pressed()  # b has not polled since: it shows only the old number, unaccepted
    assert not b.store.photo(shown).reviewed  # before, both bibs were confirmed unseen and b moved on
    assert b.current_id == shown and b.undo_stack.count() == 0
    text = " ".join(said)
    assert "changed meanwhile by another window or program: now 111, 222" in text and "Return accepts it" in text
    assert sorted(x.number for x in b.current_bibs) == ["111", "222"]  # the photo shows them now
    b.enter_pressed()  # seen now: Enter accepts what is shown, one undo step, and moves on
    assert b.store.photo(shown).reviewed and {x.source for x in b.store.bibs(shown)} == {"human"}
    assert b.current_id != shown and b.undo_stack.count() == 1
    b.undo()
    assert not b.store.photo(shown).reviewed and b.current_id == shown
    b.redo()
    assert b.store.photo(shown).reviewed


def test_a_number_typed_over_a_bib_the_other_window_just_corrected_stays_when_j_moves_on(qtbot, shoot, make_window):
    a, folder, _made = shoot
    shown = a.current_id
    (bib,) = a.current_bibs
    b = _second(qtbot, make_window, folder, a.list_model.item(1).photo_id)
    b.select_photo(shown)
    _enter(a, "111")
    b.type_digit("2")  # b has not polled since: it still shows the old number
    b.number_edit.insert("22")
    b.step_photo(1)  # J: the move went on, 222 only named in the message
    said = b.statusBar().currentMessage()
    assert "was changed to 111 meanwhile" in said and "222 stays in the field" in said
    assert b.current_id == shown and b.number_edit.text() == "222" and b.store.bib(bib.id).number == "111"
    b.step_photo(1)  # seen now: J writes 222 over 111 knowingly and moves on
    assert b.store.bib(bib.id).number == "222" and b.current_id != shown and b.undo_stack.count() == 1


def test_an_accept_of_a_photo_whose_box_the_other_window_just_moved_says_so(qtbot, shoot, make_window):
    a, folder, _made = shoot
    shown = a.current_id
    b = _second(qtbot, make_window, folder, shown)
    a.photo_view.setFocus()
    a.nudge_box(4, 0, 0, 0)
    b.enter_pressed()
    assert not b.store.photo(shown).reviewed and b.current_id == shown
    assert "now 100 (a box changed)" in b.statusBar().currentMessage()


def test_the_same_number_typed_in_both_windows_is_not_kept_in_the_field_as_not_saved(qtbot, two):
    """Two reviewers correcting one misread to the same number: the second was told "The number 111 stays in the
    field: Return saves it", and Return then did nothing, without a word."""
    a, b, bib, said = two
    _enter(a, "111")
    _enter(b, "111")
    assert b.store.bib(bib.id).number == "111" and b.undo_stack.count() == 0
    assert b._entry is None and b.number_edit.text() == "111"  # the field shows the bib as saved, no entry waits
    text = " ".join(said)
    assert "was changed to 111 meanwhile" in text and "That is the number you typed: nothing more to save" in text
    assert "stays in the field" not in text and "Not saved" not in text


def test_an_accept_just_after_this_window_s_own_recognition_read_the_photo_blames_no_other_window(qtbot, shoot, monkeypatch):
    a, folder, made = shoot
    shown = a.current_id
    said = messages(a)
    fixed_predictions(monkeypatch, table(made, offset=500))  # the re-run reads other numbers
    assert a.rerun_unreviewed()  # the photo shown goes first
    _until_written(folder, shown, lambda bibs: [x.number for x in bibs] != [made[0][1]])
    a.enter_pressed()  # the window still shows the old number
    assert not a.store.photo(shown).reviewed and a.current_id == shown
    text = " ".join(said)
    assert f"by this window's recognition: now {int(made[0][1]) + 500}, was {made[0][1]}" in text
    assert "another window or program" not in text and "Return accepts it" in text
    wait_idle(qtbot, a)
    a.enter_pressed()  # seen now: accepted
    assert a.store.photo(shown).reviewed


def test_an_accept_just_after_a_re_run_read_the_same_bibs_again_goes_through(qtbot, shoot):
    a, folder, made = shoot
    shown = a.current_id
    ids = [x.id for x in a.current_bibs]
    assert a.rerun_unreviewed()  # reads the same numbers and boxes: new rows, the same bibs for the eye
    _until_written(folder, shown, lambda bibs: [x.id for x in bibs] != ids)
    a.enter_pressed()
    assert a.store.photo(shown).reviewed and a.current_id != shown
    wait_idle(qtbot, a)


def test_j_after_the_same_number_typed_in_both_windows_moves_on_and_says_nothing_was_lost(qtbot, two):
    """The same with J: the move went on, but under "Not saved: Change bib 100 to 111: …" (a warning box on a
    desktop) though 111 is what the bib holds; it says the other set that number and nothing is left to save."""
    a, b, bib, said = two
    _enter(a, "111")
    first = b.current_id
    b.type_digit("1")
    b.number_edit.insert("11")
    b.step_photo(1)
    assert b.current_id != first and b._entry is None and b.undo_stack.count() == 0
    assert b.store.bib(bib.id).number == "111"
    text = " ".join(said)
    assert "was changed to 111 meanwhile" in text and "That is the number you typed: nothing more to save" in text
    assert "Not saved" not in text and "not saved" not in text


def test_an_accept_between_the_recognition_s_write_and_its_next_step_blames_this_window_s_recognition(qtbot, shoot,
                                                                                                    monkeypatch):
    """The job marked a photo as its own only after its write returned: on a loaded machine its thread can wait there a
    while, and an accept then blamed "another window or program" for the window's own re-run."""
    a, folder, made = shoot
    shown = a.current_id
    said = messages(a)
    fixed_predictions(monkeypatch, table(made, offset=500))
    write = workers.RecognitionJob._write

    def slow(self, store, photo_id, *args):  # the thread descheduled just after the photo shown was written
        done = write(self, store, photo_id, *args)
        if photo_id == shown:
            time.sleep(1.0)
        return done

    monkeypatch.setattr(workers.RecognitionJob, "_write", slow)
    assert a.rerun_unreviewed()
    _until_written(folder, shown, lambda bibs: [x.number for x in bibs] != [made[0][1]])
    a.enter_pressed()
    text = " ".join(said)
    assert "by this window's recognition" in text and "another window or program" not in text
    wait_idle(qtbot, a)
