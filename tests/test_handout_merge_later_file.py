"""A volunteer's corrected second file of the same hand-out (docs/volunteers.md#a-volunteers-corrected-file): it
merges over their own earlier file as its base, so their later word wins over their earlier one, while what the
organiser (or another volunteer) changed since the earlier file is protected as any change since a hand-out.

Real folders, stores and `bibtagger export`/`import` commands, as tests/test_handout_merge.py. Each table row
runs: the organiser's edits (``before``), A1.json (the volunteer's ``v1`` edits) imported, the organiser's edits
(``after``), A2.json (``v1`` then ``v2`` in the volunteer's project) imported; on the photo with a prediction
(``N``, the photo's own number) and the organiser's 567.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.store import Store
from tests.test_handout_merge import hand_out, send_back, shoot, stores  # noqa: F401 (fixtures)
from tests.test_volunteers import accept, bib, state

BOX = (200.0, 150.0, 260.0, 190.0)  # where a drawn bib goes (away from the prediction and the 567)


@dataclass
class Case:
    name: str
    v1: list[tuple]
    v2: list[tuple]
    bibs: list[tuple[str, str]]  # the photo's bibs at the end ("N": the prediction's number)
    conflict: str | None = None  # the A2.json import's conflict line starts so ("N": the number), or none
    before: list[tuple] = field(default_factory=list)  # the organiser's edits before A1.json came in
    after: list[tuple] = field(default_factory=list)  # the organiser's edits between A1.json and A2.json
    reviewed: bool = False  # the photo at the end


EARLIER = "over the volunteer's earlier file A1.json"
CASES = [
    Case("clean: the volunteer's corrected number wins over their first one", v1=[("renumber", "N", "777")],
         v2=[("renumber", "777", "778")], bibs=[("567", "human"), ("778", "human")]),
    Case("back to the hand-out's number", v1=[("renumber", "N", "777")], v2=[("renumber", "777", "N")],
         bibs=[("567", "human"), ("N", "human")]),
    Case("a bib the volunteer drew in A1 deleted in A2", v1=[("add", "55")], v2=[("delete", "55")],
         bibs=[("567", "human"), ("N", "model")]),
    Case("the organiser renumbered the same bib since A1: a conflict naming the organiser's change",
         v1=[("renumber", "N", "777")], after=[("renumber", "777", "700")], v2=[("renumber", "777", "778")],
         bibs=[("567", "human"), ("700", "human")],
         conflict=f"you changed 777 to 700 {EARLIER}; the volunteer changed 777 to 778: left as it is"),
    Case("the organiser deleted the same bib since A1: a conflict", v1=[("renumber", "N", "777")],
         after=[("delete", "777")], v2=[("renumber", "777", "778")], bibs=[("567", "human")],
         conflict=f"you deleted 777 {EARLIER}; the volunteer changed 777 to 778: left as it is"),
    Case("the organiser changed another bib since A1: kept, the volunteer's correction lands",
         v1=[("renumber", "N", "777")], after=[("renumber", "567", "568")], v2=[("renumber", "777", "778")],
         bibs=[("568", "human"), ("778", "human")]),
    Case("the organiser drew a bib since A1: kept", v1=[("renumber", "N", "777")], after=[("add", "31")],
         v2=[("renumber", "777", "778")], bibs=[("31", "human"), ("567", "human"), ("778", "human")]),
    Case("the organiser's change before A1 won A1's conflict: A2 changing that bib again is a conflict still",
         before=[("renumber", "N", "700")], v1=[("renumber", "N", "777")], v2=[("renumber", "777", "778")],
         bibs=[("567", "human"), ("700", "human")],
         conflict=f"you changed 777 to 700 {EARLIER}; the volunteer changed 777 to 778: left as it is"),
    Case("the organiser's change before A1 won A1's conflict: A2's other changes land, that one is not asked again",
         before=[("renumber", "N", "700")], v1=[("renumber", "N", "777")], v2=[("delete", "567")],
         bibs=[("700", "human")]),
    Case("the volunteer accepts the photo in A2", v1=[("renumber", "N", "777")], v2=[("accept",)],
         bibs=[("567", "human"), ("777", "human")], reviewed=True),
    Case("the organiser marked A1's accepted photo unreviewed since: it stays so, A2's correction lands",
         v1=[("renumber", "N", "777"), ("accept",)], after=[("unreview",)], v2=[("renumber", "777", "778")],
         bibs=[("567", "human"), ("778", "human")]),
]


def edit(store: Store, rel: str, steps: list[tuple], n: str) -> None:
    photo = store.photo_by_path(rel).id
    for kind, *args in steps:
        args = [n if a == "N" else a for a in args]
        if kind == "renumber":
            row = bib(store, rel, args[0])
            store.update_bib(row.id, number=args[1], box=row.box)
        elif kind == "accept":
            accept(store, rel)
        elif kind == "unreview":
            store.set_reviewed(photo, False)
        elif kind == "delete":
            store.delete_bib(bib(store, rel, args[0]).id)
        else:
            store.add_bib(photo, args[0], BOX)


def two_files(tmp_path: Path, race: Path, made: list, rel: str, n: str, v1: list, v2: list, before=(), after=()):
    """The hand-out, A1.json imported, the organiser's edits, A2.json written (not imported): A1, A2, the folder."""
    todo, vol = hand_out(tmp_path, race, made)
    with Store.open(race) as store:
        edit(store, rel, list(before), n)
    with Store.open(vol) as store:
        edit(store, rel, v1, n)
    a1 = send_back(tmp_path, vol, "A1")
    assert main(["import", str(race), str(a1)]) == 0
    with Store.open(race) as store:
        edit(store, rel, list(after), n)
    with Store.open(vol) as store:
        edit(store, rel, v2, n)
    return a1, send_back(tmp_path, vol, "A2"), todo


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_later_file_of_the_same_volunteer(case, shoot, tmp_path, capsys):
    race, made = shoot
    rel, n, _box = made[2]
    _a1, a2, _todo = two_files(tmp_path, race, made, rel, n, case.v1, case.v2, case.before, case.after)
    others = {r: v for r, v in state(race).items() if r != rel}
    capsys.readouterr()
    assert main(["import", str(race), str(a2)]) == 0
    err = capsys.readouterr().err
    want = sorted((n if num == "N" else num, src) for num, src in case.bibs)
    assert state(race)[rel] == (case.reviewed, want), err
    assert {r: v for r, v in state(race).items() if r != rel} == others  # the photos A2 did not change: as they were
    lines = [line for line in err.splitlines() if ": conflict: " in line]
    if case.conflict is None:
        assert lines == [], err
    else:
        assert lines == [f"{a2}: {rel}: conflict: {case.conflict} (--overwrite takes the file's)"], err
    # the same A2.json again: nothing changes, the conflict (if any) is listed the same way again
    assert main(["import", str(race), str(a2)]) == 0
    again = capsys.readouterr().err
    assert state(race)[rel] == (case.reviewed, want)
    assert [line for line in again.splitlines() if ": conflict: " in line] == lines, again


