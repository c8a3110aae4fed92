"""The import's three-way merge (core/handout.py, docs/volunteers.md): exports carry the hand-out state, so
merging a volunteer's file back tells the organiser's edits since the hand-out from the volunteer's.

Real folders, real project stores and the real `bibtagger export`/`import` commands, as tests/test_volunteers.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.store import Store
from tests.test_gui_support import make_photos
from tests.test_volunteers import accept, bib, state


@pytest.fixture(autouse=True)
def stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


@pytest.fixture
def shoot(tmp_path):
    """The organiser's folder: 5 photos with a prediction each; photo 1 also holds the organiser's own 567
    and is reviewed; photo 2 holds the organiser's own 567 too (unreviewed)."""
    race = tmp_path / "race"
    made = make_photos(race, 5)
    with Store.open(race) as store:
        store.scan()
        for rel, number, box in made:
            store.set_model_bibs(store.photo_by_path(rel).id, [Bib(number, box, 0.9)], "det:x+read:y")
        for i in (1, 2):
            store.add_bib(store.photo_by_path(made[i][0]).id, "567", (0.0, 0.0, 40.0, 30.0))
        accept(store, made[1][0])
    return race, made


def hand_out(tmp_path: Path, race: Path, made: list, name: str = "A") -> tuple[Path, Path]:
    """Export every photo for a volunteer, copy the photos into their folder (another layout) and import the file there."""
    todo = tmp_path / f"{name}-todo.json"
    assert main(["export", str(race), "--format", "json", "--out", str(todo)]) == 0
    folder = tmp_path / name / "usb"
    folder.mkdir(parents=True)
    for rel, _n, _b in made:
        shutil.copy2(race / rel, folder / rel)
    assert main(["import", str(folder), str(todo)]) == 0
    return todo, folder


def send_back(tmp_path: Path, folder: Path, name: str = "A") -> Path:
    back = tmp_path / f"{name}.json"
    assert main(["export", str(folder), "--format", "json", "--out", str(back)]) == 0
    return back


def test_organiser_edits_kept_and_volunteer_deletions_applied_without_conflicts(shoot, tmp_path, capsys):
    race, made = shoot
    (p0, n0, b0), (p1, n1, _), (p2, n2, _), (p3, n3, _), (p4, n4, b4) = made
    todo, vol = hand_out(tmp_path, race, made)
    with Store.open(vol) as store:
        store.delete_bib(bib(store, p1, "567").id)  # the volunteer deletes the organiser's 567 on a reviewed photo
        accept(store, p1)
        row = bib(store, p4, n4)
        store.update_bib(row.id, box=(b4[0] + 6, b4[1] + 3, b4[2] + 6, b4[3] + 3))  # a box moved a little
        accept(store, p4)
        # p0 and p3: not touched
    back = send_back(tmp_path, vol)
    with Store.open(race) as store:  # the organiser, after the hand-out: 1234 on p0 (reviewed before), 77 on p3
        accept(store, p0)
        store.add_bib(store.photo_by_path(p0).id, "1234", (200.0, 150.0, 260.0, 190.0))
        store.add_bib(store.photo_by_path(p3).id, "77", (200.0, 150.0, 260.0, 190.0))
    # the returned file carries the organiser's hand-out state unchanged, besides the volunteer's own
    sent = {e["image"]: e for e in json.loads(todo.read_text())}
    came = {e["image"]: e for e in json.loads(back.read_text())}
    assert [h["project"] for h in came[p1]["handout"]][1:] == [sent[p1]["handout"][0]["project"]]
    assert came[p1]["handout"][1] == sent[p1]["handout"][0] and came[p1]["handout"][0] != sent[p1]["handout"][0]
    capsys.readouterr()
    assert main(["import", str(race), str(back)]) == 0
    err = capsys.readouterr().err
    assert "conflict" not in err, err
    assert "1 bib(s) deleted as in the file" in err and "1 box(es) moved as in the file" in err, err
    got = state(race)
    assert got[p0] == (True, sorted([("1234", "human"), (n0, "human")]))  # the organiser's addition kept
    assert got[p3] == (False, sorted([("77", "human"), (n3, "model")]))
    assert got[p1] == (True, [(n1, "human")])  # the volunteer's deletion of 567 applied
    assert got[p2][1] == sorted([("567", "human"), (n2, "model")])
    with Store.open(race) as store:
        assert bib(store, p4, n4).box == (b4[0] + 6, b4[1] + 3, b4[2] + 6, b4[3] + 3)  # the volunteer's box
        history = len(store.history())
    assert main(["import", str(race), str(back)]) == 0  # again: nothing to do, no conflict
    err = capsys.readouterr().err
    assert "conflict" not in err and "0 human and 0 model bib(s) added" in err, err
    assert state(race) == got
    with Store.open(race) as store:
        assert len(store.history()) == history


