"""SQLite project store, one database per photo folder (see docs/store.md).

``FOLDER/.bibtagger/project.db`` (or a per-user fallback when the folder is read-only),
WAL journal, ``synchronous=FULL``, one transaction per edit, a history row for every
change. A :class:`Store` belongs to one thread; other threads and processes open their own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from bibtagger_gui.core import portable
from bibtagger_gui.core.bib import Bib, Box, iou, number_key
from bibtagger_gui.core.catalogue import (
    STORE_DIRNAME,
    FileFacts,
    describe,
    file_version,
    is_version,
    moved_change_time,
    stat_version,
    walk_photos,
)
from bibtagger_gui.core.imageio import photo_target_problem
from bibtagger_gui.core.name_match import shared_tail
from bibtagger_gui.core.pixelhash import pixel_hash
from bibtagger_gui.core.pixelprint import file_print, same_picture

# 2: bib ids are AUTOINCREMENT (never reused; undo commands hold them); 3: photos.pixel_hash; 4: pixel_prints
SCHEMA_VERSION = 4
DB_NAME = "project.db"
SOURCES = ("model", "human", "mturk")
BUSY_TIMEOUT_S = 30.0
SCAN_BATCH = 200  # photos per scan transaction (a scan is idempotent, so a crash only loses a rescan)
IDS_PER_QUERY = 500  # ids in one IN (...) of the many-row reads (SQLite's old limit on parameters is 999)
_JSON = json.JSONEncoder(ensure_ascii=False)  # what json.dumps(value, ensure_ascii=False) makes
PRINT_BATCH = 50  # decoded-pixel prints per write transaction (fill_pixel_prints)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY,
    relpath TEXT NOT NULL UNIQUE,
    width INTEGER, height INTEGER,
    orientation INTEGER NOT NULL DEFAULT 1,
    captured_at TEXT,
    sha1 TEXT, size INTEGER, mtime REAL,
    reviewed INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    missing INTEGER NOT NULL DEFAULT 0,
    model_version TEXT,
    pixel_hash TEXT,
    ctime_ns INTEGER
);
CREATE INDEX IF NOT EXISTS photos_sha1 ON photos(sha1);
CREATE TABLE IF NOT EXISTS bibs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    x1 REAL, y1 REAL, x2 REAL, y2 REAL,
    confidence REAL,
    source TEXT NOT NULL CHECK (source IN ('model', 'human', 'mturk')),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    extra TEXT
);
CREATE INDEX IF NOT EXISTS bibs_photo ON bibs(photo_id);
CREATE INDEX IF NOT EXISTS bibs_number ON bibs(number);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    photo_id INTEGER,
    bib_id INTEGER,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX IF NOT EXISTS history_photo ON history(photo_id);
CREATE TABLE IF NOT EXISTS pixel_prints (
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    sha1 TEXT NOT NULL,
    print BLOB NOT NULL
);
"""

# The columns of a Photo in the order of its fields, and of a BibRow (box: x1..y2): Store._photo and Store._bib take
# them by position (a sqlite3.Row looked up by name compares every column name: half of reading 10,000 photos).
_PHOTO_SELECT = """
SELECT p.id, p.relpath, p.width, p.height, p.orientation, p.captured_at, p.sha1, p.size, p.mtime, p.reviewed, p.error,
       (SELECT MIN(b.confidence) FROM bibs b WHERE b.photo_id = p.id) AS min_confidence,
       (SELECT COUNT(*) FROM bibs b WHERE b.photo_id = p.id) AS bib_count,
       p.missing, p.model_version, p.ctime_ns
FROM photos p
"""
_BIB_SELECT = "SELECT id, photo_id, number, x1, y1, x2, y2, confidence, source, created, updated, extra FROM bibs"

# photos(filter=...) names -> SQL condition
PHOTO_FILTERS = {
    "all": "p.missing = 0",
    "reviewed": "p.missing = 0 AND p.reviewed = 1",
    "unreviewed": "p.missing = 0 AND p.reviewed = 0",
    "tagged": "p.missing = 0 AND EXISTS (SELECT 1 FROM bibs b WHERE b.photo_id = p.id)",
    "untagged": "p.missing = 0 AND NOT EXISTS (SELECT 1 FROM bibs b WHERE b.photo_id = p.id)",
    "errors": "p.missing = 0 AND p.error IS NOT NULL",
    "missing": "p.missing = 1",
}


class StoreError(Exception):
    """The project database cannot be opened or used (message is meant for the user).

    ``cannot_write`` is True when the cause is a location that cannot be written.
    """

    def __init__(self, message: str, cannot_write: bool = False):
        super().__init__(message)
        self.cannot_write = cannot_write


def _write_failure(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, OSError) or "readonly" in text or "read-only" in text or "unable to open" in text


def busy_hint(exc: BaseException) -> str:
    """What SQLite's "database is locked" (another connection held its write lock past ``BUSY_TIMEOUT_S``) means
    to a user; '' for other errors."""
    text = str(exc).lower()
    return " (another program is writing the project: try again when it is done)" if "locked" in text or "busy" in text else ""


def full_hint(exc: BaseException) -> str:
    """What SQLite's "database or disk is full" means to a user; '' for other errors."""
    text = str(exc).lower()
    return " (the disk that holds the project is full: free some space there, then try again)" if "full" in text else ""


@dataclass(frozen=True)
class Photo:
    id: int
    relpath: str
    width: int | None
    height: int | None
    orientation: int
    captured_at: str | None
    sha1: str | None
    size: int | None
    mtime: float | None
    reviewed: bool
    error: str | None
    min_confidence: float | None = None
    bib_count: int = 0
    missing: bool = False
    model_version: str | None = None
    ctime_ns: int | None = None  # the file's change time at the last scan (docs/store.md#file-versions); None: not known


@dataclass(frozen=True)
class BibRow:
    id: int
    photo_id: int
    number: str
    box: Box | None
    confidence: float | None
    source: str
    created: str
    updated: str
    extra: dict | None = None

    def to_bib(self) -> Bib:
        return Bib(self.number, self.box, self.confidence)

    def to_json(self) -> dict:
        d = {"id": self.id, "photo_id": self.photo_id, **self.to_bib().to_json(), "source": self.source}
        if self.extra:
            d["extra"] = self.extra
        return d


def not_recognized_yet(photo: Photo, own_bibs: int | None = None) -> bool:
    """The one rule for "the project does not know this photo's bibs yet": never recognized (no model version) nor
    reviewed, and no bib of its own (added since the last run, or another picture now: an edit saved over it drops
    its model bibs). ``own_bibs``: how many of its bibs count (core/keywords leaves out those read on an earlier
    picture under its name, ``Store.bibs_from_earlier_pictures``); default all (``photo.bib_count``).
    ``Store.not_recognized`` (exports, find) and ``keywords.jobs_from_store`` both use it."""
    own = photo.bib_count if own_bibs is None else own_bibs
    return not photo.reviewed and photo.model_version is None and not own


@dataclass(frozen=True)
class HistoryRow:
    id: int
    ts: str
    photo_id: int | None
    bib_id: int | None
    action: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Counts:
    photos: int
    tagged: int
    reviewed: int
    errors: int


@dataclass(frozen=True)
class StoreChanges:
    """What :meth:`Store.changes_since` found: the newest history id (``last``, the mark for the next
    call), the changed photos with the history actions of each, and the meta keys written."""

    last: int
    photos: dict[int, frozenset[str]]
    meta: frozenset[str] = frozenset()
    #: why this connection no longer reads the project file it opened (:meth:`Store.replaced`): the caller must
    #: close the store and open the folder again (``photos`` and ``meta`` are then empty, ``last`` the mark given)
    replaced: str | None = None


@dataclass
class ScanReport:
    """What :meth:`Store.scan` changed. ``errors`` holds (relpath, message) per unusable photo."""

    total: int = 0
    added: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)  # (old relpath, new relpath)
    updated: list[str] = field(default_factory=list)  # content changed in place
    replaced: list[str] = field(default_factory=list)  # of those, another picture: model bibs dropped, unreviewed
    reencoded: list[str] = field(default_factory=list)  # of those, other image data but the same decoded picture: kept
    missing: list[str] = field(default_factory=list)  # vanished during this scan
    restored: list[str] = field(default_factory=list)  # back after being missing
    errors: list[tuple[str, str]] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # HEIC/AVIF/RAW files left out (imageio.unsupported_note)
    cancelled: bool = False


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- history rows and bib rows, as written
# Each is built here once, for the single edit (delete_bib, restore_bib, set_reviewed, set_model_version) and for
# Store.replay, which writes the same steps of thousands of photos with executemany: the two cannot log differently.

_HISTORY_INSERT = "INSERT INTO history (ts, photo_id, bib_id, action, before, after) VALUES (?, ?, ?, ?, ?, ?)"
_BIB_INSERT = ("INSERT INTO bibs (id, photo_id, number, x1, y1, x2, y2, confidence, source, created, updated, extra)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")  # fmt: skip
_Change = tuple[str, int | None, int | None, Any, Any]  # a history row's action, photo_id, bib_id, before, after


class _Json(str):
    """JSON text already made (:func:`row_text`): a history row holds it as it is."""

    __slots__ = ()


def _json(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, _Json) else _JSON.encode(value)


def _made(row: BibRow, text: str | None) -> str:
    """``text`` (:func:`row_text` of ``row`` made ahead) as a history row holds it; None: made now."""
    return row_text(row) if text is None else text if isinstance(text, _Json) else _Json(text)


def _history_row(ts: str, change: _Change) -> tuple:
    """The values of :data:`_HISTORY_INSERT` for ``change`` at time ``ts``: before and after as JSON (None stays NULL)."""
    action, photo_id, bib_id, before, after = change
    return ts, photo_id, bib_id, action, _json(before), _json(after)


def row_text(row: BibRow) -> str:
    """Bib ``row`` as the history logs it (before of a removal, after of a restore): the JSON of ``row.to_json()``.
    Made ahead by a re-run's worker for its undo step (core/photo_record.py) and handed to :meth:`Store.replay`, so the
    window does not encode 40,000 rows while the user waits (docs/gui.md#saving-and-the-undo-stack)."""
    return _Json(_JSON.encode(row.to_json()))


def _bib_removed(row: BibRow, reject: bool, text: str | None = None) -> _Change:
    """Bib ``row`` deleted: ``bib_delete`` (its number rejected) or, ``reject`` false, ``bib_undo`` (an edit taken back).
    ``text``: :func:`row_text` of ``row``, made ahead (None: made here)."""
    return ("bib_delete" if reject else "bib_undo", row.photo_id, row.id, _made(row, text), None)


def _bib_restored(row: BibRow, text: str | None = None) -> _Change:
    """Bib ``row`` put back as it was (``bib_restore``); ``text`` as for :func:`_bib_removed`."""
    return ("bib_restore", row.photo_id, row.id, None, _made(row, text))


def _reviewed_set(photo_id: int, before: bool, after: bool) -> _Change:
    return ("reviewed", photo_id, None, bool(before), bool(after))


def _model_version_set(photo_id: int, before: str | None, after: str | None) -> _Change:
    return ("model_version", photo_id, None, before, after)


