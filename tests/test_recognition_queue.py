"""core/recognition_queue.py: what a recognition run takes next (the reviewer's photos first), each once; pause."""

from __future__ import annotations

import random
import threading
import time

from bibtagger_gui.core.recognition_queue import AHEAD, POLL_S, RecognitionQueue, reviewer_window


def drain(q: RecognitionQueue) -> list[int]:
    out = []
    while (pid := q.take()) is not None:
        out.append(pid)
    return out


def test_without_a_preference_photos_come_in_the_order_given_each_once():
    q = RecognitionQueue([5, 3, 9, 3, 1])
    assert q.total == 4 and drain(q) == [5, 3, 9, 1] and q.take() is None and q.remaining == 0


def test_preferred_photos_come_first_then_the_rest_in_order_and_nothing_twice():
    q = RecognitionQueue(range(10))
    assert q.take() == 0
    assert q.prefer([7, 0, 8]) == [7, 8]  # 0 is done already: not again
    assert [q.take(), q.take()] == [7, 8]
    assert drain(q) == [1, 2, 3, 4, 5, 6, 9]


def test_a_new_preference_replaces_the_last_one():
    q = RecognitionQueue(range(10))
    q.prefer([4, 5, 6])
    assert q.take() == 4
    q.prefer([9, 2])  # the reviewer moved on: 5 and 6 are no longer in front
    assert drain(q) == [9, 2, 0, 1, 3, 5, 6, 7, 8]


def test_photos_outside_the_run_are_never_taken():
    q = RecognitionQueue([1, 2])
    assert q.prefer([99, 2]) == [2]
    assert drain(q) == [2, 1]


def test_random_preferences_from_another_thread_take_every_photo_exactly_once():
    ids = list(range(500))
    q = RecognitionQueue(ids)
    taken: list[int] = []
    stop = threading.Event()

    def reviewer():
        rng = random.Random(3)
        while not stop.is_set():
            start = rng.randrange(len(ids))
            q.prefer(ids[start:start + AHEAD])

    t = threading.Thread(target=reviewer)
    t.start()
    try:
        while (pid := q.take()) is not None:
            taken.append(pid)
    finally:
        stop.set()
        t.join()
    assert sorted(taken) == ids


def test_pause_makes_take_wait_until_resume():
    q = RecognitionQueue([1, 2, 3])
    assert q.take() == 1
    q.pause()
    got: list[int | None] = []
    t = threading.Thread(target=lambda: got.append(q.take()))
    t.start()
    time.sleep(3 * POLL_S)
    assert got == [] and t.is_alive() and q.paused  # nothing new is taken while paused
    q.resume()
    t.join(5)
    assert got == [2] and not q.paused and drain(q) == [3]


def test_a_paused_take_returns_none_once_stopped():
    q = RecognitionQueue([1, 2])
    q.pause()
    stopped = threading.Event()
    got: list[int | None] = []
    t = threading.Thread(target=lambda: got.append(q.take(stopped.is_set)))
    t.start()
    time.sleep(POLL_S)
    stopped.set()
    q.wake()
    t.join(5)
    assert got == [None] and q.remaining == 2  # a cancel while paused takes nothing


def test_wait_while_paused_returns_on_resume_or_stop():
    q = RecognitionQueue([1])
    q.wait_while_paused()  # not paused: at once
    q.pause()
    stopped = threading.Event()
    t = threading.Thread(target=lambda: q.wait_while_paused(stopped.is_set))
    t.start()
    time.sleep(POLL_S)
    assert t.is_alive()
    stopped.set()
    t.join(5)
    assert not t.is_alive()


def test_reviewer_window_is_the_photo_shown_then_the_next_rows_wrapping_around():
    rows = [10, 11, 12, 13, 14]
    assert reviewer_window(rows, 12, 2, ahead=3) == [12, 13, 14, 10]
    assert reviewer_window(rows, 14, 4, ahead=10) == [14, 10, 11, 12, 13]  # the whole list once, shown first
    assert reviewer_window(rows, 99, None, ahead=2) == [99, 10, 11]  # shown but not in the list (a filter)
    assert reviewer_window([], None, None) == []
    items = [type("Item", (), {"photo_id": i})() for i in rows]
    assert reviewer_window(items, 11, 1, ahead=2, key=lambda it: it.photo_id) == [11, 12, 13]
