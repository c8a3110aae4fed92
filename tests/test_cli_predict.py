"""`bibtagger predict` end to end with real (placeholder) ONNX models, real files and SQLite."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.annotations import load_annotations
from bibtagger_gui.core.demo import generate
from bibtagger_gui.core.store import Store


@pytest.fixture
def demo(tmp_path) -> Path:
    folder = tmp_path / "demo"
    generate(folder, count=6, seed=3, size=(320, 480))
    (folder / "ground_truth.json").rename(tmp_path / "gt.json")
    return folder


def test_predict_writes_json_csv_and_store(demo, tmp_path, capsys, placeholder_models_dir):
    out_json, out_csv = tmp_path / "pred.json", tmp_path / "pred.csv"
    rc = main(["predict", str(demo), "--models", str(placeholder_models_dir), "--json", str(out_json), "--csv", str(out_csv)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "predict: 6/6 photos in" in err  # stderr is not a tty: only the final line
    assert "\r" not in err
    pred = load_annotations(out_json)
    assert [p.image for p in pred] == [f"race_{i:03d}.jpg" for i in range(1, 7)]
    gt = {g.image: g for g in load_annotations(tmp_path / "gt.json")}
    assert all((p.width, p.height) == (gt[p.image].width, gt[p.image].height) for p in pred)  # oriented sizes
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8-sig"))))  # a BOM for Excel
    assert list(rows[0]) == ["image", "number", "x1", "y1", "x2", "y2", "confidence", "error"]
    assert not any(r["error"] for r in rows)
    assert sum(1 for r in rows if r["number"]) == sum(len(p.bibs) for p in pred)
    assert {r["image"] for r in rows} == {p.image for p in pred}
    with Store.open(demo) as store:
        assert store.counts().photos == 6
        assert all(p.model_version == "det:placeholder-1+read:placeholder-1" for p in store.photos())
        assert store.to_annotations() == json.loads(out_json.read_text())


def test_second_run_skips_done_photos_and_keeps_human_bibs(demo, capsys, placeholder_models_dir):
    assert main(["predict", str(demo), "--models", str(placeholder_models_dir)]) == 0
    with Store.open(demo) as store:
        pid = store.photo_by_path("race_001.jpg").id
        human = store.add_bib(pid, "4242", (10, 10, 60, 40))
        store.set_reviewed(store.photo_by_path("race_002.jpg").id, True)
    capsys.readouterr()
    assert main(["predict", str(demo), "--models", str(placeholder_models_dir)]) == 0
    assert "6 already done" in capsys.readouterr().err
    os.rename(demo / "race_001.jpg", demo / "renamed.jpg")
    assert main(["predict", str(demo), "--models", str(placeholder_models_dir), "--all"]) == 0
    err = capsys.readouterr().err
    assert "1 photo(s) moved or renamed" in err and "6 photo(s) recognized" in err
    with Store.open(demo) as store:
        moved = store.photo_by_path("renamed.jpg")
        assert moved.id == pid
        assert human.id in [b.id for b in store.bibs(pid) if b.source == "human"]


def test_all_names_reviewed_photos_that_new_bibs_made_unreviewed(demo, capsys, monkeypatch, placeholder_models_dir):
    """`predict --models NEW --all` gave 2 of 38 reviewed photos new model bibs, which makes them unreviewed (by
    design: a review confirms every bib), and the summary said only "40 photo(s) recognized, …": it now ends with
    a note counting them and naming the first few."""
    from bibtagger_gui.core.bib import Bib
    from bibtagger_gui.core.recognizer import Recognizer

    models = ["--models", str(placeholder_models_dir)]
    assert main(["predict", str(demo), *models]) == 0
    with Store.open(demo) as store:
        photos = store.photos()
        for p in photos:  # every photo reviewed; the first one with a bib 12 of the user's
            store.set_reviewed(p.id, True)
        kept = photos[0]
        store.add_bib(kept.id, "12", (10, 10, 60, 40))
    # the "new models": bib 12 on every photo but the last (the first has it already: no new bib there)
    new_bib = Bib("12", (10, 10, 60, 40), 0.9)
    def new_models(_rec, path) -> list[Bib]:
        return [] if Path(path).name == photos[-1].relpath else [new_bib]

    monkeypatch.setattr(Recognizer, "recognize_path", new_models)
    capsys.readouterr()
    assert main(["predict", str(demo), *models]) == 0  # reviewed photos are not read again: nothing changes
    assert "reviewed photo(s)" not in capsys.readouterr().err
    assert main(["predict", str(demo), *models, "--all"]) == 0
    err = capsys.readouterr().err
    with Store.open(demo) as store:
        unreviewed = [p.relpath for p in store.photos() if not p.reviewed]  # every photo was reviewed before the run
    assert len(unreviewed) == len(photos) - 2 and kept.relpath not in unreviewed and photos[-1].relpath not in unreviewed
    note = err.splitlines()[-1]
    assert note.startswith(f"note: {len(unreviewed)} reviewed photo(s) got new bibs from these models, so they are "
                           "unreviewed again")
    assert f"{', '.join(unreviewed[:3])} and {len(unreviewed) - 3} more;" in note
    assert "photo(s) recognized" in err.splitlines()[-2]




@pytest.mark.parametrize("name", ["new.jpg", "NEW.JPG", "new.heic"])
def test_a_new_store_named_like_a_photo_is_refused(name, demo, tmp_path, capsys, monkeypatch, placeholder_models_dir):
    """`predict --store new.jpg` in the photo folder made a database named like a photo, which the scan then
    listed as "not an image"; a new database takes the check of report outputs (core.imageio.photo_target_problem)
    in predict and import (export opens only an existing one) and in Store.open, and nothing is written. import
    said it only at the store's opening, after it had parsed every file (a malformed one here said that instead)."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    db = demo / name
    (tmp_path / "x.json").write_text('[{"image": broken')  # import refuses the store before it parses the file
    before = sorted(p.name for p in demo.iterdir())
    for args in (["predict", str(demo), "--models", str(placeholder_models_dir), "--store", str(db)],
                 ["import", str(demo), str(tmp_path / "x.json"), "--store", str(db)]):  # fmt: skip
        assert main(args) == 1
        err = capsys.readouterr().err
        assert err.splitlines()[-1] == (f"error: {db} is named like a photo ({Path(name).suffix}): a new project database there "
                                        "would be taken for a photo (the scan lists it as 'not an image'); choose another file name")  # fmt: skip
    assert sorted(p.name for p in demo.iterdir()) == before and not (tmp_path / "stores").exists()
    assert main(["predict", str(demo), "--models", str(placeholder_models_dir), "--store", str(demo / "new.db")]) == 0
    assert (demo / "new.db").is_file()  # another name: made as before
