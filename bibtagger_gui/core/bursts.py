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
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

#: largest gap (seconds) between two consecutive frames of one burst
GAP_S = 2.0
#: longest burst (seconds from its first frame to its last); a longer run is no burst
MAX_SPAN_S = 10.0

EXIF = "exif"
FILE = "file"


@dataclass(frozen=True)
class CaptureTime:
    """When a photo was taken: ``seconds`` on the clock named by ``source`` (:data:`EXIF` or :data:`FILE`)."""

    seconds: float
    source: str


def parse_captured_at(text: str | None) -> float | None:
    """Seconds of an ISO ``captured_at`` ("2024-05-12T10:31:02" or with a fraction, ".45"), counted as if it
    were UTC (only differences matter); None when absent or unreadable."""
    if not text or not isinstance(text, str):
        return None
    base, _, digits = text.partition(".")
    if digits and not (digits.isdigit() and digits.isascii()):
        return None
    try:
        seconds = datetime.fromisoformat(base).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None
    return seconds + (float(f"0.{digits}") if digits else 0.0)


def capture_time(photo: Any) -> CaptureTime | None:
    """The capture time of ``photo`` (duck-typed: ``captured_at``, ``mtime``): EXIF, else the file's time."""
    exif = parse_captured_at(getattr(photo, "captured_at", None))
    if exif is not None:
        return CaptureTime(exif, EXIF)
    mtime = getattr(photo, "mtime", None)
    if isinstance(mtime, (int, float)) and mtime > 0:
        return CaptureTime(float(mtime), FILE)
    return None


def _folder(relpath: str) -> str:
    return relpath.rsplit("/", 1)[0] if "/" in relpath else ""


def bursts(photos: Iterable[Any], gap: float = GAP_S, max_span: float = MAX_SPAN_S) -> list[tuple[int, ...]]:
    """The bursts among ``photos`` (duck-typed ``core.store.Photo``: id, relpath, captured_at, mtime): photo
    ids in capture order (ties by relpath), bursts in the order of their first frame. Photos without any
    capture time, and runs longer than ``max_span``, are in none."""
    keyed: dict[tuple[str, str], list[tuple[float, str, int]]] = {}
    for p in photos:
        t = capture_time(p)
        if t is not None:
            keyed.setdefault((t.source, _folder(p.relpath)), []).append((t.seconds, p.relpath, p.id))
    out: list[tuple[float, tuple[int, ...]]] = []
    for frames in keyed.values():
        frames.sort()
        run = [frames[0]]
        for frame in frames[1:] + [None]:  # type: ignore[list-item]
            if frame is not None and frame[0] - run[-1][0] <= gap:
                run.append(frame)
                continue
            if len(run) >= 2 and run[-1][0] - run[0][0] <= max_span:
                out.append((run[0][0], tuple(pid for _t, _rel, pid in run)))
            if frame is not None:
                run = [frame]
    return [ids for _start, ids in sorted(out)]


def burst_of(photos: Iterable[Any], photo_id: int, gap: float = GAP_S, max_span: float = MAX_SPAN_S) -> tuple[int, ...]:
    """The burst ``photo_id`` belongs to (its ids in capture order, ``photo_id`` among them); () when none.

    Only the photos of its clock and sub-folder within ``max_span + gap`` seconds of it are sorted: they
    hold its whole burst, and a frame of a longer run whenever there is one."""
    photos = list(photos)
    me = next((p for p in photos if p.id == photo_id), None)
    t = capture_time(me) if me is not None else None
    if t is None:
        return ()
    reach, folder = max_span + gap, _folder(me.relpath)

    def near(p: Any) -> bool:
        u = capture_time(p)
        return u is not None and u.source == t.source and abs(u.seconds - t.seconds) <= reach and _folder(p.relpath) == folder

    return next((b for b in bursts([p for p in photos if near(p)], gap, max_span) if photo_id in b), ())


def previous_frame(photos: Iterable[Any], photo_id: int) -> int | None:
    """The photo taken just before ``photo_id``: on its clock and in its sub-folder, in capture order (ties by
    relpath), whether or not the two are one burst; None for the first photo or one without a capture time."""
    photos = list(photos)
    me = next((p for p in photos if p.id == photo_id), None)
    t = capture_time(me) if me is not None else None
    if t is None:
        return None
    mine = (t.seconds, me.relpath)
    best: tuple[float, str, int] | None = None
    for p in photos:
        u = capture_time(p)
        if p.id == photo_id or u is None or u.source != t.source or _folder(p.relpath) != _folder(me.relpath):
            continue
        key = (u.seconds, p.relpath, p.id)
        if key[:2] < mine and (best is None or key > best):
            best = key
    return best[2] if best is not None else None


def same_burst(photos: Sequence[Any], a: int, b: int) -> bool:
    """Whether photos ``a`` and ``b`` (ids among ``photos``) are frames of one burst."""
    return a != b and b in burst_of(photos, a)
