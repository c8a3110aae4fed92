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
    entries = json.loads(bench_app.annotations_path(shoot).read_text())
    with_number = sum(1 for e in entries if any(b["number"] == by["find"]["extra"]["number"] for b in e["bibs"]))
    assert by["find"]["extra"]["found"] == with_number > 0
    assert by["keywords"]["extra"]["written"] == BIG  # exiftool wrote every 24 MP copy
    back = by["handout_return"]["extra"]  # the returned file of every photo merged three ways, none a conflict
    assert by["handout_return"]["items"] == back["merged"] == back["reviewed"] == back["handout_rows"] == PHOTOS
    assert back["conflicts"] == 0
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
        assert f"| {t['text']} | {t['value']:.3g} {t['unit']} | {'yes' if t['met'] else '**no**'} |" in table


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