def test_a_new_store_in_a_missing_folder_is_refused_before_anything_is_read(demo, tmp_path, capsys, placeholder_models_dir):
    """`--store /typo/p.db` made the missing folders and started an empty project there. A new database goes into
    a folder that exists, as every output does (core.store.out_folder_problem); predict says so before the
    models load and import before it parses its files (a malformed one here would say otherwise)."""
    db = tmp_path / "nonexist" / "p.db"
    (tmp_path / "bad.json").write_text('[{"image": broken')
    for args in (["predict", str(demo), "--models", str(tmp_path / "no models"), "--store", str(db)],
                 ["import", str(demo), str(tmp_path / "bad.json"), "--store", str(db)]):  # fmt: skip
        assert main(args) == 1
        assert capsys.readouterr().err.splitlines() == [f"error: {db.parent}: no such folder, so p.db cannot be written "
                                                        "there (make the folder first, or choose another place)"]  # fmt: skip
    assert not db.parent.exists() and not (demo / ".bibtagger").exists()


def test_store_location_is_injectable(demo, tmp_path, monkeypatch, placeholder_models_dir):
    db = tmp_path / "elsewhere" / "p.db"
    db.parent.mkdir()  # a new --store database goes into a folder that exists
    assert main(["predict", str(demo), "--models", str(placeholder_models_dir), "--store", str(db)]) == 0
    assert db.exists() and not (demo / ".bibtagger").exists()
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    assert main(["predict", str(demo), "--models", str(placeholder_models_dir)]) == 0
    assert list((tmp_path / "stores").glob("*/project.db")) and not (demo / ".bibtagger").exists()


