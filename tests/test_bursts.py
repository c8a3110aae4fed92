"""core/bursts.py (capture times, burst grouping) and core/burst_edits.py (what the burst tools change), on
real JPEGs whose EXIF (DateTimeOriginal + SubSecTimeOriginal) the test writes, scanned into a real store."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bibtagger_gui.core import bursts
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.burst_edits import SAME_PLATE_IOU, boxes_carry, copy_bibs, plan_copy, plan_fix, retype_reading
from bibtagger_gui.core.imageio import probe_image
from bibtagger_gui.core.bib import iou
from bibtagger_gui.core.review import item_for
from bibtagger_gui.core.store import Store

T0 = datetime(2024, 5, 12, 10, 31, 2)


def shot(path: Path, at: datetime | None, size: tuple[int, int] = (64, 48), subsec: bool = True) -> Path:
    """A JPEG taken ``at`` (EXIF DateTimeOriginal + SubSecTimeOriginal, hundredths), or without EXIF date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    if at is not None:
        ifd = exif.get_ifd(0x8769)
        ifd[0x9003] = at.strftime("%Y:%m:%d %H:%M:%S")
        if subsec:
            ifd[0x9291] = f"{at.microsecond // 10000:02d}"
    w, h = size
    Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(path, "JPEG", exif=exif.tobytes())
    return path


def scanned(folder: Path) -> Store:
    store = Store.open(folder)
    store.scan()
    return store


def groups(store: Store, **kw) -> list[list[str]]:
    names = {p.id: p.relpath for p in store.photos()}
    return [[names[i] for i in b] for b in bursts.bursts(store.photos(), **kw)]


def test_subsecond_capture_time_is_read_and_orders_frames(tmp_path):
    shot(tmp_path / "a.jpg", T0 + timedelta(milliseconds=750))
    shot(tmp_path / "b.jpg", T0 + timedelta(milliseconds=250))
    assert probe_image(tmp_path / "a.jpg").captured_at == "2024-05-12T10:31:02.75"
    with scanned(tmp_path) as store:
        times = {p.relpath: bursts.capture_time(p) for p in store.photos()}
        # the same whole second: only SubSecTimeOriginal puts b before a
        assert times["b.jpg"].source == times["a.jpg"].source == bursts.EXIF
        assert times["a.jpg"].seconds - times["b.jpg"].seconds == pytest.approx(0.5)
        assert groups(store) == [["b.jpg", "a.jpg"]]


def test_gap_threshold_splits_bursts(tmp_path):
    offsets = {"r1.jpg": 0.0, "r2.jpg": 0.4, "r3.jpg": 0.4 + bursts.GAP_S, "lone.jpg": 0.4 + 2 * bursts.GAP_S + 0.5,
               "s1.jpg": 30.0, "s2.jpg": 31.0}  # fmt: skip
    for name, dt in offsets.items():
        shot(tmp_path / name, T0 + timedelta(seconds=dt))
    with scanned(tmp_path) as store:
        assert groups(store) == [["r1.jpg", "r2.jpg", "r3.jpg"], ["s1.jpg", "s2.jpg"]]
        ids = {p.relpath: p.id for p in store.photos()}
        photos = store.photos()
        assert bursts.burst_of(photos, ids["lone.jpg"]) == ()
        assert bursts.same_burst(photos, ids["r1.jpg"], ids["r3.jpg"])
        assert not bursts.same_burst(photos, ids["r3.jpg"], ids["s1.jpg"])
        assert not bursts.same_burst(photos, ids["r1.jpg"], ids["r1.jpg"])
        # a smaller threshold (the parameter is honoured): r3 leaves the run
        assert groups(store, gap=1.0)[0] == ["r1.jpg", "r2.jpg"]


def test_a_run_longer_than_max_span_is_no_burst(tmp_path):
    n = int(bursts.MAX_SPAN_S / 1.5) + 2  # frames 1.5 s apart: every gap a burst's, the whole run too long
    for k in range(n):
        shot(tmp_path / f"c{k:02d}.jpg", T0 + timedelta(seconds=1.5 * k))
    with scanned(tmp_path) as store:
        assert groups(store) == []
        photos = store.photos()
        assert all(bursts.burst_of(photos, p.id) == () for p in photos)  # burst_of's shortcut agrees


def test_file_time_when_no_exif_and_never_mixed_with_exif(tmp_path):
    stamp = T0.timestamp()
    for name, dt in (("f1.jpg", 0.0), ("f2.jpg", 1.0)):
        os.utime(shot(tmp_path / name, None), (stamp + dt, stamp + dt))
    shot(tmp_path / "e1.jpg", T0)  # its EXIF time equals f1's file time as numbers: other clocks, no burst
    with scanned(tmp_path) as store:
        times = {p.relpath: bursts.capture_time(p) for p in store.photos()}
        assert times["f1.jpg"].source == bursts.FILE and times["e1.jpg"].source == bursts.EXIF
        assert groups(store) == [["f1.jpg", "f2.jpg"]]


