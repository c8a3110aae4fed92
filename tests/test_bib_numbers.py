"""Leading zeros: numbers are stored as read, lookups (find, search, start list, names) treat
"891" and "0891" as one bib, evaluation and MTurk agreement compare exact strings."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.cli.find_cmd import find_photos
from bibtagger_gui.core import review
from bibtagger_gui.core.bib import Bib, clean_number, number_key, number_matches
from bibtagger_gui.core.evaluation import image_counts
from bibtagger_gui.core.exporters import photos_csv
from bibtagger_gui.core.mturk import Assignment, MTurkBox, compare_answers, consensus
from bibtagger_gui.core.startlist import (
    load_from_store,
    names_for,
    parse_startlist_text,
    save_to_store,
)
from bibtagger_gui.core.store import Store


@pytest.mark.parametrize(
    "number, key",
    [("0891", "891"), ("00891", "891"), (" 0 891 ", "891"), ("891", "891"), ("0100", "100"), ("007", "7"),
     ("0", "0"), ("00", "00"), ("000", "000"),  # a number of only zeros stays itself
     ("A012", "A12"), ("a0012b", "A12B"), ("A00", "A00"), ("00A", "00A"), ("12-03", "12-03"), ("", "")],
)  # fmt: skip
def test_number_key_drops_leading_zeros_only(number, key):
    assert number_key(number) == key


def test_number_matches_exact_and_prefix():
    assert number_matches("0891", "891") and number_matches("891", "0891") and number_matches("a012", "A12")
    assert not number_matches("0", "00") and not number_matches("8910", "891") and not number_matches("A12", "B12")
    assert number_matches("891", "08", prefix=True) and number_matches("0891", "8", prefix=True)
    assert number_matches("0891", "0", prefix=True) and number_matches("00", "0", prefix=True)  # as written
    assert not number_matches("891", "0", prefix=True)  # a prefix of zeros means "written with a leading zero"
    assert number_matches("A012", "A0", prefix=True) and not number_matches("A12", "B", prefix=True)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    numbers = {"a.jpg": ["0891"], "b.jpg": ["891"], "c.jpg": ["00"], "d.jpg": ["0"], "e.jpg": ["A012"], "f.jpg": ["8910"]}
    for name in numbers:
        cv2.imwrite(str(folder / name), np.full((30, 40, 3), 100, np.uint8))
    s = Store.open(folder)
    s.scan()
    for name, bibs in numbers.items():
        for n in bibs:
            s.add_bib(s.photo_by_path(name).id, n, None)
    yield s
    s.close()


def test_find_treats_leading_zeros_as_one_bib_and_keeps_the_stored_numbers(store, capsys):
    for query in ("891", "0891", "00891", " 0 891"):
        assert find_photos(store, query) == ["a.jpg", "b.jpg"], query
    assert find_photos(store, "0") == ["d.jpg"] and find_photos(store, "00") == ["c.jpg"]
    assert find_photos(store, "a12") == ["e.jpg"] == find_photos(store, "A0012")
    assert find_photos(store, "08", prefix=True) == ["a.jpg", "b.jpg", "f.jpg"]
    assert find_photos(store, "0", prefix=True) == ["a.jpg", "c.jpg", "d.jpg"]
    assert [p.relpath for p in store.find_number("891")] == ["a.jpg", "b.jpg"]
    assert [p.relpath for p in store.find_number("00")] == ["c.jpg"]
    assert main(["find", str(store.folder), "891"]) == 0
    assert capsys.readouterr().out.splitlines() == ["a.jpg", "b.jpg"]
    assert sorted(b.number for bibs in store.all_bibs().values() for b in bibs) == ["0", "00", "0891", "891", "8910", "A012"]


@dataclass(frozen=True)
class _Photo:
    id: int
    relpath: str
    reviewed: bool = False
    error: str | None = None


@dataclass(frozen=True)
class _Bib:
    number: str
    source: str = "model"
    confidence: float | None = 0.9


def test_gui_search_treats_leading_zeros_as_one_bib():
    items = [review.ReviewItem(_Photo(i, f"p{i}.jpg"), (_Bib(n),)) for i, n in enumerate(["0891", "891", "00", "0", "8910"])]

    def found(text: str) -> list[int]:
        return sorted(it.photo_id for it in review.build_queue(items, search=text))

    assert found("891") == [0, 1] == found("0891") == found(" 0891 ")
    assert found("00") == [2] and found("0") == [3]
    assert found("08*") == [0, 1, 4] and found("0*") == [0, 2, 3]
    # a conflict is about the labels themselves: a person's 891 against the model's 0891 still differs
    assert review.is_conflict([_Bib("0891"), _Bib("891", source="human")])


def test_startlist_lookups_ignore_leading_zeros_and_keep_the_list_spelling():
    sl = parse_startlist_text("bib,name\n0891,Ann\n77,Bob\n00,Zed\nA012,Cy\n")
    assert sl.entries == {"0891": "Ann", "77": "Bob", "00": "Zed", "A012": "Cy"}  # stored as written
    assert sl.check("891") == (True, None, "Ann") and sl.check("00891") == (True, None, "Ann")
    assert sl.check("077") == (True, None, "Bob") and sl.check("A12") == (True, None, "Cy")
    assert "891" in sl and sl.name("891") == "Ann" and sl.listed("891") == "0891"
    assert sl.check("0881") == (False, "0891", "Ann")  # the suggestion is the list's own spelling
    assert sl.check("0")[0] is False and sl.check("00") == (True, None, "Zed")
    assert sl.candidates("892", limit=1) == [("0891", 1.0)]


def test_a_second_spelling_of_a_listed_number_is_a_duplicate():
    sl = parse_startlist_text("bib,name\n891,Ann\n0891,Bob\n00891,Ann\n")
    assert sl.entries == {"891": "Ann"}
    assert sl.problems == ["line 3: bib 891 appears again as 0891 ('Bob', first: 'Ann'); kept the first"]


def test_names_exports_and_cli_check_use_the_same_rule(store, tmp_path, capsys):
    save_to_store(store, parse_startlist_text("bib,name\n891,Ann\nA12,Cy\n0,Oz\n"))
    assert names_for(store) == {"891": "Ann", "A12": "Cy", "0": "Oz"}
    text, _ = photos_csv(store)
    names = {line.split(",")[1]: line.rsplit(",", 1)[1] for line in text.splitlines()[1:]}
    assert names["0891"] == names["891"] == "Ann" and names["A012"] == "Cy" and names["00"] == ""
    assert main(["startlist", "check", str(store.folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["c.jpg", "f.jpg"]  # 00 is not 0; 8910 is off the list
    assert load_from_store(store).entries == {"891": "Ann", "A12": "Cy", "0": "Oz"}


def test_evaluation_and_mturk_agreement_compare_exact_strings():
    counts = image_counts([Bib("0891", None)], [Bib("891", None)])
    assert (counts.tp, counts.fp, counts.fn) == (0, 1, 1)  # the benchmark scores the labels as given
    a, b = [MTurkBox(0, 0, 10, 10, "0891")], [MTurkBox(0, 0, 10, 10, "891")]
    assert compare_answers(a, b) is not None  # a worker who left out the printed zero disagrees

    def answer(worker: str, boxes: list[MTurkBox]) -> Assignment:
        return Assignment(1, 0, "H", "A" + worker, worker, "Submitted", "p.jpg", boxes=boxes)

    assert consensus([answer("w1", a), answer("w2", b)]) == []


def test_bibcsv_and_bibfolders_group_the_spellings_of_one_bib(store, tmp_path):
    """A runner's photos read "0891" in one and typed "891" in another land in one row / folder."""
    from bibtagger_gui.core.exporters import export_bibfolders, numbers_csv

    store.add_bib(store.photo_by_path("c.jpg").id, "0891", None)  # "0891" twice, "891" once: the majority names it
    rows = {r.split(",")[0]: r.split(",") for r in numbers_csv(store)[0].splitlines()[1:]}
    assert rows["0891"][1:3] == ["3", "a.jpg;b.jpg;c.jpg"] and "891" not in rows
    assert rows["0"][1] == "1" and rows["00"][1] == "1"  # all-zero numbers stay apart
    out = tmp_path / "folders"
    export_bibfolders(store, out)
    assert sorted(p.name for p in (out / "0891").iterdir()) == ["a.jpg", "b.jpg", "c.jpg"] and not (out / "891").exists()

    save_to_store(store, parse_startlist_text("bib,name\n891,Ann\n"))  # the start list's spelling wins
    rows = {r.split(",")[0]: r.split(",") for r in numbers_csv(store)[0].splitlines()[1:]}
    assert rows["891"][1:] == ["3", "a.jpg;b.jpg;c.jpg", "Ann"] and "0891" not in rows
    export_bibfolders(store, out)  # the re-export moves them and removes the old folder's links
    assert sorted(p.name for p in (out / "891").iterdir()) == ["a.jpg", "b.jpg", "c.jpg"]
    assert not (out / "0891").exists()
    stored = sorted(b.number for bibs in store.all_bibs().values() for b in bibs)
    assert stored.count("0891") == 2 and stored.count("891") == 1  # nothing rewritten


