"""Hand-out states (the "base" of a three-way merge) in the exchange JSON.

``export --format json`` writes on each entry a ``"handout"`` list (readers of the format ignore it):
this project's state of the photo -- its id (store meta ``project_id``), size, image-data hash,
reviewed flag and bibs -- followed by the states other projects handed the photo out with, which an
import remembers (store meta ``handout:<photo id>``). So a volunteer's export carries the organiser's
hand-out state back unchanged, and the organiser's import can tell what the volunteer changed (base vs
the file's entry) from what the organiser changed since (base vs the store now): docs/volunteers.md.
The comparison, bib by bib, is core/handout_merge.py; the import applies it (core/importers.py). Each such export
also stamps its entries with which save of its project it is, and when (``"saved"``, :func:`next_save`), so that
a volunteer's older file imported after a newer one changes nothing the newer one decided (:func:`older`). Qt-free.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from bibtagger_gui.core.annotations import AnnotationError, Handout, Saved, parse_handouts, parse_saved
from bibtagger_gui.core.bib import Bib

PROJECT_KEY = "project_id"  # store meta: this project's id, written into the hand-out states it exports
REMEMBERED_PREFIX = "handout:"  # store meta handout:<photo id>: the states other projects handed the photo out with
MERGED_PREFIX = "merged:"  # store meta merged:<photo id>: fingerprints of the returned entries merged into the photo
MERGED_KEPT = 20  # fingerprints kept per photo (the newest)
RETURNED_PREFIX = "returned:"  # store meta returned:<photo id>: per volunteer, the last entry of theirs merged (Return)
SAVES_KEY = "saves"  # store meta: how many files with hand-out states this project wrote (the "saved" stamps' seq)
_READ: Any = object()


def project_id(store: Any, create: bool = False) -> str | None:
    """This project's id (made on the first export: ``create``); None when it has none yet."""
    pid = store.get_meta(PROJECT_KEY)
    if pid is None and create:
        pid = uuid.uuid4().hex
        store.set_meta(PROJECT_KEY, pid)
    return pid


def remembered(store: Any, photo_id: int, text: str | None = _READ) -> list[Handout]:
    """The hand-out states of other projects an import stored for this photo (``text``: its meta value,
    when the caller read them all at once)."""
    if text is _READ:
        text = store.get_meta(f"{REMEMBERED_PREFIX}{photo_id}")
    if not text:
        return []
    try:
        return parse_handouts(json.loads(text), "remembered hand-out")
    except (ValueError, AnnotationError):  # an unreadable note costs the three-way merge, nothing else
        return []


def remember(store: Any, photo_id: int, states: Iterable[Handout]) -> None:
    """Keep other projects' hand-out states of a photo (the newest per project), for this project's exports."""
    states = list(states)
    if not states:
        return
    mine = project_id(store)
    by_project = {h.project: h for h in remembered(store, photo_id)}
    by_project.update((h.project, h) for h in states if h.project != mine)
    text = json.dumps([h.to_json() for h in by_project.values()], sort_keys=True)
    store.set_meta(f"{REMEMBERED_PREFIX}{photo_id}", text)  # the same text again writes nothing


def utc_now() -> str:
    """Now, as the stamps and notes write it: ``2026-11-27T23:50:12Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shown(at: str | None) -> str:
    """A stamp's time for a person: ``2026-11-27 23:50 UTC`` (a time written otherwise is shown as written)."""
    try:
        return datetime.strptime(at or "", "%Y-%m-%dT%H:%M:%SZ").strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(at)


def next_save(store: Any, mine: str) -> Saved:
    """The stamp of the file being written: this project's next save (store meta :data:`SAVES_KEY`, counted up in
    one write transaction, so two exports at once get two numbers) and the time now."""
    with store.transaction():
        try:
            seq = max(0, int(store.get_meta(SAVES_KEY) or 0)) + 1
        except ValueError:  # an unreadable count: start again above nothing this project can have written
            seq = 1
        store.set_meta(SAVES_KEY, str(seq))
    return Saved(mine, seq, utc_now())


def add_handout_states(store: Any, entries: list[dict]) -> None:
    """Put the ``"handout"`` list and the ``"saved"`` stamp (:func:`next_save`: one per file written) on the
    exported ``entries`` (``Store.to_annotations`` dicts, bibs as stored)."""
    if not entries:
        return
    mine = project_id(store, create=True)
    saved = next_save(store, mine).to_json()
    photos = {p.relpath: p for p in store.photos()}
    hashes = store.pixel_hashes()
    notes = store.meta_with_prefix(REMEMBERED_PREFIX)  # one read, not one per photo
    for entry in entries:
        photo = photos.get(entry["image"])
        if photo is None:
            continue
        own = Handout(mine, entry["width"], entry["height"], hashes.get(photo.id) or None, bool(entry.get("reviewed")),
                      [Bib.from_json(b) for b in entry["bibs"]])  # fmt: skip
        entry["handout"] = [own.to_json()] + [
            h.to_json() for h in remembered(store, photo.id, notes.get(f"{REMEMBERED_PREFIX}{photo.id}")) if h.project != mine]
        entry["saved"] = dict(saved)


def entry_fingerprint(entry: Any) -> str:
    """A returned entry's fingerprint (``PhotoAnnotation``: its bibs, reviewed flag and hand-out states, not its
    image name): the same file imported again, in whatever folder layout, has the same one."""
    data = entry.to_json()
    data.pop("image", None)
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


