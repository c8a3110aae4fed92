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


def test_a_keystroke_that_shows_the_same_rows_keeps_them_and_a_changed_bib_is_found_or_not_at_once(qtbot, searched):
    """A keystroke whose list is the one shown (same snapshots, same order: "101" then "0101", one bib) resets no
    row (docs/gui.md#search-keystrokes); one after a bib changed shows the photo found or no longer found, as a
    rebuild from the store does."""
    win = searched
    resets = []
    win.list_model.modelReset.connect(lambda: resets.append(win.search_edit.text()))
    win.search_edit.setText("101")
    assert shown(win) == rebuilt(win) and len(shown(win)) == 1 and resets == ["101"]
    pid = shown(win)[0]
    win.search_edit.setText("0101")  # the same bib number (leading zeros): the same row
    assert shown(win) == rebuilt(win) == [pid] and resets == ["101"] and win.current_id == pid
    bib = next(b for b in win.store.bibs(pid) if b.number == "101")
    win.store.update_bib(bib.id, number="555")  # corrected (as another program's write is shown: refresh_photo)
    win.refresh_photo(pid)
    win.search_edit.setText("101")
    assert shown(win) == rebuilt(win) == [] and resets[-1] == "101"  # no longer found
    win.search_edit.setText("555")
    assert shown(win) == rebuilt(win) == [pid]  # found by its new number at once
    other = next(p for p in win.items if p != pid)
    win.store.add_bib(other, "555", (1, 1, 20, 20))
    win.refresh_photo(other)
    win.search_edit.setText("0555")
    assert shown(win) == rebuilt(win) and set(shown(win)) == {pid, other}


def test_the_list_names_a_shared_file_name_by_the_rows_shown_as_bibs_change(qtbot, make_window, tmp_path):
    """Two cards' IMG_0001.JPG: a row shows the folder only while the other photo of that name is in the list too
    (name_match.list_labels of the rows shown), through searches and bib changes (the labels are kept between
    keystrokes: core/review_index.py)."""
    from bibtagger_gui.core.store import Store
    from tests.test_shared_names import photo

    folder = tmp_path / "shoot"
    rels = ["card1/IMG_0001.JPG", "card2/IMG_0001.JPG", "card2/IMG_0005.JPG"]
    for seed, rel in enumerate(rels):
        photo(folder / rel, seed)
    with Store.open(folder) as store:
        store.scan()
        ids = {rel: store.photo_by_path(rel).id for rel in rels}
        for rel, number in zip(rels, ["11", "22", "11"]):
            store.add_bib(ids[rel], number, (1, 1, 20, 20))
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)

    def names(text: str) -> dict[str, str]:
        win.search_edit.setText(text)
        model = win.list_model
        return {model.item(r).photo.relpath: model.data(model.index(r), Qt.ItemDataRole.DisplayRole).split("\n")[0]
                for r in range(model.rowCount())}

    both = {"card1/IMG_0001.JPG": "card1/IMG_0001.JPG", "card2/IMG_0001.JPG": "card2/IMG_0001.JPG",
            "card2/IMG_0005.JPG": "IMG_0005.JPG"}  # fmt: skip
    assert names("") == both
    assert names("11") == {"card1/IMG_0001.JPG": "IMG_0001.JPG", "card2/IMG_0005.JPG": "IMG_0005.JPG"}
    win.store.add_bib(ids["card2/IMG_0001.JPG"], "11", (30, 1, 50, 20))
    win.refresh_photo(ids["card2/IMG_0001.JPG"])
    assert names("011") == both
    win.store.delete_bib(next(b.id for b in win.store.bibs(ids["card1/IMG_0001.JPG"])))
    win.refresh_photo(ids["card1/IMG_0001.JPG"])
    assert names("11") == {"card2/IMG_0001.JPG": "IMG_0001.JPG", "card2/IMG_0005.JPG": "IMG_0005.JPG"}
    assert names("") == both
