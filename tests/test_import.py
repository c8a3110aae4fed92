"""`bibtagger import` / core.importers: bib annotation JSON into a project store (real files and SQLite)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.annotations import load_annotations, parse_annotations
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.importers import import_annotations
from bibtagger_gui.core.store import Store
from tests.test_gui_support import fixed_predictions, make_photos


@pytest.fixture(autouse=True)
def stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


@pytest.fixture
def folder(tmp_path) -> tuple[Path, list]:
    photos = tmp_path / "photos"
    return photos, make_photos(photos, 4)  # 320x240, numbers 100..103


def entries(data: list) -> list:
    return parse_annotations(data, "test.json")


def bibset(store: Store, rel: str) -> list[tuple]:
    rows = store.bibs(store.photo_by_path(rel).id)
    return sorted((r.number, tuple(round(v, 3) for v in r.box) if r.box else None, r.confidence, r.source) for r in rows)


def opened(folder: Path) -> Store:
    store = Store.open(folder)
    store.scan()
    return store


def test_round_trip_export_json_into_a_fresh_copy(folder, tmp_path, capsys):
    src, made = folder
    with opened(src) as store:
        a, b = (store.photo_by_path(made[i][0]).id for i in (0, 1))
        store.set_model_bibs(a, [Bib("100", made[0][2], 0.93), Bib("77", (1, 1, 20, 20), 0.41)], "det:x+read:y")
        store.add_bib(b, "101", made[1][2])
        store.add_bib(b, "55", None)
        store.set_reviewed(b, True)
        before = {rel: bibset(store, rel) for rel, _, _ in made}
    out = tmp_path / "export.json"
    assert main(["export", str(src), "--format", "json", "--out", str(out)]) == 0
    copy = tmp_path / "copy"
    shutil.copytree(src, copy)  # the store is elsewhere ($BIBTAGGER_STORE_DIR): the copy has none
    capsys.readouterr()
    assert main(["import", str(copy), str(out)]) == 0
    err = capsys.readouterr().err
    assert "4 of 4 photo(s) matched; 2 human and 2 model bib(s) added; 0 already there" in err, err
    with Store.open(copy) as store:
        assert {rel: bibset(store, rel) for rel, _, _ in made} == before
        assert store.photo_by_path(made[0][0]).model_version == "import:export.json"
    assert main(["import", str(copy), str(out)]) == 0  # idempotent
    assert "0 human and 0 model bib(s) added; 4 already there" in capsys.readouterr().err
    with Store.open(copy) as store:
        assert {rel: bibset(store, rel) for rel, _, _ in made} == before
    for p in made:  # photos are never modified
        assert (copy / p[0]).read_bytes() == (src / p[0]).read_bytes()


def test_predict_json_round_trip(tmp_path, monkeypatch, placeholder_models_dir):
    from bibtagger_gui.core.demo import generate

    src = tmp_path / "demo"
    generate(src, count=4, seed=3, size=(320, 480))
    (src / "ground_truth.json").unlink()
    fixed_predictions(monkeypatch, {"race_001.jpg": [Bib("1234", (10.5, 20.25, 90, 60), 0.97), Bib("88", None, 0.4)],
                                    "race_003.jpg": [Bib("7", (1, 2, 3, 4), 0.5)]})  # race_002/004: no bib found
    pred = tmp_path / "pred.json"
    assert main(["predict", str(src), "--models", str(placeholder_models_dir), "--json", str(pred)]) == 0
    copy = tmp_path / "copy"
    shutil.copytree(src, copy)
    assert main(["import", str(copy), str(pred)]) == 0
    with Store.open(src) as a, Store.open(copy) as b:
        want = [{**e, "reviewed": False} for e in json.loads(pred.read_text())]
        assert b.to_annotations() == a.to_annotations() == want
        assert sum(len(e["bibs"]) for e in want) == 3
        versions = {p.relpath: p.model_version for p in b.photos()}
        # predict --json writes "reviewed": false and "recognized": true, so an empty entry is "no bib found": those
        # photos are not recognized again here
        assert all(e.get("recognized") is True for e in want)
        assert set(versions.values()) == {"import:pred.json"}
    older = tmp_path / "older.json"  # a file from before "recognized" was written: an empty entry does not say
    older.write_text(json.dumps([{k: v for k, v in e.items() if k != "recognized"} for e in json.loads(pred.read_text())]))
    third = tmp_path / "third"
    shutil.copytree(src, third)
    assert main(["import", str(third), str(older)]) == 0
    with Store.open(third) as d:
        assert {p.relpath: p.model_version for p in d.photos()} == {e["image"]: "import:older.json" if e["bibs"] else None
                                                                     for e in want}  # fmt: skip
    raw = [{k: v for k, v in e.items() if k not in ("reviewed", "recognized")} for e in json.loads(pred.read_text())]
    bare = tmp_path / "bare.json"  # another tool's file (no "reviewed"): an empty entry does not say, so it is recognized
    bare.write_text(json.dumps(raw))
    other = tmp_path / "other"
    shutil.copytree(src, other)
    assert main(["import", str(other), str(bare)]) == 0
    with Store.open(other) as c:
        assert {p.relpath: p.model_version for p in c.photos()}["race_002.jpg"] is None


def test_auto_human_model_sources(folder):
    src, made = folder
    rel, number, box = made[0]
    data = [{"image": rel, "width": 320, "height": 240,
             "bibs": [{"number": number, "box": list(box), "confidence": 0.9}, {"number": "7", "box": [0, 0, 10, 10]}]}]
    with opened(src) as store:
        rep = import_annotations(store, entries(data))
        assert (rep.human_added, rep.model_added) == (1, 1)
        assert [(n, s) for n, _, _, s in bibset(store, rel)] == [(number, "model"), ("7", "human")]
    for source, want in (("human", [(number, None, "human"), ("7", None, "human")]),
                         ("model", [(number, 0.9, "model"), ("7", None, "model")])):
        other = src.parent / f"copy_{source}"
        shutil.copytree(src, other, ignore=shutil.ignore_patterns(".bibtagger"))
        with opened(other) as store:
            import_annotations(store, entries(data), source=source)
            assert [(n, c, s) for n, _, c, s in bibset(store, rel)] == want


def test_human_bib_already_there_and_model_bib_confirmed(folder):
    src, made = folder
    rel, number, box = made[0]
    with opened(src) as store:
        pid = store.photo_by_path(rel).id
        store.add_bib(pid, "9", None)
        store.set_model_bibs(pid, [Bib(number, box, 0.5)], "det:x+read:y")
        shifted = [box[0] + 5, box[1], box[2] + 5, box[3]]
        rep = import_annotations(store, entries([{"image": rel, "bibs": [
            {"number": number, "box": shifted}, {"number": "9", "box": [1, 1, 5, 5]}]}]))
        assert (rep.human_added, rep.confirmed, rep.already_there) == (0, 1, 1)  # the model's reading, confirmed
        assert "0 human and 0 model bib(s) added; 1 already there; 1 prediction(s) confirmed as read" in rep.summary()
        rows = store.bibs(pid)
        assert sorted((r.number, r.source) for r in rows) == [(number, "human"), ("9", "human")]  # no duplicate box
        assert next(r.box for r in rows if r.number == number) == tuple(shifted)


def test_missing_ambiguous_and_by_name(folder, tmp_path, capsys):
    src, made = folder
    (src / "sub").mkdir()
    shutil.copy(src / made[1][0], src / "sub" / made[1][0])  # photo_001.jpg twice
    data = [
        {"image": "elsewhere/" + made[0][0], "bibs": [{"number": "100"}]},
        {"image": "gone.jpg", "bibs": [{"number": "1"}]},
        {"image": "x/" + made[1][0], "bibs": [{"number": "2"}]},
    ]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data))
    assert main(["import", str(src), str(path), "--as", "human"]) == 0
    err = capsys.readouterr().err
    assert f"{path}: gone.jpg: no such photo in the folder" in err
    assert "x/photo_001.jpg: ambiguous: 2 photos have this file name (photo_001.jpg, sub/photo_001.jpg)" in err
    assert "1 of 3 photo(s) matched; 1 human and 0 model bib(s) added" in err
    assert "1 matched by file name" in err and "1 photo(s) not in the folder" in err and "1 skipped" in err
    with Store.open(src) as store:
        assert [n for n, *_ in bibset(store, made[0][0])] == ["100"]


def test_scaled_boxes_and_size_mismatch(folder):
    src, made = folder
    data = [
        {"image": made[0][0], "width": 640, "height": 480, "bibs": [{"number": "100", "box": [20, 40, 220, 140]}]},
        {"image": made[1][0], "width": 240, "height": 320, "bibs": [{"number": "101", "box": [1, 1, 9, 9]}]},
        {"image": made[2][0], "width": 321, "height": 240, "bibs": [{"number": "102", "box": [0, 0, 10, 10]}]},
    ]
    with opened(src) as store:
        rep = import_annotations(store, entries(data), source="human")
        assert rep.scaled == [made[0][0], made[2][0]]  # 321x240 is within 1 % of 4:3
        assert bibset(store, made[0][0])[0][1] == (10.0, 20.0, 110.0, 70.0)
        assert rep.size_mismatches == [(made[1][0], "size 240x320 in the file, 320x240 here (EXIF orientation not applied?): skipped")]
        assert bibset(store, made[1][0]) == []
        assert rep.matched == 2


def test_malformed_json_messages(folder, tmp_path, capsys):
    src, _ = folder
    bad = tmp_path / "bad.json"
    bad.write_text('[{"image": "a.jpg", "bibs": [{"number": "1", "box": [1, 2, 3]}]}]')
    assert main(["import", str(src), str(bad)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {bad}: $[0].bibs[0].box: expected [x1, y1, x2, y2] or null, got 3 values"
    bad.write_text("[{")
    assert main(["import", str(src), str(bad)]) == 1
    assert "invalid JSON at line 1 column 3" in capsys.readouterr().err
    assert main(["import", str(src), str(tmp_path / "nope.json")]) == 1
    assert "nope.json: file not found" in capsys.readouterr().err
    csv_file = tmp_path / "batch.csv"  # an MTurk batch or a start list given to `import` (README lists several imports)
    csv_file.write_text('"HITId","AssignmentId"\n"H1","A1"\n')
    assert main(["import", str(src), str(csv_file)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: {csv_file}: invalid JSON at line 1 column 8: Extra data (this looks like a CSV file: this import reads "
        "bib annotation JSON; a start list goes to File > Import Start List… or `bibtagger startlist import`, an MTurk "
        "batch to Crowd > Import MTurk Batch… or `bibtagger mturk import`)")
    utf16 = tmp_path / "ps.json"  # Windows PowerShell 5's `ConvertTo-Json … > ps.json`: UTF-16 with a byte order mark
    utf16.write_bytes(json.dumps([{"image": "nowhere.jpg", "bibs": []}]).encode("utf-16"))
    assert main(["import", str(src), str(utf16)]) == 1  # read: it names no photo of the folder, not "not UTF-8 text"
    assert "none of the 1 photo(s) of ps.json" in capsys.readouterr().err
    bad.write_text("[" * 100_000 + "]" * 100_000)  # valid JSON nested past the parser's depth: said, not a traceback
    assert main(["import", str(src), str(bad)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {bad}: invalid JSON: nested too deeply"
    assert main(["import", str(tmp_path / "nofolder"), str(bad)]) == 1
    assert main(["import", str(src), str(bad), "--as", "model", "--reviewed"]) == 2


def test_reviewed_ground_truth_replaces_model_bibs(folder, tmp_path, capsys):
    src, made = folder
    with opened(src) as store:
        pid = store.photo_by_path(made[0][0]).id
        store.set_model_bibs(pid, [Bib("100", made[0][2], 0.8), Bib("8", (0, 0, 9, 9), 0.3)], "det:x+read:y")
    gt = [{"image": rel, "width": 320, "height": 240, "bibs": [{"number": n, "box": list(b)}]} for rel, n, b in made[:3]]
    gt.append({"image": made[3][0], "width": 320, "height": 240, "bibs": []})  # ground truth: no bib
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(gt))
    assert main(["import", str(src), str(path), "--reviewed"]) == 0
    assert "4 photo(s) marked reviewed" in capsys.readouterr().err
    with Store.open(src) as store:
        assert store.counts().reviewed == 4
        assert [(n, s) for n, _, _, s in bibset(store, made[0][0])] == [("100", "human")]
        assert store.to_annotations(reviewed_only=True) == [{**e, "reviewed": True} for e in gt]
    assert main(["import", str(src), str(path), "--reviewed"]) == 0
    assert "0 human and 0 model bib(s) added; 3 already there" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["--reviewed", "reviewed key"])
def test_as_human_truth_makes_every_bib_human_even_with_a_confidence(folder, tmp_path, how):
    """`--as human`: every bib of the file is a human bib, also when the entry is the truth for its photo
    (`--reviewed`, or its own "reviewed": true): a prediction in its place is confirmed, not left a model bib."""
    src, made = folder
    rel, number, box = made[0]
    with opened(src) as store:
        pid = store.photo_by_path(rel).id
        store.set_model_bibs(pid, [Bib(number, box, 0.8)], "det:x+read:y")
    entry = {"image": rel, "width": 320, "height": 240, "bibs": [{"number": number, "box": list(box), "confidence": 0.8},
                                                                 {"number": "42", "box": None, "confidence": 0.5}]}
    if how == "reviewed key":
        entry["reviewed"] = True
    path = tmp_path / "truth.json"
    path.write_text(json.dumps([entry]))
    assert main(["import", str(src), str(path), "--as", "human", *(["--reviewed"] if how == "--reviewed" else [])]) == 0
    with Store.open(src) as store:
        assert store.photo_by_path(rel).reviewed
        assert [(n, c, s) for n, _, c, s in bibset(store, rel)] == sorted([(number, None, "human"), ("42", None, "human")])


def test_model_import_keeps_deleted_numbers_out_and_reviewed_photos(folder):
    src, made = folder
    rel, number, box = made[0]
    preds = entries([{"image": rel, "bibs": [{"number": number, "box": list(box), "confidence": 0.9},
                                             {"number": "666", "box": [0, 0, 9, 9], "confidence": 0.2}]},
                     {"image": made[1][0], "bibs": [{"number": "5", "box": [0, 0, 9, 9], "confidence": 0.9}]}])
    with opened(src) as store:
        pid = store.photo_by_path(rel).id
        store.set_model_bibs(pid, [Bib("666", (0, 0, 9, 9), 0.2)], "det:x+read:y")
        store.delete_bib(store.bibs(pid)[0].id)  # the user rejected 666
        store.set_reviewed(store.photo_by_path(made[1][0]).id, True)
        rep = import_annotations(store, preds)
        assert [n for n, *_ in bibset(store, rel)] == [number]
        assert rep.model_dropped == 1 and rep.model_added == 1
        assert rep.skipped_reviewed == [made[1][0]] and bibset(store, made[1][0]) == []
        again = import_annotations(store, preds)
        assert (again.model_added, again.already_there) == (0, 1)
        assert len([h for h in store.history(pid) if h.action == "model_bibs"]) == 2  # the second import wrote nothing


def test_one_transaction_all_or_nothing(folder, monkeypatch):
    src, made = folder
    data = [{"image": rel, "bibs": [{"number": n}]} for rel, n, _ in made]
    with opened(src) as store:
        calls = []
        real = Store.add_bib

        def failing(self, *a, **k):
            calls.append(1)
            if len(calls) == 3:
                raise OSError("disk full")
            return real(self, *a, **k)

        monkeypatch.setattr(Store, "add_bib", failing)
        with pytest.raises(OSError):
            import_annotations(store, entries(data))
        assert store.all_bibs() == {}


def test_names_in_another_unicode_form_still_match(tmp_path):
    """A JSON written where 'ä' is one code point imports into a macOS folder that stores 'a' + '̈' (NFD)."""
    import unicodedata

    photos = tmp_path / "photos"
    made = make_photos(photos, 2)
    nfd = unicodedata.normalize("NFD", "Läufer/Zieleinlauf_ä.jpg")
    (photos / nfd).parent.mkdir()
    (photos / made[0][0]).rename(photos / nfd)
    (photos / made[1][0]).rename(photos / unicodedata.normalize("NFD", "Über.jpg"))
    data = [
        {"image": "Läufer/Zieleinlauf_ä.jpg", "width": 320, "height": 240, "bibs": [{"number": "7", "box": [1, 2, 30, 40]}]},
        {"image": "elsewhere/über.JPG", "width": 320, "height": 240, "bibs": [{"number": "8", "box": None}]},
    ]
    with opened(photos) as store:
        rep = import_annotations(store, entries(data))
        assert [n for n, *_ in bibset(store, nfd)] == ["7"]
        assert [n for n, *_ in bibset(store, unicodedata.normalize("NFD", "Über.jpg"))] == ["8"]
    assert rep.missing_photos == []
    assert rep.by_name == [("elsewhere/über.JPG", unicodedata.normalize("NFD", "Über.jpg"))]


def _own_project(folder: Path, made: list) -> None:
    """A project with what its own JSON export cannot tell apart on the way back without care: a model bib
    without a confidence (written like a human bib), a human bib beside a prediction of the same number, an
    MTurk bib, a reviewed photo that kept a prediction, a reviewed photo without bibs."""
    with opened(folder) as store:
        ids = [store.photo_by_path(rel).id for rel, _, _ in made]
        for pid, (_rel, number, box) in zip(ids, made):
            store.set_model_bibs(pid, [Bib(number, box, 0.9)], "det:x+read:y")
        store.set_reviewed(ids[0], True)  # reviewed with its prediction as it was
        store.set_model_bibs(ids[1], [Bib("88", (1, 1, 30, 30), None)], "import:other.json")
        store.add_bib(ids[2], made[2][1], (200, 100, 260, 140))  # the same number again, elsewhere, by a person
        store.add_bib(ids[2], "31", (5, 5, 40, 30), source="mturk", extra={"worker_id": "W1"})
        store.delete_bib(store.bibs(ids[3])[0].id)
        store.set_reviewed(ids[3], True)


def _project_state(folder: Path) -> dict:
    with opened(folder) as store:
        rows = {p.relpath: (p.reviewed, p.model_version, bibset(store, p.relpath)) for p in store.photos()}
        return {"photos": rows, "history": store.last_change()}


def _reimport_own_export(src, tmp_path, capsys, hand_out: bool):
    """Export ``src``'s project as JSON (its hand-out states dropped unless ``hand_out``) and import it back: the
    project's state before the import, and what the import said."""
    out = tmp_path / "own.json"
    assert main(["export", str(src), "--format", "json", "--out", str(out)]) == 0
    if not hand_out:
        out.write_text(json.dumps([{k: v for k, v in e.items() if k != "handout"} for e in json.loads(out.read_text())]))
    before = _project_state(src)
    capsys.readouterr()
    assert main(["import", str(src), str(out)]) == 0
    return before, capsys.readouterr().err


