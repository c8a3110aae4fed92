"""core.review_index: the kept-sorted, number-indexed snapshots give exactly build_queue's list, in each of the
list's orders (review queue, capture time, file name), edited one photo at a time (Qt-free)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from bibtagger_gui.core import review, review_index
from bibtagger_gui.core.list_order import ListOrder
from bibtagger_gui.core.name_match import list_labels
from bibtagger_gui.core.review import ReviewFilter, ReviewItem
from bibtagger_gui.core.review_index import ReviewIndex


@dataclass(frozen=True)
class P:  # minimal Photo (duck type of core.store.Photo)
    id: int
    relpath: str
    reviewed: bool = False
    error: str | None = None
    model_version: str | None = "m"
    captured_at: str | None = None
    mtime: float | None = None


@dataclass(frozen=True)
class B:
    number: str
    source: str = "model"
    confidence: float | None = 0.9
    box: tuple | None = (0, 0, 10, 10)


# numbers that exercise number_key/clean_number: leading zeros, letters, spaces, only zeros, case
NUMBERS = ["1", "12", "012", "0012", "120", "1234", "7", "77", "0", "00", "A12", "a012", "B7", "1 2", " 13 ", "891", "0891"]
QUERIES = ["", " ", "1", "12", "012", "12*", "1*", "0*", "00", "0", "*", "a12", "A*", "a0*", "1 2", "13", "999", "9*",
           "891", "08*", "**", "1**", "12 *"]


def random_item(rng: random.Random, pid: int) -> ReviewItem:
    bibs = tuple(
        B(rng.choice(NUMBERS), rng.choice(["model", "model", "human", "mturk"]),
          rng.choice([None, 0.3, 0.5, 0.5, 0.89, 0.9, 0.95, 1.0]))  # repeated values: ties in confidence
        for _ in range(rng.choice([0, 0, 1, 1, 1, 2, 3]))
    )
    photo = P(pid, f"cam{rng.randint(1, 3)}/{rng.choice(['p', 'P'])}{pid}.jpg", reviewed=rng.random() < 0.3,
              error="truncated JPEG" if rng.random() < 0.08 else None,
              captured_at=rng.choice([None, "2024-05-12T10:31:02", "2024-05-12T10:31:02.5", f"2024-05-12T10:3{pid % 10}:00",
                                      "garbage"]),
              mtime=rng.choice([None, 0.0, 1_700_000_000.0, 1_700_000_000.0 + pid]))  # ties in time too
    return ReviewItem(photo, bibs)


def moved(rng: random.Random, item: ReviewItem) -> ReviewItem:
    """A fresh snapshot of the same photo file (edited, accepted, recognized again): only its bibs and its
    review state differ, as in the window (a file's name and time change only in a rescan)."""
    fresh = random_item(rng, item.photo_id)
    photo = P(item.photo_id, item.photo.relpath, fresh.photo.reviewed, item.photo.error, "m",
              item.photo.captured_at, item.photo.mtime)
    return ReviewItem(photo, fresh.bibs)


def same_queues(index: ReviewIndex, reference: dict[int, ReviewItem]) -> None:
    assert dict(index) == reference
    for flt in ReviewFilter:
        for text in QUERIES:
            want = [it.photo_id for it in review.build_queue(reference.values(), flt, text, order=index.order)]
            rows, ids = index.queue_ids(flt, text)
            assert [it.photo_id for it in rows] == ids == want, (flt, text, index.order)  # ids: from the kept keys


@pytest.mark.parametrize("order", list(ListOrder))
@pytest.mark.parametrize("seed", range(3))
def test_queue_is_build_queue_for_random_shoots_queries_and_edits(seed, order):
    rng = random.Random(seed)
    reference = {pid: random_item(rng, pid) for pid in rng.sample(range(1, 2000), 250)}
    index = ReviewIndex(reference.values(), order)
    same_queues(index, reference)
    for _ in range(4):  # edits as the window makes them: fresh snapshots, new photos, removed ones
        for pid in rng.sample(sorted(reference), 30):
            reference[pid] = index[pid] = moved(rng, reference[pid])
        for pid in rng.sample(sorted(reference), 10):  # a rescan's new facts of a file (renamed, other time)
            reference[pid] = index[pid] = random_item(rng, pid)
        for pid in rng.sample(range(2000, 4000), 5):
            reference[pid] = index[pid] = random_item(rng, pid)
        for pid in rng.sample(sorted(reference), 5):
            del reference[pid], index[pid]
        same_queues(index, reference)
    for other in ListOrder:  # another order, and back: the same snapshots, sorted once
        index.set_order(other)
        same_queues(index, reference)


def test_an_edit_recomputes_one_key_and_moves_a_photo_only_in_queue_order(monkeypatch):
    """Incremental in every order: a replaced snapshot costs one key and a bisection, never a sort of all.
    Accepting a photo moves it to the end in queue order; in capture and file-name order it keeps its row."""
    rng = random.Random(3)
    items = [ReviewItem(P(pid, f"IMG_{pid}.jpg", captured_at=f"2024-05-12T10:{pid // 60:02d}:{pid % 60:02d}.5"),
                        (B("12", confidence=rng.random()),)) for pid in rng.sample(range(1, 3000), 400)]  # fmt: skip
    keys = []
    real = review_index.order_key
    monkeypatch.setattr(review_index, "order_key", lambda item, order: keys.append(item.photo_id) or real(item, order))
    for order in ListOrder:
        index = ReviewIndex(items, order)
        before = [it.photo_id for it in index.queue()]
        pid = before[len(before) // 2]
        keys.clear()
        old = index[pid]
        index[pid] = ReviewItem(P(pid, old.photo.relpath, reviewed=True, captured_at=old.photo.captured_at),
                                (B("12", "human", None),))  # accepted: its bib confirmed
        assert keys == [pid], order  # one key computed, the photo's own
        after = [it.photo_id for it in index.queue()]
        if order is ListOrder.QUEUE:
            assert after == [i for i in before if i != pid] + [pid]  # reviewed photos go last
        else:
            assert after == before and index.queue()[before.index(pid)].photo.reviewed  # its place, its new state


def test_a_changed_snapshot_moves_in_the_order_and_is_found_by_its_new_number_only():
    a = ReviewItem(P(1, "a.jpg"), (B("12", confidence=0.2),))
    b = ReviewItem(P(2, "b.jpg"), (B("34", confidence=0.5),))
    index = ReviewIndex([a, b])
    assert [it.photo_id for it in index.queue()] == [1, 2]
    index[1] = ReviewItem(P(1, "a.jpg", reviewed=True), (B("0056", "human", None),))  # corrected and accepted
    assert [it.photo_id for it in index.queue()] == [2, 1]  # reviewed photos go last
    assert index.queue(search="12") == [] and index.queue(search="1*") == []
    assert [it.photo_id for it in index.queue(search="56")] == [1]
    assert [it.photo_id for it in index.queue(search="005*")] == [1]  # as written
    assert [it.photo_id for it in index.queue(ReviewFilter.REVIEWED, "56")] == [1]
    assert index.queue(ReviewFilter.UNREVIEWED, "56") == []
    del index[1]
    assert index.queue(search="56") == [] and [it.photo_id for it in index.queue()] == [2] and len(index) == 1


def test_a_snapshot_stored_under_another_id_is_refused():
    index = ReviewIndex()
    with pytest.raises(ValueError):
        index[2] = ReviewItem(P(1, "a.jpg"))
    assert len(index) == 0


def test_a_confidence_that_does_not_order_still_keeps_every_photo_once():
    nan = float("nan")
    index = ReviewIndex(ReviewItem(P(i, f"p{i}.jpg"), (B("5", confidence=nan if i % 2 else 0.5),)) for i in range(8))
    for i in range(8):  # each replacement finds the old place of its photo, however the NaN keys sorted
        index[i] = ReviewItem(P(i, f"p{i}.jpg", reviewed=bool(i % 3)), (B("6", confidence=nan if i % 2 else 0.7),))
    assert sorted(it.photo_id for it in index.queue()) == list(range(8))
    assert sorted(it.photo_id for it in index.queue(search="6")) == list(range(8)) and index.queue(search="5") == []


@dataclass(frozen=True)
class TimedP(P):
    captured_at: str | None = None
    mtime: float | None = None


def test_the_timeline_is_kept_across_edits_and_made_again_when_a_capture_time_changes():
    """The burst tools ask the capture order on a key press: built once (10,000 capture times parsed and
    sorted took 25-70 ms a key), it must follow a photo whose capture time or name changed (a rescan after a
    file was replaced), a photo added and one removed, or Ctrl+D copies from a photo that is no longer the
    previous frame."""
    def item(pid: int, at: str, reviewed: bool = False, rel: str | None = None) -> ReviewItem:
        return ReviewItem(TimedP(pid, rel or f"p{pid}.jpg", reviewed, captured_at=at), (B("12"),))

    index = ReviewIndex([item(1, "2024-05-12T10:00:00.00"), item(2, "2024-05-12T10:00:00.50"), item(3, "2024-05-12T10:05:00")])
    timeline = index.timeline()
    assert timeline.burst_of(1) == (1, 2) and timeline.previous_frame(3) == 2
    index[2] = item(2, "2024-05-12T10:00:00.50", reviewed=True)  # an edit: same capture time, same order
    assert index.timeline() is timeline
    index[3] = item(3, "2024-05-12T10:00:01")  # its file replaced: taken a second after photo 2 now
    assert index.timeline().burst_of(1) == (1, 2, 3) and index.timeline().previous_frame(3) == 2
    index[4] = item(4, "2024-05-12T09:59:59.50")
    assert index.timeline().burst_of(3) == (4, 1, 2, 3) and index.timeline().previous_frame(1) == 4
    del index[1]
    assert index.timeline().burst_of(3) == (4, 2, 3) and index.timeline().previous_frame(2) == 4
    index[4] = item(4, "2024-05-12T09:59:59.50", rel="cam2/p4.jpg")  # moved to another sub-folder: another lane
    assert index.timeline().burst_of(3) == (2, 3) and index.timeline().previous_frame(4) is None


def test_a_new_index_of_the_same_photos_takes_over_the_timeline_and_one_of_changed_photos_does_not():
    """The window reads the store again after a job or F5: a new index of the same photos at the same times keeps the
    built timeline (no 30-40 ms rebuild on the next burst key); any photo added, removed, renamed or re-timed makes
    it build its own, from its photos (never the old one: Ctrl+D would copy from a photo no longer the previous)."""
    from bibtagger_gui.core.bursts import Timeline

    def item(pid: int, at: str, reviewed: bool = False, rel: str | None = None) -> ReviewItem:
        return ReviewItem(TimedP(pid, rel or f"p{pid}.jpg", reviewed, captured_at=at), (B("12"),))

    times = {1: "2024-05-12T10:00:00.00", 2: "2024-05-12T10:00:00.50", 3: "2024-05-12T10:00:01", 4: "2024-05-12T10:05:00"}
    old = ReviewIndex([item(pid, at) for pid, at in times.items()])
    assert not ReviewIndex([item(pid, at) for pid, at in times.items()]).adopt_timeline(old)  # none built to take
    timeline = old.timeline()
    same = ReviewIndex([item(pid, at, reviewed=pid % 2 == 0) for pid, at in times.items()], ListOrder.NAME)
    assert same.adopt_timeline(old) and same.timeline_built and same.timeline() is timeline

    def shape(t: Timeline) -> tuple:
        return t.bursts, {pid: (t.previous_frame(pid), t.burst_of(pid)) for pid in range(1, 6)}

    changed = {
        "re-timed": [item(pid, "2024-05-12T10:04:59.5" if pid == 3 else at) for pid, at in times.items()],
        "renamed": [item(pid, at, rel="cam2/p2.jpg" if pid == 2 else None) for pid, at in times.items()],
        "added": [item(pid, at) for pid, at in times.items()] + [item(5, "2024-05-12T10:05:01")],
        "removed": [item(pid, at) for pid, at in times.items() if pid != 2],
        "replaced": [item(pid, at) for pid, at in times.items() if pid != 2] + [item(5, times[2])],
    }
    for why, items in changed.items():
        new = ReviewIndex(items)
        assert not new.adopt_timeline(old) and not new.timeline_built, why
        assert shape(new.timeline()) == shape(Timeline(it.photo for it in items)) != shape(timeline), why
    built = ReviewIndex(changed["added"])
    own = built.timeline()
    assert not built.adopt_timeline(old) and built.timeline() is own  # one it has is kept


def test_the_counts_are_kept_as_the_store_would_count_them():
    rng = random.Random(5)
    items = [random_item(rng, pid) for pid in range(200)]

    def counted(snapshots) -> tuple:  # Store.counts' rule: photos, with a bib, reviewed, with an error
        snaps = list(snapshots)
        return (len(snaps), sum(bool(i.bibs) for i in snaps), sum(bool(i.photo.reviewed) for i in snaps),
                sum(i.photo.error is not None for i in snaps))

    index = ReviewIndex(items, ListOrder.CAPTURE)
    assert tuple(vars(index.counts()).values()) == counted(items)
    for _ in range(300):  # edits, new photos, photos gone
        pid = rng.randrange(250)
        if pid in index and rng.random() < 0.2:
            del index[pid]
        else:
            index[pid] = moved(rng, index[pid]) if pid in index else random_item(rng, pid)
        assert tuple(vars(index.counts()).values()) == counted(index.values())
    assert index.counts().photos == len(index) > 0


# folders and names that make shared file names: two cards, a copy, one more level, names alike but for case
LABEL_FOLDERS = ["", "card1", "card2", "CARD1", "2024/a/DCIM", "2024/b/DCIM", "copy/card1", "x/y/z"]
LABEL_NAMES = ["IMG_1.JPG", "img_1.jpg", "IMG_2.JPG", "IMG_3.jpg", "p4.jpg"]


def labelled_item(rng: random.Random, pid: int, rel: str) -> ReviewItem:
    item = random_item(rng, pid)
    p = item.photo
    return ReviewItem(P(pid, rel, p.reviewed, p.error, "m", p.captured_at, p.mtime), item.bibs)


def same_labels(index: ReviewIndex) -> None:
    """``labels`` of each list the index gives is what list_labels says of that list's relpaths."""
    for flt in ReviewFilter:
        for text in QUERIES:
            rows, ids = index.queue_ids(flt, text)
            assert ids == [it.photo_id for it in rows] and rows == index.queue(flt, text), (flt, text)
            assert index.labels(ids) == list_labels(it.photo.relpath for it in rows), (flt, text)


@pytest.mark.parametrize("seed", range(3))
def test_the_lists_labels_are_list_labels_of_the_rows_shown_after_renames_new_and_gone_photos(seed):
    """The labels of names several photos share (``card1/IMG_1.JPG``) are kept between keystrokes
    (docs/gui.md#search-keystrokes); they must still be what list_labels says of the rows shown after a photo was
    renamed (a rescan's move), came or went: a stale group would show a bare name twice, or a folder where the
    name is alone in the list."""
    rng = random.Random(seed)
    paths = [f"{f}/{n}".lstrip("/") for f in LABEL_FOLDERS for n in LABEL_NAMES]
    free = paths[:]
    rng.shuffle(free)
    index = ReviewIndex([labelled_item(rng, pid, free.pop()) for pid in range(1, 21)], rng.choice(list(ListOrder)))
    same_labels(index)
    next_id = 21
    for _ in range(6):
        ids = sorted(index)
        for pid in rng.sample(ids, 3):  # renamed: a name it shared with others, or one of its own now
            free.append(index[pid].photo.relpath)
            rng.shuffle(free)
            index[pid] = labelled_item(rng, pid, free.pop())
        same_labels(index)  # (after each kind of change: one kind must not hide another's stale groups)
        for pid in rng.sample(ids, 4):  # edited: other bibs, the same name
            index[pid] = labelled_item(rng, pid, index[pid].photo.relpath)
        same_labels(index)
        for pid in rng.sample(sorted(index), 2):
            free.append(index[pid].photo.relpath)
            del index[pid]
        same_labels(index)
        for _ in range(2):
            index[next_id] = labelled_item(rng, next_id, free.pop())
            next_id += 1
        same_labels(index)


def test_labels_without_a_shared_name_are_empty_and_follow_a_name_that_becomes_shared():
    index = ReviewIndex([ReviewItem(P(1, "card1/IMG_1.JPG"), (B("12"),)), ReviewItem(P(2, "card2/IMG_2.JPG"), (B("12"),))])
    assert index.labels(index.queue_ids()[1]) == {}
    index[2] = ReviewItem(P(2, "card2/IMG_1.JPG"), (B("13"),))  # renamed by a rescan: the name is shared now
    assert index.labels(index.queue_ids()[1]) == {"card1/IMG_1.JPG": "card1/IMG_1.JPG", "card2/IMG_1.JPG": "card2/IMG_1.JPG"}
    assert index.labels(index.queue_ids(search="13")[1]) == {}  # alone in the list: its name tells it
    del index[1]
    assert index.labels(index.queue_ids()[1]) == {}
