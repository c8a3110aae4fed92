"""The bib-by-bib three-way merge (core/handout_merge.py, docs/volunteers.md#the-merge-bib-by-bib), case by case.

A real project store: each case is one photo handed out by the real export (``annotations_json``: the entry's
"handout" state), changed since by the organiser through the store calls the GUI's commands make, and changed in
the file as a volunteer's export writes it; then the real ``import_annotations``. Each case runs alone on its
photo, and the cases without a review run again all together on one photo (numbers and places made distinct),
where each must come out as it did alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

from bibtagger_gui.core.annotations import parse_annotations
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.exporters import annotations_json
from bibtagger_gui.core.importers import import_annotations
from bibtagger_gui.core.store import Store
from tests.test_gui_support import make_photos

W, H = 640, 480
CELL = (160, 96)  # each case of the combined photo has its own cell (4 x 5 cells)
# places inside a cell: 20 x 12 px boxes; "A+2" is A moved 2 px right (same place, moved), "A+12" overlaps A
# with IoU 0.25 (a nudge: same number, same bib), "A+30" does not overlap it
PLACES = {"A": (10, 10), "B": (40, 10), "C": (70, 10), "D": (10, 40), "E": (40, 40), "F": (70, 40)}


def box(place: str, cell: int = 0) -> tuple[float, float, float, float] | None:
    if place == "-":
        return None
    name, _, dx = place.partition("+")
    x, y = PLACES[name]
    cx, cy = (cell % 4) * CELL[0], (cell // 4) * CELL[1]
    x += cx + float(dx or 0)
    return (x, float(y + cy), x + 20.0, float(y + cy) + 12.0)


@dataclass
class Case:
    name: str
    base: list[str]  # "12@A" a person's bib, "12@A~" a prediction, "12@-" no box
    ours: list[tuple]  # the organiser's edits since the hand-out (store calls)
    theirs: list[tuple]  # the volunteer's edits (what their export holds)
    bibs: list[str]  # the photo after the import: "13@A" a person's, "12@A~" a prediction (box checked)
    reviewed: bool = False
    conflict: list[tuple[str, str]] = field(default_factory=list)  # (yours, theirs) per conflicting bib
    line: str | None = None  # the whole conflict message, when the case checks it
    note: str | None = None  # the "left unreviewed" line

    @property
    def review(self) -> bool:
        return any(op[0] == "ok" for op in self.ours + self.theirs)


LEFT = "left as it is (--overwrite takes the file's)"
REST = "that bib left as you have it, the rest merged (--overwrite takes the file's)"

CASES = [
    Case("they delete", ["12@A~", "567@B"], [], [("del", "567@B")], ["12@A~"]),
    Case("you add, they delete", ["12@A~", "567@B"], [("add", "1234@C")], [("del", "567@B")], ["12@A~", "1234@C"]),
    Case("each fixes another bib", ["12@A~", "44@B~"], [("num", "12@A", "13")], [("num", "44@B", "45")], ["13@A", "45@B"]),
    Case("both delete", ["12@A~", "567@B"], [("del", "567@B")], [("del", "567@B")], ["12@A~"]),
    Case("both renumber alike", ["12@A~"], [("num", "12@A", "13")], [("num", "12@A", "13")], ["13@A"]),
    Case("you renumber, they delete", ["1234@A", "44@B~"], [("num", "1234@A", "1284")], [("del", "1234@A"), ("num", "44@B", "45")],
         ["1284@A", "45@B"], conflict=[("changed 1234 to 1284", "deleted 1234")],
         line=f"you changed 1234 to 1284 after the hand-out; the volunteer deleted 1234: {REST}"),
    Case("renumbered differently", ["12@A~"], [("num", "12@A", "13")], [("num", "12@A", "14")], ["13@A"],
         conflict=[("changed 12 to 13", "changed 12 to 14")],
         line=f"you changed 12 to 13 after the hand-out; the volunteer changed 12 to 14: {LEFT}"),
    Case("two numbers added in one place", ["12@A~"], [("add", "31@D")], [("add", "38@D+2")], ["12@A~", "31@D"],
         conflict=[("added 31", "added 38 in the same place")],
         line=f"you added 31 after the hand-out; the volunteer added 38 in the same place: {LEFT}"),
    Case("the same bib added on both sides", ["12@A~"], [("add", "31@D")], [("add", "31@D+12")], ["12@A~", "31@D"]),
    Case("they nudge a box", ["12@A"], [], [("box", "12@A", "A+12")], ["12@A+12"]),
    # a renumber on one side, the bib deleted and its new number drawn anew beside it (a nudge) on the other:
    # the same change, the box as you have it
    Case("you renumber, they redraw the number", ["12@A"], [("num", "12@A", "13")], [("del", "12@A"), ("add", "13@A+12")],
         ["13@A"]),
    Case("they renumber, you redraw the number", ["12@A"], [("del", "12@A"), ("add", "13@A+12")], [("num", "12@A", "13")],
         ["13@A+12"]),
    Case("you move, they renumber", ["12@A"], [("box", "12@A", "A+2")], [("num", "12@A", "13")], ["12@A+2"],
         conflict=[("moved the box of 12", "changed 12 to 13")]),
    Case("both move: yours stays", ["12@A"], [("box", "12@A", "A+2")], [("box", "12@A", "A+4")], ["12@A+2"]),
    Case("you confirm, they delete", ["12@A~", "44@B~"], [("confirm", "12@A")], [("del", "12@A"), ("confirm", "44@B")],
         ["12@A", "44@B"], conflict=[("confirmed 12", "deleted 12")]),
    Case("a bib without a box gets one", ["12@-", "44@B~"], [], [("box", "12@-", "A")], ["12@A", "44@B~"]),
    Case("you delete a bib without a box", ["12@-", "44@B"], [("del", "12@-")], [("box", "44@B", "B+2")], ["44@B+2"]),
    Case("same number twice: each its own", ["7@A", "7@B"], [("del", "7@A")], [("box", "7@B", "B+12")], ["7@B+12"]),
    Case("they renumber a prediction your re-run replaced", ["12@A~", "44@B"], [("predict", "19@A~")], [("num", "12@A", "13")],
         ["13@A", "19@A~", "44@B"]),
    # with a review: alone only (a review holds every bib of its photo)
    Case("they review", ["12@A~", "666@B~"], [], [("del", "666@B"), ("ok",)], ["12@A"], reviewed=True),
    Case("they review, you added", ["12@A~"], [("add", "1234@C")], [("ok",)], ["12@A", "1234@C"],
         note="left unreviewed: the volunteer reviewed it with 12, not with the merged 12, 1234"),
    Case("you review, they delete", ["12@A~", "567@B"], [("ok",)], [("del", "567@B")], ["12@A", "567@B"], reviewed=True,
         line=f"you reviewed the photo (with 12, 567) after the hand-out; the volunteer deleted 567: {LEFT}"),
    Case("you delete, they review", ["12@A~", "44@B~"], [("del", "12@A")], [("ok",)], ["44@B"],
         line=f"you deleted 12 after the hand-out; the volunteer reviewed the photo (with 12, 44): "
              "that bib left as you have it, the rest merged (--overwrite takes the file's)",
         note="left unreviewed: the volunteer reviewed it with 12, 44, not with the merged 44"),
    Case("both review alike", ["12@A~", "666@B~"], [("del", "666@B"), ("ok",)], [("del", "666@B"), ("ok",)], ["12@A"], reviewed=True),
    Case("they review a renumber over your re-run", ["12@A~"], [("predict", "19@A~")], [("num", "12@A", "13"), ("ok",)],
         ["13@A"], reviewed=True),  # your re-run's 19 is nobody's decision: it goes with the review
    Case("they review, you nudged a box", ["12@A~", "44@B"], [("box", "44@B", "B+2")], [("ok",)], ["12@A", "44@B+2"],
         reviewed=True),
    Case("they review, you nudged a box further", ["12@A~", "44@B"], [("box", "44@B", "B+12")], [("ok",)],
         ["12@A", "44@B+12"], reviewed=True),  # a nudge is the same bib here as in the matching: the number they saw
    Case("both review, both nudge", ["12@A"], [("box", "12@A", "A+12"), ("ok",)], [("box", "12@A", "A+2"), ("ok",)],
         ["12@A+12"], reviewed=True),
]
ALONE = CASES
TOGETHER = [c for c in CASES if not c.review]


def parse(spec: str, cell: int, rename) -> Bib:
    number, _, place = spec.partition("@")
    predicted = place.endswith("~")
    return Bib(rename(number), box(place.rstrip("~"), cell), 0.9 if predicted else None)


def run_cases(tmp_path, monkeypatch, photos: list[list[tuple[Case, int, callable]]]):
    """Each photo gets its cases (case, cell, number renaming); returns the store's state and the import report."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "race"
    made = make_photos(folder, len(photos), size=(W, H))
    store = Store.open(folder)
    store.scan()
    rels = [m[0] for m in made]
    for rel, cases in zip(rels, photos):
        pid = store.photo_by_path(rel).id
        bibs = [parse(s, cell, rn) for c, cell, rn in cases for s in c.base]
        store.set_model_bibs(pid, [b for b in bibs if b.confidence is not None], "det:x+read:y")
        for b in bibs:
            if b.confidence is None:
                store.add_bib(pid, b.number, b.box)
    text, _ = annotations_json(store)  # the hand-out, as export --format json writes it
    sent = {e["image"]: e for e in json.loads(text)}
    back = []
    for rel, cases in zip(rels, photos):
        pid = store.photo_by_path(rel).id
        entry = sent[rel]
        bibs = [dict(b) for b in entry["bibs"]]
        reviewed = entry["reviewed"]
        for c, cell, rn in cases:
            for op in c.ours:
                ours(store, pid, op, cell, rn)
            for op in c.theirs:
                reviewed = theirs(bibs, op, cell, rn) or reviewed
        own = dict(entry["handout"][0], project="volunteer", reviewed=reviewed, bibs=bibs)
        back.append(dict(entry, bibs=bibs, reviewed=reviewed, handout=[own, *entry["handout"]]))
    entries = parse_annotations(back, "A.json")
    return store, rels, import_annotations(store, entries, name="A.json"), entries


