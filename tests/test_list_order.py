"""core/list_order.py: the photo list's capture-time and file-name orders (Qt-free), on real JPEGs whose EXIF
capture time (with its sub-second) or file time the test writes, scanned into a real store. Every expected
order is computed from the times and names the test gave the photos, not written out by hand."""

from __future__ import annotations

import os
import random
from datetime import timedelta

import pytest

from bibtagger_gui.core import bursts, review
from bibtagger_gui.core.list_order import ListOrder, capture_key, name_key, natural_key
from bibtagger_gui.core.review import ReviewFilter
from bibtagger_gui.core.store import Store
from tests.test_bursts import T0, shot

FOLDERS = ["", "cam2", "cam10"]  # cam2 before cam10: folders go in natural order too


def folder_number(relpath: str) -> int:
    """The rank the test expects of a photo's folder: the root first, then camN by N."""
    folder = relpath.rsplit("/", 1)[0] if "/" in relpath else ""
    return int(folder[3:]) if folder else -1


def make_shoot(folder, seed: int) -> dict[str, tuple[str | None, float]]:
    """Photos in three folders on three clocks: relpath -> (clock, seconds on it). EXIF times come in bursts
    (frames 0.1-0.9 s apart, hundredths) and ties within one second; some photos carry only a file time, a few
    none (file time 0). Names are IMG_<n> with n not following the times."""
    rng = random.Random(seed)
    table: dict[str, tuple[str | None, float]] = {}
    numbers = rng.sample(range(1, 3000), 40)
    for i, n in enumerate(numbers):
        sub = rng.choice(FOLDERS)
        rel = f"{sub}/IMG_{n}.jpg" if sub else f"IMG_{n}.jpg"
        kind = rng.choices([bursts.EXIF, bursts.FILE, None], weights=[6, 3, 1])[0]
        burst, frame = divmod(i, 4)
        dt = 30.0 * burst + round(rng.choice([0.0, 0.25, 0.5, 0.5, 0.75]) + frame * rng.choice([0.0, 0.3]), 2)
        if kind == bursts.EXIF:
            shot(folder / rel, T0 + timedelta(seconds=dt))
            table[rel] = (kind, dt)
        else:
            path = shot(folder / rel, None)
            # a file time a day *before* the camera times: sorting by the seconds alone would put them first
            stamp = T0.timestamp() - 86400 + dt if kind == bursts.FILE else 0  # file time 0: no usable time
            os.utime(path, (stamp, stamp))
            table[rel] = (kind, stamp)
    return table


def expected_capture_order(table: dict[str, tuple[str | None, float]]) -> list[str]:
    rank = {bursts.EXIF: 0, bursts.FILE: 1, None: 2}
    frame = lambda rel: int(rel.rsplit("_", 1)[1].split(".")[0])  # noqa: E731 - IMG_<frame>: ties go by it
    timed = sorted((rel for rel in table if table[rel][0] is not None),
                   key=lambda rel: (rank[table[rel][0]], folder_number(rel), table[rel][1], frame(rel)))  # fmt: skip
    untimed = sorted((rel for rel in table if table[rel][0] is None), key=lambda rel: (folder_number(rel), frame(rel)))
    return timed + untimed


@pytest.mark.parametrize("seed", range(3))
def test_capture_order_is_camera_time_then_file_time_then_none_folder_by_folder(tmp_path, seed):
    table = make_shoot(tmp_path, seed)
    with Store.open(tmp_path) as store:
        store.scan()
        photos = store.photos()
        clocks = {p.relpath: (bursts.capture_time(p).source if bursts.capture_time(p) else None) for p in photos}
        assert clocks == {rel: kind for rel, (kind, _t) in table.items()}  # the premise: each photo on its clock
        order = [it.photo.relpath for it in review.build_queue(review.load_items(store), order=ListOrder.CAPTURE)]
        assert order == expected_capture_order(table)

        # Ctrl+D's previous photo is the row above, and every burst is one run of rows
        row = {rel: i for i, rel in enumerate(order)}
        by_id = {p.id: p.relpath for p in photos}
        for p in photos:
            prev = bursts.previous_frame(photos, p.id)
            if prev is not None:
                assert row[by_id[prev]] == row[p.relpath] - 1, p.relpath
        found = bursts.bursts(photos)
        assert found, "the shoot has bursts"
        for burst in found:
            rows = [row[by_id[pid]] for pid in burst]
            assert rows == list(range(rows[0], rows[0] + len(rows)))


