"""The photo list's order in the window (View menu, the order box, docs/review-flow.md#list-order): review
queue, capture time, file name. Enter, next/previous, filters and search follow the chosen order; a photo
keeps its row in capture and file-name order when it is accepted; the choice comes back with the folder.
Every expected order is computed from the times and names the test gave the photos."""

from __future__ import annotations

import os
import random
from datetime import timedelta

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bibtagger_gui.core.bib import Bib  # noqa: E402
from bibtagger_gui.core.list_order import ListOrder  # noqa: E402
from bibtagger_gui.core.review import ReviewFilter  # noqa: E402
from bibtagger_gui.gui.keymap import DEFAULT_KEYMAP  # noqa: E402
from tests.test_bursts import T0, shot  # noqa: E402
from tests.test_gui_support import fixed_predictions, gui_env, make_window, wait_idle  # noqa: E402,F401

CTRL = Qt.KeyboardModifier.ControlModifier
BURSTS = [(0.0, 4), (20.0, 3), (40.0, 3)]  # (start s, frames 0.3 s apart): three bursts, ten frames
FILE_TIMED = 2  # photos without an EXIF date: placed by their file time, after every camera time


def make_shoot(folder) -> dict[str, tuple[int, float]]:
    """relpath -> (clock rank: 0 EXIF, 1 file time; seconds on it). Names IMG_<n>, n shuffled against the times
    (name order is not capture order); predictions with shuffled confidences (queue order is neither)."""
    rng = random.Random(4)
    numbers = rng.sample(range(1, 120), sum(n for _s, n in BURSTS) + FILE_TIMED)
    table: dict[str, tuple[int, float]] = {}
    times = [start + 0.3 * i for start, n in BURSTS for i in range(n)]
    for n, t in zip(numbers, times):
        shot(folder / f"IMG_{n}.jpg", T0 + timedelta(seconds=t), size=(160, 120))
        table[f"IMG_{n}.jpg"] = (0, round(t, 2))
    for i, n in enumerate(numbers[len(times):]):
        stamp = T0.timestamp() - 3600 + 60 * i  # earlier than the camera times: still after them in the list
        os.utime(shot(folder / f"IMG_{n}.jpg", None, size=(160, 120)), (stamp, stamp))
        table[f"IMG_{n}.jpg"] = (1, stamp)
    return table


def capture_order(table) -> list[str]:
    return sorted(table, key=lambda rel: table[rel])


def name_order(table) -> list[str]:
    return sorted(table, key=lambda rel: int(rel[4:-4]))


@pytest.fixture
def shoot(make_window, tmp_path, monkeypatch, qtbot):
    folder = tmp_path / "race"
    table = make_shoot(folder)
    rng = random.Random(2)
    fixed_predictions(monkeypatch, {rel: [Bib(rng.choice(["12", "120", "7"]), (10.0, 10.0, 60.0, 40.0), rng.random())]
                                    for rel in table})  # fmt: skip
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    return win, table, folder


def rows(win) -> list[str]:
    return [it.photo.relpath for it in win.list_model.items]


def shown(win) -> str:
    return win.items[win.current_id].photo.relpath


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def test_view_menu_keys_and_order_box_choose_the_order_and_the_photo_shown_stays(shoot, qtbot):
    win, table, _folder = shoot
    queue = rows(win)
    assert win.order is ListOrder.QUEUE and queue not in (capture_order(table), name_order(table))
    radio = [win.actions_by_name[f"order_{o.value}"] for o in ListOrder]
    assert all(a in win.view_menu.actions() and a.isCheckable() and a.actionGroup() is win.order_group for a in radio)
    assert [a.isChecked() for a in radio] == [True, False, False]
    for o in ListOrder:  # the keys come from the one key map
        assert win.actions_by_name[f"order_{o.value}"].shortcut().toString() == DEFAULT_KEYMAP[f"order_{o.value}"][0][0]
    keep = win.list_model.item(3).photo_id
    assert win.select_photo(keep)
    win.photo_view.setFocus()

    key(qtbot, Qt.Key.Key_2, CTRL)  # Ctrl+2: capture time
    assert win.order is ListOrder.CAPTURE and rows(win) == capture_order(table)
    assert win.order_box.currentData() == "capture" and win.actions_by_name["order_capture"].isChecked()
    assert win.current_id == keep and win.list_view.currentIndex().row() == win.list_model.row_of(keep)
    assert "10 by camera time (EXIF), then 2 by file time" in win.statusBar().currentMessage()

    key(qtbot, Qt.Key.Key_3, CTRL)  # Ctrl+3: file name, natural (IMG_9 before IMG_10)
    assert win.order is ListOrder.NAME and rows(win) == name_order(table) and win.current_id == keep
    win.order_box.setCurrentIndex(win.order_box.findData("queue"))  # the box does the same
    assert win.order is ListOrder.QUEUE and rows(win) == queue and win.actions_by_name["order_queue"].isChecked()
    win.actions_by_name["order_capture"].trigger()  # the menu entry
    assert rows(win) == capture_order(table) and win.order_box.currentData() == "capture"