@pytest.mark.parametrize("hand_out", [True, False], ids=["as-exported", "without-handout"])
def test_reimporting_your_own_export_is_a_no_op(folder, tmp_path, capsys, hand_out):
    """`export --format json` then `import` of that file into the same project: nothing changes, no history is
    written, and the summary says the photos are already as in the file (with or without the hand-out states).
    Without them, a prediction that repeated a human bib was deleted and a confidence-less model bib became
    a human one."""
    src, made = folder
    _own_project(src, made)
    before, err = _reimport_own_export(src, tmp_path, capsys, hand_out)
    total = sum(len(bibs) for _rev, _ver, bibs in before["photos"].values())
    assert f"0 human and 0 model bib(s) added; {total} already there; {len(made)} photo(s) already as in the file" in err, err
    assert "conflict" not in err
    assert _project_state(src) == before


@pytest.mark.parametrize("into", ["same-project-without-handout", "fresh-copy", "fresh-copy-older-file"])
def test_reimported_export_leaves_photos_never_recognized_to_the_recognizer(folder, tmp_path, capsys, into):
    """A photo the file gives no prediction (only human bibs, or nothing) is not recorded as recognized by an import:
    the app and `not_recognized()` still see it as waiting for the recognizer. Before, the own export's
    `"reviewed": false` made its empty prediction list count as "no bib found" (`model_version = "import:own.json"`)
    on photos no recognizer had ever seen. A photo the file gives predictions, or says a recognizer looked at
    (`"recognized": true`: no bib found), is recorded as recognized."""
    from bibtagger_gui.core.review import needs_recognition

    src, made = folder
    with opened(src) as store:
        ids = [store.photo_by_path(rel).id for rel, _, _ in made]
        store.set_model_bibs(ids[0], [Bib(made[0][1], made[0][2], 0.9)], "det:x+read:y")  # recognized
        store.add_bib(ids[1], made[1][1], made[1][2])  # a bib typed in, never recognized
        store.set_model_bibs(ids[3], [], "det:x+read:y")  # recognized, no bib found
        waiting = {p.relpath for p in store.photos() if needs_recognition(p)}
    assert waiting == {made[1][0], made[2][0]}
    out = tmp_path / "own.json"
    assert main(["export", str(src), "--format", "json", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [e.get("recognized", False) for e in data] == [True, False, False, True]
    target = src
    if into == "same-project-without-handout":
        data = [{k: v for k, v in e.items() if k != "handout"} for e in data]
    else:  # another project: the hand-out states are not its own, so no merge
        target = tmp_path / "copy"
        shutil.copytree(src, target)
    if into == "fresh-copy-older-file":  # written before "recognized" was: a photo without predictions does not say
        data = [{k: v for k, v in e.items() if k != "recognized"} for e in data]
        waiting.add(made[3][0])
    out.write_text(json.dumps(data))
    assert main(["import", str(target), str(out)]) == 0
    with Store.open(target) as store:
        assert {p.relpath for p in store.photos() if needs_recognition(p)} == waiting
        assert [p.relpath for p in store.not_recognized()] == sorted(w for w in waiting if w != made[1][0])  # no bib at all
        assert store.photo_by_path(made[0][0]).model_version == ("det:x+read:y" if target == src else "import:own.json")
    # --as model: every bib is a prediction and an empty entry is "no bib found" (docs/imports.md): all recognized
    other = tmp_path / "as_model"
    shutil.copytree(src, other)
    assert main(["import", str(other), str(out), "--as", "model"]) == 0
    with Store.open(other) as store:
        assert {p.model_version for p in store.photos()} == {"import:own.json"}
        assert store.not_recognized() == []


def test_reimport_of_an_edited_export_takes_unreviewed_photos_and_names_conflicts(folder, tmp_path, capsys):
    """A file that differs from the project only on photos not reviewed there imports those without --overwrite;
    a photo whose review the file contradicts is a conflict, named in the summary line too, and --overwrite
    takes the file's for it."""
    src, made = folder
    _own_project(src, made)
    out = tmp_path / "edited.json"
    assert main(["export", str(src), "--format", "json", "--out", str(out)]) == 0
    data = [{k: v for k, v in e.items() if k != "handout"} for e in json.loads(out.read_text())]
    by = {e["image"]: e for e in data}
    p0, p1, p2 = (made[i][0] for i in range(3))
    by[p1]["bibs"].append({"number": "4321", "box": [100, 100, 160, 140]})  # unreviewed here: lands
    by[p0]["bibs"] = [{"number": "999", "box": None}]  # reviewed here with 100: a conflict
    out.write_text(json.dumps(data))
    before = _project_state(src)["photos"]
    capsys.readouterr()
    assert main(["import", str(src), str(out)]) == 0
    err = capsys.readouterr().err
    assert f"1 conflict(s) left for you to check ({p0})" in err, err
    assert f"{len(made) - 2} photo(s) already as in the file" in err, err
    after = _project_state(src)["photos"]
    assert after[p0] == before[p0] and after[p2] == before[p2]
    assert ("4321", (100.0, 100.0, 160.0, 140.0), None, "human") in after[p1][2]
    assert main(["import", str(src), str(out), "--overwrite"]) == 0
    assert "conflict" not in capsys.readouterr().err
    assert _project_state(src)["photos"][p0][2] == [("999", None, None, "human")]


def test_bibs_are_checked_as_typed_numbers_and_boxes_kept_inside_the_photo_bib_by_bib(folder, tmp_path, capsys):
    """A number with a space is read as typed numbers are (``core.bib.given_number``: "12 34" is 1234), a box past
    the photo's edges is clamped, one wholly outside loses its box (the number stays), a number too long for the
    number field is left out; each is said, bib by bib, and every other bib of the file comes in."""
    src, made = folder  # 320x240 photos
    long_number = "1" * 13
    data = [
        {"image": made[0][0], "width": 320, "height": 240, "bibs": [
            {"number": "12 34", "box": [-50, -60, 99999, 99999]},  # both at once
            {"number": "100", "box": [10, 20, 110, 70]}]},  # as it is
        {"image": made[1][0], "bibs": [{"number": "101", "box": [400, 300, 500, 360]}]},  # wholly outside
        {"image": made[2][0], "reviewed": True, "bibs": [{"number": long_number, "box": None}, {"number": "102", "box": None}]},
        {"image": made[3][0], "bibs": [{"number": " 103\t", "box": [300, 200, 330, 250]}]},  # outer spaces: no news
    ]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data))
    assert main(["import", str(src), str(path)]) == 0
    err = capsys.readouterr().err
    with opened(src) as store:
        assert bibset(store, made[0][0]) == [("100", (10.0, 20.0, 110.0, 70.0), None, "human"),
                                             ("1234", (0.0, 0.0, 320.0, 240.0), None, "human")]  # fmt: skip
        assert bibset(store, made[1][0]) == [("101", None, None, "human")]
        assert bibset(store, made[2][0]) == [("102", None, None, "human")]
        assert not store.photo_by_path(made[2][0]).reviewed  # its review had a bib that did not come in
        assert bibset(store, made[3][0]) == [("103", (300.0, 200.0, 320.0, 240.0), None, "human")]
    lines = [line.split(": ", 1)[1] for line in err.splitlines() if line.startswith(f"{path}: ")]
    assert lines == [
        f"{made[2][0]}: left unreviewed: a bib of the file's review was left out",
        f"{made[0][0]}: bib '12 34': read as 1234 (a bib number has no spaces)",
        f"{made[0][0]}: bib '1234': box [-50, -60, 99999, 99999] clamped to the 320x240 photo",
        f"{made[1][0]}: bib '101': box [400, 300, 500, 360] lies outside the 320x240 photo: imported without a box",
        f"{made[3][0]}: bib '103': box [300, 200, 330, 250] clamped to the 320x240 photo",
        f"{made[2][0]}: bib '{long_number}': '{long_number}' is no bib number (longer than 12 characters): left out",
    ]
    assert "4 bib(s) fixed" in err and "1 bib(s) left out" in err and "5 human and 0 model bib(s) added" in err


