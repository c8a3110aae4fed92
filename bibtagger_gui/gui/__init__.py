"""PySide6 views over :mod:`bibtagger_gui.core`."""
