"""Bursts (Qt-free): the frames a photographer shot of the same runners within a second or two.

A photo's capture time is its EXIF capture time (``Photo.captured_at``: DateTimeOriginal with
SubSecTimeOriginal when the camera writes it, read by ``core.imageio``), else its file's modification
time. The two clocks are never compared with each other (camera local time against the file system's
clock), and photos of different sub-folders (cameras, photographers) are never one burst.

Sorted by capture time, photos whose gaps are at most :data:`GAP_S` seconds form a run; a run of two
photos or more is a burst. A run longer than :data:`MAX_SPAN_S` seconds from its first frame to its last
is *not* taken as a burst (each of its photos stands alone): copies made without keeping the files'
times, or a continuous shoot, chain hundreds of photos within 2 s of each other, and a burst tool must
not reach that far. docs/bursts.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from bibtagger_gui.core.natural_sort import natural_key

#: largest gap (seconds) between two consecutive frames of one burst
GAP_S = 2.0
#: longest burst (seconds from its first frame to its last); a longer run is no burst
MAX_SPAN_S = 10.0

_EPOCH = datetime(1970, 1, 1)  # capture seconds are counted from it, as if UTC

EXIF = "exif"
FILE = "file"


@dataclass(frozen=True)
class CaptureTime:
    """When a photo was taken: ``seconds`` on the clock named by ``source`` (:data:`EXIF` or :data:`FILE`)."""

    seconds: float
    source: str


def parse_captured_at(text: str | None) -> float | None:
    """Seconds of an ISO ``captured_at`` ("2024-05-12T10:31:02" or with a fraction, ".45"), counted as if it
    were UTC (only differences matter; an offset is ignored); None when absent or unreadable. One C parse and
    a subtraction: a :class:`Timeline` reads 10,000 of them on the UI thread."""
    if not text or not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is not None:  # (replace is slow: only where needed)
        when = when.replace(tzinfo=None)
    return (when - _EPOCH).total_seconds()


def _clock(photo: Any) -> tuple[str, float] | None:
    """(source, seconds) of :func:`capture_time`, without making its object (a :class:`Timeline` reads thousands)."""
    exif = parse_captured_at(getattr(photo, "captured_at", None))
    if exif is not None:
        return EXIF, exif
    mtime = getattr(photo, "mtime", None)
    if isinstance(mtime, (int, float)) and mtime > 0:
        return FILE, float(mtime)
    return None


def capture_time(photo: Any) -> CaptureTime | None:
    """The capture time of ``photo`` (duck-typed: ``captured_at``, ``mtime``): EXIF, else the file's time."""
    clock = _clock(photo)
    return CaptureTime(clock[1], clock[0]) if clock is not None else None


def _folder(relpath: str) -> str:
    return relpath.rsplit("/", 1)[0] if "/" in relpath else ""


def frame_key(photo: Any) -> tuple[str, str, float, tuple, str] | None:
    """Where ``photo`` stands in capture order: ``(clock, sub-folder, seconds, file name's natural key, relpath)``;
    None without a capture time. Photos are frames of one sequence only when they share the first two (one
    clock, one sub-folder); within it they go by the rest: their time, ties (a camera that writes whole
    seconds only, files of one time) by file name in natural order, as cameras number frames (``frame_9``
    before ``frame_10``), then as written. The one rule of capture order: the bursts, the previous frame
    (Ctrl+D, :class:`Timeline`) and the list's capture order (``core.list_order.capture_key``) all take it."""
    clock = _clock(photo)
    if clock is None:
        return None
    return clock[0], _folder(photo.relpath), clock[1], natural_key(photo.relpath.rpartition("/")[2]), photo.relpath


class Timeline:
    """The photos' capture order and bursts, computed once: each clock and sub-folder's photos sorted by capture
    time (ties as :func:`frame_key` says, then id), cut into runs. Its questions (:meth:`burst_of`, :meth:`previous_frame`,
    :meth:`same_burst`) are then dictionary lookups: the review asks them on a key press, and parsing and
    sorting 10,000 capture times for each took 25-70 ms (docs/bursts.md#cost). Photos without any capture
    time are in no lane."""

    def __init__(self, photos: Iterable[Any], gap: float = GAP_S, max_span: float = MAX_SPAN_S):
        lanes: dict[tuple[str, str], list[tuple[Any, ...]]] = {}  # (seconds, name key, relpath, id) per lane
        for p in photos:
            k = frame_key(p)
            if k is not None:
                lanes.setdefault(k[:2], []).append((*k[2:], p.id))
        self._previous: dict[int, int | None] = {}  # photo id -> the id taken just before it in its lane
        self._burst: dict[int, tuple[int, ...]] = {}  # photo id -> its burst (ids in capture order)
        starts: list[tuple[float, tuple[int, ...]]] = []
        for frames in lanes.values():
            frames.sort()
            before: int | None = None
            run: list[tuple[Any, ...]] = []
            for frame in frames + [None]:  # type: ignore[list-item]
                if frame is not None:
                    self._previous[frame[-1]] = before
                    before = frame[-1]
                    if not run or frame[0] - run[-1][0] <= gap:
                        run.append(frame)
                        continue
                if len(run) >= 2 and run[-1][0] - run[0][0] <= max_span:
                    ids = tuple(f[-1] for f in run)
                    starts.append((run[0][0], ids))
                    self._burst.update(dict.fromkeys(ids, ids))
                run = [frame] if frame is not None else []
        #: every burst (ids in capture order), in the order of their first frame
        self.bursts: list[tuple[int, ...]] = [ids for _start, ids in sorted(starts)]

    def burst_of(self, photo_id: int) -> tuple[int, ...]:
        """The burst ``photo_id`` belongs to (its ids in capture order, ``photo_id`` among them); () when none."""
        return self._burst.get(photo_id, ())

    def previous_frame(self, photo_id: int) -> int | None:
        """The photo taken just before ``photo_id``: on its clock and in its sub-folder, in capture order (:func:`frame_key`), whether or not the two are one burst; None for the first photo or one without a capture time."""
        return self._previous.get(photo_id)

    def same_burst(self, a: int, b: int) -> bool:
        """Whether photos ``a`` and ``b`` are frames of one burst."""
        return a != b and b in self.burst_of(a)


def bursts(photos: Iterable[Any], gap: float = GAP_S, max_span: float = MAX_SPAN_S) -> list[tuple[int, ...]]:
    """The bursts among ``photos`` (duck-typed ``core.store.Photo``: id, relpath, captured_at, mtime): photo
    ids in capture order (:func:`frame_key`), bursts in the order of their first frame. Photos without any
    capture time, and runs longer than ``max_span``, are in none."""
    return Timeline(photos, gap, max_span).bursts


def burst_of(photos: Iterable[Any], photo_id: int, gap: float = GAP_S, max_span: float = MAX_SPAN_S) -> tuple[int, ...]:
    """The burst ``photo_id`` belongs to among ``photos`` (:meth:`Timeline.burst_of`); () when none."""
    return Timeline(photos, gap, max_span).burst_of(photo_id)


def previous_frame(photos: Iterable[Any], photo_id: int) -> int | None:
    """The photo of ``photos`` taken just before ``photo_id`` (:meth:`Timeline.previous_frame`)."""
    return Timeline(photos).previous_frame(photo_id)


def same_burst(photos: Sequence[Any], a: int, b: int) -> bool:
    """Whether photos ``a`` and ``b`` (ids among ``photos``) are frames of one burst."""
    return Timeline(photos).same_burst(a, b)
