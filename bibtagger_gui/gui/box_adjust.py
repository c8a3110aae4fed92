"""Geometry of adjusting an existing bib box (moving, resizing), in photo pixels; no Qt.

Every result stays inside the photo (``0..width``, ``0..height``) and is never smaller than
:data:`MIN_SIDE` photo pixels on either side. Boxes are rounded to 0.1 px like drawn boxes.
See docs/gui.md#adjusting-a-box.
"""

from __future__ import annotations

Box = tuple[float, float, float, float]

#: smallest side of an adjusted box, in photo pixels
MIN_SIDE = 4.0
#: a keyboard nudge moves/sizes by this share of the box's side, and at least NUDGE_MIN_PX
NUDGE_SHARE = 0.01
NUDGE_MIN_PX = 2.0


def rounded(box: Box) -> Box:
    """``box`` rounded to 0.1 px, as every adjusted box is stored."""
    return tuple(round(v, 1) for v in box)  # type: ignore[return-value]


def moved(box: Box, dx: float, dy: float, width: float, height: float) -> Box:
    """``box`` shifted by (dx, dy), then pushed back inside the photo, its size kept (cut to the photo
    when it is larger)."""
    x1, y1, x2, y2 = box
    w, h = min(x2 - x1, width), min(y2 - y1, height)
    nx = min(max(x1 + dx, 0.0), width - w)
    ny = min(max(y1 + dy, 0.0), height - h)
    return rounded((nx, ny, nx + w, ny + h))


def _side(fixed: float, moving: float, toward: float, limit: float) -> tuple[float, float]:
    """One axis of a corner drag: the fixed edge and the dragged one (clamped to 0..limit), at least
    MIN_SIDE apart; ``toward`` (+1/-1) is the side the dragged edge was on, used when they meet."""
    moving = min(max(moving, 0.0), limit)
    if abs(moving - fixed) < MIN_SIDE:
        sign = (1.0 if moving > fixed else -1.0) if moving != fixed else toward
        moving = fixed + sign * MIN_SIDE
        if not 0.0 <= moving <= limit:  # the fixed edge is at the photo's border: grow the other way
            moving = fixed - sign * MIN_SIDE
    return (fixed, moving) if fixed <= moving else (moving, fixed)


def resized(box: Box, corner: int, x: float, y: float, width: float, height: float) -> Box:
    """``box`` with corner ``corner`` (0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left) dragged
    to (x, y); the opposite corner stays. The box may flip over the fixed corner (drag past it)."""
    x1, y1, x2, y2 = box
    right, bottom = corner in (1, 2), corner in (2, 3)
    fx, tx = (x1, 1.0) if right else (x2, -1.0)
    fy, ty = (y1, 1.0) if bottom else (y2, -1.0)
    ax1, ax2 = _side(fx, x, tx, width)
    ay1, ay2 = _side(fy, y, ty, height)
    return rounded((ax1, ay1, ax2, ay2))


def nudge_step(box: Box) -> tuple[float, float]:
    """Keyboard step along x and y: 1 % of the box's width / height, at least NUDGE_MIN_PX."""
    x1, y1, x2, y2 = box
    return max(NUDGE_MIN_PX, NUDGE_SHARE * (x2 - x1)), max(NUDGE_MIN_PX, NUDGE_SHARE * (y2 - y1))


def nudged(box: Box, dx: int, dy: int, dw: int, dh: int, width: float, height: float) -> Box:
    """A keyboard nudge: move by (dx, dy) steps, or move the right/bottom edge by (dw, dh) steps."""
    sx, sy = nudge_step(box)
    if dx or dy:
        return moved(box, dx * sx, dy * sy, width, height)
    x1, y1, x2, y2 = box
    if dw:  # a box already at the photo's edge at its smallest: its left edge gives way, not the photo's
        x1 = min(x1, width - MIN_SIDE)
        x2 = min(max(x2 + dw * sx, x1 + MIN_SIDE), width)
    if dh:
        y1 = min(y1, height - MIN_SIDE)
        y2 = min(max(y2 + dh * sy, y1 + MIN_SIDE), height)
    return rounded((x1, y1, x2, y2))