def test_a_search_keystroke_does_not_rework_every_number(monkeypatch):
    """The GUI search over 10,000 photos ran the number regexes for every bib on each keystroke
    (~120 ms a keystroke, measured by `make bench-app`); a number already seen is now looked up, so a
    keystroke's regex work is bounded by the distinct numbers, and the results stay those of the rule."""
    from bibtagger_gui.core import bib as bib_module

    subs: list[str] = []

    class Counting:
        def __init__(self, real):
            self.real = real

        def sub(self, repl, text, count=0):
            subs.append(text)
            return self.real.sub(repl, text, count=count)

    for name in ("_SPACES", "_LEADING_ZEROS"):
        monkeypatch.setattr(bib_module, name, Counting(getattr(bib_module, name)))
    for fn in (clean_number, number_key):
        getattr(fn, "cache_clear", lambda: None)()  # this test counts from an empty cache
    distinct = 300
    items = [review.ReviewItem(_Photo(i, f"p{i}.jpg"), (_Bib(str(1 + i % distinct)), _Bib(str(7 + i % distinct))))
             for i in range(10_000)]
    for text in ("1", "12", "12*", "12", ""):
        before = len(subs)
        got = sorted(it.photo_id for it in review.build_queue(items, search=text))
        want = sorted(it.photo_id for it in items if not text or any(
            n.startswith(text[:-1]) if text.endswith("*") else n == text for n in it.numbers))
        assert got == want, text
        assert len(subs) - before <= 2 * (distinct + 10), f"{text!r}: {len(subs) - before} regex runs for 10,000 photos"