def _row(store, pid, spec, cell, rn):
    want = parse(spec, cell, rn)
    return next(r for r in store.bibs(pid) if r.number == want.number and r.box == want.box)


def ours(store, pid, op, cell, rn) -> None:
    kind = op[0]
    if kind == "ok":  # AcceptPhotoCommand
        for r in store.bibs(pid):
            if r.source != "human":
                store.update_bib(r.id)
        store.set_reviewed(pid, True)
    elif kind == "add":
        b = parse(op[1], cell, rn)
        store.add_bib(pid, b.number, b.box)
    elif kind == "predict":  # a re-run reads another number in the place: the photo's other predictions stay
        new = parse(op[1], cell, rn)
        others = [r.to_bib() for r in store.bibs(pid) if r.source == "model" and r.box != new.box]
        store.set_model_bibs(pid, others + [new], "det:new+read:new")
    elif kind == "del":
        store.delete_bib(_row(store, pid, op[1], cell, rn).id)
    elif kind == "num":
        store.update_bib(_row(store, pid, op[1], cell, rn).id, number=rn(op[2]))
    elif kind == "box":
        store.update_bib(_row(store, pid, op[1], cell, rn).id, box=box(op[2], cell))
    elif kind == "confirm":
        store.update_bib(_row(store, pid, op[1], cell, rn).id)


