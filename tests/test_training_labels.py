"""One label per bib for fine-tuning (core/training_labels): a reviewed photo holding the model's reading and
each MTurk worker's box of one bib, or the MTurk dialog's Correct beside the worker's box, is taught each bib
once, with the most trusted number; the store itself keeps every bib."""

from __future__ import annotations

from pathlib import Path

import pytest

from bibtagger_gui.core import finetune_run as fr
from bibtagger_gui.core import mturk, photo_batch
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.store import Store
from bibtagger_gui.core.training_labels import training_set
from tests.test_mturk import answer, photo, row, write_csv


@pytest.fixture(autouse=True)
def _store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


def crowd_reviewed(tmp_path: Path, rows: list[dict], correct: str | None = None, model: str | None = "979") -> Path:
    """A folder of a.jpg (model bib ``model`` read first, as the app does on opening), the batch imported as
    `bibtagger mturk import` does, optionally one answer Corrected to 979, the photo accepted (Enter)."""
    folder = tmp_path / "shoot"
    photo(folder / "a.jpg", 400, 300)
    batch = mturk.read_batch(write_csv(tmp_path / "batch.csv", rows))
    with Store.open(folder) as store:
        store.scan()
        pid = store.photo_by_path("a.jpg").id
        store.set_model_bibs(pid, [Bib(model, (100.0, 100.0, 180.0, 150.0), 0.99)] if model else [], "m1")
        with mturk.VerdictStore.open(store) as verdicts:
            mturk.import_into_store(batch, store, verdicts)
        if correct is not None:
            for r in mturk.correct_into_store(batch.assignment(correct), store, pid):
                store.update_bib(r.id, number="979")  # the reviewer fixes the copied number in the main window
        photo_batch.accept_photo(store, pid)  # what Enter does: every bib human-confirmed, reviewed
    return folder


def labels(folder: Path) -> list[tuple[str, list[str]]]:
    """What `python -m training finetune` trains on: (photo, its bibs' numbers)."""
    from training.data import entries_from_store

    return [(e.image, [b.number for b in e.bibs]) for e in entries_from_store(folder)]


def test_two_workers_and_the_model_on_one_bib_are_one_label(tmp_path):
    folder = crowd_reviewed(tmp_path, [row("A1", "a.jpg", answer((101, 99, 80, 50, "979")), worker="W1"),
                                       row("A2", "a.jpg", answer((99, 101, 81, 49, "979")), worker="W2")])
    with Store.open(folder) as store:
        assert [b.source for b in store.bibs(store.photo_by_path("a.jpg").id)] == ["human"] * 3  # all confirmed
        found = training_set(store)
    assert [len(e["bibs"]) for e in found.entries] == [1] and found.repeats == 2
    assert fr.material_of(found.entries).boxed_bibs == 1  # the app's "N reviewed photo(s) with M boxed bib(s)"
    assert labels(folder) == [("a.jpg", ["979"])]
    from training.data import entries_from_store

    notes: list[str] = []
    entries_from_store(folder, notes)
    assert notes and "2 repeated bib(s)" in notes[0]


def test_a_corrected_answer_teaches_the_fixed_number_not_the_workers(tmp_path):
    folder = crowd_reviewed(tmp_path, [row("A1", "a.jpg", answer((100, 100, 80, 50, "97")))], correct="A1")
    with Store.open(folder) as store:
        numbers = sorted((b.source, b.number) for b in store.bibs(store.photo_by_path("a.jpg").id))
    assert numbers == [("human", "97"), ("human", "979"), ("human", "979")]  # worker's, fixed copy, model's: all stay
    assert labels(folder) == [("a.jpg", ["979"])]


def test_workers_who_disagree_on_one_bib_leave_the_photo_out_with_a_note(tmp_path):
    folder = crowd_reviewed(tmp_path, [row("A1", "a.jpg", answer((100, 100, 80, 50, "979")), worker="W1"),
                                       row("A2", "a.jpg", answer((100, 100, 80, 50, "97")), worker="W2")], model=None)
    with Store.open(folder) as store:
        found = training_set(store)
    assert found.entries == [] and found.left_out == [("a.jpg", [("979", "97")])]
    assert labels(folder) == []
    assert any("a.jpg: left out" in line and "979 vs 97" in line for line in found.notes())


def test_a_reading_confirmed_on_the_photo_settles_workers_who_disagree(tmp_path):
    folder = crowd_reviewed(tmp_path, [row("A1", "a.jpg", answer((100, 100, 80, 50, "979")), worker="W1"),
                                       row("A2", "a.jpg", answer((100, 100, 80, 50, "97")), worker="W2")])
    assert labels(folder) == [("a.jpg", ["979"])]


def test_workers_boxes_imported_after_the_review_are_not_trained_on_until_accepted_again(tmp_path):
    folder = crowd_reviewed(tmp_path, [row("A1", "a.jpg", answer((100, 100, 80, 50, "979")), worker="W1")])
    assert labels(folder) == [("a.jpg", ["979"])]
    later = mturk.read_batch(write_csv(tmp_path / "later.csv", [
        row("B1", "a.jpg", answer((100, 100, 80, 50, "979"), (300, 200, 60, 40, "12")), worker="W3", hit="H2")]))
    with Store.open(folder) as store:
        with mturk.VerdictStore.open(store) as verdicts:
            report = mturk.import_into_store(later, store, verdicts)
        assert report.added == 2 and report.reviewed_photos == ["a.jpg"]
        assert report.reviewed_note().startswith("1 reviewed photo(s) got new worker boxes: a fine-tune leaves them out")
        pid = store.photo_by_path("a.jpg").id
        assert store.photo(pid).reviewed  # as the import leaves it
        found = training_set(store)
        assert found.unconfirmed == [("a.jpg", ["12"])]
        assert any(line.startswith("a.jpg: left out: MTurk box(es) 12 came after") for line in found.notes())
    assert labels(folder) == []
    with Store.open(folder) as store:
        photo_batch.accept_photo(store, store.photo_by_path("a.jpg").id)  # looked at and accepted again
    assert labels(folder) == [("a.jpg", ["979", "12"])]


def test_photos_without_repeats_are_as_before(tmp_path):
    folder = tmp_path / "shoot"
    photo(folder / "a.jpg", 400, 300)
    with Store.open(folder) as store:
        store.scan()
        pid = store.photo_by_path("a.jpg").id
        store.set_model_bibs(pid, [Bib("12", (10.0, 10.0, 60.0, 40.0), 0.9), Bib("12", (200.0, 10.0, 260.0, 40.0), 0.8)], "m1")
        store.add_bib(pid, "7", None)
        store.set_reviewed(pid, True)
        assert training_set(store).entries == store.to_annotations(reviewed_only=True)
    assert labels(folder) == [("a.jpg", ["12", "12", "7"])]
