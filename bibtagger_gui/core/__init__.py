"""Qt-free core of bibtagger: data, storage, recognition, import/export.

Nothing under this package may import PySide6 or torch.
"""
