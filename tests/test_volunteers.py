"""The volunteer workflow (docs/volunteers.md): hand out subsets, review elsewhere, merge the reviews back.

Real photo folders, real project stores and the real `bibtagger` commands; the volunteers' edits are the
store calls the GUI's commands make (EditBibCommand, DeleteBibCommand, AddBibCommand, AcceptPhotoCommand).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.store import Store
from tests.test_gui_support import make_photos


@pytest.fixture(autouse=True)
def stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


def state(folder: Path) -> dict[str, tuple[bool, list[tuple[str, str]]]]:
    """relpath -> (reviewed, sorted (number, source))."""
    with Store.open(folder) as store:
        return {p.relpath: (p.reviewed, sorted((b.number, b.source) for b in store.bibs(p.id))) for p in store.photos()}


def accept(store: Store, rel: str) -> None:
    """What AcceptPhotoCommand does: every bib human-confirmed, the photo reviewed."""
    pid = store.photo_by_path(rel).id
    for row in store.bibs(pid):
        if row.source != "human":
            store.update_bib(row.id)
    store.set_reviewed(pid, True)


def bib(store: Store, rel: str, number: str):
    return next(b for b in store.bibs(store.photo_by_path(rel).id) if b.number == number)


@pytest.fixture
def shoot(tmp_path):
    """The organiser's folder: 6 photos with predictions (the right number plus a wrong extra on photo 0)."""
    race = tmp_path / "race"
    made = make_photos(race, 6)
    with Store.open(race) as store:
        store.scan()
        for rel, number, box in made:
            bibs = [Bib(number, box, 0.9)] + ([Bib("666", (0, 0, 30, 20), 0.3)] if rel == made[0][0] else [])
            store.set_model_bibs(store.photo_by_path(rel).id, bibs, "det:x+read:y")
    return race, made


def volunteer(tmp_path: Path, race: Path, name: str, rels: list[str], handout: Path, layout: str = "") -> Path:
    """Copy the photos (into another folder layout) and import the organiser's handout JSON."""
    folder = tmp_path / name
    (folder / layout).mkdir(parents=True)
    for rel in rels:
        shutil.copy2(race / rel, folder / layout / rel)
    assert main(["import", str(folder), str(handout)]) == 0
    return folder


def test_reviews_land_with_deletions_and_reviewed_flags(shoot, tmp_path, capsys):
    race, made = shoot
    (p0, n0, _), (p1, n1, b1), (p2, n2, b2) = made[:3]
    handout = tmp_path / "A-handout.json"
    (tmp_path / "A.txt").write_text(f"{p0}\n{p1}\n# comment\n\n{p2}\n")
    assert main(["export", str(race), "--format", "json", "--photos", str(tmp_path / "A.txt"), "--out", str(handout)]) == 0
    assert [e["image"] for e in json.loads(handout.read_text())] == [p0, p1, p2]
    vol = volunteer(tmp_path, race, "A", [p0, p1, p2], handout, layout="day1")
    with Store.open(vol) as store:  # the volunteer's app has the predictions: nothing to recognize again
        assert {p.model_version for p in store.photos()} == {f"import:{handout.name}"}
        store.delete_bib(bib(store, f"day1/{p0}", "666").id)  # a wrong prediction deleted
        accept(store, f"day1/{p0}")
        row = bib(store, f"day1/{p1}", n1)
        store.update_bib(row.id, number="7" + n1, box=row.box)  # a number fixed
        store.add_bib(store.photo_by_path(f"day1/{p1}").id, "55", (200, 150, 260, 190))  # a missing bib drawn
        accept(store, f"day1/{p1}")
        row = bib(store, f"day1/{p2}", n2)
        store.update_bib(row.id, number="9" + n2, box=row.box)  # fixed, but the photo not accepted yet
    back = tmp_path / "A.json"
    assert main(["export", str(vol), "--format", "json", "--out", str(back)]) == 0
    capsys.readouterr()
    assert main(["import", str(race), str(back)]) == 0
    err = capsys.readouterr().err
    assert "2 photo(s) marked reviewed" in err and "conflict" not in err, err
    got = state(race)
    assert got[p0] == (True, [(n0, "human")])  # the deleted 666 did not survive the merge
    assert got[p1] == (True, [("55", "human"), ("7" + n1, "human")])  # no stale prediction beside the fix
    assert got[p2] == (False, [("9" + n2, "human")])  # unreviewed stays unreviewed; its stale prediction went too
    assert got[made[3][0]] == (False, [(made[3][1], "model")])  # not handed out: untouched
    with Store.open(race) as store:
        history = len(store.history())
    assert main(["import", str(race), str(back)]) == 0  # idempotent
    assert "0 human and 0 model bib(s) added" in capsys.readouterr().err
    assert state(race) == got
    with Store.open(race) as store:
        assert len(store.history()) == history


