"""A volunteer's older file imported for the first time after a newer one of the same hand-out
(docs/volunteers.md#which-file-is-newer): each export is stamped with its save number and time ("saved"), so the
older file changes nothing on the photos the newer one holds, says so, and its photos the newer one lacks still
merge. Files without stamps (written before them) keep the order they are imported in.

Real folders, stores and `bibtagger export`/`import` commands, as tests/test_handout_merge_later_file.py. The
volunteer writes A1.json (``v1``), goes on (``v2``) and writes A2.json; neither is imported before the test.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.annotations import AnnotationError, parse_annotations
from bibtagger_gui.core.store import Store
from tests.test_handout_merge import hand_out, send_back, shoot, stores  # noqa: F401 (fixtures)
from tests.test_handout_merge_later_file import edit
from tests.test_volunteers import state


def two_saves(tmp_path: Path, race: Path, made: list, v1: dict, v2: dict, a2_photos: list[str] | None = None):
    """The hand-out, then the volunteer's edits ``v1`` (relpath -> steps) saved as A1.json and ``v2`` saved as A2.json
    (only ``a2_photos`` in it, when given); nothing imported back yet."""
    _todo, vol = hand_out(tmp_path, race, made)
    numbers = {rel: n for rel, n, _box in made}

    def volunteer_edits(edits: dict) -> None:
        with Store.open(vol) as store:
            for rel, steps in edits.items():
                edit(store, rel, steps, numbers[rel])

    volunteer_edits(v1)
    a1 = send_back(tmp_path, vol, "A1")
    volunteer_edits(v2)
    if a2_photos is None:
        return a1, send_back(tmp_path, vol, "A2")
    listing = tmp_path / "a2-photos.txt"
    listing.write_text("".join(f"{rel}\n" for rel in a2_photos))
    a2 = tmp_path / "A2.json"
    assert main(["export", str(vol), "--format", "json", "--photos", str(listing), "--out", str(a2)]) == 0
    return a1, a2


def stamps(path: Path) -> set[tuple[str, int]]:
    """The (project, seq) stamps a file's entries carry."""
    return {(e["saved"]["project"], e["saved"]["seq"]) for e in json.loads(path.read_text())}


def unstamped(path: Path) -> Path:
    """The file as bibtagger wrote it before the stamps: its entries without "saved" (it had them)."""
    data = json.loads(path.read_text())
    assert all("saved" in e for e in data)
    for e in data:
        del e["saved"]
    out = path.with_name(f"old-{path.name}")
    out.write_text(json.dumps(data))
    return out


@dataclass
class Case:
    name: str
    v1: list[tuple]
    v2: list[tuple]
    bibs: list[tuple[str, str]]  # the photo's bibs at the end ("N": the prediction's number), whichever order
    kept: str  # what the older file's line says it kept
    reviewed: bool = False
    after: list[tuple] = field(default_factory=list)  # the organiser's edits between A2.json and A1.json


