"""core/photo_record.py: what an edit of one photo changed, recorded in its transaction, undone and redone exactly
(the re-run's undo step is built from such records, written by the recognition job's own connection), and
Store.last_changes, which tells a photo changed again after its record."""

from __future__ import annotations

import pytest

from bibtagger_gui.core import photo_batch, photo_record
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.store import Store
from tests.test_bursts import shot


def state(store, pid):
    photo = store.photo(pid)
    return photo.reviewed, photo.model_version, tuple(store.bibs(pid))


def states(moved):
    """``photo_record.move_all``'s photo states as :func:`state` reads photos."""
    return {pid: (s.reviewed, s.model_version, s.bibs) for pid, s in moved.items()}


def test_a_recorded_rerun_is_undone_and_redone_exactly_and_refuses_a_photo_changed_since(tmp_path):
    for i in range(2):
        shot(tmp_path / f"p{i}.jpg", None)
    with Store.open(tmp_path) as store:
        store.scan()
        a, b = (p.id for p in store.photos())
        for pid in (a, b):
            store.set_model_bibs(pid, [Bib("12", (1.0, 2.0, 30.0, 20.0), 0.5), Bib("7", None, 0.3)], "old")
        store.add_bib(a, "99", None)  # a person's bib: the re-run keeps it
        before = state(store, a)
        mark = store.last_change()
        new = [Bib("13", (1.0, 2.0, 30.0, 20.0), 0.9)]
        with Store.open(tmp_path) as worker:  # the job's own connection
            record = photo_record.record_edit(worker, a, lambda s: photo_batch.put_predictions(s, a, new, "new"))
            other = photo_record.record_edit(worker, b, lambda s: photo_batch.put_predictions(s, b, new, "new"))
        after = state(store, a)
        assert record.result and record.changes_store and record.versions == ("old", "new")
        assert sorted(r.number for r in after[2]) == ["13", "99"]
        assert store.last_changes(mark) == {a: record.last_change, b: other.last_change} and other.last_change > record.last_change
        photo_record.revert(store, record)
        assert state(store, a) == before  # the old predictions' very rows and the old version
        assert "7" not in store.deleted_numbers(a) and "12" not in store.deleted_numbers(a)  # replaced, not rejected
        photo_record.reapply(store, record)
        assert state(store, a) == after
        photo_batch.accept_photo(store, a)  # changed since: accepted (its bibs confirmed)
        accepted = state(store, a)
        assert store.last_changes(record.last_change)[a] > record.last_change
        with pytest.raises(photo_record.ChangedMeanwhile):
            photo_record.revert(store, record)
        assert state(store, a) == accepted  # nothing written


def three_shots(folder) -> None:
    for i in range(3):
        shot(folder / f"p{i}.jpg", None)


def old_predictions(store) -> list[int]:
    """Scan ``store``'s folder and give its photos 1, 2 and 2 predictions (model version "old"); their ids, in order."""
    store.scan()
    ids = [p.id for p in store.photos()]
    for k, pid in enumerate(ids):
        store.set_model_bibs(pid, [Bib(str(10 + k), (1.0, 2.0, 30.0, 20.0), 0.5), Bib("7", None, 0.3)][: k + 1], "old")
    return ids


def test_the_undo_of_many_records_is_checked_first_written_at_once_and_logged_as_one_photo_s_would_be(tmp_path):
    """revert_all / reapply_all (the re-run's undo step): every photo checked before anything is written, so one photo
    changed since leaves every photo as it was; otherwise every photo exact, with the history rows a single photo's undo
    writes (rows put back, the re-run's rows taken out as undone, not rejected, the version)."""
    three_shots(tmp_path)
    with Store.open(tmp_path) as store:
        ids = old_predictions(store)
        before = {pid: state(store, pid) for pid in ids}
        records = [photo_record.record_edit(store, pid, lambda s, pid=pid: photo_batch.put_predictions(
            s, pid, [Bib("13", (2.0, 2.0, 30.0, 20.0), 0.9)], "new")) for pid in ids]  # fmt: skip
        after = {pid: state(store, pid) for pid in ids}
        mark = store.last_change()
        undone = photo_record.revert_all(store, records)
        assert {pid: state(store, pid) for pid in ids} == before
        assert states(undone) == before  # the states it returns: what the store holds
        for pid, record in zip(ids, records):
            logged = [(h.action, h.bib_id) for h in store.history(pid) if h.id > mark]
            want = [("bib_undo" if record.rows_before[i] is None else "bib_restore", i) for i in sorted(record.rows_before)]
            assert logged == want + [("model_version", None)]
            assert store.deleted_numbers(pid) == set()  # the re-run's "13" was undone, not rejected
        redone = photo_record.reapply_all(store, records)
        assert {pid: state(store, pid) for pid in ids} == after and states(redone) == after
        retyped = next(b for b in store.bibs(ids[1]) if b.number == "13")
        store.update_bib(retyped.id, number="14")  # changed since (the reviewer retyped it): the whole undo refused
        changed, mark = {pid: state(store, pid) for pid in ids}, store.last_change()
        with pytest.raises(photo_record.ChangedMeanwhile):
            photo_record.revert_all(store, records)
        assert store.last_change() == mark and {pid: state(store, pid) for pid in ids} == changed  # nothing written