def test_a_full_width_number_read_as_ascii_is_said_as_such_not_as_spaces(folder, tmp_path, capsys):
    """given_number takes numbers in NFKC (stop 32): a file's full-width "１０５" is bib 105 and a zero-width space is
    dropped. The import's note said "read as 105 (a bib number has no spaces)" of them, a reason that was not the one;
    it says what was done to the number."""
    src, made = folder
    data = [
        {"image": made[0][0], "bibs": [{"number": "１０５", "box": None}]},  # full-width digits
        {"image": made[1][0], "bibs": [{"number": "10\u200b6", "box": None}]},  # a zero-width space from a web page
        {"image": made[2][0], "bibs": [{"number": "1 07", "box": None}]},  # a space, as before
    ]
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["import", str(src), str(path)]) == 0
    err = capsys.readouterr().err
    with opened(src) as store:
        assert [bibset(store, made[i][0])[0][0] for i in range(3)] == ["105", "106", "107"]
    lines = [line.split(": ", 1)[1] for line in err.splitlines() if line.startswith(f"{path}: ")]
    assert f"{made[0][0]}: bib '１０５': read as 105 (full-width characters read as plain ones)" in lines
    invisible = "10\u200b6"
    assert f"{made[1][0]}: bib {invisible!r}: read as 106 (invisible characters dropped)" in lines
    assert f"{made[2][0]}: bib '1 07': read as 107 (a bib number has no spaces)" in lines
    assert not any("１０５" in line and "no spaces" in line for line in err.splitlines())
    assert "3 bib(s) fixed (a number's spaces, full-width or invisible characters, a box outside its photo)" in err