def test_sub_folders_are_other_bursts(tmp_path):
    for name in ("cam1/a.jpg", "cam2/a.jpg"):
        shot(tmp_path / name, T0)
    shot(tmp_path / "cam1/b.jpg", T0 + timedelta(seconds=1))
    with scanned(tmp_path) as store:
        assert groups(store) == [["cam1/a.jpg", "cam1/b.jpg"]]


def test_previous_frame_is_the_photo_taken_just_before_in_its_folder_and_clock(tmp_path):
    offsets = {"a.jpg": 5.0, "b.jpg": 0.0, "c.jpg": 0.0, "d.jpg": 600.0, "cam2/e.jpg": 1.0}
    for name, dt in offsets.items():
        shot(tmp_path / name, T0 + timedelta(seconds=dt))
    os.utime(shot(tmp_path / "nodate.jpg", None), (T0.timestamp() + 2, T0.timestamp() + 2))  # file clock
    with scanned(tmp_path) as store:
        photos = store.photos()
        ids = {p.relpath: p.id for p in photos}
        prev = {rel: bursts.previous_frame(photos, pid) for rel, pid in ids.items()}
        names = {pid: rel for rel, pid in ids.items()}
        got = {rel: names.get(pid) for rel, pid in prev.items()}
        # b and c share a time: ties by name; d is ten minutes later but still the next frame;
        # the other sub-folder and the file clock stand alone
        assert got == {"b.jpg": None, "c.jpg": "b.jpg", "a.jpg": "c.jpg", "d.jpg": "a.jpg",
                       "cam2/e.jpg": None, "nodate.jpg": None}  # fmt: skip


@pytest.mark.parametrize("text", [None, "", "garbage", "2024-05-12T10:31:02.x5", "2024-13-40T10:31:02"])
def test_unreadable_capture_times_are_none(text):
    assert bursts.parse_captured_at(text) is None


def test_copy_plan_confirms_numbers_already_there_and_copies_boxes_only_within_a_burst(tmp_path):
    shot(tmp_path / "a.jpg", T0)
    shot(tmp_path / "b.jpg", T0 + timedelta(seconds=1))
    shot(tmp_path / "big.jpg", T0 + timedelta(seconds=1.5), size=(96, 48))
    shot(tmp_path / "late.jpg", T0 + timedelta(minutes=5))
    with scanned(tmp_path) as store:
        ids = {p.relpath: p.id for p in store.photos()}
        photos = store.photos()
        store.set_model_bibs(ids["a.jpg"], [Bib("12", (1, 2, 20, 12), 0.9), Bib("0891", (30, 2, 50, 12), 0.8)], "m")
        store.set_model_bibs(ids["b.jpg"], [Bib("891", (31, 3, 51, 13), 0.7)], "m")
        prev = item_for(store, ids["a.jpg"])
        by = {rel: store.photo(i) for rel, i in ids.items()}
        assert boxes_carry(by["a.jpg"], by["b.jpg"], bursts.same_burst(photos, ids["a.jpg"], ids["b.jpg"])) == (True, "")
        assert boxes_carry(by["a.jpg"], by["big.jpg"], True) == (False, "another pixel size")
        assert boxes_carry(by["a.jpg"], by["late.jpg"], bursts.same_burst(photos, ids["a.jpg"], ids["late.jpg"]))[0] is False

        cur = item_for(store, ids["b.jpg"])
        plan = plan_copy(prev.bibs, cur.bibs, boxes=True)
        mine = cur.bibs[0]
        assert plan.add == (("12", (1.0, 2.0, 20.0, 12.0)),) and plan.confirm == ((mine.id, None),)
        with store.transaction():
            copy_bibs(store, ids["b.jpg"], plan)
        after = {b.number: b for b in store.bibs(ids["b.jpg"])}
        assert set(after) == {"12", "891"} and {b.source for b in after.values()} == {"human"}
        assert after["891"].box == mine.box  # confirmed, its own box kept, not duplicated
        # again: nothing left to do
        assert not plan_copy(prev.bibs, store.bibs(ids["b.jpg"]), boxes=True).changes

        plan = plan_copy(prev.bibs, item_for(store, ids["late.jpg"]).bibs, boxes=False)
        assert [box for _n, box in plan.add] == [None, None]  # number-only bibs