def theirs(bibs: list[dict], op, cell, rn) -> bool | None:
    """The volunteer's edit of the entry's bibs (their app's store calls, as their export then writes them)."""
    kind = op[0]
    if kind == "ok":
        for b in bibs:
            b.pop("confidence", None)
        return True
    if kind == "add":
        b = parse(op[1], cell, rn)
        bibs.append({"number": b.number, "box": list(b.box)})
        return None
    want = parse(op[1], cell, rn)
    k = next(k for k, b in enumerate(bibs) if b["number"] == want.number and (b["box"] and tuple(b["box"])) == (want.box or None))
    if kind == "del":
        del bibs[k]
    elif kind == "num":
        bibs[k] = {"number": rn(op[2]), "box": bibs[k]["box"]}
    elif kind == "box":
        bibs[k] = {"number": bibs[k]["number"], "box": list(box(op[2], cell))}
    elif kind == "confirm":
        bibs[k] = {"number": bibs[k]["number"], "box": bibs[k]["box"]}
    return None


def expected(case: Case, cell: int, rn) -> list[tuple]:
    out = []
    for spec in case.bibs:
        b = parse(spec, cell, rn)
        out.append((b.number, b.box, "model" if b.confidence is not None else "human"))
    return out


def got_bibs(store, rel) -> list[tuple]:
    return sorted((r.number, r.box, r.source) for r in store.bibs(store.photo_by_path(rel).id))


