"""PySide6 views over :mod:`bibtagger_gui.core`.

Importing this package applies :mod:`bibtagger_gui.gui.pyside_fix` (a PySide6 6.12
refcount bug on CPython 3.11 that otherwise aborts the app after a few thousand signals).
"""

from bibtagger_gui.gui import pyside_fix as _pyside_fix

_pyside_fix.apply()