def test_enter_in_capture_order_walks_each_burst_frame_by_frame_skipping_reviewed_ones(shoot, qtbot):
    win, table, _folder = shoot
    order = capture_order(table)
    done = {order[1], order[2], order[5], order[len(order) - 1]}  # frames inside bursts and the last photo
    for rel in done:
        win.store.set_reviewed(win.store.photo_by_path(rel).id, True)
    win.set_order(ListOrder.CAPTURE)
    win.rebuild_queue()  # F5: the reviews above are read
    assert rows(win) == order
    assert win.select_photo(win.store.photo_by_path(order[0]).id)
    win.photo_view.setFocus()
    walked = [shown(win)]
    for _ in range(len(order) - len(done) - 1):
        key(qtbot, Qt.Key.Key_Return)  # accept, on to the next unreviewed photo of the list
        walked.append(shown(win))
    assert walked == [rel for rel in order if rel not in done]
    key(qtbot, Qt.Key.Key_Return)
    assert all(p.reviewed for p in win.store.photos()) and "Every photo in this list is reviewed" in win.statusBar().currentMessage()
    assert rows(win) == order  # nothing moved


def test_next_and_previous_follow_the_order(shoot, qtbot):
    win, table, _folder = shoot
    for order, want in ((ListOrder.NAME, name_order(table)), (ListOrder.CAPTURE, capture_order(table))):
        win.set_order(order)
        assert win.select_photo(win.store.photo_by_path(want[0]).id)
        win.photo_view.setFocus()
        seen = [shown(win)]
        for _ in want[1:]:
            key(qtbot, Qt.Key.Key_J)
            seen.append(shown(win))
        assert seen == want
        key(qtbot, Qt.Key.Key_K)
        assert shown(win) == want[-2]


def test_filters_and_search_combine_with_each_order(shoot, qtbot):
    win, table, _folder = shoot
    full = {ListOrder.CAPTURE: capture_order(table), ListOrder.NAME: name_order(table)}
    for rel in full[ListOrder.CAPTURE][::3]:
        win.store.set_reviewed(win.store.photo_by_path(rel).id, True)
    win.rebuild_queue()
    full[ListOrder.QUEUE] = rows(win)
    numbers = {it.photo.relpath: set(it.numbers) for it in win.items.values()}
    reviewed = {it.photo.relpath for it in win.items.values() if it.photo.reviewed}
    for flt, search, member in (
        (ReviewFilter.UNREVIEWED, "", lambda rel: rel not in reviewed),
        (ReviewFilter.REVIEWED, "12*", lambda rel: rel in reviewed and numbers[rel] & {"12", "120"}),
        (ReviewFilter.ALL, "7", lambda rel: "7" in numbers[rel]),
    ):
        win.set_filter(flt)
        win.search_edit.setText(search)
        for order in ListOrder:
            win.set_order(order)
            want = [rel for rel in full[order] if member(rel)]
            assert want and rows(win) == want, (flt, search, order)
        win.search_edit.clear()
    win.set_filter(ReviewFilter.ALL)


def test_an_accepted_photo_keeps_its_row_in_capture_and_name_order_and_moves_only_in_queue_order(shoot, qtbot):
    win, table, _folder = shoot
    for order in (ListOrder.CAPTURE, ListOrder.NAME, ListOrder.QUEUE):
        win.set_order(order)
        win.rebuild_queue()
        before = rows(win)
        rel = next(r for r in before[3:] if not win.items[win.store.photo_by_path(r).id].photo.reviewed)
        assert win.select_photo(win.store.photo_by_path(rel).id)
        win.photo_view.setFocus()
        key(qtbot, Qt.Key.Key_Return)  # accepted
        assert win.store.photo_by_path(rel).reviewed
        win.set_order(ListOrder.QUEUE if order is not ListOrder.QUEUE else ListOrder.NAME)
        win.set_order(order)  # the list built again from the index, which the accept re-positioned
        win.rebuild_queue()  # and from a fresh read of the store (F5)
        if order is ListOrder.QUEUE:
            unreviewed = sum(1 for it in win.items.values() if not it.photo.reviewed)
            assert rows(win).index(rel) >= unreviewed  # among the reviewed photos, after every unreviewed one
            assert rows(win) != before
        else:
            assert rows(win) == before


