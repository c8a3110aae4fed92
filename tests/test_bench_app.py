"""The app benchmark (training/bench_app.py) end to end at a tiny size: every operation runs in its
child process over a generated shoot and the table and JSON come out well formed. No timing is
asserted (house rule: speed targets live in the benchmark's table, not in tests)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from training import bench_app

PHOTOS, BIG = 20, 2


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool missing (make sysdeps)")
def test_bench_app_runs_every_operation_and_writes_the_table(tmp_path):
    out = tmp_path / "out"
    rc = bench_app.main(["--out", str(out), "--photos", str(PHOTOS), "--big", str(BIG), "--big-size", "600x400",
                         "--timeout", "120", "--session-cycles", "4", "--session-steps", "3"])
    report = json.loads((out / "bench-app.json").read_text())
    failed = {r["name"]: r.get("error") for r in report["results"] if r["status"] != "ok"}
    assert rc == 0 and not failed, failed
    by = {r["name"]: r for r in report["results"]}
    assert list(by) == list(bench_app.OPS)  # every operation ran, in order

    # the shoot on disk is what the report says, and the operations saw all of it
    shoot = out / "app" / f"shoot-{PHOTOS}"
    assert len(list(shoot.rglob("*.jpg"))) == PHOTOS and len(list((out / "app").glob("big-*/*.jpg"))) == BIG
    for name in ("scan_first", "rescan", "open_store", "gui_open", "find", "export_csv", "export_json"):
        assert by[name]["items"] == PHOTOS, name
    for name in ("gui_thumbnails", "keywords", "export_crops"):
        assert by[name]["items"] == BIG, name
    assert by["gui_next_photo"]["items"] == BIG - 1  # steps from the first photo to the others
    assert by["gui_search"]["extra"]["rows"][-1] == PHOTOS  # the search cleared: every row again
    assert 0 < by["gui_open"]["extra"]["list_painted_s"] <= by["gui_open"]["seconds"]  # painted within the open
    entries = json.loads(bench_app.annotations_path(shoot).read_text())
    with_number = sum(1 for e in entries if any(b["number"] == by["find"]["extra"]["number"] for b in e["bibs"]))
    assert by["find"]["extra"]["found"] == with_number > 0
    assert by["keywords"]["extra"]["written"] == BIG  # exiftool wrote every 24 MP copy
    back = by["handout_return"]["extra"]  # the returned file of every photo merged three ways (both sides' edits:
    assert by["handout_return"]["items"] == back["merged"] == back["handout_rows"] == PHOTOS  # checked below)
    assert back["reviewed"] + back["unreviewed"] == PHOTOS
    tagged = sum(1 for e in entries if e["bibs"])  # an old store's photos with bibs all get their print
    assert by["fill_prints"]["items"] == tagged and by["fill_prints"]["extra"]["big_photos"] == BIG
    session = by["gui_session"]["extra"]
    assert by["gui_session"]["items"] == 4 * 3 and session["cycles"] == 4 and len(session["samples"]) == 5
    assert session["walk"]["rows"] == PHOTOS and session["actions"]["mturk"] == 1 and session["actions"]["export"] == 1
    assert session["rss_end_mb"] == session["samples"][-1]["rss_mb"] > 20
    for r in report["results"]:
        assert r["seconds"] >= 0 and r["peak_rss_mb"] > 20, r

    # the table: one row per operation and one per target, each with its measured value
    table = (out / "bench-app.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| operation")]
    op_rows = [line for line in rows if line.count("|") == 7]
    assert len(op_rows) == len(bench_app.OPS)
    for r, line in zip(report["results"], op_rows):
        assert line.startswith(f"| {bench_app.LABELS[r['name']]} | {r['items']} {r['unit']} |")
        assert re.search(rf"\| {r['peak_rss_mb']:.0f} \|", line)
    assert [t["name"] for t in report["targets"]] == [t[0] for t in bench_app.TARGETS]
    for t in report["targets"]:
        assert t["value"] is not None and t["met"] == (t["value"] < t["limit"])
        assert f"| {t['text']} | {bench_app.fmt_target(t['value'], t['unit'])} | {'yes' if t['met'] else '**no**'} |" in table


def test_a_failing_operation_is_reported_not_fatal(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    result = bench_app.launch("rescan", {"shoot": str(tmp_path / "no-such-folder"), "run": str(run)}, run, timeout=60)
    assert result["status"] == "failed" and result["error"]
    table = bench_app.render({"machine": {"date": "d", "nproc": 2, "cpu": "c", "python": "3", "load_avg": [1, 1, 1]},
                              "sizes": {"photos": 1, "big_photos": 0, "big_size": "1x1", "shoot_mb": 0.0,
                                        "big_mb_each": 0.0},
                              "results": [result], "targets": bench_app.check_targets([result])})
    assert "| rescan, nothing changed (Store.open + scan, median of 3) | – | failed |" in table
    assert "| a rescan of 10,000 unchanged photos < 1 s (demanding user) | – | – |" in table


def test_bench_app_needs_no_torch():
    code = "import sys, training.bench_app; print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "False", res.stderr


# ---------------------------------------------------------------- the shoot's bursts and the newer operations

NEW_OPS = ["export_xlsx", "handout_return", "gui_copy_prev", "gui_burst_fix", "gui_rerun_undo"]
SMALL = 60  # photos: a few bursts per camera folder


@pytest.fixture(scope="module")
def newer(tmp_path_factory):
    """The operations for the burst keys, the xlsx export and the two-sided hand-out merge, run alone
    (``--only``) on a small shoot: (run folder, shoot folder, results by name)."""
    out = tmp_path_factory.mktemp("bench-new") / "out"
    rc = bench_app.main(["--out", str(out), "--photos", str(SMALL), "--big", "1", "--big-size", "600x400",
                         "--timeout", "120", "--only", *NEW_OPS])
    report = json.loads((out / "bench-app.json").read_text())
    by = {r["name"]: r for r in report["results"]}
    failed = {n: r.get("error") for n, r in by.items() if r["status"] != "ok"}
    assert rc == 0 and not failed, failed
    assert [n for n in by if n not in ("scan_first", "import", "setup_big")] == NEW_OPS  # --only ran just these
    targets = {t["name"] for t in report["targets"] if t["value"] is not None}
    assert {"export_xlsx", "gui_copy_prev", "gui_burst_fix", "handout_return", "gui_rerun_undo"} <= targets
    return out / "app" / "run", out / "app" / f"shoot-{SMALL}", by


def _store(run, name: str, shoot):
    from bibtagger_gui.core.store import Store

    dbs = list((run / f"{name}-stores").glob("*/project.db"))
    assert len(dbs) == 1, dbs
    return Store.open(shoot, db_path=dbs[0])


def test_the_shoot_is_shot_in_bursts_with_exif_capture_times(tmp_path, monkeypatch):
    from datetime import datetime

    from bibtagger_gui.core.bursts import Timeline
    from bibtagger_gui.core.store import Store

    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    shoot = tmp_path / "shoot"
    entries = json.loads(bench_app.make_shoot(shoot, 120).read_text())
    with Store.open(shoot) as store:
        store.scan()
        photos = store.photos()
    assert len(photos) == 120 and all(p.captured_at for p in photos)  # every photo: an EXIF time
    timeline = Timeline(photos)
    in_burst = {pid for b in timeline.bursts for pid in b}
    assert 0.4 * len(photos) < len(in_burst) < 0.9 * len(photos)  # bursts, and lone frames between them
    by_id = {p.id: p for p in photos}
    numbers = {e["image"]: [b["number"] for b in e["bibs"]] for e in entries}
    for frames in timeline.bursts:
        rel = [by_id[i].relpath for i in frames]
        assert len({r.split("/")[0] for r in rel}) == 1  # one camera folder
        assert len(frames) <= bench_app.BURST_FRAMES[1]
        assert len(frames) >= bench_app.BURST_FRAMES[0] or rel[-1] == max(r for r in numbers if r.startswith(rel[0].split("/")[0]))
        times = [datetime.fromisoformat(by_id[i].captured_at) for i in frames]
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
        assert all(0.19 <= g <= 0.51 for g in gaps), gaps  # hundredths of a second in EXIF
        if numbers[rel[0]]:  # the same runners: a number on most frames (the model misreads or misses one at times)
            assert max(sum(n in numbers[r] for r in rel) for n in numbers[rel[0]]) > len(rel) / 2, [numbers[r] for r in rel]
    for p in photos:  # a lone frame is more than 2 s from the others of its camera
        if p.id not in in_burst and timeline.previous_frame(p.id) is not None:
            before = by_id[timeline.previous_frame(p.id)]
            gap = (datetime.fromisoformat(p.captured_at) - datetime.fromisoformat(before.captured_at)).total_seconds()
            assert gap > 2.0 or before.id in in_burst


def test_ctrl_d_is_measured_copying_from_the_previous_frame(newer, monkeypatch):
    from bibtagger_gui.core.bib import number_key
    from bibtagger_gui.core.bursts import Timeline
    from bibtagger_gui.core.store import Store

    run, shoot, by = newer
    r = by["gui_copy_prev"]
    pressed = r["extra"]["pressed"]
    assert r["items"] == len(r["extra"]["ms"]) == len(pressed) > 0
    said = r["extra"]["said"]  # not only confirmations: some presses add a bib the frame lacked or retype a misread
    assert said["copied"] + said["replaced"] >= 1 and sum(said.values()) >= len(pressed)
    with _store(run, "copy-prev", shoot) as store:
        timeline = Timeline(store.photos())
        assert len(pressed) == min(bench_app.BURST_KEYS, len(timeline.bursts))
        for rel, prev_rel in pressed:
            pid, prev = store.photo_by_path(rel).id, store.photo_by_path(prev_rel).id
            assert timeline.previous_frame(pid) == prev and timeline.same_burst(pid, prev)
            mine = {number_key(b.number) for b in store.bibs(pid) if b.source == "human"}
            assert {number_key(b.number) for b in store.bibs(prev)} <= mine
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(run / "stores"))  # the shoot's own store, which the other
    with Store.open(shoot) as shared:  # operations read, saw no Ctrl+D: the keys went to a copy
        assert all(b.source == "model" for rel, _ in pressed for b in shared.bibs(shared.photo_by_path(rel).id))


def test_ctrl_b_is_measured_fixing_the_burst(newer):
    from bibtagger_gui.core.bursts import Timeline

    run, shoot, by = newer
    r = by["gui_burst_fix"]
    fixes = r["extra"]["fixes"]
    assert r["items"] == len(fixes) == len(r["extra"]["enter_ms"]) > 0
    assert r["extra"]["frames_fixed"] == sum(len(f["frames"]) for f in fixes) >= len(fixes)
    with _store(run, "burst-fix", shoot) as store:
        timeline = Timeline(store.photos())
        for f in fixes:
            pid = store.photo_by_path(f["photo"]).id
            assert any(b.number == f["new"] and b.source == "human" for b in store.bibs(pid))  # the Enter's fix
            burst = timeline.burst_of(pid)
            frames = {store.photo_by_path(rel).id for rel in f["frames"]}
            assert frames and frames <= set(burst) and pid not in frames
            for other in burst:  # Ctrl+B left no unreviewed frame of the burst with the model's old reading
                bibs = store.bibs(other)
                assert (f["new"] in {b.number for b in bibs}) == (other in frames or other == pid)
                assert not any(b.number == f["old"] and b.source == "model" for b in bibs) or other not in frames


def test_the_xlsx_export_measured_is_complete(newer):
    openpyxl = pytest.importorskip("openpyxl")

    run, shoot, by = newer
    entries = json.loads(bench_app.annotations_path(shoot).read_text())
    book = openpyxl.load_workbook(run / "export.xlsx", read_only=True)
    photos = list(book["Photos"].iter_rows(values_only=True))
    bibs = list(book["Bibs"].iter_rows(values_only=True))
    assert by["export_xlsx"]["items"] == len(entries) == SMALL
    assert photos[0][:2] == ("image", "number")  # a row per bib, a photo without bibs one row without a number
    want = sorted((e["image"], b["number"]) for e in entries for b in e["bibs"])
    assert sorted((r[0], str(r[1])) for r in photos[1:] if r[1] is not None) == want
    assert {r[0] for r in photos[1:] if r[1] is None} == {e["image"] for e in entries if not e["bibs"]}
    assert {str(row[0]) for row in bibs[1:]} == {b["number"] for e in entries for b in e["bibs"]}


def test_the_handout_merge_measured_has_edits_on_both_sides(newer):
    from bibtagger_gui.core.store import Store

    run, shoot, by = newer
    back = by["handout_return"]["extra"]
    returned = json.loads((run / "returned.json").read_text())
    assert len(returned) == by["handout_return"]["items"] == back["merged"] == SMALL
    conflicts = reviewed = both = edited = 0
    with Store.open(shoot, db_path=run / "handout-return.db") as store:
        for i, e in enumerate(returned):
            handed = e["handout"][1]["bibs"]  # the organiser's state at the hand-out
            theirs, ours = bench_app.volunteer_edits(i, handed), bench_app.organiser_edits(i, handed)
            want = [b["number"] for b in handed]
            boxes = [b["box"] for b in handed]
            retyped = [ed for ed in ours if ed[0] == "renumber"]
            for ed in theirs + ours:
                if ed[0] == "renumber" and (ed in ours or not retyped):  # the organiser's retype wins its conflict
                    want[ed[1]] = ed[2]
                elif ed[0] == "nudge":
                    boxes[ed[1]] = list(bench_app.nudged(boxes[ed[1]]))
                elif ed[0] == "add":
                    want.append(ed[1])
                    boxes.append(ed[2])
            photo = store.photo_by_path(e["image"])
            got = {(b.number, tuple(b.box)) for b in store.bibs(photo.id)}
            assert got == {(n, tuple(bx)) for n, bx in zip(want, boxes)}, (i, e["image"])
            keeps_review = all(ed[0] == "nudge" for ed in ours)  # else the volunteer did not see the merged bibs
            assert photo.reviewed == keeps_review, (i, e["image"])
            conflicts += bool(retyped)
            reviewed += keeps_review
            edited += bool(ours)
            both += bool(ours and theirs)
    assert back["conflicts"] == conflicts > 0 and back["reviewed"] == reviewed
    assert back["organiser_edited"] == edited > back["both_sides"] == both > 0


def test_the_rerun_undo_measured_restored_every_photo_exactly(newer, monkeypatch):
    """gui_rerun_undo: the re-run wrote the given readings on every photo, its Ctrl+Z put back every photo exactly as
    the shoot's untouched store still holds it (ids, times, confidences, model version), and Ctrl+Shift+Z the re-run's
    rows; the store's history has each undo and redo."""
    from bibtagger_gui.core.store import Store

    run, shoot, by = newer
    r = by["gui_rerun_undo"]
    e = r["extra"]
    entries = json.loads(bench_app.annotations_path(shoot).read_text())
    assert r["items"] == e["checked"] == len(entries) == SMALL  # every photo unreviewed, so every photo re-read
    assert len(e["undo_ms"]) == len(e["redo_ms"]) == len(e["undo_freeze_ms"]) == bench_app.UNDO_ROUNDS
    assert e["freeze_max_ms"] == max(e["undo_freeze_ms"] + e["redo_freeze_ms"]) >= max(e["undo_ms"] + e["redo_ms"]) > 0
    assert e["step_bytes_per_photo"] > 500 and e["step_kb"] * 1024 >= SMALL * 500
    undone = json.loads((run / "rerun-undo-undone.json").read_text())
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(run / "stores"))  # the shoot's own store: the re-run went to a copy
    with Store.open(shoot) as shared:
        original = bench_app._dump(shared)
    assert undone == original  # Ctrl+Z: every photo exactly as before the re-run
    new = {en["image"]: bench_app.rerun_readings(i, en["bibs"]) for i, en in enumerate(entries)}
    assert sum(len(v) for v in new.values()) == e["bibs_after"] != e["bibs_before"] == sum(len(en["bibs"]) for en in entries)
    with _store(run, "rerun-undo", shoot) as store:  # left after the last Ctrl+Shift+Z: the re-run's readings
        for photo in store.photos():
            assert photo.model_version == e["version"] != original[photo.relpath][1]
            got = [(b.number, b.box, b.confidence, b.source) for b in store.bibs(photo.id)]
            assert got == [(b.number, b.box, b.confidence, "model") for b in new[photo.relpath]], photo.relpath
            versions = [h.after for h in store.history(photo.id) if h.action == "model_version"]
            assert versions == [original[photo.relpath][1], e["version"]] * bench_app.UNDO_ROUNDS, photo.relpath