def same(n: str) -> str:
    return n


@pytest.mark.parametrize("case", ALONE, ids=[c.name for c in ALONE])
def test_each_case_alone(case, tmp_path, monkeypatch):
    store, (rel,), report, entries = run_cases(tmp_path, monkeypatch, [[(case, 0, same)]])
    with store:
        assert got_bibs(store, rel) == sorted(expected(case, 0, same))
        assert store.photo_by_path(rel).reviewed is case.reviewed
        conflicts = [why for _image, why in report.conflicts]
        wanted = bool(case.conflict or case.line)
        assert len(conflicts) == int(wanted), conflicts
        if case.line:
            assert conflicts == [case.line]
        for yours, theirs_ in case.conflict:
            assert f"you {yours} after the hand-out; the volunteer {theirs_}: " in conflicts[0]
        assert [why for _image, why in report.unreviewed] == ([case.note] if case.note else [])
        history = len(store.history())
        again = import_annotations(store, entries, name="A.json")  # a second import changes nothing
        assert len(store.history()) == history and again.bibs_added == again.deleted == again.moved == 0
        assert len(again.conflicts) == len(conflicts)


def test_the_cases_without_a_review_all_on_one_photo(tmp_path, monkeypatch):
    """Each case in its own cell of one photo, its numbers prefixed by its index: the photo's other bibs merge
    whatever the conflicts beside them, and each comes out as it did alone."""
    renames = [(lambda k: (lambda n: f"{k + 1}0{n}"))(k) for k in range(len(TOGETHER))]
    photo = [(c, k, renames[k]) for k, c in enumerate(TOGETHER)]
    store, (rel,), report, _entries = run_cases(tmp_path, monkeypatch, [photo])
    with store:
        want = sorted(x for c, k, rn in photo for x in expected(c, k, rn))
        assert got_bibs(store, rel) == want
        assert store.photo_by_path(rel).reviewed is False
        (why,) = [why for _image, why in report.conflicts]
        yours, theirs_ = why.split(" after the hand-out; the volunteer ")
        theirs_ = theirs_.split(": those bibs left as you have them, the rest merged (--overwrite takes the file's)")[0]
        parts = [(rn_text(rn, y), rn_text(rn, t)) for c, _k, rn in photo for y, t in c.conflict + _line_parts(c)]
        # one part per conflicting bib on each side, in the same order (that of the hand-out's bibs, then additions)
        assert yours.startswith("you ")
        assert sorted(zip(yours[len("you "):].split(", "), theirs_.split(", "))) == sorted(parts)
        assert report.unreviewed == []


def _line_parts(case: Case) -> list[tuple[str, str]]:
    """The (yours, theirs) of a case that states only its whole conflict line."""
    if case.conflict or not case.line:
        return []
    yours, rest = case.line[len("you "):].split(" after the hand-out; the volunteer ")
    return [(yours, rest.split(": ")[0])]


def rn_text(rn, text: str) -> str:
    return re.sub(r"\b\d+\b", lambda m: rn(m.group(0)), text)