def _bib_values(bib_id: int | None, photo_id: int, number: str, box: Box | None, confidence: float | None, source: str,
                created: str, updated: str, extra: dict | None) -> tuple:  # fmt: skip
    """The values of :data:`_BIB_INSERT` (``bib_id`` None: a new id)."""
    return (bib_id, photo_id, number, *(box if box is not None else (None,) * 4),
            None if confidence is None else float(confidence), source, created, updated,
            _JSON.encode(extra) if extra else None)  # fmt: skip


def _folder_key(folder: Path) -> str:
    return hashlib.sha1(str(folder).encode("utf-8", "surrogateescape")).hexdigest()


def user_data_dir() -> Path:
    """The per-user data folder (``core.portable.user_data_dir``: ``$XDG_DATA_HOME/bibtagger``, default
    ``~/.local/share/bibtagger``; ``%LOCALAPPDATA%\\bibtagger`` on Windows, ``~/Library/Application Support/bibtagger`` on macOS)."""
    return portable.user_data_dir()


def fallback_db_path(folder: str | os.PathLike) -> Path:
    """Where the database of a read-only folder lives."""
    folder = Path(folder).resolve()
    return user_data_dir() / "projects" / _folder_key(folder) / DB_NAME


def folder_problem(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` cannot be a photo folder, said the same in the CLI and the GUI: "no such folder" (nothing
    there, a typo) or "not a folder" (a file), or that it cannot be looked at ("cannot be reached (Permission
    denied)": a folder on the way that this user may not open); None for a folder."""
    path = Path(folder)
    try:  # (Path.is_dir and exists raise on EACCES before Python 3.14)
        if path.is_dir():
            return None
        return "not a folder" if path.exists() else "no such folder"
    except OSError as exc:
        return f"cannot be reached ({exc.strerror or exc})"


def folder_away(folder: str | os.PathLike, db_path: str | os.PathLike) -> str | None:
    """Why an open photo folder cannot be seen now (renamed or moved, deleted, its drive unplugged or a share away: a
    mount point left empty, its ``.bibtagger`` folder gone with the project file ``db_path`` kept in it), else None.
    One ``stat`` or two; nothing is made (the window's poll and its recognition ask it)."""
    folder, db_dir = Path(folder), Path(db_path).parent
    why = folder_problem(folder)
    if why is None and db_dir == folder / ".bibtagger" and not db_dir.exists():
        why = "its .bibtagger folder went with the project file: emptied, or its drive unplugged"
    return why


def out_folder_problem(out: str | os.PathLike, makes_folder: bool = False) -> str | None:
    """Why nothing may be written at ``out``, a path the user named for an output (``export --out``, ``predict
    --json/--csv``, ``mturk export --out``, a new ``--store`` database, the Export dialog's target): the folder
    it goes into is missing ("no such folder": a typo, or an unplugged drive) or a file ("not a folder"), said
    as :func:`folder_problem` says it. bibtagger makes no folder the user did not name: a report file goes into
    a folder that exists; a folder export (``makes_folder``: crops, bibfolders) may make its own folder, but
    only inside one that exists, and not over a file. None when ``out`` may be written (docs/exports.md)."""
    path = Path(out)
    try:
        if makes_folder and path.exists() and not path.is_dir():
            return f"{path}: not a folder (a folder export writes a folder there; choose another name)"
        parents = [path.parent]
        if path.is_symlink():  # a link is written through: its target's folder is the one written into
            parents.append(Path(os.path.realpath(path)).parent)
    except OSError as exc:  # a folder on the way this user may not open (EACCES)
        return f"{path.parent}: cannot be reached ({exc.strerror or exc}), so {path.name} cannot be written there (choose another place)"
    for parent in parents:
        why = folder_problem(parent)
        if why:
            hint = "make the folder first, or choose another place" if why in ("no such folder", "not a folder") else "choose another place"
            return f"{parent}: {why}, so {path.name} cannot be written there ({hint})"
    return None


def new_db_problem(db_path: str | os.PathLike) -> str | None:
    """Why a new project database (``--store DB``, not there yet) must not be made at ``db_path``: named like a
    photo (``core.imageio.photo_target_problem``), it would look like one -- the scan of a folder holding it
    lists it as a photo that is not an image; in a folder that does not exist (:func:`out_folder_problem`), a
    typo would start an empty project in folders made for it. None for a fitting name, or a file already there
    (opened as it is)."""
    if os.path.lexists(db_path):
        return None
    problem = (photo_target_problem(db_path, "a new project database there would be taken for a photo (the scan lists it as 'not an image')")
               or out_folder_problem(db_path))
    parent = Path(os.path.abspath(db_path)).parent
    if problem is None and not os.access(parent, os.W_OK | os.X_OK):  # SQLite would say "unable to open database file"
        problem = f"{parent}: this folder cannot be written, so {Path(db_path).name} cannot be made there; choose another place"
    return problem


def store_db_problem(db_path: str | os.PathLike, writing: bool = True) -> str | None:
    """Why the project database named by ``--store DB`` cannot be saved into: a new one, :func:`new_db_problem`;
    one already there, a file this user cannot write (or read), or one in a folder that cannot be written (SQLite
    makes its ``-wal``/``-shm`` files beside it). Such a run loaded the models and scanned the photos, then
    failed with SQLite's "attempt to write a readonly database". None when it can be used.

    ``writing=False`` (``Store.open``, so ``export``): a read-only *file* is no problem: SQLite opens it read-only
    and an export reads it (an archived project, a colleague's database given read-only); only the commands that
    write refuse it up front (predict, import). Its folder must still be writable (SQLite cannot open it without
    its ``-shm`` there)."""
    if not os.path.lexists(db_path):
        return new_db_problem(db_path)
    path = Path(db_path)
    if path.is_dir():
        return None  # opening it says what it is
    if writing and not os.access(path, os.R_OK | os.W_OK):
        return (f"{path}: this project database file cannot be written (read-only), so nothing could be saved in it; "
                "make it writable, or give another file")
    parent = Path(os.path.realpath(path)).parent
    if not os.access(parent, os.W_OK | os.X_OK):
        return (f"{parent}: this folder cannot be written, so {path.name} in it cannot be saved into (SQLite writes "
                "its journal files beside the database); copy it to a folder you can write, or choose another place")
    return None


def folder_is_writable(folder: Path) -> bool:
    """True when the store can live in ``FOLDER/.bibtagger/`` (checked without writing anything)."""
    target = folder / STORE_DIRNAME
    if target.is_dir():
        db = target / DB_NAME
        return os.access(target, os.W_OK | os.X_OK) and (not db.exists() or os.access(db, os.R_OK | os.W_OK))
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def db_path_for(folder: str | os.PathLike, writable: Callable[[Path], bool] = folder_is_writable) -> Path:
    """The database location for a photo folder.

    ``$BIBTAGGER_STORE_DIR`` (if set) holds every project as ``<sha1 of folder>/project.db``
    (used by tests and for folders one must not touch); otherwise ``FOLDER/.bibtagger/project.db``
    when the folder is writable, else :func:`fallback_db_path`.
    """
    folder = Path(folder).resolve()
    override = os.environ.get("BIBTAGGER_STORE_DIR")
    if override:
        return Path(override) / _folder_key(folder) / DB_NAME
    if writable(folder):
        local, fallback = folder / STORE_DIRNAME / DB_NAME, fallback_db_path(folder)
        # work done while the folder was read-only is newer in the fallback (Store.open moves it back)
        return fallback if _last_write(fallback) > _last_write(local) else local
    return fallback_db_path(folder)


def project_exists(folder: str | os.PathLike) -> bool:
    """True when ``folder`` has a project :meth:`Store.open` opens rather than creates: the database at
    :func:`db_path_for`, or the folder's own ``.bibtagger/project.db`` that it copies there when the folder
    is read-only (a shoot on a read-only share still has its project)."""
    folder = Path(folder).resolve()
    local = folder / STORE_DIRNAME / DB_NAME
    return db_path_for(folder).exists() or (local.is_file() and os.access(local, os.R_OK))


def _last_write(db: Path) -> float:
    """Newest modification time of a database file and its WAL (0 when there is none)."""
    times = []
    for path in (db, db.with_name(db.name + "-wal")):
        with contextlib.suppress(OSError):
            times.append(path.stat().st_mtime)
    return max(times, default=0.0)


def _file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a file, None when there is none: another file put at the path has another one."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _log_files(db: Path) -> tuple[Path, Path]:
    """The write-ahead log and its index beside a database (``project.db-wal``, ``project.db-shm``)."""
    return db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")


COPIED_FROM = "copied_from"  # meta key of a fallback copy: what of the folder's project.db and -wal it was made from


def _source_versions(db: Path) -> dict[str, Any]:
    """The versions (:func:`catalogue.file_version`, None when absent) of a project database and its -wal (an empty
    log, which its program removes on closing, counts as none)."""
    wal = file_version(_log_files(db)[0])
    return {"db": file_version(db), "wal": wal if wal and wal[0] else None}


def _row_version(row: Any) -> tuple:
    """The file version (size, mtime, change time: ``catalogue.file_version``) a ``photos`` row records."""
    return (row["size"], row["mtime"], row["ctime_ns"])


def _same_version(now: Any, stored: Any) -> bool:
    return (now is None and stored is None) or is_version(now, stored)


@contextlib.contextmanager
def _replayable_copy(db: Path, where: Path | None = None) -> Iterator[Path]:
    """A copy of ``db`` and its -wal in a new temporary folder (in ``where``; the system's by default), where SQLite
    can replay the log: a folder one cannot write cannot hold the -shm a reader of a log needs. Removed after."""
    scratch = Path(tempfile.mkdtemp(prefix=".copying-", dir=where))
    try:
        copy = scratch / db.name
        shutil.copyfile(db, copy)
        shutil.copyfile(_log_files(db)[0], _log_files(copy)[0])
        yield copy
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


PRINT_TRIES = 3  # reads of a content print whose files moved while it was read (the share's program writing)


def _content_print(db: Path) -> str | None:
    """SHA-256 of project database ``db`` as a reader sees it: its pages, those of its -wal's committed transactions
    read from the log (``Connection.serialize``), read without writing beside it. A checkpoint, which copies pages
    from the log into the file, changes the file's version, not this. Read again (:data:`PRINT_TRIES` in all) when
    the file or its log moved during the read: the share's program folding its log in and removing it between the
    reads of the two files left a print of a state nobody wrote, or none. None when it cannot be read."""
    def image(path: Path, immutable: bool) -> str:
        target = f"{path.resolve().as_uri()}?mode=ro&immutable=1" if immutable else str(path)
        with contextlib.closing(sqlite3.connect(target, uri=immutable, timeout=BUSY_TIMEOUT_S)) as conn:
            return hashlib.sha256(conn.serialize()).hexdigest()

    content = None
    for _ in range(PRINT_TRIES):
        before = _source_versions(db)
        try:
            if Store._logged(db):
                with _replayable_copy(db) as copy:
                    content = image(copy, immutable=False)
            else:
                content = image(db, immutable=True)
        except (sqlite3.Error, OSError, ValueError):
            content = None
        if _source_versions(db) == before:  # nothing moved while it was read: what it says holds
            return content
    return None


def _copied_from(db: Path) -> dict[str, Any]:
    """What a copy records of the project database ``db`` it is made from (meta ``copied_from``): the versions of the
    file and its log, and the :func:`_content_print` of what they hold. The versions first: a change while the print
    is read moves them again, so a later opening looks again."""
    return {**_source_versions(db), "content": _content_print(db)}


def _recorded_versions(made: dict[str, Any]) -> dict[str, Any]:
    """The versions of project.db and its -wal a ``copied_from`` entry records (JSON lists back to tuples)."""
    return {k: None if made[k] is None else tuple(made[k]) for k in ("db", "wal")}


def _copy_state(local: Path, recorded: str | None) -> tuple[bool, dict[str, Any] | None]:
    """Whether the folder's own project ``local`` changed since the copy that recorded ``recorded`` (its
    ``copied_from``) was made from it, and what to record instead (None: nothing new): when only its files moved (a
    checkpoint: the same content) the versions seen now; when its content changed, the versions it was found changed
    at (``changed_at``), so that later openings say so again without reading it again. Versions first (a ``stat``
    each, every opening); the content only when they moved from both."""
    if not recorded:
        return False, None
    try:
        made = json.loads(recorded)
        versions = _recorded_versions(made)
        changed_at = _recorded_versions(made["changed_at"]) if made.get("changed_at") else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return False, None
    now = _source_versions(local)
    if now["db"] is None or all(_same_version(now[k], versions[k]) for k in ("db", "wal")):
        return False, None
    if not made.get("content"):  # a copy made before the content was recorded: the versions decide
        return True, None
    if changed_at is not None and all(_same_version(now[k], changed_at[k]) for k in ("db", "wal")):
        return True, None  # found changed at these very versions before
    content = _content_print(local)
    if content != made["content"]:
        return True, ({**made, "changed_at": now} if content is not None else None)  # unreadable: looked at again
    return False, {**made, **now, "content": content, "changed_at": None}


def copy_behind_note(copy: Path, local: Path, recorded: str | None) -> str | None:
    """What to tell a user whose read-only folder's own project (``local``) changed since the copy ``copy`` in the
    user data folder was made from it (someone reviewed on the share); None when it did not (its file and log as
    recorded, or only folded one into the other: the same content), or when the copy does not say what it was made
    from (copies made before stop 32). The copy is never replaced (docs/store.md#location)."""
    return _behind_note(copy, local, recorded) if _copy_state(local, recorded)[0] else None


def _behind_note(copy: Path, local: Path, recorded: str) -> str:
    made = json.loads(recorded)
    return (
        f"the folder's own project ({local}) changed since your copy of {made.get('copied', '?')}; your review here "
        f"is kept (in {copy}). To take the folder's project instead, close bibtagger and rename {copy} (e.g. to "
        f"{copy.name}.mine, which keeps your review): the next opening copies the folder's project again"
    )


def _holds_history_row(db: Path, row: Any) -> bool:
    """Whether the project file ``db`` holds history row ``row`` (id, ts) as it is (read as the file stands, no
    log replayed: ``immutable``); True for no row. An unreadable file holds nothing."""
    if row is None:
        return True
    try:
        with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?immutable=1", uri=True)) as conn:
            found = conn.execute("SELECT ts FROM history WHERE id = ?", (row[0],)).fetchone()
    except (sqlite3.Error, OSError, ValueError):
        return False
    return found is not None and found[0] == row[1]


STAMPS_KEPT = 16  # marks (history ids) handed out whose row times a store keeps for Store.replaced


def _check_box(box: Iterable[float] | None) -> Box | None:
    if box is None:
        return None
    values = tuple(float(v) for v in box)
    if len(values) != 4:
        raise ValueError(f"a box needs 4 numbers (x1, y1, x2, y2), got {len(values)}")
    x1, y1, x2, y2 = values
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _check_number(number: object) -> str:
    text = str(number).strip()
    if not text:
        raise ValueError("a bib number cannot be empty")
    return text


_UNSET: Any = object()


def _pair_moves(new_facts: list[FileFacts], gone: dict[tuple[str, int], list[sqlite3.Row]]) -> dict[str, sqlite3.Row]:
    """New relpath -> the vanished photo it is (same content hash and size): a move or rename.

    Identical copies (a card copied twice, ``card1/IMG_1.JPG`` and ``backup/IMG_1.JPG``) share a hash;
    when several of them moved at once, each new file takes the vanished photo whose path it resembles
    most (the same file name and trailing folders first, then the most similar path), not the first
    one found: ``card1/`` renamed ``bodyA_card1/`` keeps card1's bibs and review, not the backup's."""
    by_key: dict[tuple[str, int], list[FileFacts]] = {}
    for f in new_facts:
        if f.sha1 and (f.sha1, f.size) in gone:
            by_key.setdefault((f.sha1, f.size), []).append(f)
    moves: dict[str, sqlite3.Row] = {}
    for key, news in by_key.items():
        olds = gone[key]
        if len(news) == 1 and len(olds) == 1:  # the usual move: nothing to choose (and no cost)
            moves[news[0].relpath] = olds[0]
            continue
        pairs = sorted(((-shared_tail(f.relpath, o["relpath"]), -SequenceMatcher(None, f.relpath, o["relpath"]).ratio(),
                         f.relpath, o["relpath"], o) for f in news for o in olds), key=lambda p: p[:4])  # fmt: skip
        taken: set[int] = set()
        for *_, new_rel, _, old in pairs:
            if new_rel not in moves and old["id"] not in taken:
                moves[new_rel] = old
                taken.add(old["id"])
    return moves


class Store:
    """The project database of one photo folder. Not shared between threads."""

    def __init__(self, db_path: str | os.PathLike, folder: str | os.PathLike | None = None):
        self.db_path = Path(db_path)
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(self.db_path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open project database {self.db_path}: {exc}", _write_failure(exc)) from None
        self._conn.row_factory = sqlite3.Row
        self._depth = 0
        self._owner = threading.get_ident()
        self._stamps: dict[int, str] = {}  # history id -> its ts, for the marks handed out (replaced())
        self._file: tuple[int, int] | None = None  # the files this connection opened (replaced())
        self._logs: tuple[tuple[int, int] | None, ...] = (None, None)
        # set by Store.open on a read-only folder's copy whose folder project changed since it was made (what to say)
        self.copy_behind: str | None = None
        try:
            self._setup()
            stored = self.get_meta("folder")
            if folder is not None:
                self.folder = Path(folder).resolve()
                if stored != str(self.folder):
                    self.set_meta("folder", str(self.folder))
            elif stored:
                self.folder = Path(stored)
            elif self.db_path.parent.name == STORE_DIRNAME:
                self.folder = self.db_path.parent.parent.resolve()
            else:
                raise StoreError(f"{self.db_path} does not say which photo folder it belongs to")
            self._file = _file_id(self.db_path)  # _setup wrote: the log exists now
            self._logs = tuple(_file_id(f) for f in _log_files(self.db_path))
            self._written: tuple[int, int] | None = None  # size and mtime of the file when replaced() last looked
        except StoreError:
            self._conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if _write_failure(exc):
                raise StoreError(f"cannot write project database {self.db_path}: {exc}", True) from None
            hint = busy_hint(exc)  # a lock held too long is not a broken database
            if hint:
                raise StoreError(f"project database {self.db_path} is busy: {exc}{hint}") from None
            raise StoreError(
                f"project database {self.db_path} is unusable: {exc}; to start this folder's project again, move "
                f"{self.db_path} aside (rename it), or put a backup copy in its place; the photos are not affected"
            ) from None

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, folder: str | os.PathLike, db_path: str | os.PathLike | None = None) -> "Store":
        """Create or reopen the store of a photo folder (see :func:`db_path_for` for the location).

        When the folder is read-only but already holds a database, that database is copied
        to the fallback location once so earlier work is kept; when the folder is writable
        again, the fallback (if newer) is copied back into it and renamed ``project.db.moved-*``.
        """
        folder = Path(folder).resolve()
        why = folder_problem(folder)
        if why:
            raise StoreError(f"{folder}: {why}")
        if db_path is not None:
            why = store_db_problem(db_path, writing=False)  # (predict and import ask writing=True before)
            if why:
                raise StoreError(why)
            cls._check_owner(Path(db_path), folder)
            return cls(db_path, folder)
        db_path = db_path_for(folder)
        local = folder / STORE_DIRNAME / DB_NAME
        if db_path == fallback_db_path(folder) and folder_is_writable(folder):
            db_path = cls._move_back(db_path, local)
        if db_path == local:
            try:
                return cls(local, folder)
            except StoreError as exc:
                # access() said yes but writing failed (e.g. a read-only mount seen as writable)
                if not exc.cannot_write:
                    raise
                db_path = fallback_db_path(folder)
        if not db_path.exists() and local.is_file() and os.access(local, os.R_OK):
            cls._copy_readonly(local, db_path)
        try:
            store = cls(db_path, folder)
            if db_path == fallback_db_path(folder):
                store._note_copy_behind(local)
            return store
        except StoreError as exc:
            if not exc.cannot_write or db_path != fallback_db_path(folder):
                raise
            raise StoreError(
                f"{folder} cannot be written, so its project is kept in the user data folder, which cannot be written "
                f"either ({exc}); make one of them writable, or set BIBTAGGER_STORE_DIR to a folder you can write",
                True,
            ) from None

    def _note_copy_behind(self, local: Path) -> None:
        """Set :attr:`copy_behind` of this copy of the read-only folder's project ``local``; where the folder's files
        moved, record what they are now (no history row), with new content or not (:func:`_copy_state`), so later
        openings compare the versions only again."""
        recorded = self.get_meta(COPIED_FROM)
        behind, refreshed = _copy_state(local, recorded)
        self.copy_behind = _behind_note(self.db_path, local, recorded) if behind else None
        if refreshed is not None:
            with contextlib.suppress(sqlite3.Error), self.transaction() as c:  # a busy copy: looked at again next time
                c.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(refreshed), COPIED_FROM))

    @staticmethod
    def _check_owner(db_path: Path, folder: Path) -> None:
        """Refuse an explicit database that belongs to another folder which still exists: opening it
        for ``folder`` would re-target it and mark all of that folder's photos missing."""
        if not db_path.is_file():
            return
        try:
            con = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
            try:
                row = con.execute("SELECT value FROM meta WHERE key = 'folder'").fetchone()
            finally:
                con.close()
        except sqlite3.Error:
            return  # not readable as a project: opening it says why
        owner = Path(row[0]) if row and row[0] else None
        if owner is not None and owner != folder and owner.is_dir():
            raise StoreError(
                f"{db_path} is the project database of {owner}, not of {folder}; "
                "give that folder, or a new database file"
            )

    @staticmethod
    def _copy_db(src: Path, dst: Path, immutable: bool = False, meta: dict[str, str] | None = None) -> None:
        """Copy database ``src`` over ``dst`` with SQLite's backup API (raises on failure); ``meta`` rows are
        written into the copy before it is put in place."""
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists():  # a database there (the folder's own, moved back over): the backup is one transaction in it
            Store._backup(src, dst, immutable)
            return
        # a new one is made under a temporary name and put in place when complete: a copy killed part way (power cut)
        # left a half-made file at ``dst``, which every later open took for the copy (an empty project)
        tmp = dst.with_name(f".{dst.name}.copying")
        leftovers = (tmp, *(tmp.with_name(tmp.name + x) for x in ("-journal", "-wal", "-shm")))
        try:
            for leftover in leftovers:  # a copy killed before
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            Store._backup(src, tmp, immutable)
            if meta:
                with contextlib.closing(sqlite3.connect(str(tmp), timeout=BUSY_TIMEOUT_S)) as conn, conn:
                    conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", meta.items())
            os.replace(tmp, dst)
        except BaseException:
            for leftover in leftovers:  # leave no empty or half-copied database behind
                with contextlib.suppress(OSError):
                    leftover.unlink()
            raise

    @staticmethod
    def _backup(src: Path, dst: Path, immutable: bool) -> None:
        # immutable: a read-only folder cannot hold the -shm/-wal files a normal reader needs
        if immutable and Store._logged(src):
            Store._backup_with_log(src, dst)
            return
        if immutable:
            source = sqlite3.connect(f"{src.as_uri()}?mode=ro&immutable=1", uri=True, timeout=BUSY_TIMEOUT_S)
        else:  # a writable connection: closing it checkpoints the WAL and removes -wal/-shm
            source = sqlite3.connect(str(src), timeout=BUSY_TIMEOUT_S)
        try:
            target = sqlite3.connect(str(dst), timeout=BUSY_TIMEOUT_S)
            try:
                with target:
                    source.backup(target)
            finally:
                target.close()
        finally:
            source.close()

    @staticmethod
    def _logged(db: Path) -> bool:
        """Whether ``db`` has a write-ahead log with content beside it: edits committed there but not yet folded
        into the file (its program still had it open, or died), which an immutable read would not see."""
        try:
            return _log_files(db)[0].stat().st_size > 0
        except OSError:
            return False

    @staticmethod
    def _backup_with_log(src: Path, dst: Path) -> None:
        """Copy ``src`` with its log, from a folder one cannot write: the file and its -wal are copied beside
        ``dst`` (a writable place), where SQLite replays the log, and that copy is backed up into ``dst``."""
        with _replayable_copy(src, dst.parent) as copy:
            Store._backup(copy, dst, immutable=False)

    @staticmethod
    def _companions(db: Path) -> list[Path]:
        """Other databases beside a project database that belong to the project (``mturk.db``'s verdicts):
        they move with it between the folder and the per-user fallback."""
        return sorted(p for p in db.parent.glob("*.db") if p.name != DB_NAME)

    @classmethod
    def _copy_readonly(cls, src: Path, dst: Path) -> None:
        # what the project was made from (taken before the copy: a change meanwhile counts as one), so that a later
        # opening can say the folder's own project changed since (Store._note_copy_behind)
        made = {**_copied_from(src), "copied": time.strftime("%Y-%m-%d %H:%M")}
        for source, target in [(src, dst)] + [(c, dst.parent / c.name) for c in cls._companions(src)]:
            if target.exists():
                continue
            meta = {COPIED_FROM: json.dumps(made)} if source == src else None
            with contextlib.suppress(sqlite3.Error, OSError):  # _copy_db leaves no half copy behind
                cls._copy_db(source, target, immutable=True, meta=meta)

    @classmethod
    def _move_back(cls, fallback: Path, local: Path) -> Path:
        """Bring the project kept in the user data folder while FOLDER was read-only back into the
        folder, which is writable again; returns the database to open (``fallback`` if that fails).

        Nothing is deleted: an older ``local`` is kept as ``project.db.replaced-*`` and the
        fallback is renamed ``project.db.moved-*``.
        """
        stamp = time.strftime("%Y%m%d-%H%M%S")
        try:
            for source in [*cls._companions(fallback), fallback]:  # companions (verdicts) first, the project last
                target = local.parent / source.name
                if target.exists():
                    cls._copy_db(target, target.with_name(f"{target.name}.replaced-{stamp}"))
                cls._copy_db(source, target)
                if not any(source.with_name(source.name + x).exists() for x in ("-wal", "-shm")):  # else in use
                    source.rename(source.with_name(f"{source.name}.moved-{stamp}"))
        except (OSError, sqlite3.Error):
            return fallback
        return local

    def _setup(self) -> None:
        c = self._conn
        c.create_function("bib_number_key", 1, number_key, deterministic=True)  # find_number
        try:
            c.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = FULL")
            c.execute("PRAGMA foreign_keys = ON")
            c.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the first read maps the WAL index (-shm)
        except sqlite3.OperationalError as exc:
            if "disk i/o error" not in str(exc).lower():
                raise
            # A network or FUSE file system that cannot map SQLite's shared memory: the write-ahead
            # log cannot work there, so Store.open keeps the project in the per-user folder instead.
            raise StoreError(f"cannot use project database {self.db_path} on this file system "
                             f"(network or FUSE folder?): {exc}", True) from None  # fmt: skip
        with self.transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            row = c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                c.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                c.execute("INSERT INTO meta VALUES ('created', ?)", (_now(),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.db_path} was written by a newer bibtagger (schema {row[0]} > {SCHEMA_VERSION}); update bibtagger"
                )
            elif int(row[0]) < SCHEMA_VERSION:
                if int(row[0]) < 2:
                    self._bib_ids_autoincrement()
                self._add_pixel_hash()  # 4 (pixel_prints) is only a new table: _SCHEMA made it above
                c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            self._add_change_time()

    def _bib_ids_autoincrement(self) -> None:
        """Schema 1 -> 2: rebuild ``bibs`` with AUTOINCREMENT ids, so a deleted bib's id is never
        given to a new one (an undo command that puts the bib back, or deletes it again, holds it)."""
        c = self._conn
        create = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS bibs") :]
        create = create[: create.index(";")].replace("IF NOT EXISTS bibs", "bibs_v2")
        c.execute(create)
        c.execute("INSERT INTO bibs_v2 SELECT * FROM bibs")
        c.execute("DROP TABLE bibs")
        c.execute("ALTER TABLE bibs_v2 RENAME TO bibs")
        # ids the history has seen are used too (deleted bibs are not in the table any more)
        top = c.execute("SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM bibs UNION ALL SELECT MAX(bib_id) FROM history)").fetchone()[0]
        c.execute("DELETE FROM sqlite_sequence WHERE name = 'bibs'")
        c.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('bibs', ?)", (top or 0,))
        for statement in _SCHEMA.split(";"):
            if "ON bibs(" in statement:
                c.execute(statement)

    def _add_pixel_hash(self) -> None:
        """Schema 2 -> 3: ``photos.pixel_hash`` (core/pixelhash), NULL until the next scan reads it, so a
        different picture of the same pixel size under an old name is told from a metadata edit."""
        self._add_photo_column("pixel_hash", "TEXT")

    def _add_change_time(self) -> None:
        """``photos.ctime_ns`` (the file's change time, docs/store.md#file-versions), added to a store of schema 4
        without a new schema number: an older bibtagger reads and writes the store as before (it ignores the
        column, and rows it writes leave it NULL, which only means "not known": the next scan takes the file's
        without reading it)."""
        self._add_photo_column("ctime_ns", "INTEGER")

    def _add_photo_column(self, name: str, sql_type: str) -> None:
        """``photos.<name>`` added (NULL in every row) when the store lacks it."""
        columns = {r[1] for r in self._conn.execute("PRAGMA table_info(photos)")}
        if name not in columns:
            self._conn.execute(f"ALTER TABLE photos ADD COLUMN {name} {sql_type}")

    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------------ the file under the connection

    def replaced(self, history_id: int | None = None) -> str | None:
        """Why this connection no longer reads the project file at :attr:`db_path`, or None while it does.

        A sync tool (Dropbox, Syncthing, a share's client) or a user putting a backup copy back replaces the file
        while the app has the project open; the connection goes on reading (and writing) the file it opened, a
        state nobody else sees any more. Told by the file at the path being another one (device and inode: a
        replace by rename, or a delete and copy) or gone; and, given a mark this store handed out
        (:meth:`last_change`, ``StoreChanges.last``), by that history row no longer being there as it was (a copy
        written over the file in place, once its pages are read from the file). A ``stat`` and at most one
        primary-key read. The caller closes the store (:meth:`close_replaced`) and opens the folder again."""
        try:
            st = os.stat(self.db_path)
        except OSError:
            return f"the project file {self.db_path} is gone"
        if self._file is not None and (st.st_dev, st.st_ino) != self._file:
            return f"the project file {self.db_path} was replaced by another file (a sync tool, or a copy put back)"
        written = (st.st_size, st.st_mtime_ns)
        if written != self._written:  # a checkpoint, or bytes written over the file: its pages are read afresh
            self._written = written
            self._conn.execute("PRAGMA shrink_memory")  # the page cache would answer from before
        if history_id:
            row = self._conn.execute("SELECT ts FROM history WHERE id = ?", (history_id,)).fetchone()
            stamp = self._stamps.get(history_id)
            if row is None or (stamp is not None and row[0] != stamp):
                return f"the project file {self.db_path} holds another history now (a copy written over it?)"
        return None

    def close_replaced(self) -> list[Path]:
        """Close a store whose file was replaced or deleted (:meth:`replaced`), losing nothing it holds.

        The write-ahead log and its index this connection leaves beside the new file are set aside first: SQLite
        would replay the old file's log onto the new one at the next opening, silently undoing it. They are renamed
        ``project.db-wal.replaced-<time>`` (kept, not deleted); a log that came with the new file (not the one this
        connection opened) stays. The old file itself has no name any more: this connection is its last reader. When
        the new file lacks the old one's newest history row (edits made here since the copy was taken, or no new file
        at all), what the connection reads is written whole to ``project.db.replaced-<time>`` (``.gone-`` for a
        deleted file) beside it (else in the user data dir), a project to put back or compare. A file written over in
        place is the connection's own: nothing to set aside. Returns the files kept, that copy first."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        now = _file_id(self.db_path)
        if now == self._file:
            self.close()
            return []  # the same file: its log is its own
        logs = []
        for path, mine in zip(_log_files(self.db_path), self._logs):  # first: a look at the new file must not replay them
            if mine is not None and _file_id(path) == mine:
                target = path.with_name(f"{path.name}.replaced-{stamp}")
                with contextlib.suppress(OSError):
                    path.rename(target)
                    logs.append(target)
        copy = None
        newest = self._conn.execute("SELECT id, ts FROM history ORDER BY id DESC LIMIT 1").fetchone()
        if now is None or not _holds_history_row(self.db_path, newest):
            copy = self._keep_copy(f"{self.db_path.name}.{'gone' if now is None else 'replaced'}-{stamp}")
        self.close()
        return ([copy] if copy is not None else []) + logs

    def _keep_copy(self, name: str) -> Path | None:
        """Write what this connection reads to ``name`` beside the project file (its folder gone too: in the user
        data dir's fallback place), through a temporary file; None when it cannot be written anywhere."""
        for folder in (self.db_path.parent, fallback_db_path(self.folder).parent):
            if folder == self.db_path.parent and not folder.is_dir():
                continue  # the .bibtagger folder went with it (or the share is gone): not made again here
            target, tmp = folder / name, folder / f"{name}.tmp"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with contextlib.closing(sqlite3.connect(tmp)) as copy:
                    self._conn.backup(copy)
                os.replace(tmp, target)
                return target
            except (OSError, sqlite3.Error):
                with contextlib.suppress(OSError):
                    tmp.unlink()
        return None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT); nested calls join the outer one.

        Every mutating method uses this, so each edit is committed (and fsynced) on return.
        Importers can wrap many edits in one ``with store.transaction():`` to make them atomic.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self._conn
            finally:
                self._depth -= 1
            return
        with self._outermost("BEGIN IMMEDIATE") as conn:
            yield conn

    @contextlib.contextmanager
    def _outermost(self, begin: str) -> Iterator[sqlite3.Connection]:
        """The outermost transaction (``begin``: BEGIN IMMEDIATE to write, BEGIN to read): COMMIT at its end,
        ROLLBACK when an exception ends it. SQLite may have rolled back already (a full disk, SQLITE_FULL, met
        mid-statement): the ROLLBACK is then left out, since its "cannot rollback - no transaction is active" took the
        place of "database or disk is full" in the user's message. A COMMIT that fails leaves no transaction open
        either (every later edit would fail with "cannot start a transaction within a transaction")."""
        self._conn.execute(begin)
        self._depth = 1
        try:
            yield self._conn
        except BaseException:
            self._depth = 0
            self._end_failed()
            raise
        self._depth = 0
        try:
            self._conn.execute("COMMIT")
        except BaseException:
            self._end_failed()
            raise

    def _end_failed(self) -> None:
        """Roll back a transaction an exception ended, if SQLite has not; a failing ROLLBACK hides nothing."""
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction (BEGIN DEFERRED ... COMMIT): the reads inside see one state of the store,
        while other connections go on writing (WAL); inside a :meth:`transaction` it joins that one. Edits
        made inside join it too, so an exception rolls them back, as their own transaction would."""
        with self.transaction() if self._depth else self._outermost("BEGIN") as conn:
            yield conn

    def _history(self, action: str, photo_id: int | None, bib_id: int | None, before: Any, after: Any) -> None:
        self._log((action, photo_id, bib_id, before, after))

    def _log(self, change: _Change) -> None:
        self._conn.execute(_HISTORY_INSERT, _history_row(_now(), change))

    # ------------------------------------------------------------------ meta

    def last_change(self) -> int:
        """Id of the newest history row (0 for none): it grows with every change written to the store."""
        row = self._conn.execute("SELECT id, ts FROM history ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return 0
        self._stamp(row[0], row[1])
        return int(row[0])

    def _stamp(self, history_id: int, ts: str) -> None:
        """Keep the time of a history row handed out as a mark: :meth:`replaced` checks it is still that row."""
        self._stamps[history_id] = ts
        while len(self._stamps) > STAMPS_KEPT:
            del self._stamps[next(iter(self._stamps))]

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` of this connection: it changes when *another* connection (a
        worker thread's Store, another process) commits, never for this connection's own commits. A poll of
        it costs no table read, so a window can ask every second whether to look at :meth:`changes_since`."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def changes_since(self, history_id: int) -> StoreChanges:
        """What was written after history row ``history_id`` (a :meth:`last_change` value), by anyone: the
        photos changed, each with the history actions that changed it, and the meta keys set. One range
        read of the history's primary key, so its cost follows the changes, not the size of the project.

        When the file under the connection was replaced (:meth:`replaced`, the mark ``history_id`` checked too),
        nothing is read: ``replaced`` says why, and the caller opens the project again."""
        why = self.replaced(history_id)
        if why is not None:
            return StoreChanges(history_id, {}, frozenset(), why)
        last, photos, meta, ts = history_id, {}, set(), None
        rows = self._conn.execute(
            "SELECT id, photo_id, action, CASE WHEN action = 'meta' THEN after END, ts FROM history WHERE id > ? ORDER BY id",
            (history_id,),
        )
        for row_id, photo_id, action, after, ts in rows:
            last = row_id
            if photo_id is not None:
                photos.setdefault(photo_id, set()).add(action)
            elif action == "meta" and after:
                with contextlib.suppress(ValueError, AttributeError):
                    meta.update(json.loads(after).keys())
        if ts is not None:
            self._stamp(last, ts)
        return StoreChanges(last, {pid: frozenset(a) for pid, a in photos.items()}, frozenset(meta))

    def last_changes(self, history_id: int) -> dict[int, int]:
        """Photo id -> the id of its newest history row, for the photos written after history row ``history_id``
        (one range read of the history's primary key): whether a photo was changed again after an edit of it
        whose :meth:`last_change` was noted (a re-run's photos the user edited while it ran)."""
        rows = self._conn.execute(
            "SELECT photo_id, MAX(id) FROM history WHERE id > ? AND photo_id IS NOT NULL GROUP BY photo_id", (history_id,))
        return {int(pid): int(last) for pid, last in rows}

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        """Every meta row whose key starts with ``prefix`` (one range read of the key index), key -> value."""
        if not prefix:
            raise ValueError("a prefix is needed")
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # the first key after every key with the prefix
        rows = self._conn.execute("SELECT key, value FROM meta WHERE key >= ? AND key < ?", (prefix, end))
        return {k: v for k, v in rows}

    def set_meta(self, key: str, value: str | None) -> None:
        with self.transaction() as c:
            before = self.get_meta(key)
            if before == value:
                return
            if value is None:
                c.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                c.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(value)))
            self._history("meta", None, None, {key: before}, {key: value})

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _photo(row: sqlite3.Row) -> Photo:
        """A row of :data:`_PHOTO_SELECT` (by position)."""
        (pid, relpath, width, height, orientation, captured_at, sha1, size, mtime, reviewed, error, min_confidence,
         bib_count, missing, model_version, ctime_ns) = row  # fmt: skip
        return Photo(pid, relpath, width, height, orientation, captured_at, sha1, size, mtime, bool(reviewed), error,
                     min_confidence, bib_count, bool(missing), model_version, ctime_ns)  # fmt: skip

    @staticmethod
    def _bib(row: sqlite3.Row) -> BibRow:
        """A row of :data:`_BIB_SELECT` (by position)."""
        bib_id, photo_id, number, x1, y1, x2, y2, confidence, source, created, updated, extra = row
        return BibRow(bib_id, photo_id, number, None if x1 is None else (x1, y1, x2, y2), confidence, source,
                      created, updated, json.loads(extra) if extra else None)  # fmt: skip

    def photos(self, filter: str | Callable[[Photo], bool] | None = None) -> list[Photo]:
        """Photos present on disk, sorted by relpath.

        ``filter`` is None/"all", one of "reviewed", "unreviewed", "tagged", "untagged",
        "errors", "missing" (vanished from disk), or a predicate on :class:`Photo`.
        """
        name = filter if isinstance(filter, str) else "all"
        if name not in PHOTO_FILTERS:
            raise ValueError(f"unknown photo filter {name!r}; use one of {', '.join(PHOTO_FILTERS)}")
        rows = self._conn.execute(f"{_PHOTO_SELECT} WHERE {PHOTO_FILTERS[name]} ORDER BY p.relpath").fetchall()
        photos = [self._photo(r) for r in rows]
        if callable(filter):
            photos = [p for p in photos if filter(p)]
        return photos

    def photo(self, photo_id: int) -> Photo:
        row = self._conn.execute(f"{_PHOTO_SELECT} WHERE p.id = ?", (photo_id,)).fetchone()
        if row is None:
            raise KeyError(f"no photo with id {photo_id}")
        return self._photo(row)

    def photo_by_path(self, relpath: str | os.PathLike) -> Photo | None:
        rel = Path(relpath).as_posix()
        row = self._conn.execute(f"{_PHOTO_SELECT} WHERE p.relpath = ?", (rel,)).fetchone()
        return None if row is None else self._photo(row)

    def path(self, photo: Photo | str) -> Path:
        """Absolute path of a photo (or of a relpath) on disk."""
        return self.folder / (photo.relpath if isinstance(photo, Photo) else photo)

    def bibs(self, photo_id: int) -> list[BibRow]:
        rows = self._conn.execute(f"{_BIB_SELECT} WHERE photo_id = ? ORDER BY id", (photo_id,)).fetchall()
        return [self._bib(r) for r in rows]

    def bib(self, bib_id: int) -> BibRow:
        row = self._conn.execute(f"{_BIB_SELECT} WHERE id = ?", (bib_id,)).fetchone()
        if row is None:
            raise KeyError(f"no bib with id {bib_id}")
        return self._bib(row)

    def _chunks(self, sql: str, ids: Iterable[int]) -> Iterator[sqlite3.Row]:
        """Rows of ``sql`` (one ``{}`` for the placeholders of ``IN ({})``) for ``ids``, :data:`IDS_PER_QUERY` a query."""
        ids = list(dict.fromkeys(ids))
        for at in range(0, len(ids), IDS_PER_QUERY):
            part = ids[at:at + IDS_PER_QUERY]
            yield from self._conn.execute(sql.format(",".join("?" * len(part))), part)

    def bibs_of(self, photo_ids: Iterable[int]) -> dict[int, list[BibRow]]:
        """The bibs of these photos, each photo's in id order, as :meth:`bibs` reads them (a photo without bibs: absent);
        a query per :data:`IDS_PER_QUERY` photos, not one each (the undo of a re-run over a whole shoot)."""
        out: dict[int, list[BibRow]] = {}
        for r in self._chunks(_BIB_SELECT + " WHERE photo_id IN ({}) ORDER BY photo_id, id", photo_ids):
            out.setdefault(r[1], []).append(self._bib(r))
        return out

    def photo_marks(self, photo_ids: Iterable[int]) -> dict[int, tuple[bool, str | None]]:
        """Photo id -> (reviewed, model_version) for those of ``photo_ids`` in the store (what an undo checks of each
        photo; no bib counts read)."""
        return {r["id"]: (bool(r["reviewed"]), r["model_version"])
                for r in self._chunks("SELECT id, reviewed, model_version FROM photos WHERE id IN ({})", photo_ids)}

    def replay(self, steps: Iterable[tuple[str, Any]]) -> None:
        """Write many bib and photo changes, already checked by the caller, in one transaction and a few statements
        (``executemany``): the undo or redo of a re-run over thousands of photos. Each step is logged in the history
        exactly as its own method logs it, in the order given:

        - ``("delete", (row, reject))``: :meth:`delete_bib` of ``row`` (the bib as it is now);
        - ``("restore", row)``: :meth:`restore_bib` (the very row: id, times, confidence);
        - ``("delete", (row, reject, text))``, ``("restore", (row, text))``: the same, with the row's history JSON
          (:func:`row_text`) made ahead, or None;
        - ``("reviewed", (photo_id, before, after))``: :meth:`set_reviewed` of a photo whose mark is ``before``;
        - ``("model_version", (photo_id, before, after))``: :meth:`set_model_version` likewise.

        A bib id is deleted before it is restored (rows go before rows come back), which is the only order in which
        one step list touches the same id."""
        deletes: list[tuple[int]] = []
        inserts: list[tuple] = []
        reviewed: list[tuple[int, int]] = []
        versions: list[tuple[str | None, int]] = []
        history: list[tuple] = []
        now = _now()
        for kind, what in steps:  # each history row built as the single edit builds it (_bib_removed, ...)
            if kind == "delete":
                row, reject, text = what if len(what) == 3 else (*what, None)
                deletes.append((row.id,))
                history.append(_history_row(now, _bib_removed(row, reject, text)))
            elif kind == "restore":
                row, text = what if isinstance(what, tuple) else (what, None)
                inserts.append(_bib_values(row.id, row.photo_id, row.number, row.box, row.confidence, row.source,
                                           row.created, row.updated, row.extra))  # fmt: skip
                history.append(_history_row(now, _bib_restored(row, text)))
            elif kind == "reviewed":
                photo_id, before, after = what
                reviewed.append((int(bool(after)), photo_id))
                history.append(_history_row(now, _reviewed_set(photo_id, before, after)))
            elif kind == "model_version":
                photo_id, before, after = what
                versions.append((after, photo_id))
                history.append(_history_row(now, _model_version_set(photo_id, before, after)))
            else:
                raise ValueError(f"unknown step {kind!r}")
        with self.transaction() as c:
            c.executemany("DELETE FROM bibs WHERE id = ?", deletes)
            c.executemany(_BIB_INSERT, inserts)
            c.executemany("UPDATE photos SET reviewed = ? WHERE id = ?", reviewed)
            c.executemany("UPDATE photos SET model_version = ? WHERE id = ?", versions)
            c.executemany(_HISTORY_INSERT, history)

    def all_bibs(self) -> dict[int, list[BibRow]]:
        """Every bib, grouped by photo id (one query; for exports and tables)."""
        out: dict[int, list[BibRow]] = {}
        for r in self._conn.execute(f"{_BIB_SELECT} ORDER BY photo_id, id"):
            out.setdefault(r[1], []).append(self._bib(r))
        return out

    def not_recognized(self) -> list[Photo]:
        """Photos (present, readable) whose bibs the project does not know yet (:func:`not_recognized_yet`, every bib
        counted). Reports list them without bibs, so they say so. SQL picks the candidates (unreviewed, no model
        version, readable, no bib), so `find` and the exports do not read all 10,000 photos for a note."""
        rows = self._conn.execute(
            f"{_PHOTO_SELECT} WHERE {PHOTO_FILTERS['unreviewed']} AND p.error IS NULL AND p.model_version IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM bibs b WHERE b.photo_id = p.id) ORDER BY p.relpath").fetchall()  # fmt: skip
        return [p for p in map(self._photo, rows) if not_recognized_yet(p)]

    def bibs_from_earlier_pictures(self) -> set[int]:
        """Ids of the bibs an unreviewed photo kept from an earlier picture under its name: human or MTurk bibs
        not touched since a scan found the file holding another picture (``_update_photo`` keeps them for the
        new review). They were read on the other picture, so what is written into this one leaves them out
        until the photo is reviewed again (core/keywords)."""
        return {r[0] for r in self._conn.execute(
            "SELECT b.id FROM bibs b JOIN photos p ON p.id = b.photo_id"
            " WHERE p.reviewed = 0 AND b.source != 'model' AND b.updated <= ("
            "  SELECT MAX(h.ts) FROM history h WHERE h.photo_id = b.photo_id AND h.action = 'photo_update'"
            "  AND json_extract(h.after, '$.replaced') = 1)")}  # fmt: skip

    def bibs_by_picture(self) -> tuple[dict[int, list[BibRow]], dict[int, list[BibRow]]]:
        """:meth:`all_bibs` split in two, grouped by photo id: the bibs of the picture each file holds, and those an
        unreviewed photo kept from an earlier picture under its name (:meth:`bibs_from_earlier_pictures`). What says
        which runners a photo shows (`find`, the exports, as keywords) takes the first only, until a review decides.
        Two queries, no file read: the scan already told the pictures apart (size and mtime, then the image data)."""
        earlier = self.bibs_from_earlier_pictures()
        current: dict[int, list[BibRow]] = {}
        kept: dict[int, list[BibRow]] = {}
        for photo_id, rows in self.all_bibs().items():
            for b in rows:
                (kept if b.id in earlier else current).setdefault(photo_id, []).append(b)
        return current, kept

    def pixel_hashes(self) -> dict[int, str | None]:
        """photo id -> its image-data hash (core/pixelhash; "" = none for this format, None = not read yet)."""
        return {r[0]: r[1] for r in self._conn.execute("SELECT id, pixel_hash FROM photos")}

    def find_number(self, number: str) -> list[Photo]:
        """Photos (present on disk) carrying a bib with this number (same ``core.bib.number_key``:
        case, spaces and leading zeros aside, so "891" finds a bib stored as "0891")."""
        rows = self._conn.execute(
            f"{_PHOTO_SELECT} WHERE p.missing = 0 AND p.id IN "
            "(SELECT photo_id FROM bibs WHERE bib_number_key(number) = ?) ORDER BY p.relpath",
            (number_key(number),),
        ).fetchall()
        return [self._photo(r) for r in rows]

    def history(self, photo_id: int | None = None) -> list[HistoryRow]:
        """History rows, oldest first (all, or those of one photo)."""
        if photo_id is None:
            rows = self._conn.execute("SELECT * FROM history ORDER BY id").fetchall()
        else:
            rows = self._conn.execute("SELECT * FROM history WHERE photo_id = ? ORDER BY id", (photo_id,)).fetchall()
        return [
            HistoryRow(
                r["id"],
                r["ts"],
                r["photo_id"],
                r["bib_id"],
                r["action"],
                json.loads(r["before"]) if r["before"] is not None else None,
                json.loads(r["after"]) if r["after"] is not None else None,
            )
            for r in rows
        ]

    def counts(self) -> Counts:
        r = self._conn.execute(
            """SELECT COUNT(*),
                      COALESCE(SUM(EXISTS (SELECT 1 FROM bibs b WHERE b.photo_id = p.id)), 0),
                      COALESCE(SUM(p.reviewed), 0),
                      COALESCE(SUM(p.error IS NOT NULL), 0)
               FROM photos p WHERE p.missing = 0"""
        ).fetchone()
        return Counts(photos=r[0], tagged=r[1], reviewed=r[2], errors=r[3])

    def to_annotations(self, reviewed_only: bool = False, only: Callable[[Photo], bool] | None = None) -> list[dict]:
        """The photos (with a known size) and their bibs as bib annotation JSON (exchange format).

        ``only(photo)``: only the photos it accepts (``export --photos/--only``).
        """
        bibs = self.all_bibs()
        out = []
        for p in self.photos("reviewed" if reviewed_only else None):
            if p.width is None or p.height is None or (only is not None and not only(p)):
                continue
            entry = {
                "image": p.relpath,
                "width": p.width,
                "height": p.height,
                "bibs": [b.to_bib().to_json() for b in bibs.get(p.id, [])],
                "reviewed": p.reviewed,
            }
            if p.model_version is not None and not p.reviewed:  # its model bibs, even none, are what a recognizer
                entry["recognized"] = True  # found (a reviewed entry is the truth: the import records no recognition)
            out.append(entry)
        return out

    # ------------------------------------------------------------------ bib edits

    def add_bib(
        self,
        photo_id: int,
        number: str,
        box: Iterable[float] | None,
        confidence: float | None = None,
        source: str = "human",
        extra: dict | None = None,
    ) -> BibRow:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        number, box = _check_number(number), _check_box(box)
        with self.transaction() as c:
            self.photo(photo_id)  # KeyError for an unknown photo
            bib_id = self._insert_bib(photo_id, number, box, confidence, source, extra)
            row = self.bib(bib_id)
            self._history("bib_add", photo_id, bib_id, None, row.to_json())
        return row

    def _insert_bib(
        self, photo_id: int, number: str, box: Box | None, confidence: float | None, source: str, extra: dict | None,
        bib_id: int | None = None, stamps: tuple[str, str] | None = None,
    ) -> int:  # fmt: skip
        now = _now()
        created, updated = stamps or (now, now)
        values = _bib_values(bib_id, photo_id, number, box, confidence, source, created, updated, extra)
        cur = self._conn.execute(_BIB_INSERT, values)
        return int(cur.lastrowid)

    def update_bib(self, bib_id: int, number: str = _UNSET, box: Iterable[float] | None = _UNSET) -> BibRow:
        """Change number and/or box; the bib becomes a human one (confidence cleared)."""
        with self.transaction() as c:
            before = self.bib(bib_id)
            new_number = before.number if number is _UNSET else _check_number(number)
            new_box = before.box if box is _UNSET else _check_box(box)
            c.execute(
                "UPDATE bibs SET number = ?, x1 = ?, y1 = ?, x2 = ?, y2 = ?, confidence = NULL, source = 'human', updated = ?"
                " WHERE id = ?",
                (new_number, *(new_box if new_box is not None else (None,) * 4), _now(), bib_id),
            )
            after = self.bib(bib_id)
            self._history("bib_update", before.photo_id, bib_id, before.to_json(), after.to_json())
        return after

    def delete_bib(self, bib_id: int, reject: bool = True) -> BibRow:
        """Remove a bib; returns what was removed (for undo, see :meth:`restore_bib`).

        ``reject=False``: the bib goes because an edit is undone or redone (the undo of an add),
        not because its number is wrong; it is logged as ``bib_undo``, which :meth:`deleted_numbers`
        does not count as a rejection of the number."""
        with self.transaction() as c:
            before = self.bib(bib_id)
            c.execute("DELETE FROM bibs WHERE id = ?", (bib_id,))
            self._log(_bib_removed(before, reject))
        return before

    def restore_bib(self, row: BibRow) -> BibRow:
        """Put a deleted bib back exactly as ``row``: its id, source, confidence, extra and its
        created/updated times (undo of delete; redo of add), so the row reads back equal to ``row``."""
        with self.transaction():
            self._insert_bib(row.photo_id, row.number, row.box, row.confidence, row.source, row.extra, bib_id=row.id,
                             stamps=(row.created, row.updated))  # fmt: skip
            after = self.bib(row.id)
            self._log(_bib_restored(after))
        return after

    def set_model_bibs(self, photo_id: int, bibs: Iterable[Bib], model_version: str,
                       pixel_print: bytes | None = None, unless_reviewed: bool = False) -> list[BibRow] | None:
        """Replace this photo's model bibs with ``bibs``; human and mturk bibs are never touched.

        A predicted bib that repeats a human/mturk bib (same number, or box IoU >= 0.5) is
        dropped, so re-running the recognizer does not duplicate corrected bibs, and so is a
        number the user deleted from this photo (:meth:`deleted_numbers`): a rejected reading
        does not come back. New model bibs on a reviewed photo make it unreviewed: a review
        confirms every bib, and these are not confirmed. ``pixel_print`` (core/pixelprint, of the image
        the bibs were read from) is kept with them: :meth:`set_pixel_print`. ``unless_reviewed``: a photo
        reviewed by the time the write transaction begins (the app's recognition job, racing a user who
        accepts the photo) is left as it is and None returned; the check and the write are one transaction.
        """
        with self.transaction() as c:
            photo = self.photo(photo_id)
            if unless_reviewed and photo.reviewed:
                return None
            if pixel_print is not None:
                self.set_pixel_print(photo_id, pixel_print)
            old = [b for b in self.bibs(photo_id) if b.source == "model"]
            keep = self.model_bibs_to_keep(photo_id, bibs)
            c.execute("DELETE FROM bibs WHERE photo_id = ? AND source = 'model'", (photo_id,))
            new_ids = [self._insert_bib(photo_id, b.number, b.box, b.confidence, "model", None) for b in keep]
            c.execute("UPDATE photos SET model_version = ? WHERE id = ?", (model_version, photo_id))
            rows = [self.bib(i) for i in new_ids]
            if rows and photo.reviewed:
                self.set_reviewed(photo_id, False)
            self._history(
                "model_bibs",
                photo_id,
                None,
                [b.to_json() for b in old],
                {"model_version": model_version, "bibs": [b.to_json() for b in rows]},
            )
        return rows

    def set_model_version(self, photo_id: int, model_version: str | None) -> None:
        """Put back the recognizer version a photo's predictions came from (the undo and redo of a
        re-run, which also put back the predictions themselves); logged as ``model_version``."""
        with self.transaction() as c:
            before = self.photo(photo_id).model_version
            if before == model_version:
                return
            c.execute("UPDATE photos SET model_version = ? WHERE id = ?", (model_version, photo_id))
            self._log(_model_version_set(photo_id, before, model_version))

    def model_bibs_to_keep(self, photo_id: int, bibs: Iterable[Bib]) -> list[Bib]:
        """The predictions :meth:`set_model_bibs` puts on this photo: not a number the user deleted
        there, and not repeating a human/MTurk bib (same number, or box IoU >= 0.5)."""
        kept = [b for b in self.bibs(photo_id) if b.source != "model"]
        rejected = self.deleted_numbers(photo_id)
        out = []
        for bib in bibs:
            number, box = _check_number(bib.number), _check_box(bib.box)
            if number in rejected or any(k.number == number or (box and k.box and iou(box, k.box) >= 0.5) for k in kept):
                continue
            out.append(Bib(number, box, bib.confidence))
        return out

    def deleted_numbers(self, photo_id: int) -> set[str]:
        """Numbers of the model and human bibs deleted from this photo (and not put back by an undo)
        that it does not hold now: what the user rejected there. (MTurk bibs leave with a rejected
        answer, which says nothing about the model's reading.)"""
        deleted: dict[int, str] = {}
        for action, bib_id, before in self._conn.execute(
            "SELECT action, bib_id, before FROM history WHERE photo_id = ? AND action IN ('bib_delete', 'bib_restore')"
            " ORDER BY id",
            (photo_id,),
        ):
            row = json.loads(before) if action == "bib_delete" and before else None
            if row is not None and row.get("source") != "mturk":
                deleted[bib_id] = row.get("number")
            else:
                deleted.pop(bib_id, None)
        return {n for n in deleted.values() if n} - {b.number for b in self.bibs(photo_id)}

    # ------------------------------------------------------------------ photo state

    def set_reviewed(self, photo_id: int, reviewed: bool) -> None:
        with self.transaction() as c:
            before = self.photo(photo_id).reviewed
            if before == bool(reviewed):
                return
            c.execute("UPDATE photos SET reviewed = ? WHERE id = ?", (int(bool(reviewed)), photo_id))
            self._log(_reviewed_set(photo_id, before, reviewed))

    def set_error(self, photo_id: int, message: str | None) -> None:
        with self.transaction() as c:
            before = self.photo(photo_id).error
            if before == message:
                return
            c.execute("UPDATE photos SET error = ? WHERE id = ?", (message, photo_id))
            self._history("error", photo_id, None, before, message)

    # ------------------------------------------------------------------ decoded-pixel prints

    def set_pixel_print(self, photo_id: int, pixel_print: bytes) -> None:
        """Keep the decoded-pixel print (core/pixelprint) of the photo's file as last scanned (its
        ``sha1``), so a re-encoded copy saved under its name later is told from another picture.
        Written where the photo is decoded anyway (recognition) or by :meth:`fill_pixel_prints`."""
        with self.transaction() as c:
            row = c.execute("SELECT sha1 FROM photos WHERE id = ?", (photo_id,)).fetchone()
            if row is not None and row[0]:
                c.execute("INSERT OR REPLACE INTO pixel_prints (photo_id, sha1, print) VALUES (?, ?, ?)",
                          (photo_id, row[0], bytes(pixel_print)))  # fmt: skip

    def pixel_print(self, photo_id: int) -> bytes | None:
        """The print of the photo's current file version (None: none, or one of an older version)."""
        row = self._conn.execute(
            "SELECT pp.print FROM pixel_prints pp JOIN photos p ON p.id = pp.photo_id WHERE pp.photo_id = ? AND pp.sha1 = p.sha1",
            (photo_id,),
        ).fetchone()
        return bytes(row[0]) if row else None

    def add_missing_pixel_print(self, photo_id: int, pixel_print: bytes, version: tuple | None) -> bool:
        """Keep a print made from a decode done anyway (the app's photo view) when the photo has none for its current
        file version: a store from before schema 4 gets them as photos are looked at, at no decode of its own.

        Written only while the photo's row still describes the file decoded (``version``: its (size, mtime, change
        time), ``catalogue.file_version`` as stat'ed before and after the decode and matched to the row the view
        had; ``catalogue.is_version``, the one rule of docs/store.md#file-versions: a scan since decides first, also
        one that found a same-length replacement with its mtime put back) and never over an existing print (a
        re-encoded file keeps the print of the picture that was reviewed, docs/store.md). A read first, so a photo
        that has its print costs no write lock. Returns whether it was written."""
        if version is None or self.pixel_print(photo_id) is not None:
            return False
        with self.transaction() as c:
            row = c.execute("SELECT size, mtime, ctime_ns, sha1 FROM photos WHERE id = ? AND sha1 IS NOT NULL"
                            " AND missing = 0", (photo_id,)).fetchone()  # fmt: skip
            if row is None or not is_version(version, _row_version(row)):
                return False
            cur = c.execute(
                "INSERT OR REPLACE INTO pixel_prints (photo_id, sha1, print) SELECT ?, ?, ? WHERE NOT EXISTS"
                " (SELECT 1 FROM pixel_prints WHERE photo_id = ? AND sha1 = ?)",
                (photo_id, row["sha1"], bytes(pixel_print), photo_id, row["sha1"]))  # fmt: skip
            return cur.rowcount > 0

    def photos_without_print(self) -> list[int]:
        """Ids of the photos with someone's work that a replaced file would lose (reviewed, or with a
        human or MTurk bib) whose current file has no print yet: photos of a store from before schema 4,
        or reviewed without being recognized (imports). A photo with model bibs only is left out: were
        its file re-encoded, recognizing it again costs about what its print would (a decode), and an
        old store's thousands of recognized photos would otherwise be decoded for nothing."""
        return [r[0] for r in self._conn.execute(
            "SELECT p.id FROM photos p WHERE p.missing = 0 AND p.error IS NULL AND p.sha1 IS NOT NULL"
            " AND (p.reviewed = 1 OR EXISTS (SELECT 1 FROM bibs b WHERE b.photo_id = p.id AND b.source != 'model'))"
            " AND NOT EXISTS (SELECT 1 FROM pixel_prints pp WHERE pp.photo_id = p.id AND pp.sha1 = p.sha1)"
            " ORDER BY p.id")]  # fmt: skip

    def fill_pixel_prints(self, photo_ids: Iterable[int] | None = None, cancel: Callable[[], bool] | None = None,
                          progress: Callable[[int, int], object] | None = None) -> int:  # fmt: skip
        """Decode (reduced, core/pixelprint.file_print) and keep the print of each photo that has
        none (default: :meth:`photos_without_print`); returns how many were written.

        Each photo is decoded outside any transaction; one whose file changed since the scan is left for
        later. ``progress(done, total)`` is called after each photo, ``cancel()`` stops before the next.
        The photos are read in one query and the prints written :data:`PRINT_BATCH` (or about a second's
        worth) a transaction, so an old store's thousands of reviewed photos cost their decodes, not a
        commit (an fsync) each; a cancel or an error keeps what was decoded."""
        ids = list(self.photos_without_print() if photo_ids is None else photo_ids)
        if not ids:
            return 0
        rows = {r["id"]: r for r in self._conn.execute("SELECT id, relpath, sha1, size, mtime, missing FROM photos")}
        printed = {r[0] for r in self._conn.execute(
            "SELECT pp.photo_id FROM pixel_prints pp JOIN photos p ON p.id = pp.photo_id WHERE pp.sha1 = p.sha1")}  # fmt: skip
        pending: list[tuple[bytes, int, str]] = []
        written = 0

        def flush() -> None:
            nonlocal written
            if pending:
                with self.transaction() as c:  # only while the photo still names the file version decoded
                    cur = c.executemany(
                        "INSERT OR REPLACE INTO pixel_prints (photo_id, sha1, print)"
                        " SELECT id, sha1, ? FROM photos WHERE id = ? AND sha1 = ?", pending)  # fmt: skip
                    written += max(0, cur.rowcount)
                pending.clear()

        last = time.monotonic()
        try:
            for done, pid in enumerate(ids, 1):
                if cancel is not None and cancel():
                    break
                row = rows.get(pid)
                if row is not None and not row["missing"] and row["sha1"] and pid not in printed:
                    pp = self._print_if_unchanged(row)
                    if pp is not None:
                        pending.append((pp, pid, row["sha1"]))
                if progress is not None:
                    progress(done, len(ids))
                if len(pending) >= PRINT_BATCH or (pending and time.monotonic() - last > 1.0):
                    flush()
                    last = time.monotonic()
        finally:
            flush()
        return written

    def _print_if_unchanged(self, row: sqlite3.Row) -> bytes | None:
        """The print of a photo's file when it is still the version scanned (size, mtime) before and after the decode."""
        path = self.folder / row["relpath"]
        try:
            st = path.stat()
        except OSError:
            return None
        if (st.st_size, st.st_mtime) != (row["size"], row["mtime"]):
            return None  # changed since the scan: the next scan decides about it first
        pp = file_print(path)
        try:
            again = path.stat()
        except OSError:
            return None
        return pp if (again.st_size, again.st_mtime) == (row["size"], row["mtime"]) else None  # not rewritten meanwhile

    # ------------------------------------------------------------------ scanning

    def scan(
        self,
        progress: Callable[[int, int], object] | None = None,
        cancel: Callable[[], bool] | threading.Event | None = None,
    ) -> ScanReport:
        """Sync the database with the folder on disk.

        New photos are probed (header only) and hashed; files whose size and mtime are
        unchanged are not read again. A new file whose hash equals a vanished photo's is
        that photo moved/renamed: it keeps its id, bibs and review state. Photos gone from
        disk are marked missing (kept, with their bibs). Unusable files are recorded with
        their error message and the scan goes on. ``progress(done, total)`` is called per
        file; ``cancel()`` (or an Event) stops the scan early (``report.cancelled``).
        """
        is_cancelled = (cancel.is_set if isinstance(cancel, threading.Event) else cancel) or (lambda: False)
        report = ScanReport()
        on_disk = list(walk_photos(self.folder, report.errors, report.unsupported))
        report.total = len(on_disk)
        known = {r["relpath"]: r for r in self._conn.execute("SELECT * FROM photos")}
        present = set(on_disk)
        new_facts: list[FileFacts] = []
        pending: list[Callable[[], None]] = []

        def flush() -> None:
            if pending:
                with self.transaction():
                    for fn in pending:
                        fn()
                pending.clear()

        last_flush = time.monotonic()
        for i, rel in enumerate(on_disk):
            if is_cancelled():
                report.cancelled = True
                break
            row = known.get(rel)
            if row is not None:
                facts = None
                stored = _row_version(row)
                try:
                    now = stat_version((self.folder / rel).stat())
                except OSError:
                    now = None
                unchanged = bool(row["sha1"]) and is_version(now, stored)  # the one rule, docs/store.md#file-versions
                ctime = None if now is None else now[2]
                if row["sha1"] and moved_change_time(now, stored):
                    # size and mtime as stored, the change time not: a chmod, an xattr, a rename, or another file of
                    # the same length given the old mtime (cp -p, rsync -a). Read again: the same content only
                    # takes the new change time; another is a change like any other (docs/store.md#file-versions)
                    facts = describe(self.folder, rel)
                    unchanged = not facts.error and facts.sha1 == row["sha1"] and row["pixel_hash"] in (None, facts.pixel_hash)
                    ctime = facts.ctime_ns
                if row["missing"]:
                    report.restored.append(rel)
                if unchanged:
                    if row["missing"]:
                        pending.append(lambda row=row: self._set_missing(row["id"], False))
                    if ctime is not None and row["ctime_ns"] != ctime:  # not known yet (NULL), or re-checked above
                        pending.append(lambda row=row, ctime=ctime: self._conn.execute(
                            "UPDATE photos SET ctime_ns = ? WHERE id = ?", (ctime, row["id"])))  # fmt: skip
                    if row["pixel_hash"] is None:  # stored before schema 3: read once, so a later change can be told
                        pixels = facts.pixel_hash if facts is not None else self._read_pixel_hash(rel)
                        pending.append(lambda row=row, pixels=pixels: self._conn.execute(
                            "UPDATE photos SET pixel_hash = ? WHERE id = ? AND pixel_hash IS NULL", (pixels, row["id"])))  # fmt: skip
                    if row["error"]:
                        report.errors.append((rel, row["error"]))
                else:
                    facts = self._with_print(row, facts if facts is not None else describe(self.folder, rel))
                    if row["sha1"] and facts.sha1 != row["sha1"]:
                        report.updated.append(rel)
                    pending.append(lambda row=row, facts=facts: self._update_photo(row["id"], facts, report))
                    if facts.error:
                        report.errors.append((rel, facts.error))
            else:
                facts = describe(self.folder, rel)
                new_facts.append(facts)
                if facts.error:
                    report.errors.append((rel, facts.error))
            if progress is not None:
                progress(i + 1, report.total)
            if len(pending) >= SCAN_BATCH or (pending and time.monotonic() - last_flush > 1.0):
                flush()
                last_flush = time.monotonic()
        flush()

        # photos that vanished (only decided after a complete walk)
        gone = [] if report.cancelled else [r for rel, r in known.items() if rel not in present]
        candidates: dict[tuple[str, int], list[sqlite3.Row]] = {}
        for r in gone:
            if r["sha1"]:
                candidates.setdefault((r["sha1"], r["size"]), []).append(r)
        with self.transaction():
            # another process (a CLI command beside the app) may have scanned meanwhile: what it added is known now
            now_known = {r[0] for r in self._conn.execute("SELECT relpath FROM photos")}
            new_facts = [f for f in new_facts if f.relpath not in now_known]
            moves = _pair_moves(new_facts, candidates)
            for facts in new_facts:
                old = moves.get(facts.relpath)
                if old is not None:
                    self._move_photo(old, facts)
                    report.moved.append((old["relpath"], facts.relpath))
                else:
                    self._insert_photo(facts)
                    report.added.append(facts.relpath)
            moved_from = {old for old, _ in report.moved}
            for r in gone:
                if r["relpath"] not in moved_from and not r["missing"]:
                    self._set_missing(r["id"], True)
                    report.missing.append(r["relpath"])
        return report

    def refresh_files(self, relpaths: Iterable[str]) -> int:
        """Re-read the file facts (hash, size, mtime) of photos this program just rewrote (keywords), so
        the stored hash stays the file's: a move before the next scan is still matched. Bibs are kept
        (unless the file now holds another picture: ``_update_photo``)."""
        todo = []
        for rel in relpaths:  # read (and decode, where a decision needs it) before the write lock
            row = self._conn.execute("SELECT * FROM photos WHERE relpath = ?", (rel,)).fetchone()
            if row is not None:
                todo.append((row["id"], self._with_print(row, describe(self.folder, rel))))
        with self.transaction():
            for photo_id, facts in todo:
                self._update_photo(photo_id, facts)
        return len(todo)

    @staticmethod
    def _facts_columns(f: FileFacts) -> dict[str, Any]:
        info = f.info
        return {
            "width": info.width if info else None,
            "height": info.height if info else None,
            "orientation": info.orientation if info else 1,
            "captured_at": info.captured_at if info else None,
            "sha1": f.sha1,
            "pixel_hash": f.pixel_hash,
            "size": f.size,
            "mtime": f.mtime,
            "ctime_ns": f.ctime_ns,
            "error": f.error,
        }

    def _insert_photo(self, f: FileFacts) -> int:
        cols = {"relpath": f.relpath, **self._facts_columns(f)}
        cur = self._conn.execute(
            f"INSERT INTO photos ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", tuple(cols.values())
        )
        photo_id = int(cur.lastrowid)
        self._history("photo_add", photo_id, None, None, cols)
        return photo_id

    def _read_pixel_hash(self, relpath: str) -> str:
        try:
            return pixel_hash(self.folder / relpath)
        except OSError:
            return ""

    def _with_print(self, row: sqlite3.Row, f: FileFacts) -> FileFacts:
        """``f`` with the new file's print when only decoding can tell whether it still holds the
        picture of ``row``: same pixel size, the image data not known to be equal (another
        image-data hash, or none: TIFF) and a print of the old version to compare with."""
        if f.error or f.info is None or row["width"] is None:
            return f
        if (row["width"], row["height"]) != (f.info.width, f.info.height):
            return f  # another size: another picture, nothing to decode
        if row["pixel_hash"] and f.pixel_hash == row["pixel_hash"]:
            return f  # same image data: a metadata edit
        if self.pixel_print(row["id"]) is None:
            return f
        return replace(f, pixel_print=file_print(self.folder / f.relpath))

    @staticmethod
    def _is_replacement(before: dict, after: dict) -> bool:
        """Whether new file facts are another picture: another pixel size, or other image data
        (``pixel_hash``; known on both sides). Same size and image data: a metadata edit."""
        if before["width"] is not None and after["width"] is not None and (
            (before["width"], before["height"]) != (after["width"], after["height"])
        ):
            return True
        return bool(before["pixel_hash"]) and bool(after["pixel_hash"]) and before["pixel_hash"] != after["pixel_hash"]

    def _update_photo(self, photo_id: int, f: FileFacts, report: ScanReport | None = None) -> bool:
        """New facts for a file changed in place; returns whether it is another picture.

        Same pixel size and image data (``pixel_hash``): an edit of its metadata (keywords written by
        us or another tool), so its bibs and review stay. Another picture under the old name: its
        model bibs go, it is recognized again and needs a new review; human and MTurk bibs are kept
        (shown for that review, never silently confirmed). A file without a fingerprint now (being
        written, unreadable) keeps the stored one, so the picture it held is still compared later.
        Other image data (or none, TIFF) but a decoded print ``f.pixel_print`` that matches the stored
        one (core/pixelprint: a lossless re-encode, a re-compression) is the same picture too.
        """
        cols = self._facts_columns(f)
        if not cols["pixel_hash"]:
            del cols["pixel_hash"]
        names = ", ".join(dict.fromkeys([*cols, "pixel_hash"]))
        before = dict(self._conn.execute(f"SELECT {names} FROM photos WHERE id = ?", (photo_id,)).fetchone())
        replaced = self._is_replacement(before, {"pixel_hash": None, **cols})
        old_print = self.pixel_print(photo_id)
        reencoded = False
        same_size = before["width"] is not None and (before["width"], before["height"]) == (cols["width"], cols["height"])
        if f.pixel_print is not None and old_print is not None and same_size:
            same = same_picture(old_print, f.pixel_print)
            reencoded = same and replaced
            replaced = not same
        if replaced:
            self._conn.execute("DELETE FROM bibs WHERE photo_id = ? AND source = 'model'", (photo_id,))
            cols.update(model_version=None, reviewed=0)
            self._conn.execute("DELETE FROM pixel_prints WHERE photo_id = ?", (photo_id,))
            if f.pixel_print is not None and f.sha1:
                self._conn.execute("INSERT INTO pixel_prints (photo_id, sha1, print) VALUES (?, ?, ?)",
                                   (photo_id, f.sha1, f.pixel_print))  # fmt: skip
        elif old_print is not None and f.sha1:  # the same picture: the print (of the version reviewed) now names this file
            self._conn.execute("UPDATE pixel_prints SET sha1 = ? WHERE photo_id = ?", (f.sha1, photo_id))
        self._conn.execute(
            f"UPDATE photos SET {', '.join(f'{k} = ?' for k in cols)}, missing = 0 WHERE id = ?", (*cols.values(), photo_id)
        )
        after = {**cols, "replaced": True} if replaced else {**cols, "reencoded": True} if reencoded else cols
        self._history("photo_update", photo_id, None, before, after)
        if report is not None:
            (report.replaced if replaced else report.reencoded if reencoded else []).append(f.relpath)
        return replaced

    def _move_photo(self, old: sqlite3.Row, f: FileFacts) -> None:
        cols = {"relpath": f.relpath, **self._facts_columns(f)}
        self._conn.execute(
            f"UPDATE photos SET {', '.join(f'{k} = ?' for k in cols)}, missing = 0 WHERE id = ?", (*cols.values(), old["id"])
        )
        self._history("photo_move", old["id"], None, {"relpath": old["relpath"]}, {"relpath": f.relpath})

    def _set_missing(self, photo_id: int, missing: bool) -> None:
        self._conn.execute("UPDATE photos SET missing = ? WHERE id = ?", (int(missing), photo_id))
        self._history("photo_missing" if missing else "photo_back", photo_id, None, not missing, missing)
