"""What a real shoot (10,000 photos) costs the paths that run over every photo: the three-way merge of a
volunteer's returned file, the hand-out states of an export, and the decoded-pixel prints an old store's
photos get (Store.fill_pixel_prints, in ``predict`` and at the end of the app's recognition job).

These check behaviour, not time: how often the whole photo table is read, how many write transactions a
fill makes, that its progress is reported and a cancel keeps what was done. ``make bench-app``
(training/bench_app.py, docs/benchmarks.md#app) times them at full size.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import handout, store as store_mod
from bibtagger_gui.core.annotations import load_annotations
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.importers import import_annotations
from bibtagger_gui.core.pixelprint import file_print
from bibtagger_gui.core.store import Store
from tests.test_gui_support import gui_env, make_photos, make_window  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


class Calls:
    """Counts the calls of some Store methods (the real methods still run)."""

    def __init__(self, monkeypatch, *names: str):
        self.n = dict.fromkeys(names, 0)
        for name in names:
            real = getattr(Store, name)

            def spy(self_, *a, _real=real, _name=name, **k):
                self.n[_name] += 1
                return _real(self_, *a, **k)

            monkeypatch.setattr(Store, name, spy)


def shoot(tmp_path: Path, n: int) -> tuple[Path, list]:
    race = tmp_path / "race"
    made = make_photos(race, n)
    with Store.open(race) as store:
        store.scan()
        for rel, number, box in made:
            store.set_model_bibs(store.photo_by_path(rel).id, [Bib(number, box, 0.9)], "det:x+read:y")
    return race, made


def returned(handout_file: Path, out: Path, count: int) -> Path:
    """The hand-out file as a volunteer sends it back: the first ``count`` photos reviewed, their bib renumbered."""
    entries = json.loads(handout_file.read_text(encoding="utf-8"))[:count]
    for e in entries:
        e["reviewed"] = True
        e["bibs"] = [{"number": "9" + b["number"], "box": b["box"]} for b in e["bibs"]]
    out.write_text(json.dumps(entries), encoding="utf-8")
    return out


@pytest.mark.parametrize("count", [3, 12])
def test_merging_a_returned_file_reads_the_photo_hashes_once_however_many_photos_it_holds(tmp_path, monkeypatch, count):
    """The merge compares each photo's image-data hash with its hand-out state: it read the whole photo table
    for every entry (2,000 returned photos of a 10,000-photo project: 15 s); now once per import."""
    race, made = shoot(tmp_path, 12)
    out = tmp_path / "handout.json"
    assert main(["export", str(race), "--format", "json", "--out", str(out)]) == 0
    back = returned(out, tmp_path / "back.json", count)
    calls = Calls(monkeypatch, "pixel_hashes", "photos")
    with Store.open(race) as store:
        report = import_annotations(store, load_annotations(back), name="back.json")
        assert report.merged == report.reviewed == count and not report.conflicts
        assert calls.n == {"pixel_hashes": 1, "photos": 1}
        for rel, number, _box in made[:count]:  # the volunteer's renumbering landed, as a reviewed human bib
            photo = store.photo_by_path(rel)
            assert photo.reviewed and [(b.number, b.source) for b in store.bibs(photo.id)] == [("9" + number, "human")]
        for rel, number, _box in made[count:]:
            photo = store.photo_by_path(rel)
            assert not photo.reviewed and [b.number for b in store.bibs(photo.id)] == [number]


def test_an_export_reads_the_remembered_hand_out_states_in_one_query(tmp_path, monkeypatch):
    """A volunteer's project remembers the organiser's hand-out state of every photo (meta ``handout:<id>``);
    its export read them one meta row per photo, now all in one range read, with the same result."""
    race, made = shoot(tmp_path, 8)
    todo = tmp_path / "todo.json"
    assert main(["export", str(race), "--format", "json", "--out", str(todo)]) == 0
    vol = tmp_path / "vol"
    make_photos(vol, 8)  # the same pictures (same seed) in the volunteer's folder
    assert main(["import", str(vol), str(todo)]) == 0
    with Store.open(vol) as store:
        notes = store.meta_with_prefix(handout.REMEMBERED_PREFIX)
        assert len(notes) == 8 and all(k.startswith("handout:") for k in notes)
        store.set_meta("handout", "not a note")  # keys next to the range stay out of it
        store.set_meta("handout;1", "not a note")
        assert store.meta_with_prefix(handout.REMEMBERED_PREFIX) == notes
    calls = Calls(monkeypatch, "get_meta")
    back = tmp_path / "back.json"
    assert main(["export", str(vol), "--format", "json", "--out", str(back)]) == 0
    assert calls.n["get_meta"] < 8  # project id, start list, ...: not one per photo
    sent = {e["image"]: e["handout"][0] for e in json.loads(todo.read_text(encoding="utf-8"))}
    came = json.loads(back.read_text(encoding="utf-8"))
    assert len(came) == 8
    for e in came:  # the organiser's state comes back unchanged, after the volunteer's own
        assert e["handout"][1:] == [sent[e["image"]]] and e["handout"][0]["project"] != sent[e["image"]]["project"]


def test_the_json_export_is_one_photo_a_line_and_reads_back_the_same(tmp_path):
    race, made = shoot(tmp_path, 4)
    out = tmp_path / "all.json"
    assert main(["export", str(race), "--format", "json", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 4 + 2
    entries = [json.loads(line.rstrip(",")) for line in lines[1:-1]]
    assert entries == json.loads(text) and [e["image"] for e in entries] == sorted(rel for rel, _n, _b in made)


def old_store(tmp_path: Path, n: int) -> tuple[Path, list[int]]:
    """A folder of ``n`` photos, reviewed, with no decoded-pixel prints (as a store from before schema 4)."""
    race, made = shoot(tmp_path, n)
    with Store.open(race) as store:
        ids = [store.photo_by_path(rel).id for rel, _n, _b in made]
        for pid in ids:
            store.set_reviewed(pid, True)
        store._conn.execute("DELETE FROM pixel_prints")
        assert store.photos_without_print() == ids
    return race, ids


def test_only_photos_with_someones_work_wait_for_a_print(tmp_path):
    """An old store's reviewed photos and photos with a human bib get a print; photos with model bibs
    only do not (a re-encode costs them a recognition, about what the print's decode would)."""
    race, ids = old_store(tmp_path, 4)
    with Store.open(race) as store:
        for pid in ids:
            store.set_reviewed(pid, False)
        store.set_model_bibs(ids[0], [Bib("3638", (10, 20, 60, 40), 0.9)], "v1")
        store.set_model_bibs(ids[1], [Bib("3638", (10, 20, 60, 40), 0.9)], "v1")
        store.add_bib(ids[1], "77", (1, 1, 9, 9))
        store.set_reviewed(ids[2], True)
        store._conn.execute("DELETE FROM pixel_prints")
        assert store.photos_without_print() == [ids[1], ids[2]]


def test_fill_pixel_prints_reports_progress_and_writes_in_batches(tmp_path, monkeypatch):
    race, ids = old_store(tmp_path, 5)
    monkeypatch.setattr(store_mod, "PRINT_BATCH", 2)
    seen = []
    with Store.open(race) as store:
        begins = []
        store._conn.set_trace_callback(lambda s: begins.append(s) if s.startswith("BEGIN") else None)
        assert store.fill_pixel_prints(progress=lambda done, total: seen.append((done, total))) == 5
        store._conn.set_trace_callback(None)
        assert seen == [(i, 5) for i in range(1, 6)]
        assert len(begins) == 3  # 2 + 2 + 1 prints: not a transaction (an fsync) per photo
        for pid in ids:
            assert store.pixel_print(pid) == file_print(store.path(store.photo(pid)))
        assert store.photos_without_print() == []


def test_fill_pixel_prints_cancelled_keeps_what_it_decoded_and_skips_changed_files(tmp_path):
    race, ids = old_store(tmp_path, 5)
    with Store.open(race) as store:
        changed = store.photo(ids[1])
        with open(store.path(changed), "ab") as f:  # rewritten since the scan: the next scan decides first
            f.write(b"\0")
        seen = []
        n = store.fill_pixel_prints(cancel=lambda: len(seen) >= 3, progress=lambda d, t: seen.append(d))
        assert seen == [1, 2, 3] and n == 2
        assert store.photos_without_print() == ids[1:2] + ids[3:]
        assert store.fill_pixel_prints() == 2  # the rest; the changed photo still waits for its scan
        assert store.photos_without_print() == [ids[1]]


def test_fill_pixel_prints_writes_nothing_for_a_photo_rescanned_meanwhile(tmp_path, monkeypatch):
    """A print is only kept for the file version it was decoded from (the photo's hash when it is written)."""
    race, ids = old_store(tmp_path, 2)
    with Store.open(race) as store:
        other = sqlite3.connect(store.db_path)
        real = store_mod.file_print

        def decode_then_rescan(path):
            pp = real(path)
            if Path(path).name == store.photo(ids[0]).relpath:  # another process re-hashed it meanwhile
                other.execute("UPDATE photos SET sha1 = 'other' WHERE id = ?", (ids[0],))
                other.commit()
            return pp

        monkeypatch.setattr(store_mod, "file_print", decode_then_rescan)
        assert store.fill_pixel_prints() == 1
        other.close()
        assert store.pixel_print(ids[0]) is None and store.pixel_print(ids[1]) is not None


def test_predict_shows_a_bar_for_the_prints_of_an_old_stores_photos(tmp_path, capsys, placeholder_models_dir):
    race, ids = old_store(tmp_path, 3)
    capsys.readouterr()
    assert main(["predict", str(race), "--models", str(placeholder_models_dir)]) == 0
    err = capsys.readouterr().err
    assert "fingerprint photos: 3/3 photos" in err, err
    with Store.open(race) as store:
        assert store.photos_without_print() == []


def test_the_app_counts_the_prints_of_an_old_stores_photos_in_its_progress_bar(tmp_path, make_window, qtbot):
    """The recognition job fingerprints the photos never recognized here after its own photos: the bar said
    "Recognizing 1/1" all that time (minutes for thousands of camera files); now it says what it counts."""
    import shutil

    from bibtagger_gui.gui.workers import FILL_STAGE

    race, ids = old_store(tmp_path, 4)
    shutil.copy(race / "photo_000.jpg", race / "new.jpg")  # a new photo: the app recognizes it
    stages = []
    win = make_window()
    real_start = win._start

    def start(job):
        job.signals.stage.connect(lambda g, label: stages.append((label, win.progress.isVisible())))
        real_start(job)

    win._start = start
    win.photo_view.printed.disconnect(win._keep_pixel_print)  # the photo shown would get its print from its own decode
    assert win.open_folder(race)
    qtbot.waitUntil(lambda: win.last_job_outcome is not None and win.last_job_outcome[0] == "recognize", timeout=30000)
    assert stages == [(FILL_STAGE, True)]
    assert win.progress.format() == f"{FILL_STAGE} %v/%m" and win.last_progress == (4, 4)
    assert win.last_job_outcome[1] == "done" and "4 photo(s) fingerprinted" in win.last_job_outcome[2]
    with Store.open(race) as store:
        assert store.photos_without_print() == []