def test_disagreeing_reviews_are_conflicts_and_organiser_edits_merge(shoot, tmp_path, capsys):
    race, made = shoot
    (p0, n0, _), (p1, n1, _), (p2, n2, b2) = made[:3]
    handout = tmp_path / "all.json"
    assert main(["export", str(race), "--format", "json", "--out", str(handout)]) == 0
    a = volunteer(tmp_path, race, "A", [p0, p1], handout)
    b = volunteer(tmp_path, race, "B", [p1, p2], handout)  # p1 was handed to both
    with Store.open(a) as store:
        accept(store, p1)  # A: "n1 is right"
        accept(store, p0)
    with Store.open(b) as store:
        row = bib(store, p1, n1)
        store.update_bib(row.id, number="4" + n1, box=row.box)  # B: "it is 4<n1>"
        accept(store, p1)
        accept(store, p2)
    with Store.open(race) as store:  # the organiser adds a bib on p2 meanwhile
        store.add_bib(store.photo_by_path(p2).id, "31", (5, 5, 40, 30))
    files = []
    for who, folder in (("A", a), ("B", b)):
        files.append(tmp_path / f"{who}.json")
        assert main(["export", str(folder), "--format", "json", "--out", str(files[-1])]) == 0
    capsys.readouterr()
    assert main(["import", str(race), *map(str, files)]) == 0
    err = capsys.readouterr().err
    # the files carry the hand-out state: each conflict says who did what since, bib by bib
    assert (f"{p1}: conflict: you reviewed the photo (with {n1}) after the hand-out; the volunteer changed {n1} to 4{n1}: "
            "left as it is") in err, err  # fmt: skip
    # p2: the organiser's 31 and B's confirmation of n2 do not meet (before the bib-by-bib merge: a conflict), but
    # B's review never saw 31, so the photo is not marked reviewed
    assert f"{p2}: conflict" not in err and f"{p2}: left unreviewed: the volunteer reviewed it with {n2}, not with the merged 31, {n2}" in err
    got = state(race)
    assert got[p1] == (True, [(n1, "human")])  # A's review stays until a person decides; B's is not merged in
    assert got[p2] == (False, sorted([("31", "human"), (n2, "human")]))
    assert got[p0][0] is True
    assert main(["import", str(race), str(files[1]), "--overwrite"]) == 0  # the organiser decides B is right on p1 (A's {n1} goes)
    assert "1 human bib(s) replaced (--overwrite)" in capsys.readouterr().err
    got = state(race)
    assert got[p1] == (True, [("4" + n1, "human")]) and got[p2] == (False, sorted([("31", "human"), (n2, "human")]))