def merged_before(notes: dict[str, str], photo_id: int, fingerprint: str) -> bool:
    """Whether an entry with ``fingerprint`` was merged into the photo already (``notes``: the store's meta rows
    with :data:`MERGED_PREFIX`, read once per import)."""
    return fingerprint in json.loads(notes.get(f"{MERGED_PREFIX}{photo_id}") or "[]")


def remember_merged(store: Any, notes: dict[str, str], photo_id: int, fingerprint: str) -> None:
    """Note that an entry with ``fingerprint`` was merged into the photo (in the import's transaction)."""
    key = f"{MERGED_PREFIX}{photo_id}"
    seen = [f for f in json.loads(notes.get(key) or "[]") if f != fingerprint] + [fingerprint]
    notes[key] = json.dumps(seen[-MERGED_KEPT:])
    store.set_meta(key, notes[key])


@dataclass
class Return:
    """A volunteer's entry merged into a photo: the base of their next file of the same hand-out
    (docs/volunteers.md#a-volunteers-corrected-file)."""

    fingerprint: str  # the entry's (:func:`entry_fingerprint`)
    state: Handout  # what it said, in this project's pixels: the base their next file merges over
    file: str  # the file it came in
    since: Handout  # the base it was merged over (the hand-out state, or their earlier file's state)
    since_file: str | None  # the file of that earlier state; None: the hand-out itself
    saved: Saved | None = None  # the entry's stamp (None: a file written before the stamps)
    imported: str | None = None  # when it was imported (UTC, as :func:`utc_now`)


def volunteer(entry: Any, mine: str | None) -> str | None:
    """The project that wrote a returned entry (its first hand-out state is the exporter's own,
    :func:`add_handout_states`), or None when it is this project's own export (or has no states)."""
    if mine is None or not entry.handouts or entry.handouts[0].project == mine:
        return None
    return entry.handouts[0].project


def _print(state: Handout) -> str:
    return hashlib.sha1(json.dumps(state.to_json(), sort_keys=True).encode("utf-8")).hexdigest()


def last_return(notes: dict[str, str], photo_id: int, who: str, base: Handout) -> Return | None:
    """The volunteer ``who``'s last entry merged into the photo from the hand-out ``base`` (``notes``: the
    store's meta rows with :data:`RETURNED_PREFIX`), or None (none yet, another hand-out, an unreadable note)."""
    try:
        note = json.loads(notes.get(f"{RETURNED_PREFIX}{photo_id}") or "{}").get(who)
        if not note or note.get("handout") != _print(base):
            return None
        state, since = parse_handouts([note["state"], note["since"]], "merged return")
        saved = parse_saved(note.get("saved"), "merged return")
        return Return(str(note["fingerprint"]), state, str(note["file"]), since, note.get("since_file"), saved,
                      note.get("imported"))  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError, AnnotationError):  # costs the later-file rule only
        return None


def older(saved: Saved | None, last: Return | None, who: str | None) -> bool:
    """Whether an entry stamped ``saved`` is an older save of the volunteer ``who`` than their ``last`` entry merged
    into the photo from the same hand-out (:func:`last_return`). Only stamps of ``who``'s own project compare (by
    save number: a clock set wrong does not reorder them); an entry or note without one (a file written before
    the stamps) is not older: it merges in the order imported, as before (docs/volunteers.md#which-file-is-newer)."""
    if saved is None or last is None or last.saved is None or who is None:
        return False
    return saved.project == who == last.saved.project and saved.seq < last.saved.seq


def older_line(saved: Saved, last: Return, differ: int, reviewed: bool | None) -> str | None:
    """The import's line for an older entry (:func:`older`): which newer file it lost to, and what it would have
    changed (``differ``: bibs it has otherwise than the newer file; ``reviewed``: the newer file's flag, where the
    older one says otherwise); None when it holds what the newer one does."""
    kept = [f"{differ} bib(s) kept as the newer file had them"] if differ else []
    if reviewed is not None:
        kept.append(f"the photo kept {'reviewed' if reviewed else 'unreviewed'} as the newer file had it")
    if not kept:
        return None
    at = f", which you imported at {shown(last.imported)}" if last.imported else ""
    newer = last.saved or saved  # older() compared two stamps
    return (f"older than {last.file}{at} (the volunteer saved this file at {shown(saved.at)}, their save {saved.seq}; "
            f"that one at {shown(newer.at)}, their save {newer.seq}): {', '.join(kept)}")


def remember_return(store: Any, notes: dict[str, str], photo_id: int, who: str, base: Handout, ret: Return) -> None:
    """Note ``ret`` as the volunteer ``who``'s last entry merged from the hand-out ``base`` (in the import's transaction)."""
    key = f"{RETURNED_PREFIX}{photo_id}"
    try:
        data = json.loads(notes.get(key) or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    data[who] = {"handout": _print(base), "fingerprint": ret.fingerprint, "state": ret.state.to_json(),
                 "file": ret.file, "since": ret.since.to_json(), "since_file": ret.since_file,
                 "saved": ret.saved.to_json() if ret.saved else None, "imported": ret.imported}  # fmt: skip
    notes[key] = json.dumps(data, sort_keys=True)
    store.set_meta(key, notes[key])
