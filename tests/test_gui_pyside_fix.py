"""The installed PySide6 survives a signal-heavy process (6.12.0 aborts on CPython 3.11).

See docs/gui.md: PySide6-Essentials 6.12.0 drops references to None/True on every
emit/slot call, so pyproject pins it out. This test fails if a version with the bug
comes back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    from PySide6.QtCore import QCoreApplication, QObject, Signal
    app = QCoreApplication([])
    class E(QObject):
        s = Signal(int)
    e = E()
    o = QObject()
    e.s.connect(lambda i: None)
    o.objectNameChanged.connect(lambda name: None)
    for i in range(20000):
        e.s.emit(i)              # Python emit
        o.setObjectName(str(i))  # Qt calling a Python slot
    print("survived")
    """
)


def test_twenty_thousand_signals_survive():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "survived" in out.stdout