def test_unreviewed_entry_never_changes_a_photo_reviewed_here(shoot, tmp_path, capsys):
    race, made = shoot
    (p0, n0, _) = made[0]
    handout = tmp_path / "all.json"
    assert main(["export", str(race), "--format", "json", "--out", str(handout)]) == 0
    vol = volunteer(tmp_path, race, "A", [p0], handout)
    with Store.open(vol) as store:  # the volunteer fixes 666 to 667 but does not accept the photo
        row = bib(store, p0, "666")
        store.update_bib(row.id, number="667", box=row.box)
    back = tmp_path / "A.json"
    assert main(["export", str(vol), "--format", "json", "--out", str(back)]) == 0
    with Store.open(race) as store:  # meanwhile the organiser deleted it and accepted the photo
        store.delete_bib(bib(store, p0, "666").id)
        accept(store, p0)
    capsys.readouterr()
    assert main(["import", str(race), str(back)]) == 0
    assert state(race)[p0] == (True, [(n0, "human")])  # no 667 slipped into a reviewed photo
    assert (f"{p0}: conflict: you deleted 666 after the hand-out; the volunteer changed 666 to 667: "
            "left as it is") in capsys.readouterr().err  # fmt: skip


def test_export_subsets(shoot, tmp_path, capsys):
    race, made = shoot
    sub = race / "cam2"
    sub.mkdir()
    shutil.copy2(race / made[0][0], sub / "extra.jpg")
    with Store.open(race) as store:
        store.scan()
        accept(store, made[1][0])
    out = tmp_path / "x.json"

    def images(*args: str) -> list[str]:
        assert main(["export", str(race), "--format", "json", "--out", str(out), *args]) == 0
        return [e["image"] for e in json.loads(out.read_text())]

    everything = images()
    assert len(everything) == 7
    assert images("--only", "cam2/*") == ["cam2/extra.jpg"]
    assert images("--only", "photo_00[0-2]*", "--only", "*extra*") == ["cam2/extra.jpg"] + [m[0] for m in made[:3]]
    assert images("--unreviewed-only") == [e for e in everything if e != made[1][0]]
    lst = tmp_path / "list.txt"
    lst.write_text("extra.jpg\n" + made[1][0] + "\n")  # a bare file name that only one photo has is enough
    assert images("--photos", str(lst)) == ["cam2/extra.jpg", made[1][0]]
    assert images("--photos", str(lst), "--unreviewed-only") == ["cam2/extra.jpg"]
    lst.write_text("extra.jpg\nnot_there.jpg\n")
    out.unlink()
    capsys.readouterr()
    assert main(["export", str(race), "--format", "csv", "--out", str(out), "--photos", str(lst)]) == 1
    assert f"{lst}:2: not_there.jpg: no such photo in the folder" in capsys.readouterr().err
    assert not out.exists()  # a typo must not hand out a silently smaller share


def test_a_photo_list_saved_as_utf16_or_cp1252_is_read_and_a_binary_file_is_said(shoot, tmp_path, capsys):
    """Windows PowerShell 5's `dir -Name > list.txt` and Notepad's "Unicode" write UTF-16 with a byte order mark, an old
    Notepad cp1252: `export --photos` refused them with "'utf-8' codec can't decode byte 0xff in position 0"."""
    race, made = shoot
    shutil.copy2(race / made[0][0], race / "Läufer.jpg")
    out = tmp_path / "x.json"
    lst = tmp_path / "list.txt"
    for encoding in ("utf-16", "cp1252"):
        lst.write_bytes(f"Läufer.jpg\r\n{made[1][0]}\r\n".encode(encoding))
        assert main(["export", str(race), "--format", "json", "--out", str(out), "--photos", str(lst)]) == 0, encoding
        assert [e["image"] for e in json.loads(out.read_text())] == ["Läufer.jpg", made[1][0]]
    lst.write_bytes((race / made[0][0]).read_bytes())  # a photo given instead of the list
    capsys.readouterr()
    assert main(["export", str(race), "--format", "csv", "--out", str(tmp_path / "y.csv"), "--photos", str(lst)]) == 1
    assert capsys.readouterr().err.strip() == f"error: cannot read the photo list {lst}: not a text file (it holds binary data)"