def test_the_order_comes_back_with_its_folder(make_window, tmp_path, monkeypatch, qtbot):
    race, other = tmp_path / "race", tmp_path / "other"
    table = make_shoot(race)
    make_shoot(other)
    fixed_predictions(monkeypatch, {})
    win = make_window()
    assert win.open_folder(race)
    wait_idle(qtbot, win)
    win.set_order(ListOrder.NAME)
    pid = win.store.photo_by_path(name_order(table)[4]).id
    assert win.select_photo(pid)
    assert win.open_folder(other)  # another folder: the reopen below gives back the first one's order
    wait_idle(qtbot, win)
    win.set_order(ListOrder.CAPTURE)
    assert win.open_folder(race)
    assert win.order is ListOrder.NAME and rows(win) == name_order(table) and win.current_id == pid
    win.set_order(ListOrder.CAPTURE)
    wait_idle(qtbot, win)
    win.close()  # a clean quit writes at once

    again = make_window()  # a restart with the same settings
    assert again.order is ListOrder.QUEUE
    assert again.open_folder(race)
    assert again.order is ListOrder.CAPTURE and again.order_box.currentData() == "capture"
    assert again.actions_by_name["order_capture"].isChecked() and rows(again) == capture_order(table)
    assert again.current_id == pid
    wait_idle(qtbot, again)
    assert rows(again) == capture_order(table)  # the scan's and the recognition's rebuilds keep the order


def test_a_folder_opened_in_its_saved_order_is_sorted_once(make_window, tmp_path, monkeypatch, qtbot):
    """Its saved order becomes the window's before the snapshots are read: one sort of them, in that order (the
    queue used to be built in the window's order, then sorted again in the saved one)."""
    from bibtagger_gui.core.review_index import ReviewIndex

    race = tmp_path / "race"
    table = make_shoot(race)
    fixed_predictions(monkeypatch, {})
    win = make_window()
    assert win.open_folder(race)
    wait_idle(qtbot, win)
    win.set_order(ListOrder.NAME)  # remembered for the folder
    win.close_folder()
    win.set_order(ListOrder.CAPTURE)  # the window's order now differs from the folder's
    sorts: list[tuple[str, int]] = []
    real_sort = ReviewIndex._sort

    def counting_sort(index):
        sorts.append((index.order.value, len(index._items)))
        real_sort(index)

    monkeypatch.setattr(ReviewIndex, "_sort", counting_sort)
    assert win.open_folder(race)
    assert [s for s in sorts if s[1]] == [("name", len(table))]
    assert win.order is ListOrder.NAME and rows(win) == name_order(table)
    assert win.order_box.currentData() == "name" and win.actions_by_name["order_name"].isChecked()
    wait_idle(qtbot, win)
    assert rows(win) == name_order(table)


def test_an_unreadable_or_missing_saved_order_leaves_the_windows_order(make_window, tmp_path, monkeypatch, qtbot, gui_env):
    from bibtagger_gui.gui import resume

    race = tmp_path / "race"
    table = make_shoot(race)
    fixed_predictions(monkeypatch, {})
    win = make_window()
    assert win.open_folder(race)
    wait_idle(qtbot, win)
    win.set_order(ListOrder.NAME)
    win.close()
    group = f"{resume.GROUP}/folders/{resume.folder_key(race.resolve())}"
    assert gui_env.value(f"{group}/order") == "name"
    for saved in ("sideways", ""):  # hand-edited; saved before the list had orders
        gui_env.setValue(f"{group}/order", saved)
        gui_env.sync()
        again = make_window()
        again.set_order(ListOrder.CAPTURE)  # the window's order before the folder opens
        assert again.open_folder(race)
        assert again.order is ListOrder.CAPTURE and rows(again) == capture_order(table)
        wait_idle(qtbot, again)
        again.close()


@pytest.mark.parametrize("order", [ListOrder.CAPTURE, ListOrder.NAME])
def test_a_photo_another_program_renamed_or_replaced_moves_to_its_place_in_capture_and_name_order(shoot, qtbot, order):
    """Another program's scan (a second window, ``bibtagger predict``) found a file renamed and another replaced
    by a frame shot later: in capture and file-name order a photo's place is its file's, so both move to it,
    as a rebuild (F5) would put them, and the photo shown stays shown."""
    from bibtagger_gui.core import review
    from bibtagger_gui.core.store import Store
    from bibtagger_gui.gui.live_updates import POLL_MS

    win, table, folder = shoot
    win.set_order(order)
    names, times = name_order(table), capture_order(table)
    first_named, first_shot = names[0], next(rel for rel in times if rel != names[0])
    renamed_id, replaced_id = (win.store.photo_by_path(rel).id for rel in (first_named, first_shot))
    keep = win.list_model.item(win.list_model.total() // 2).photo_id
    assert win.select_photo(keep) and keep not in (renamed_id, replaced_id)
    last = max(int(rel[4:-4]) for rel in table)
    os.rename(folder / first_named, folder / f"IMG_{last + 1}.jpg")  # the last name now
    latest = max(t for rank, t in table.values() if rank == 0)
    shot(folder / first_shot, T0 + timedelta(seconds=latest + 60), size=(160, 120))  # the last camera time now
    with Store.open(folder) as other:
        other.scan()
    qtbot.waitUntil(lambda: all(win.items[i].photo == win.store.photo(i) for i in (renamed_id, replaced_id)),
                    timeout=3 * POLL_MS)  # the window read both again
    want = [it.photo.relpath for it in review.build_queue(review.load_items(win.store), order=order)]
    assert rows(win) == want, order
    assert win.current_id == keep and win.list_view.currentIndex().row() == win.list_model.row_of(keep)