@pytest.mark.parametrize("hand_out", [True, False], ids=["as-exported", "without-handout"])
def test_reimporting_an_export_with_full_width_numbers_stored_before_nfkc_is_a_no_op(folder, tmp_path, capsys, hand_out):
    """A project holding "１８１" (typed with an input method in full-width mode, or imported, before stop 32 took
    numbers in NFKC: stored as it came) exports it as "１８１". The import read it back as 181, which matched neither the
    project's bib nor its hand-out state: re-importing the unchanged file rewrote the person's bib and deleted the
    prediction "１８２" (its "182" dropped as a new prediction). The project's own spelling stays."""
    src, made = folder
    with opened(src) as store:
        ids = [store.photo_by_path(rel).id for rel, _, _ in made]
        for pid in ids:
            store.set_model_bibs(pid, [], "det:x+read:y")  # recognized (an unrecognized photo takes the file's)
        store.add_bib(ids[0], "１８１", (10, 10, 60, 60))
        store.set_model_bibs(ids[1], [Bib("１８２", (10, 10, 60, 60), 0.8)], "import:old.json")
    before, err = _reimport_own_export(src, tmp_path, capsys, hand_out)
    assert _project_state(src) == before, err
    assert "deleted" not in err and "left out" not in err and "read as" not in err, err
    # a number the project does not have in that spelling is still read in NFKC
    new = tmp_path / "new.json"
    new.write_text(json.dumps([{"image": made[2][0], "bibs": [{"number": "１８３", "box": None}]}], ensure_ascii=False),
                   encoding="utf-8")
    assert main(["import", str(src), str(new)]) == 0
    with opened(src) as store:
        assert [r.number for r in store.bibs(store.photo_by_path(made[2][0]).id)] == ["183"]


def test_a_broken_utf16_file_is_not_said_to_be_not_utf8(folder, tmp_path, capsys):
    """A UTF-16 file (PowerShell 5's `> file.json`) cut short in its last character: the import said "not UTF-8
    text" of a file it had read as UTF-16 by its byte order mark."""
    src, _made = folder
    broken = tmp_path / "cut.json"
    broken.write_bytes('[{"image": "a.jpg", "bibs": []}]'.encode("utf-16")[:-1])
    assert main(["import", str(src), str(broken)]) == 1
    err = capsys.readouterr().err
    assert "not UTF-8 text" not in err and f"{broken}: not UTF-16 text" in err, err