def test_both_sides_changed_a_bib_is_a_conflict_that_says_who_did_what(shoot, tmp_path, capsys):
    """A conflict is a bib changed differently on both sides; compatible edits of one photo by both sides merge
    (until the bib-by-bib merge, p2 -- you added 1234, the volunteer deleted 567 -- was a conflict too)."""
    race, made = shoot
    (p0, n0, b0), (p1, n1, _), (p2, n2, _), (p3, n3, b3), _ = made
    _todo, vol = hand_out(tmp_path, race, made)
    with Store.open(vol) as store:
        store.delete_bib(bib(store, p2, "567").id)  # p2: the volunteer deletes 567 ...
        accept(store, p2)
        row = bib(store, p3, n3)
        store.update_bib(row.id, number="9" + n3, box=row.box)  # p3: a number changed, not accepted
        store.delete_bib(bib(store, p0, n0).id)  # p0: both delete the wrong reading and accept: the same change
        accept(store, p0)
    back = send_back(tmp_path, vol)
    with Store.open(race) as store:
        store.add_bib(store.photo_by_path(p2).id, "1234", (200.0, 150.0, 260.0, 190.0))  # ... the organiser adds 1234
        row = bib(store, p3, n3)
        store.update_bib(row.id, number="8" + n3, box=row.box)  # p3: the organiser reads it otherwise
        store.delete_bib(bib(store, p0, n0).id)
        accept(store, p0)
    before = state(race)
    capsys.readouterr()
    assert main(["import", str(race), str(back)]) == 0
    err = capsys.readouterr().err
    assert (f"{back}: {p3}: conflict: you changed {n3} to 8{n3} after the hand-out; the volunteer changed {n3} to 9{n3}: "
            "left as it is (--overwrite takes the file's)") in err, err  # fmt: skip
    assert f"{p2}: conflict" not in err and f"{p0}: conflict" not in err and "1 conflict(s)" in err, err
    # p2: both edits land; the volunteer's review did not see 1234, so the photo waits for the organiser
    assert f"{back}: {p2}: left unreviewed: the volunteer reviewed it with {n2}, not with the merged {n2}, 1234" in err, err
    got = state(race)
    assert got[p2] == (False, sorted([("1234", "human"), (n2, "human")]))
    assert {k: v for k, v in got.items() if k != p2} == {k: v for k, v in before.items() if k != p2}  # p3 left as it is
    assert main(["import", str(race), str(back), "--overwrite"]) == 0  # the file wins where there is a conflict
    got = state(race)
    assert got[p2] == (False, sorted([("1234", "human"), (n2, "human")]))  # no conflict: merged the same way again
    assert got[p3] == (False, [("9" + n3, "human")])


def test_photo_replaced_since_the_hand_out_is_a_conflict(shoot, tmp_path, capsys):
    race, made = shoot
    p4, n4, _ = made[4]
    _todo, vol = hand_out(tmp_path, race, made)
    with Store.open(vol) as store:
        accept(store, p4)
    back = send_back(tmp_path, vol)
    other = make_photos(tmp_path / "other", 1, seed=7)[0][0]
    shutil.copy2(tmp_path / "other" / other, race / p4)  # another picture, same size, under the old name
    os.utime(race / p4, (1e9, 1e9))
    capsys.readouterr()
    assert main(["import", str(race), str(back)]) == 0
    err = capsys.readouterr().err
    assert (f"{p4}: conflict: the photo was replaced by another picture after the hand-out; the volunteer reviewed "
            f"the photo (with {n4}) on the old one: left as it is") in err, err  # fmt: skip
    assert state(race)[p4] == (False, [])  # the scan dropped the old picture's prediction; the review is not put on it