def test_an_undo_step_reads_none_of_its_photos_logged_unchanged_and_writes_the_history_its_worker_made(tmp_path, monkeypatch):
    """The re-run's undo step (``since``: the history id at which each photo was last in the move's start state) reads
    and checks only the photos the history logged a change of since; the others' states come from their records (a
    person's bib kept on them too). Its rows' history JSON, made by the worker (``texts=True``), is written as it is:
    the same history rows, text for text, as a move that makes it then. A photo changed since is read: a bib added
    beside is kept and shown; a retyped prediction refuses the whole step, nothing written."""
    import dataclasses
    import shutil

    folder = tmp_path / "race"
    three_shots(folder)
    with Store.open(folder) as store:
        ids = old_predictions(store)
        store.add_bib(ids[0], "99", None, extra={"note": "Zoë"})  # a person's bib: the re-run keeps it
        before = {pid: state(store, pid) for pid in ids}
        with Store.open(folder) as worker:  # the job's own connection
            records = [photo_record.record_edit(worker, pid, lambda s, pid=pid: photo_batch.put_predictions(
                s, pid, [Bib("13", (2.0, 2.0, 30.0, 20.0), 0.9)], "new"), texts=True) for pid in ids]  # fmt: skip
        after = {pid: state(store, pid) for pid in ids}
        assert [b.number for b in records[0].kept] == ["99"] and all(r.texts for r in records)
        shutil.copytree(folder, tmp_path / "copy")
        reads: list[list[int]] = []
        for name in ("bibs_of", "photo_marks"):
            real = getattr(Store, name)
            monkeypatch.setattr(Store, name, lambda self, pids, real=real: reads.append(sorted(pids)) or real(self, pids))
        mark = store.last_change()
        undone = photo_record.revert_all(store, records, {r.photo_id: r.last_change for r in records})
        assert reads == [] and states(undone) == before == {pid: state(store, pid) for pid in ids}
        with Store.open(tmp_path / "copy") as copy:  # the same undo, its JSON made as it writes
            copy_mark = copy.last_change()
            photo_record.revert_all(copy, [dataclasses.replace(r, texts=None) for r in records])

            def logged(s, since):
                return s._conn.execute("SELECT photo_id, bib_id, action, before, after FROM history WHERE id > ?"
                                       " ORDER BY id", (since,)).fetchall()  # fmt: skip

            assert [tuple(r) for r in logged(store, mark)] == [tuple(r) for r in logged(copy, copy_mark)]
        since = dict.fromkeys(ids, store.last_change())
        assert photo_record._unchanged(store, since) == set(ids)
        assert photo_record._unchanged(store, {ids[0]: store.last_change() + 1}) == set()  # a history this store never had
        with Store.open(folder) as other:  # another program adds a bib beside the old predictions of the last photo
            other.add_bib(ids[2], "5", None)
        reads.clear()
        redone = photo_record.reapply_all(store, records, since)
        assert reads == [[ids[2]], [ids[2]]]  # that photo alone read and checked
        now = {pid: state(store, pid) for pid in ids}
        assert states(redone) == now and "5" in [b.number for b in now[ids[2]][2]]
        assert {pid: now[pid] for pid in ids[:2]} == {pid: after[pid] for pid in ids[:2]}
        since = dict.fromkeys(ids, store.last_change())
        with Store.open(folder) as other:
            other.update_bib(next(b.id for b in other.bibs(ids[1]) if b.number == "13"), number="14")
        changed, last = {pid: state(store, pid) for pid in ids}, store.last_change()
        with pytest.raises(photo_record.ChangedMeanwhile):
            photo_record.revert_all(store, records, since)
        assert store.last_change() == last and {pid: state(store, pid) for pid in ids} == changed  # nothing written
