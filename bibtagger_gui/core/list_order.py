"""The orders of the photo list (Qt-free): the review queue, capture time, file name.

The review queue (least confident first, ``core.review.sort_key``) is the default. The two others show a
shoot as it was shot or as its files are named, and depend only on a photo's file (its relpath, capture
time), never on its review state or its bibs, so a photo keeps its place in them when it is edited or
accepted. docs/review-flow.md#list-order.

**Capture time** uses ``core.bursts.capture_time`` (EXIF capture time with its sub-second, else the file's
time). The two clocks are never interleaved: camera local time and the file system's clock can be hours
apart, so every photo with an EXIF time comes first, then every photo with only a file time, then the photos
with no usable time (in file-name order). Within a clock the photos go sub-folder by sub-folder (folders in
file-name order): cameras and photographers are not interleaved either (their clocks are seldom set alike,
and two cameras' bursts of the same runners would alternate frame by frame), so each burst is one run of
rows and, with no filter or search, the row above a photo is the one Ctrl+D copies from
(``bursts.previous_frame``: same clock, same sub-folder, ties by file name in natural order).

**File name** is a natural sort of the relpath, folder by folder (the top folder's photos first, a folder's
own photos before its sub-folders'): ``IMG_2`` before ``IMG_10``, ``card2/`` before ``card10/``, letters
case-insensitive; names equal but for leading zeros or case go by the name as written, folder by folder
(``Card1/`` with its sub-folders, then ``card1/`` with its own: never interleaved).
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache
from typing import Any

from bibtagger_gui.core.bursts import EXIF, FILE, capture_time, frame_key
from bibtagger_gui.core.natural_sort import natural_key

__all__ = ["CLOCK_RANK", "ListOrder", "capture_key", "clock_of", "folder_key", "name_key", "natural_key"]
#: rank of each clock in capture order: camera time first, then file time, then no time at all
CLOCK_RANK = {EXIF: 0, FILE: 1, None: 2}


class ListOrder(str, Enum):
    """The orders of the photo list (values are stable names for settings)."""

    QUEUE = "queue"
    CAPTURE = "capture"
    NAME = "name"

    @property
    def label(self) -> str:
        return {
            "queue": "Review queue (least confident first)",
            "capture": "Capture time",
            "name": "File name",
        }[self.value]


def folder_key(relpath: str) -> tuple:
    """Sort key of the sub-folder of ``relpath``: folder by folder from the top, each in natural order, then as
    written. The tie is broken per folder, not over the whole path: "Card1", "card1" and "card01" tie in
    natural order, and a tie broken by the whole path put "card1" between "Card1" and "Card1/sub". The top
    folder ("") sorts first, a folder before its sub-folders."""
    return _folder_key(relpath.rpartition("/")[0])


@lru_cache(maxsize=4096)  # a shoot has a few folders and thousands of photos in each
def _folder_key(folder: str) -> tuple:
    return tuple((natural_key(part), part) for part in folder.split("/")) if folder else ()


def name_key(relpath: str) -> tuple:
    """File-name order, folder by folder (a folder's own photos before its sub-folders'): the sub-folder
    (:func:`folder_key`), the file name in natural order, then the relpath as written (``IMG_01`` and
    ``IMG_1``, ``a.jpg`` and ``A.jpg`` tie in natural order)."""
    return folder_key(relpath), natural_key(relpath.rpartition("/")[2]), relpath


def capture_key(photo: Any) -> tuple:
    """Capture order of ``photo`` (duck-typed ``core.store.Photo``: relpath, captured_at, mtime): its clock's
    rank, its sub-folder, then its place among that folder's frames on that clock, ``bursts.frame_key``'s
    (its time, ties by file name in natural order), the one the burst tools take, so the row above a photo is
    ``bursts.previous_frame`` within a folder and clock; a photo without a usable time sorts after all others,
    in file-name order."""
    k = frame_key(photo)
    if k is None:
        return CLOCK_RANK[None], name_key(photo.relpath)
    clock, _folder, seconds, name, relpath = k
    return CLOCK_RANK[clock], folder_key(relpath), seconds, name, relpath


def clock_of(photo: Any) -> str | None:
    """The clock that places ``photo`` in capture order: ``bursts.EXIF``, ``bursts.FILE`` or None (no time)."""
    t = capture_time(photo)
    return t.source if t is not None else None