def test_a_conflict_ignores_spaces_and_case_like_the_search():
    assert not review.is_conflict([_Bib("12"), _Bib("1 2", source="human")])
    assert not review.is_conflict([_Bib("a12"), _Bib("A12", source="human")])
    assert review.is_conflict([_Bib("12"), _Bib("13", source="human")])


def test_full_width_digits_and_invisible_characters_are_the_number_they_show(store, capsys):
    """A start list from a Japanese or Chinese spreadsheet writes "１８１" (full-width digits), an IME in full-width mode
    types them, a web page's copy carries a zero-width space: all were kept as they came, so the recognizer's 181 was
    "not on start list", its runner unnamed, and `find RACE １８１` found nothing."""
    from bibtagger_gui.core.bib import given_number

    assert clean_number("１８１") == "181" and number_key("０８９１") == "891" and clean_number("ａ１２") == "A12"
    assert given_number("１２３") == "123" and given_number("12\u200b3") == "123" and given_number("\ufeff77") == "77"
    sl = parse_startlist_text("bib,name\n８９１,山田 太郎\n１２\u200b,Ann\n")
    assert sl.entries == {"891": "山田 太郎", "12": "Ann"} and sl.check("891") == (True, None, "山田 太郎")
    assert find_photos(store, "８９１") == ["a.jpg", "b.jpg"]
    assert main(["find", str(store.folder), "０８９１"]) == 0
    assert capsys.readouterr().out.splitlines() == ["a.jpg", "b.jpg"]