def test_a_target_of_a_second_or_more_reads_in_seconds():
    """The re-run undo's 1,430 ms read "1.43e+03 ms" in the table."""
    assert bench_app.fmt_target(1430.2, "ms") == "1.43 s"
    assert bench_app.fmt_target(31.6, "ms") == "31.6 ms" and bench_app.fmt_target(0.771, "s") == "0.771 s"


def test_each_window_starts_from_settings_of_its_own(tmp_path, qtbot):
    """A window resumes a folder's last search (gui/resume.py): gui_search's "1*", when the resume's timer had
    saved it, hid most of the shoot from the Ctrl+D and Ctrl+B windows opened after it ("photo … is not in the
    list", make bench of stop 29). Each operation's window now has a settings file of its own, emptied first."""
    from pathlib import Path

    from bibtagger_gui.resources import resource_path

    left = tmp_path / "copy-prev-settings.ini"
    left.write_text("[resume]\nfolders\\abc\\search=1*\nfolders\\abc\\filter=all\n", encoding="utf-8")
    job = {"run": str(tmp_path), "models": str(resource_path("models"))}
    from PySide6.QtWidgets import QApplication

    win = bench_app._new_window(QApplication.instance(), job, "copy-prev-settings.ini")
    qtbot.addWidget(win)
    assert Path(win.settings.fileName()) == left
    assert not [k for k in win.settings.allKeys() if k.startswith("resume/")]  # nothing of another run's state
