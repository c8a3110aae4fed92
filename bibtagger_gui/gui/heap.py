"""The garbage collector's full passes kept out of key presses (docs/gui.md#gc-pauses).

A 10,000-photo folder holds ~120,000 Python objects in its list's snapshots. Python's collector walks
every tracked object in a full (generation 2) pass, ~55-95 ms on the benchmark machine, and starts one
when a quarter as many new objects as it already holds have survived: right after a folder is read,
that is at a moment no one chose, such as the next search keystroke (measured: '' 127 ms, 95 of them
the collector; the target is 50 ms). After the window reads a folder (or replaces its list's snapshots
in one go), :func:`settle` runs one full pass while the window is still busy, then freezes what is
left (``gc.freeze``): later passes skip those objects and take ~2 ms. The next settle unfreezes them
first, so snapshots dropped with an old list are collected then, cycles included. A re-run's undo or redo, which
replaces 10,000 snapshots while the user waits on a 2 s target, settles without the full pass
(``settle(full=False)``: measured, the full one added 300-400 ms there, over the target).

Process-wide, so on only where the app runs (``gui/app.py`` run_gui) and in the benchmark that times
it; a test suite's many windows would pay a full pass each.
"""

from __future__ import annotations

import gc

_enabled = False


def enable(on: bool = True) -> None:
    """Let :func:`settle` act in this process (run_gui, ``make bench-app``)."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled


def settle(full: bool = True) -> bool:
    """``full``: one collection of everything (frozen objects too), then freeze the survivors. Else only the young
    generations are collected before the freeze (a few ms): what is new leaves the collector's reach without a walk
    of the whole heap, and cycles dropped since the last full settle wait for the next one. False when not enabled
    (nothing done)."""
    if not _enabled:
        return False
    if full:
        gc.unfreeze()
        gc.collect()
    else:
        gc.collect(1)
    gc.freeze()
    return True