def test_same_file_name_in_two_folders_matched_by_folder(tmp_path, capsys):
    race = tmp_path / "race"
    made = make_photos(race / "cam1", 2)
    make_photos(race / "cam2", 2, seed=1)  # the same names: photo_000.jpg, photo_001.jpg
    entries = [{"image": f"volunteer/cam2/{made[0][0]}", "width": 320, "height": 240, "bibs": [{"number": "42"}]},
               {"image": made[1][0], "width": 320, "height": 240, "bibs": [{"number": "43"}]}]  # fmt: skip
    path = tmp_path / "v.json"
    path.write_text(json.dumps(entries))
    assert main(["import", str(race), str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{made[1][0]}: ambiguous: 2 photos have this file name" in err  # nothing says which camera
    got = state(race)
    assert got[f"cam2/{made[0][0]}"][1] == [("42", "human")] and got[f"cam1/{made[0][0]}"][1] == []


def test_a_file_of_another_shoot_with_the_same_names_lands_nowhere(shoot, tmp_path, capsys):
    """A volunteer's file imported into the wrong shoot: the same camera names (photo_000.jpg...) and size, other
    pictures. Its hand-out states carry the image-data hash of the photos handed out, so it is refused photo by
    photo instead of putting its bibs, and its reviews, on other runners' photos. The same file still lands in a
    folder of those very photos under a project of its own, and in copies made another size."""
    import cv2

    race, made = shoot
    (p0, n0, _), (p1, n1, _) = made[:2]
    handout = tmp_path / "A-todo.json"
    (tmp_path / "A.txt").write_text(f"{p0}\n{p1}\n")
    assert main(["export", str(race), "--format", "json", "--photos", str(tmp_path / "A.txt"), "--out", str(handout)]) == 0
    vol = volunteer(tmp_path, race, "A", [p0, p1], handout)
    with Store.open(vol) as store:
        accept(store, p0)
        row = bib(store, p1, n1)
        store.update_bib(row.id, number="7" + n1, box=row.box)
        accept(store, p1)
    back = tmp_path / "A.json"
    assert main(["export", str(vol), "--format", "json", "--out", str(back)]) == 0

    other = tmp_path / "race2"
    make_photos(other, 6, seed=1)  # another race, the same names and size
    capsys.readouterr()
    assert main(["import", str(other), str(back)]) == 1  # nothing of it landed: a script importing files notices
    err = capsys.readouterr().err
    for rel in (p0, p1):
        assert f"{rel}: another picture than the one this entry was handed out with" in err, err
    assert "0 of 2 photo(s) matched" in err and "2 skipped" in err
    assert (f"error: none of the 2 photo(s) of A.json is in {other} (by path or file name, sub-folders included; 2 there "
            "under their names hold other pictures (another shoot's)): is it the folder the photos were copied to?"
            ) in err.splitlines(), err  # fmt: skip
    assert all(got == (False, []) for got in state(other).values())

    same = tmp_path / "same"  # the very photos, in a project of their own (a copy, a project made anew)
    for rel in (p0, p1):
        same.mkdir(exist_ok=True)
        shutil.copy2(race / rel, same / rel)
    assert main(["import", str(same), str(back)]) == 0
    assert state(same) == state(vol)  # the volunteer's review, whole

    small = tmp_path / "small"  # copies made smaller for the volunteer's laptop: other data, other size
    small.mkdir()
    for rel in (p0, p1):
        img = cv2.imread(str(race / rel))
        cv2.imwrite(str(small / rel), cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2)))
    capsys.readouterr()
    assert main(["import", str(small), str(handout)]) == 0
    assert "2 of 2 photo(s) matched" in capsys.readouterr().err
    with Store.open(race) as store:
        handed = {rel: (False, sorted((b.number, "model") for b in store.bibs(store.photo_by_path(rel).id))) for rel in (p0, p1)}
    assert state(small) == handed


