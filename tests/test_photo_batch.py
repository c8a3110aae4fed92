"""core/photo_batch.py (Qt-free): which selected photos a batch action takes and why it leaves the others
alone, and each action's edit of one photo, on a real store. The GUI side: tests/test_gui_batch_actions.py."""

from __future__ import annotations

import pytest

from bibtagger_gui.core import photo_batch, review
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.photo_batch import BatchAction
from bibtagger_gui.core.store import Store
from tests.test_gui_support import make_photos


@pytest.fixture
def store(tmp_path, monkeypatch):
    """Four photos: 0 reviewed with a human bib, 1 a prediction and a human bib, 2 nothing, 3 unreadable."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "p"
    make_photos(folder, 3)
    (folder / "photo_003.jpg").write_bytes(b"not a jpeg")
    with Store.open(folder) as s:
        s.scan()
        ids = [s.photo_by_path(f"photo_00{i}.jpg").id for i in range(4)]
        s.add_bib(ids[0], "7", None)
        s.set_reviewed(ids[0], True)
        s.set_model_bibs(ids[1], [Bib("41", (1.0, 1.0, 30.0, 20.0), 0.8)], "v1")
        s.add_bib(ids[1], "42", (100.0, 100.0, 140.0, 120.0))
        assert s.photo(ids[3]).error
        yield s, ids


def plan(store, ids, action):
    items = {it.photo_id: it for it in review.load_items(store)}
    return photo_batch.plan(action, [items[i] for i in ids])


def test_each_action_takes_the_photos_it_would_change_and_says_why_not_the_others(store):
    s, ids = store
    p = plan(s, ids, BatchAction.MARK_REVIEWED)
    assert p.todo == (ids[1], ids[2])
    assert p.skipped == ((ids[0], "already reviewed"), (ids[3], "could not be read"))
    assert p.skipped_note() == "2 left alone: 1 already reviewed, 1 could not be read"
    assert plan(s, ids, BatchAction.MARK_UNREVIEWED).todo == (ids[0],)
    rerun = plan(s, ids, BatchAction.RERUN)  # unreadable photos are tried again (the file may be fixed)
    assert rerun.todo == (ids[1], ids[2], ids[3]) and [pid for pid, _ in rerun.skipped] == [ids[0]]
    assert plan(s, ids, BatchAction.DELETE_PREDICTIONS).todo == (ids[1],)
    assert plan(s, [], BatchAction.RERUN) == photo_batch.BatchPlan(BatchAction.RERUN, (), ())


def test_the_edits_of_one_photo(store):
    s, ids = store
    assert photo_batch.delete_predictions(s, ids[1]) == 1
    assert [(b.number, b.source) for b in s.bibs(ids[1])] == [("42", "human")]
    assert s.deleted_numbers(ids[1]) == {"41"} and s.photo(ids[1]).model_version == "v1"
    # a re-run's result: the rejected 41 and the 42 that repeats a human bib are not put back
    assert photo_batch.put_predictions(s, ids[1], [Bib("41", None, 0.9), Bib("42", None, 0.9), Bib("43", None, 0.9)], "v2")
    assert sorted((b.number, b.source) for b in s.bibs(ids[1])) == [("42", "human"), ("43", "model")]
    assert s.photo(ids[1]).model_version == "v2"
    assert not photo_batch.put_predictions(s, ids[0], [Bib("9", None, 0.9)], "v2")  # reviewed: left alone
    assert [b.number for b in s.bibs(ids[0])] == ["7"] and s.photo(ids[0]).model_version is None
    photo_batch.accept_photo(s, ids[1])
    assert s.photo(ids[1]).reviewed and {b.source for b in s.bibs(ids[1])} == {"human"}
    photo_batch.unreview_photo(s, ids[1])
    assert not s.photo(ids[1]).reviewed and {b.source for b in s.bibs(ids[1])} == {"human"}


def test_set_model_version_logs_a_change_and_nothing_else(store):
    s, ids = store
    mark = s.last_change()
    s.set_model_version(ids[1], "v1")  # the same: nothing written
    assert s.last_change() == mark
    s.set_model_version(ids[1], None)
    assert s.photo(ids[1]).model_version is None
    last = s.history(ids[1])[-1]
    assert (last.action, last.before, last.after) == ("model_version", "v1", None)
