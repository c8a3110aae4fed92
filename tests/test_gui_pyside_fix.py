"""The PySide6 6.12 refcount work-around keeps a signal-heavy process alive."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    if sys.argv[1] == "fixed":
        import bibtagger_gui.gui  # applies the work-around
    from PySide6.QtCore import QCoreApplication, QObject, Signal
    app = QCoreApplication([])
    class E(QObject):
        s = Signal(int)
    e = E()
    o = QObject()
    e.s.connect(lambda i: None)
    o.objectNameChanged.connect(lambda name: None)
    for i in range(20000):
        e.s.emit(i)            # Python emit
        o.setObjectName(str(i))  # Qt calling a Python slot
    print("survived")
    """
)


def test_twenty_thousand_signals_survive_with_the_fix():
    out = subprocess.run([sys.executable, "-c", SCRIPT, "fixed"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "survived" in out.stdout