def test_ctrl_c_during_a_merge_says_what_is_in_and_how_to_import_the_rest(shoot, tmp_path, capsys, monkeypatch):
    """Three returned files; Ctrl+C lands while the second is half written. The first stays imported, nothing of
    the second is (one transaction each), and the message names both and gives the command for the rest, which
    then imports them as if nothing had happened."""
    import shlex

    from bibtagger_gui.core import importers

    race, made = shoot
    rels = [rel for rel, _, _ in made]
    files = {}
    for name, entries in {"A": [(rels[0], "11")], "B": [(rels[1], "21"), (rels[2], "22")], "C": [(rels[3], "31")]}.items():
        files[name] = tmp_path / f"{name} vol.json"  # a space: the command printed must still paste
        files[name].write_text(json.dumps([{"image": rel, "bibs": [{"number": n}]} for rel, n in entries]))
    before = state(race)
    real, calls = importers._import_photo, []

    def interrupted_on_the_third_photo(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # B's second photo, after its first was written in B's transaction
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(importers, "_import_photo", interrupted_on_the_third_photo)
    assert main(["import", str(race), *map(str, files.values())]) == 130
    err = capsys.readouterr().err
    rest = shlex.join(["bibtagger", "import", str(race), str(files["B"]), str(files["C"])])
    assert (f"interrupted: imported A vol.json; not imported: B vol.json, C vol.json (nothing of the file being imported "
            f"was saved: each file is one transaction); to import the rest: {rest}") in err, err
    got = state(race)
    assert ("11", "human") in got[rels[0]][1]
    assert {rel: got[rel] for rel in rels[1:]} == {rel: before[rel] for rel in rels[1:]}  # B rolled back, C untouched

    monkeypatch.setattr(importers, "_import_photo", real)
    assert main(shlex.split(rest)[1:]) == 0
    got = state(race)
    assert [("21", "human") in got[rels[1]][1], ("22", "human") in got[rels[2]][1], ("31", "human") in got[rels[3]][1]] == [True] * 3


def test_a_hand_out_imported_into_the_wrong_folder_is_an_error(shoot, tmp_path, capsys):
    """A volunteer imports the hand-out into a folder without its photos (the copy went elsewhere): every entry was
    named 'no such photo' and the command still ended with success. It ends with exit 1 and says what to check."""
    race, made = shoot
    handout = tmp_path / "A-todo.json"
    assert main(["export", str(race), "--format", "json", "--out", str(handout)]) == 0
    wrong = tmp_path / "Downloads"
    wrong.mkdir()
    shutil.copy2(race / made[0][0], wrong / "finish_line.jpg")  # some other photo, no photo of the hand-out
    capsys.readouterr()
    assert main(["import", str(wrong), str(handout)]) == 1
    err = capsys.readouterr().err
    assert (f"error: none of the {len(made)} photo(s) of {handout.name} is in {wrong} (by path or file name, sub-folders "
            "included): is it the folder the photos were copied to?") in err, err
    assert main(["import", str(wrong), str(handout), str(handout)]) == 1  # with another file, still said
    vol = volunteer(tmp_path, race, "A", [made[1][0]], handout)  # one photo of six there: imported, exit 0
    assert state(vol) == {made[1][0]: state(race)[made[1][0]]}


def test_the_same_return_imported_twice_leaves_what_you_did_since(shoot, tmp_path, capsys):
    """A.json merged, then the organiser marks a photo the volunteer accepted unreviewed and deletes a bib the
    volunteer drew; A.json comes in a second time (a second mail, the same file picked again). It silently
    marked the photo reviewed again and brought the bib back: against the hand-out state both were still the
    volunteer's changes alone. Nothing is written now, and a conflict that still holds is listed again."""
    race, made = shoot
    (p0, n0, _), (p1, n1, _), (p2, n2, _) = made[:3]
    handout = tmp_path / "A-todo.json"
    (tmp_path / "A.txt").write_text(f"{p0}\n{p1}\n{p2}\n")
    assert main(["export", str(race), "--format", "json", "--photos", str(tmp_path / "A.txt"), "--out", str(handout)]) == 0
    vol = volunteer(tmp_path, race, "A", [p0, p1, p2], handout)
    with Store.open(vol) as store:
        accept(store, p0)
        store.add_bib(store.photo_by_path(p1).id, "55", (200, 150, 260, 190))  # a missing bib drawn
        accept(store, p1)
        row = bib(store, p2, n2)
        store.update_bib(row.id, number="9" + n2, box=row.box)
    with Store.open(race) as store:  # the organiser fixes p2 otherwise meanwhile: a conflict
        row = bib(store, p2, n2)
        store.update_bib(row.id, number="8" + n2, box=row.box)
    back = tmp_path / "A.json"
    assert main(["export", str(vol), "--format", "json", "--out", str(back)]) == 0
    assert main(["import", str(race), str(back)]) == 0
    assert state(race)[p0][0] and ("55", "human") in state(race)[p1][1]
    with Store.open(race) as store:
        store.set_reviewed(store.photo_by_path(p0).id, False)  # Mark Unreviewed: the organiser looks again
        store.delete_bib(bib(store, p1, "55").id)  # and finds no bib 55
    before = state(race)
    capsys.readouterr()
    assert main(["import", str(race), str(back)]) == 0
    err = capsys.readouterr().err
    assert state(race) == before, err
    assert "3 photo(s) merged from this file before, left as you have them" in err
    assert f"{p2}: conflict: you changed {n2} to 8{n2} after the hand-out; the volunteer changed {n2} to 9{n2}" in err
    assert main(["import", str(race), str(back), "--overwrite"]) == 0  # the file wins where it is in conflict
    assert state(race)[p2][1] == [("9" + n2, "human")] and state(race)[p0] == before[p0]


def test_a_number_typed_over_a_prediction_with_its_confidence_kept_is_said_when_dropped(shoot, tmp_path, capsys):
    """A volunteer's file edited by hand: 999 typed over a prediction, its "confidence" left in the JSON. The merge
    takes it for a new prediction (nobody's decision: left out) and the prediction it replaced as deleted; the
    summary said nothing of the 999. It now counts and names such bibs, with what to do."""
    race, made = shoot
    (p0, n0, _), (p1, n1, _) = made[:2]
    (tmp_path / "A.txt").write_text(f"{p0}\n{p1}\n")
    handout = tmp_path / "A-handout.json"
    assert main(["export", str(race), "--format", "json", "--photos", str(tmp_path / "A.txt"), "--out", str(handout)]) == 0
    entries = json.loads(handout.read_text())
    edited = next(e for e in entries if e["image"] == p1)
    typed = next(b for b in edited["bibs"] if b["number"] == n1)
    assert typed.get("confidence") is not None
    typed["number"] = "999"  # typed over the prediction in a text editor, "confidence" kept
    back = tmp_path / "A.json"
    back.write_text(json.dumps(entries))
    capsys.readouterr()
    assert main(["import", str(race), str(back)]) == 0
    err = capsys.readouterr().err
    assert f'1 new bib(s) with a "confidence" left out, as predictions nobody decided on ({p1} 999)' in err, err
    assert 'remove its "confidence"' in err
    assert f'{p1}: 999 left out: it has a "confidence"' in err  # the detail line
    assert "999" not in [n for n, _s in state(race)[p1][1]]  # by design: dropped
    # the hint works: without the confidence the 999 is a person's number; the prediction it replaced was deleted
    # by the first import, so it is a conflict, which --overwrite takes as the file has it
    del typed["confidence"]
    back.write_text(json.dumps(entries))
    assert main(["import", str(race), str(back), "--overwrite"]) == 0
    err = capsys.readouterr().err
    assert "left out, as predictions" not in err, err
    assert state(race)[p1][1] == [("999", "human")]