def test_file_without_hand_out_state_imports_as_before(shoot, tmp_path, capsys):
    """A file from before (or from another tool) has no "handout": the reviewed entry is the truth, as always."""
    race, made = shoot
    p1, n1, _ = made[1]
    _todo, vol = hand_out(tmp_path, race, made)
    with Store.open(vol) as store:
        store.delete_bib(bib(store, p1, "567").id)
        accept(store, p1)
    back = send_back(tmp_path, vol)
    old = tmp_path / "old.json"
    old.write_text(json.dumps([{k: v for k, v in e.items() if k != "handout"} for e in json.loads(back.read_text())]))
    capsys.readouterr()
    assert main(["import", str(race), str(old)]) == 0
    err = capsys.readouterr().err
    assert f"{p1}: conflict: reviewed here with {n1}, 567, the file's review has {n1}" in err, err  # can't tell who deleted 567
    assert "compared with their hand-out state" not in err
    assert state(race)[p1] == (True, sorted([("567", "human"), (n1, "human")]))
    assert main(["import", str(race), str(back)]) == 0  # the same review with its hand-out state: merged
    assert "conflict" not in capsys.readouterr().err
    assert state(race)[p1] == (True, [(n1, "human")])


def test_reviewed_entry_keeps_the_predictions_it_lists(shoot, tmp_path, capsys):
    """A review that lists a prediction (with its confidence) keeps it, as the same entry without "handout" does
    (_import_truth): only the predictions the review lacks go."""
    race, made = shoot
    p3, n3, _ = made[3]
    todo = tmp_path / "todo.json"
    assert main(["export", str(race), "--format", "json", "--out", str(todo)]) == 0
    entry = next(e for e in json.loads(todo.read_text()) if e["image"] == p3)
    assert [b["number"] for b in entry["bibs"]] == [n3] and entry["bibs"][0]["confidence"] is not None
    back = tmp_path / "back.json"
    back.write_text(json.dumps([{**entry, "reviewed": True}]))  # reviewed with the prediction as it was
    capsys.readouterr()
    assert main(["import", str(race), str(back)]) == 0
    err = capsys.readouterr().err
    assert "conflict" not in err and "1 photo(s) compared with their hand-out state" in err, err
    assert state(race)[p3] == (True, [(n3, "model")])


def test_reviewed_entry_that_lost_a_bib_leaves_its_photo_unreviewed_in_the_merge_too(shoot, tmp_path, capsys):
    """The rule of an entry without "handout" (core/importers._checked): a review that listed a bib the import
    left out (not a bib number) saw bibs that did not all come in, so the merge does not take it either; the
    bibs that did come in merge, and the line says why the photo waits."""
    race, made = shoot
    p3, n3, _ = made[3]
    todo = tmp_path / "todo.json"
    assert main(["export", str(race), "--format", "json", "--out", str(todo)]) == 0
    entry = next(e for e in json.loads(todo.read_text()) if e["image"] == p3)
    long_number = "1" * 13
    back = tmp_path / "back.json"
    back.write_text(json.dumps([{**entry, "reviewed": True, "bibs": entry["bibs"] + [
        {"number": long_number, "box": None}, {"number": "88", "box": None}]}]))  # fmt: skip
    capsys.readouterr()
    assert main(["import", str(race), str(back)]) == 0
    err = capsys.readouterr().err
    assert "1 photo(s) compared with their hand-out state" in err, err
    assert f"{p3}: left unreviewed: a bib of the file's review was left out" in err, err
    assert f"{p3}: bib '{long_number}': '{long_number}' is no bib number (longer than 12 characters): left out" in err
    assert "1 photo(s) left unreviewed" in err, err
    assert state(race)[p3] == (False, sorted([(n3, "model"), ("88", "human")]))