def test_the_earlier_file_imported_after_the_later_one_changes_nothing(shoot, tmp_path, capsys):
    race, made = shoot
    rel, n, _box = made[2]
    a1, a2, _todo = two_files(tmp_path, race, made, rel, n, [("renumber", "N", "777")], [("renumber", "777", "778")])
    assert main(["import", str(race), str(a2)]) == 0
    with Store.open(race) as store:
        edit(store, rel, [("add", "31")], n)  # the organiser after A2
    before = state(race)
    capsys.readouterr()
    assert main(["import", str(race), str(a1)]) == 0  # the first mail, picked again by mistake
    err = capsys.readouterr().err
    assert state(race) == before
    assert "conflict" not in err, err
    # every photo of it: each export is a save of its own ("saved" stamp), so A2's untouched photos merged over A1's too
    assert f"{len(made)} photo(s) from a volunteer's earlier file than one merged since, left as you have them" in err, err
    assert main(["import", str(race), str(a1), "--overwrite"]) == 0  # not a conflict: --overwrite takes nothing either
    assert state(race) == before


def test_another_volunteers_file_of_the_same_photo_is_merged_as_before(shoot, tmp_path, capsys):
    race, made = shoot
    rel, n, _box = made[2]
    _a1, _a2, todo = two_files(tmp_path, race, made, rel, n, [("renumber", "N", "777")], [])
    folder = tmp_path / "B" / "usb"  # volunteer B got the same hand-out file
    folder.mkdir(parents=True)
    for r, _n, _b in made:
        (folder / r).write_bytes((race / r).read_bytes())
    assert main(["import", str(folder), str(todo)]) == 0
    with Store.open(folder) as store:
        edit(store, rel, [("renumber", "N", "999")], n)
    b = send_back(tmp_path, folder, "B")
    capsys.readouterr()
    assert main(["import", str(race), str(b)]) == 0
    err = capsys.readouterr().err
    assert (f"{b}: {rel}: conflict: you changed {n} to 777 after the hand-out; the volunteer changed {n} to 999: "
            "left as it is") in err, err
    assert state(race)[rel] == (False, [("567", "human"), ("777", "human")])


@pytest.mark.parametrize("note", ["not json", "[1, 2]", '{"%s": {"handout": 5}}'])
def test_an_unreadable_note_costs_the_rule_only(note, shoot, tmp_path, capsys):
    race, made = shoot
    rel, n, _box = made[2]
    _a1, a2, _todo = two_files(tmp_path, race, made, rel, n, [("renumber", "N", "777")], [("renumber", "777", "778")])
    with Store.open(race) as store:
        photo = store.photo_by_path(rel).id
        keys = json.loads(store.get_meta(f"returned:{photo}"))
        assert len(keys) == 1  # the volunteer's project
        store.set_meta(f"returned:{photo}", note.replace("%s", next(iter(keys))))
    capsys.readouterr()
    assert main(["import", str(race), str(a2)]) == 0  # merged against the hand-out, as before the rule
    err = capsys.readouterr().err
    assert f"conflict: you changed {n} to 777 after the hand-out; the volunteer changed {n} to 778" in err, err
    assert main(["import", str(race), str(a2)]) == 0  # the note is whole again: A2 is their last file
    assert state(race)[rel] == (False, [("567", "human"), ("777", "human")])