def test_copy_leaves_a_prediction_alone_where_a_persons_bib_has_its_number(tmp_path):
    shot(tmp_path / "a.jpg", T0)
    shot(tmp_path / "b.jpg", T0 + timedelta(seconds=0.5))
    with scanned(tmp_path) as store:
        ids = {p.relpath: p.id for p in store.photos()}
        store.add_bib(ids["a.jpg"], "55", (10, 10, 30, 20))
        store.set_model_bibs(ids["b.jpg"], [Bib("55", (40, 30, 60, 40), 0.6)], "m")  # the model's 55, elsewhere: listed first
        store.add_bib(ids["b.jpg"], "55", (11, 10, 31, 20))  # the person's 55 on the plate
        plan = plan_copy(item_for(store, ids["a.jpg"]).bibs, item_for(store, ids["b.jpg"]).bibs, boxes=True)
        # 55 is there as a person's bib: nothing to do, the prediction stays one
        assert (plan.add, plan.confirm, plan.had, plan.changes) == ((), (), ("55",), False)


def test_copy_retypes_a_model_bib_misread_on_the_copied_bib_plate(tmp_path):
    shot(tmp_path / "a.jpg", T0)
    shot(tmp_path / "b.jpg", T0 + timedelta(seconds=0.5))
    with scanned(tmp_path) as store:
        ids = {p.relpath: p.id for p in store.photos()}
        store.set_model_bibs(ids["a.jpg"], [Bib("10264", (10, 10, 40, 20), 0.9), Bib("55", (44, 10, 60, 20), 0.9)], "m")
        moved = (13, 11, 43, 21)  # the same plate a little further on
        far = (0, 30, 8, 40)  # another plate of this frame, nowhere near a copied box
        store.set_model_bibs(ids["b.jpg"], [Bib("10267", moved, 0.4), Bib("7", far, 0.5)], "m")
        prev, cur = item_for(store, ids["a.jpg"]), item_for(store, ids["b.jpg"])
        misread = next(b for b in cur.bibs if b.number == "10267")
        assert iou((10, 10, 40, 20), moved) >= SAME_PLATE_IOU > iou((44, 10, 60, 20), far)
        plan = plan_copy(prev.bibs, cur.bibs, boxes=True)
        assert plan.retype == ((misread.id, "10267", "10264"),)
        assert [n for n, _box in plan.add] == ["55"]
        with store.transaction():
            copy_bibs(store, ids["b.jpg"], plan)
        after = {b.number: b for b in store.bibs(ids["b.jpg"])}
        assert set(after) == {"10264", "55", "7"}
        assert after["10264"].id == misread.id and after["10264"].box == misread.box and after["10264"].source == "human"
        assert after["7"].source == "model"  # not on a copied plate: left as the model read it
        # without boxes (another burst or size) nothing is known of the plate: nothing is retyped
        store.set_model_bibs(ids["b.jpg"], [Bib("10267", moved, 0.4)], "m")
        assert plan_copy(prev.bibs, item_for(store, ids["b.jpg"]).bibs, boxes=False).retype == ()


def test_fix_plan_touches_only_unreviewed_model_readings(tmp_path):
    for k in range(5):
        shot(tmp_path / f"f{k}.jpg", T0 + timedelta(seconds=0.5 * k))
    with scanned(tmp_path) as store:
        ids = [p.id for p in store.photos()]
        box = (1.0, 1.0, 10.0, 10.0)
        store.set_model_bibs(ids[0], [Bib("1234", box, 0.5)], "m")
        store.update_bib(store.bibs(ids[0])[0].id, number="1243")  # the user's fix
        store.set_model_bibs(ids[1], [Bib("1234", box, 0.5), Bib("77", box, 0.9)], "m")  # qualifies
        store.set_model_bibs(ids[2], [Bib("1234", box, 0.5)], "m")
        store.set_reviewed(ids[2], True)  # reviewed: never touched
        store.add_bib(ids[3], "1234", box)  # a person's bib: never touched
        store.set_model_bibs(ids[4], [Bib("1234", box, 0.5), Bib("1243", box, 0.6)], "m")  # would duplicate
        items = [item_for(store, i) for i in ids]
        plan = plan_fix(items, ids[0], "1234", "1243")
        target = next(b.id for b in store.bibs(ids[1]) if b.number == "1234")
        assert plan.todo == ((ids[1], target),)
        assert dict(plan.skipped) == {ids[2]: "reviewed", ids[3]: "1234 is a person's bib there", ids[4]: "already has 1243"}
        assert retype_reading(store, ids[1], target, "1234", "1243")
        row = store.bib(target)
        assert (row.number, row.box, row.source) == ("1243", box, "human")
        assert not retype_reading(store, ids[1], target, "1234", "1243")  # it no longer reads 1234
