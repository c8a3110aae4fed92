"""Natural order of names (Qt-free): ``IMG_2`` before ``IMG_10``, letters case-insensitive.

One key for every place that orders photos by name: the list's file-name order (``core.list_order``) and the
tie between frames of one capture time (``core.bursts.frame_key``: a camera that writes whole seconds only
numbers its frames, and ``frame_9`` was shot before ``frame_10``). docs/review-flow.md#list-order.
"""

from __future__ import annotations

import re
from functools import lru_cache

_DIGITS = re.compile(r"([0-9]+)")


@lru_cache(maxsize=1 << 15)  # a shoot's names, asked again on every Ctrl+D and every sort of the list
def natural_key(text: str) -> tuple:
    """Sort key of one name in natural order: runs of ASCII digits compare as numbers ("img_2" < "img_10"),
    the rest case-insensitively; other scripts' digits are text. Text and numbers alternate at fixed places
    (``re.split`` with a group), so two keys never compare a number with a text. Names equal but for leading
    zeros or case tie: the caller breaks the tie by the name as written."""
    parts = _DIGITS.split(text.casefold())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))