CASES = [
    Case("a corrected number stays corrected", v1=[("renumber", "N", "777")], v2=[("renumber", "777", "778")],
         bibs=[("567", "human"), ("778", "human")], kept="1 bib(s) kept as the newer file had them"),
    Case("a bib drawn in A1 and deleted in A2 stays deleted", v1=[("add", "55")], v2=[("delete", "55")],
         bibs=[("567", "human"), ("N", "model")], kept="1 bib(s) kept as the newer file had them"),
    Case("back to the hand-out's number in A2", v1=[("renumber", "N", "777")], v2=[("renumber", "777", "N")],
         bibs=[("567", "human"), ("N", "human")], kept="1 bib(s) kept as the newer file had them"),
    Case("accepted in A1, marked unreviewed in A2 with a correction", v1=[("renumber", "N", "777"), ("accept",)],
         v2=[("unreview",), ("renumber", "777", "778")], bibs=[("567", "human"), ("778", "human")],
         kept="1 bib(s) kept as the newer file had them, the photo kept unreviewed as the newer file had it"),
    Case("the organiser's edit after A2 is kept too", v1=[("renumber", "N", "777")], v2=[("renumber", "777", "778")],
         after=[("add", "31")], bibs=[("31", "human"), ("567", "human"), ("778", "human")],
         kept="1 bib(s) kept as the newer file had them"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_older_file_imported_after_the_newer_one_changes_nothing_it_decided(case, shoot, tmp_path, capsys):
    race, made = shoot
    rel, n, _box = made[2]
    a1, a2 = two_saves(tmp_path, race, made, {rel: case.v1}, {rel: case.v2})
    capsys.readouterr()
    assert main(["import", str(race), str(a2)]) == 0
    with Store.open(race) as store:
        edit(store, rel, case.after, n)
    newer = state(race)
    capsys.readouterr()
    assert main(["import", str(race), str(a1)]) == 0  # the first mail, read after the second
    err = capsys.readouterr().err
    assert state(race) == newer, err  # nothing of A1 changed anything
    want = sorted((n if num == "N" else num, src) for num, src in case.bibs)
    assert state(race)[rel] == (case.reviewed, want), err
    assert "conflict" not in err, err
    lines = [line for line in err.splitlines() if " older than " in line]
    assert len(lines) == 1 and lines[0].startswith(f"{a1}: {rel}: older than A2.json, which you imported at "), err
    assert "(the volunteer saved this file at " in lines[0] and "their save" in lines[0], err
    assert lines[0].endswith(f": {case.kept}"), err
    assert (f"{len(made)} photo(s) from a volunteer's older file than one imported before, left as the newer one had "
            "them") in err, err  # fmt: skip
    assert main(["import", str(race), str(a1), "--overwrite"]) == 0  # no conflict: --overwrite takes nothing of it
    assert state(race) == newer


def copy_db(src: Path, dst: Path) -> None:
    """The project as it is (SQLite's backup: the log included), over ``dst``."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


def test_newer_file_imported_after_the_older_one_merges_over_it_and_both_orders_agree(shoot, tmp_path, capsys):
    """V1 then V2 merges as before (V2 over V1); the files say which save each is, and the other order ends the same."""
    race, made = shoot
    rel, _n, _box = made[2]
    a1, a2 = two_saves(tmp_path, race, made, {rel: [("renumber", "N", "777")]}, {rel: [("renumber", "777", "778")]})
    ((who1, seq1),), ((who2, seq2),) = stamps(a1), stamps(a2)
    assert who1 == who2 and seq1 < seq2  # one volunteer's project, A2 saved after A1
    with Store.open(race) as store:
        db = store.db_path
    copy_db(db, tmp_path / "before.db")
    capsys.readouterr()
    assert main(["import", str(race), str(a1), str(a2)]) == 0
    err = capsys.readouterr().err
    assert "older than" not in err and "conflict" not in err, err
    in_order = state(race)
    assert in_order[rel] == (False, [("567", "human"), ("778", "human")])
    copy_db(tmp_path / "before.db", db)  # the project again as it was before either file came in
    assert state(race)[rel] != in_order[rel]
    assert main(["import", str(race), str(a2), str(a1)]) == 0
    assert state(race) == in_order


def test_photos_only_the_older_file_holds_still_merge(shoot, tmp_path, capsys):
    """A2.json holds one photo (exported with --photos): A1.json's correction of another photo still lands."""
    race, made = shoot
    (rel, n, _b), (other, m, _c) = made[2], made[3]
    a1, a2 = two_saves(tmp_path, race, made, {rel: [("renumber", "N", "777")], other: [("renumber", "N", "888")]},
                       {rel: [("renumber", "777", "778")]}, a2_photos=[rel])  # fmt: skip
    assert [e["image"] for e in json.loads(a2.read_text())] == [rel]
    assert main(["import", str(race), str(a2)]) == 0
    capsys.readouterr()
    assert main(["import", str(race), str(a1)]) == 0
    err = capsys.readouterr().err
    assert state(race)[rel] == (False, [("567", "human"), ("778", "human")]), err  # A2 decided it
    assert state(race)[other] == (False, [("888", "human")]), err  # only A1 has it: its correction arrives
    assert f"1 photo(s) from a volunteer's older file than one imported before, left as the newer one had them ({rel})" in err


@pytest.mark.parametrize("old", ["both", "the older", "the newer"])
def test_files_without_stamps_merge_in_the_order_imported_as_before(old, shoot, tmp_path, capsys):
    """Files written before the stamps (``old``: which of the two): the one imported last is taken as the volunteer's
    later word (the documented rule: import them in the order sent), as when neither had a stamp."""
    race, made = shoot
    rel, _n, _box = made[2]
    a1, a2 = two_saves(tmp_path, race, made, {rel: [("renumber", "N", "777")]}, {rel: [("renumber", "777", "778")]})
    if old in ("both", "the older"):
        a1 = unstamped(a1)
    if old in ("both", "the newer"):
        a2 = unstamped(a2)
    assert main(["import", str(race), str(a2)]) == 0
    capsys.readouterr()
    assert main(["import", str(race), str(a1)]) == 0  # merged over A2 as the later file
    err = capsys.readouterr().err
    assert "older than" not in err and "conflict" not in err, err
    assert state(race)[rel] == (False, [("567", "human"), ("777", "human")]), err


def test_a_note_written_before_the_stamps_keeps_the_order_imported(shoot, tmp_path, capsys):
    """A2.json merged by a bibtagger that kept no stamp in its note (store meta returned:<photo id>): A1.json imported
    now is merged as the later file, as then."""
    race, made = shoot
    rel, _n, _box = made[2]
    a1, a2 = two_saves(tmp_path, race, made, {rel: [("renumber", "N", "777")]}, {rel: [("renumber", "777", "778")]})
    assert main(["import", str(race), str(a2)]) == 0
    with Store.open(race) as store:
        key = f"returned:{store.photo_by_path(rel).id}"
        notes = json.loads(store.get_meta(key))
        assert all(note.pop("saved") for note in notes.values())  # it had one
        store.set_meta(key, json.dumps(notes))
    capsys.readouterr()
    assert main(["import", str(race), str(a1)]) == 0
    err = capsys.readouterr().err
    assert "older than" not in err, err
    assert state(race)[rel] == (False, [("567", "human"), ("777", "human")]), err


@pytest.mark.parametrize("saved, problem", [
    ("5", "$[0].saved: expected an object"),
    ({"project": "", "seq": 1, "at": "2026-11-27T23:50:12Z"}, "$[0].saved.project: expected the saving project's id"),
    ({"project": "p", "seq": 0, "at": "2026-11-27T23:50:12Z"}, "$[0].saved.seq: expected a whole number from 1"),
    ({"project": "p", "seq": True, "at": "2026-11-27T23:50:12Z"}, "$[0].saved.seq: expected a whole number from 1"),
    ({"project": "p", "seq": 2}, "$[0].saved.at: expected a UTC time"),
])  # fmt: skip
def test_a_bad_stamp_is_named(saved, problem):
    with pytest.raises(AnnotationError, match=problem.replace("$", r"\$").replace("[", r"\[").replace("]", r"\]")):
        parse_annotations([{"image": "a.jpg", "width": 4, "height": 3, "bibs": [], "saved": saved}], "A1.json")