def test_frames_of_one_second_go_by_their_sub_second_and_whole_seconds_by_name(tmp_path):
    offsets = {"b.jpg": 0.75, "a.jpg": 0.25, "c.jpg": 0.5}
    for name, dt in offsets.items():
        shot(tmp_path / name, T0 + timedelta(seconds=dt))
    for name in ("y.jpg", "x.jpg"):  # no sub-second written: both at the whole second 5
        shot(tmp_path / name, T0 + timedelta(seconds=5), subsec=False)
    with Store.open(tmp_path) as store:
        store.scan()
        order = [it.photo.relpath for it in review.build_queue(review.load_items(store), order=ListOrder.CAPTURE)]
    assert order == sorted(offsets, key=offsets.get) + ["x.jpg", "y.jpg"]


def test_file_name_order_is_natural_folder_by_folder_and_case_blind():
    rng = random.Random(5)
    photos = {}  # relpath -> (card number, frame number)
    for _ in range(200):
        card, frame = rng.randint(1, 12), rng.randint(1, 1500)
        prefix = rng.choice(["IMG_", "img_"])
        photos[f"card{card}/{prefix}{frame}.jpg"] = (card, frame)
    names = list(photos)
    rng.shuffle(names)
    got = sorted(names, key=name_key)
    assert [photos[n] for n in got] == sorted(photos[n] for n in names)  # card2 before card10, IMG_2 before IMG_10
    assert sorted(["IMG_1.jpg", "IMG_01.jpg", "img_1.jpg"], key=name_key) == sorted(["IMG_1.jpg", "IMG_01.jpg", "img_1.jpg"])
    # numbers and text never meet in a comparison, however names mix them
    mixed = ["10", "a", "1a", "a1", "", "1", "a10b2", "a10b10", "1.5", "٣"]
    assert sorted(mixed, key=natural_key)[:2] == ["", "1"]
    assert sorted(["a10b10", "a10b2"], key=natural_key) == ["a10b2", "a10b10"]


def test_orders_combine_with_every_filter_and_search(tmp_path):
    """build_queue filters and searches first, then orders: the list in any order holds the same photos."""
    table = make_shoot(tmp_path, 9)
    with Store.open(tmp_path) as store:
        store.scan()
        rng = random.Random(1)
        for p in store.photos():
            for _ in range(rng.randint(0, 2)):
                store.add_bib(p.id, rng.choice(["12", "120", "7"]), (1, 1, 9, 9), rng.random(), source="model")
            if rng.random() < 0.4:
                store.set_reviewed(p.id, True)
        items = review.load_items(store)
    full = {o: [it.photo.relpath for it in review.build_queue(items, order=o)] for o in ListOrder}
    assert full[ListOrder.CAPTURE] == expected_capture_order(table)
    assert full[ListOrder.NAME] == sorted(table, key=lambda rel: (folder_number(rel), int(rel.rsplit("_", 1)[1][:-4])))
    for flt in ReviewFilter:
        for text in ("", "12", "12*", "7", "99"):
            base = {it.photo.relpath for it in review.build_queue(items, flt, text)}
            for o in ListOrder:
                got = [it.photo.relpath for it in review.build_queue(items, flt, text, order=o)]
                assert got == [rel for rel in full[o] if rel in base], (flt, text, o)


def test_capture_key_of_unreadable_times_falls_back_without_error():
    class Photo:
        def __init__(self, relpath, captured_at, mtime):
            self.relpath, self.captured_at, self.mtime = relpath, captured_at, mtime

    keys = [capture_key(Photo("a.jpg", "not a date", 100.0)), capture_key(Photo("b.jpg", None, None)),
            capture_key(Photo("c.jpg", "2024-05-12T10:31:02.5", 0))]  # fmt: skip
    assert [k[0] for k in sorted(keys)] == [0, 1, 2]  # EXIF, file time (the date was unreadable), none


