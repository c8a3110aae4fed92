"""core.review: queue order, filters, search, conflicts (Qt-free, real Store)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bibtagger_gui.core import review
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.review import ReviewFilter, ReviewItem


@dataclass(frozen=True)
class P:  # minimal Photo for pure-function tests
    id: int
    relpath: str
    reviewed: bool = False
    error: str | None = None
    model_version: str | None = None


@dataclass(frozen=True)
class B:
    number: str
    source: str = "model"
    confidence: float | None = 0.9
    box: tuple | None = (0, 0, 10, 10)


def item(pid, bibs=(), **kw):
    return ReviewItem(P(pid, f"p{pid:03d}.jpg", **kw), tuple(bibs))


def test_photo_confidence_rules():
    assert review.photo_confidence([]) == 0.0
    assert review.photo_confidence([B("1", "human", None)]) == 1.0
    assert review.photo_confidence([B("1", confidence=0.7), B("2", confidence=0.4), B("3", "human", None)]) == 0.4


def test_queue_order_unreviewed_lowest_confidence_first_errors_last():
    items = [
        item(1, [B("1", confidence=0.9)]),
        item(2, [B("2", confidence=0.3)]),
        item(3, []),  # nothing found: least trustworthy
        item(4, [B("4", confidence=0.1)], reviewed=True),
        item(5, [], error="truncated JPEG"),
        item(6, [B("6", confidence=0.5)]),
    ]
    order = [it.photo_id for it in review.build_queue(items)]
    assert order == [3, 2, 6, 1, 5, 4]


@pytest.mark.parametrize(
    "flt, expected",
    [
        (ReviewFilter.ALL, {1, 2, 3, 4, 5, 6}),
        (ReviewFilter.UNREVIEWED, {1, 2, 3, 5, 6}),
        (ReviewFilter.REVIEWED, {4}),
        (ReviewFilter.NO_BIB, {3}),
        (ReviewFilter.LOW_CONFIDENCE, {2, 4}),
        (ReviewFilter.CONFLICTS, {6}),
    ],
)
def test_filters(flt, expected):
    items = [
        item(1, [B("11", confidence=0.95)]),
        item(2, [B("22", confidence=0.2)]),
        item(3, []),
        item(4, [B("44", confidence=0.1)], reviewed=True),
        item(5, [], error="not an image"),
        item(6, [B("66", confidence=0.9), B("68", "mturk", None)]),
    ]
    assert {it.photo_id for it in review.build_queue(items, flt)} == expected


def test_conflict_needs_both_sides_and_a_difference():
    assert not review.is_conflict([B("7")])
    assert not review.is_conflict([B("7", "human", None)])
    assert not review.is_conflict([B("7"), B("7", "mturk", None)])
    assert review.is_conflict([B("7"), B("1", "human", None)])
    assert review.is_conflict([B("7"), B("8"), B("7", "mturk", None)])


def test_search_exact_and_prefix():
    items = [item(1, [B("12")]), item(2, [B("123")]), item(3, [B("a12", "human")]), item(4)]
    assert [i.photo_id for i in review.build_queue(items, search="12")] == [1]
    assert {i.photo_id for i in review.build_queue(items, search="12*")} == {1, 2}
    assert [i.photo_id for i in review.build_queue(items, search=" A12 ")] == [3]
    assert len(review.build_queue(items, search="")) == 4


def test_next_unreviewed_wraps_and_skips_errors_and_overrides():
    q = [item(1), item(2, reviewed=True), item(3, error="x"), item(4)]
    assert review.next_unreviewed(q, 0) == 3
    assert review.next_unreviewed(q, 3) == 0
    assert review.next_unreviewed(q, 0, reviewed={4: True}) == 0  # only the current one is left
    assert review.next_unreviewed(q, 0, reviewed={1: True, 4: True}) is None
    assert review.next_unreviewed(q, 3, reviewed={1: True}) == 3
    assert review.next_unreviewed([], 0) is None


def test_load_items_and_recognition_candidates_from_real_store(tmp_path):
    import cv2
    import numpy as np

    from bibtagger_gui.core.store import Store

    for i in range(3):
        cv2.imwrite(str(tmp_path / f"p{i}.jpg"), np.full((40, 60, 3), 40 * i, np.uint8))
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with Store.open(tmp_path) as store:
        store.scan()
        photos = {p.relpath: p for p in store.photos()}
        store.set_model_bibs(photos["p0.jpg"].id, [Bib("5", (1, 1, 9, 9), 0.4)], "v1")
        store.add_bib(photos["p0.jpg"].id, "6", None)
        store.set_reviewed(photos["p2.jpg"].id, True)
        items = {it.photo.relpath: it for it in review.load_items(store)}
        assert items["p0.jpg"].numbers == ["5", "6"] and items["p0.jpg"].conflict
        assert items["p1.jpg"].bibs == ()
        need = {p.relpath for p in store.photos() if review.needs_recognition(p)}
        assert need == {"p1.jpg"}  # p0 recognized, p2 reviewed, bad.jpg unreadable
        assert set(review.rerun_candidates(store.photos())) == {photos[r].id for r in ("p0.jpg", "p1.jpg", "bad.jpg")}
        queue = review.build_queue(items.values())
        assert queue[-1].photo.relpath == "p2.jpg"


def test_rebuilding_the_queue_reuses_each_snapshots_confidence(monkeypatch):
    """A search keystroke re-sorts the window's snapshots (10,000 photos); the sort used to work out
    every item's confidence again each time (and ran the filter rule for "All"). A snapshot's bibs never
    change, so its confidence is worked out once; the order stays the rule's."""
    calls = {"confidence": 0, "matches": 0}
    real_confidence, real_matches = review.photo_confidence, review.matches

    def counting_confidence(bibs):
        calls["confidence"] += 1
        return real_confidence(bibs)

    def counting_matches(*a, **kw):
        calls["matches"] += 1
        return real_matches(*a, **kw)

    monkeypatch.setattr(review, "photo_confidence", counting_confidence)
    monkeypatch.setattr(review, "matches", counting_matches)
    items = [item(i, [B(str(i % 50), confidence=(i * 37 % 100) / 100)], reviewed=i % 5 == 0) for i in range(1000)]
    first = review.build_queue(items)
    for text in ("1", "12*", ""):
        review.build_queue(items, search=text)
    assert calls == {"confidence": len(items), "matches": 0}
    # the order is the rule's: unreviewed first, least confident first, then by name
    want = sorted(items, key=lambda it: (it.photo.reviewed, it.photo.error is not None,
                                         real_confidence(it.bibs), it.photo.relpath))
    assert [it.photo_id for it in first] == [it.photo_id for it in want]
    assert [it.photo_id for it in review.build_queue(items, ReviewFilter.REVIEWED)] == [
        it.photo_id for it in want if it.photo.reviewed]
