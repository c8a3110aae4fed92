"""The window's search box over its kept-sorted snapshots (core.review_index): what a keystroke costs
(no sort of every photo, no count query) and that the list and counts stay what a full rebuild gives."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core import review, review_index
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.list_order import ListOrder
from tests.test_gui_support import fixed_predictions, gui_env, make_window, wait_idle  # noqa: F401 - fixtures

N = 12


@pytest.fixture
def searched(qtbot, make_window, tmp_path, monkeypatch):
    """A window over N photos with model bibs 100..111 (some twice, some with a leading zero)."""
    from tests.test_gui_support import make_photos

    make_photos(tmp_path / "p", N)
    table = {f"photo_{i:03d}.jpg": [Bib(f"{'0' if i % 4 == 0 else ''}{100 + i}", (10, 10, 60, 40), 0.5 + 0.04 * i)]
             + ([Bib(str(200 + i % 3), (70, 10, 120, 40), 0.95)] if i % 2 else [])
             for i in range(N)}
    fixed_predictions(monkeypatch, table)
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    assert win.list_model.total() == N
    return win


def shown(win) -> list[int]:
    return [it.photo_id for it in win.list_model.items]


def rebuilt(win) -> list[int]:
    """The queue a full rebuild from the store gives for the window's filter and search."""
    items = review.load_items(win.store)
    return [it.photo_id for it in review.build_queue(items, win.filter, win.search_edit.text(), order=win.order)]


def counts_text(win) -> str:
    c = win.store.counts()
    return f"{c.photos} photos · {c.tagged} tagged · {c.reviewed} reviewed · {c.errors} errors"


@pytest.mark.parametrize("order", list(ListOrder))
def test_a_search_keystroke_sorts_no_photo_and_queries_no_count(searched, monkeypatch, order):
    win = searched
    win.set_order(order)  # in every list order (docs/review-flow.md#list-order): the index is kept in it
    keys = []

    def counting(item, order=ListOrder.QUEUE):
        keys.append(item.photo_id)
        return real_order_key(item, order)

    real_order_key = review_index.order_key
    monkeypatch.setattr(review_index, "order_key", counting)  # what the index keeps its order by
    queries = []
    real_counts = win.store.counts
    monkeypatch.setattr(win.store, "counts", lambda: queries.append(1) or real_counts())
    typed = ["1", "10", "101", "10", "1", "", "1*", "", "2*", "0*", ""]
    for text in typed:
        before = len(keys)
        win.search_edit.setText(text)
        # at most the photo a keystroke newly shows is read again (its fresh snapshot finds its place):
        # no sort key for each photo kept, as a filter-then-sort of every snapshot needs
        assert len(keys) - before <= 1, (text, keys[before:])
        assert shown(win) == rebuilt(win), text  # (build_queue: many sort keys, not counted above)
    assert queries == []  # the counts do not change while searching: the label stays, no SQL per keystroke
    assert win.counts_label.text() == counts_text(win)


def test_counts_and_the_list_stay_right_after_edits_during_a_search(qtbot, searched):
    win = searched
    win.search_edit.setText("1*")
    assert shown(win) == rebuilt(win) and win.list_model.total() == N
    before = win.counts_label.text()
    win.accept_photo()  # the first photo of the search is reviewed now
    assert win.counts_label.text() == counts_text(win) != before
    # a number corrected during the search: the photo shows its new number, keeps its row until the next keystroke
    pid = win.current_id
    win.photo_view.setFocus()
    for k in (Qt.Key.Key_9, Qt.Key.Key_0, Qt.Key.Key_7, Qt.Key.Key_Return):
        qtbot.keyClick(QApplication.focusWidget(), k)  # the first digit opens the number field
    assert "907" in [b.number for b in win.store.bibs(pid)]
    assert win.counts_label.text() == counts_text(win)
    for text in ["907", "1*", "10", "0*", "9*", "", "2*"]:
        win.search_edit.setText(text)
        assert shown(win) == rebuilt(win), text
        assert win.counts_label.text() == counts_text(win), text
    win.search_edit.setText("907")
    assert shown(win) == [pid]
    for flt in ("reviewed", "unreviewed", "low-confidence", "all"):
        win.set_filter(flt)
        for text in ["", "1*", "907"]:
            win.search_edit.setText(text)
            assert shown(win) == rebuilt(win), (flt, text)
    assert win.counts_label.text() == counts_text(win)