def test_predict_then_eval_on_rbnr_dev_subset(rbnr_dev, tmp_path, capsys, placeholder_models_dir):
    """10 real photos, linked (not copied) with their dataset relpaths; the store lives in tmp_path."""
    gt = load_annotations(rbnr_dev / "annotations.json")
    subset = gt[::16][:10]
    folder = tmp_path / "rbnr"
    for entry in subset:
        link = folder / entry.image
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(rbnr_dev / entry.image)
    before = sorted(p.name for p in rbnr_dev.iterdir())
    pred = tmp_path / "pred.json"
    assert main(["predict", str(folder), "--models", str(placeholder_models_dir), "--json", str(pred)]) == 0
    assert sorted(p.name for p in rbnr_dev.iterdir()) == before  # nothing written into the dataset
    got = load_annotations(pred)
    assert sorted(p.image for p in got) == sorted(e.image for e in subset)
    assert all((p.width, p.height) == (g.width, g.height) for p, g in zip(sorted(got, key=lambda x: x.image), sorted(subset, key=lambda x: x.image)))
    capsys.readouterr()
    assert main(["eval", str(rbnr_dev / "annotations.json"), str(pred), "--common", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["photos"] == 10
    n_gt = sum(len({b.number for b in e.bibs}) for e in subset)
    assert result["image_level"]["tp"] + result["image_level"]["fn"] == n_gt
    assert 0.0 <= result["image_level"]["f1"] <= 1.0 and 0.0 <= result["box_level"]["f1"] <= 1.0
    assert main(["eval", str(rbnr_dev / "annotations.json"), str(pred)]) == 0
    assert "photos evaluated: 159" in capsys.readouterr().out


def test_results_go_through_symlinks_and_to_stdout(demo, tmp_path, capsys, placeholder_models_dir):
    real = tmp_path / "kept" / "pred.csv"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "pred.csv"
    link.symlink_to(real)
    rc = main(["predict", str(demo), "--models", str(placeholder_models_dir), "--csv", str(link), "--json", "-"])
    out = capsys.readouterr().out
    assert rc == 0
    assert link.is_symlink() and real.read_text(encoding="utf-8-sig").startswith("image,number,")  # the link is kept, its target written
    assert [e["image"] for e in json.loads(out)] == [f"race_{i:03d}.jpg" for i in range(1, 7)]
    assert not (tmp_path / "-").exists()


def test_a_photo_replaced_by_another_picture_is_recognized_again(demo, capsys, placeholder_models_dir):
    models = ["--models", str(placeholder_models_dir)]
    assert main(["predict", str(demo), *models]) == 0
    with Store.open(demo) as store:
        pid = store.photo_by_path("race_002.jpg").id
        before = store.photo(pid)
        store.set_reviewed(pid, True)
        store.add_bib(pid, "4242", None)
    (demo / "race_002.jpg").write_bytes((demo / "race_003.jpg").read_bytes())  # another picture, same name
    os.utime(demo / "race_002.jpg", (before.mtime + 10, before.mtime + 10))
    capsys.readouterr()
    assert main(["predict", str(demo), *models]) == 0
    err = capsys.readouterr().err
    assert "1 photo(s) replaced by another picture" in err and "predict: 1/1 photos" in err
    with Store.open(demo) as store:
        after = store.photo(pid)
        assert (after.width, after.height) == (before.width, before.height)  # told apart by its image data
        assert not after.reviewed and after.model_version == before.model_version
        assert "4242" in [b.number for b in store.bibs(pid) if b.source == "human"]


def test_a_project_locked_by_another_program_mid_run_is_an_error_not_a_traceback(demo, capsys, monkeypatch, placeholder_models_dir):
    """Another program holding the project's write lock past the busy timeout (a long import, a sync tool) ended
    predict in a sqlite3 traceback; and a lock at open read "is unusable", as if the database were broken."""
    import sqlite3

    from bibtagger_gui.core import store as store_mod
    from bibtagger_gui.core.recognizer import Recognizer

    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_S", 0.2)
    with Store.open(demo) as store:
        store.scan()
    other = sqlite3.connect(str(store.db_path), isolation_level=None)
    real, calls = Recognizer.recognize_path, []

    def lock_on_the_third(self, path):
        calls.append(path)
        if len(calls) == 3:
            other.execute("BEGIN IMMEDIATE")
        return real(self, path)

    monkeypatch.setattr(Recognizer, "recognize_path", lock_on_the_third)
    try:
        assert main(["predict", str(demo), "--models", str(placeholder_models_dir)]) == 1
        err = capsys.readouterr().err
        assert "error: project database: database is locked (another program is writing the project" in err
        assert "Traceback" not in err
        assert main(["predict", str(demo), "--models", str(placeholder_models_dir)]) == 1  # locked at open
        assert "is busy: database is locked (another program" in capsys.readouterr().err
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Store.open(demo) as store:
        assert sum(p.model_version is not None for p in store.photos()) == 2  # the two saved before stay saved


def test_a_full_disk_mid_run_says_the_disk_is_full(demo, capsys, monkeypatch, placeholder_models_dir):
    """The disk holding the project fills up mid-run (SQLite's own SQLITE_FULL, through ``max_page_count`` on the
    command's connection): one error line that says the disk is full and what to do; it read "cannot rollback - no
    transaction is active" (the store's ROLLBACK after SQLite's own) with no word of the disk."""
    from tests.test_store import fill_up

    real, calls = Store.set_model_bibs, []

    def full_from_the_third(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            fill_up(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "set_model_bibs", full_from_the_third)
    assert main(["predict", str(demo), "--models", str(placeholder_models_dir)]) == 1
    err = capsys.readouterr().err
    assert "error: project database: database or disk is full (the disk that holds the project is full: free some" in err
    assert "Traceback" not in err
    with Store.open(demo) as store:
        assert sum(p.model_version is not None for p in store.photos()) == 2  # the two saved before stay saved
