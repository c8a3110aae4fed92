"""Work around a PySide6 6.12 (abi3 wheel) reference-count bug on CPython < 3.12.

Measured here with PySide6 6.12.0 on CPython 3.11: every ``Signal.emit()`` from
Python drops one reference to ``True`` that it never took, and every call Qt makes
into a Python slot/override that returns ``None`` drops one reference to ``None``.
On 3.12+ those objects are immortal and nothing happens; on 3.11 the app aborts
after a few thousand signals ("Fatal Python error: none_dealloc / bool_dealloc").
Only these singletons are affected (other return values and arguments keep their
counts), and the interpreter never frees them anyway, so giving them a huge
reference count makes them effectively immortal, exactly as 3.12 does.
See docs/gui.md and tests/test_gui_pyside_fix.py.
"""

from __future__ import annotations

import ctypes
import sys

_BUMP = 1 << 40


def apply() -> bool:
    """Make None/True/False effectively immortal on CPython < 3.12; True when applied."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    for obj in (None, True, False):
        ref = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is PyObject's first field
        if ref.value < _BUMP:
            ref.value += _BUMP
    return True