def test_folders_equal_but_for_case_or_leading_zeros_are_never_interleaved_nor_split_from_their_sub_folders():
    """"Card1", "card1" and "card01" tie in natural order; each must still be one run of rows with its own
    sub-folders (a folder's own photos, then its sub-folders'), in name order and, on one clock, capture order."""

    class Photo:
        def __init__(self, relpath, seconds):
            self.relpath, self.captured_at, self.mtime = relpath, None, seconds

    rng = random.Random(11)
    parts = ["Card1", "card1", "card01", "card2", "card10", "sub", "Sub", "sub01"]
    rels = set()
    while len(rels) < 300:
        folder = "/".join(rng.choice(parts) for _ in range(rng.randint(0, 3)))
        name = f"{rng.choice(['IMG_', 'img_'])}{rng.choice(['', '0', '00'])}{rng.randint(1, 12)}.jpg"
        rels.add(f"{folder}/{name}" if folder else name)
    photos = [Photo(rel, 1_700_000_000.0 + rng.randint(0, 50)) for rel in sorted(rels)]  # file times: ties
    rng.shuffle(photos)
    folders = {rel.rsplit("/", 1)[0] for rel in rels if "/" in rel}
    for order, key in (("name", lambda p: name_key(p.relpath)), ("capture", capture_key)):
        got = [p.relpath for p in sorted(photos, key=key)]
        for folder in folders:
            own = [i for i, rel in enumerate(got) if rel.rsplit("/", 1)[0] == folder]
            tree = [i for i, rel in enumerate(got) if rel.startswith(folder + "/")]
            assert tree == list(range(tree[0], tree[0] + len(tree))), (order, folder)  # one run of rows
            assert tree[: len(own)] == own, (order, folder)  # its own photos first, then its sub-folders'


def test_previous_frame_is_the_row_above_in_capture_order_whenever_that_row_shares_its_clock_and_folder():
    """One rule for both (``bursts.frame_key``): ties in time by names equal but for case or leading zeros,
    two clocks, unreadable dates, sub-folders equal but for case. The photo above in capture order is Ctrl+D's
    previous frame exactly when it is on the same clock in the same folder; otherwise there is none."""

    class Photo:
        def __init__(self, pid, relpath, captured_at, mtime):
            self.id, self.relpath, self.captured_at, self.mtime = pid, relpath, captured_at, mtime

    rng = random.Random(12)
    photos, seen = [], set()
    for pid in range(1, 400):
        folder = rng.choice(["", "cam1/", "Cam1/", "cam01/", "cam1/b/"])
        rel = f"{folder}{rng.choice(['IMG_', 'img_'])}{rng.choice(['', '0'])}{rng.randint(1, 60)}.jpg"
        if rel in seen:
            continue
        seen.add(rel)
        exif = rng.choice([None, "garbage", f"2024-05-12T10:31:0{rng.randint(0, 3)}", f"2024-05-12T10:31:02.{rng.randint(0, 3)}"])
        photos.append(Photo(pid, rel, exif, rng.choice([None, 0.0, 1_700_000_000.0, 1_700_000_001.5])))
    rng.shuffle(photos)
    def sequence(p):  # (clock, sub-folder), or None without a time
        t = bursts.capture_time(p)
        return (t.source, p.relpath.rpartition("/")[0]) if t is not None else None

    ordered = sorted(photos, key=capture_key)
    assert sum(sequence(p) is None for p in photos) and len({sequence(p) for p in photos}) > 6  # the premise
    for above, p in zip([None, *ordered], ordered):
        same = above is not None and sequence(p) is not None and sequence(above) == sequence(p)
        assert bursts.previous_frame(photos, p.id) == (above.id if same else None), p.relpath


@pytest.mark.parametrize("subsec", [False, True])
def test_frames_of_one_whole_second_go_by_their_names_in_natural_order_in_the_list_and_for_ctrl_d(tmp_path, subsec):
    """A camera that writes no sub-second (or files of one time): frame_9 was shot before frame_10. The tie went
    by the relpath as written, so the list showed frame_10, frame_11, frame_8, frame_9 and Ctrl+D on frame_8
    copied from frame_11, a later frame. With sub-seconds written the times alone decide."""
    numbers = [8, 9, 10, 11, 12]
    for i, n in enumerate(numbers):
        shot(tmp_path / f"frame_{n}.jpg", T0 + timedelta(seconds=0.1 * i), subsec=subsec)
    with Store.open(tmp_path) as store:
        store.scan()
        photos = store.photos()
        order = [it.photo.relpath for it in review.build_queue(review.load_items(store), order=ListOrder.CAPTURE)]
    assert order == [f"frame_{n}.jpg" for n in numbers]
    by_name = {p.relpath: p.id for p in photos}
    previous = {rel: bursts.previous_frame(photos, by_name[rel]) for rel in order}
    assert previous == {rel: (by_name[order[i - 1]] if i else None) for i, rel in enumerate(order)}
    assert bursts.bursts(photos) == [tuple(by_name[rel] for rel in order)]
