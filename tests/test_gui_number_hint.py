"""The number field's hint (placeholder) is never cut off: "type digits to change the selected bib" was
"type digits to chan…" in the default 1400x900 window (docs/gui.md#accessibility)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QLineEdit, QStyle, QStyleOptionFrame

from bibtagger_gui.core.bib import Bib
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401


def shoot(folder, monkeypatch, n=1, base=700):
    make_photos(folder, n, seed=base)
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib(str(base + i), (10, 10, 60, 40), 0.5)] for i in range(n)})
    return folder


def _room(edit: QLineEdit) -> int:
    opt = QStyleOptionFrame()
    edit.initStyleOption(opt)
    r = edit.style().subElementRect(QStyle.SubElement.SE_LineEditContents, opt, edit)
    return r.width() - edit.textMargins().left() - edit.textMargins().right() - 4  # Qt's 2 px on each side


@pytest.mark.parametrize("points", [None, 16])
def test_the_number_fields_hint_is_not_cut_off_in_the_default_window(qtbot, make_window, tmp_path, monkeypatch, qapp, points):
    """It was "type digits to chan…" at 1400x900; now the longest hint that fits, the long form in the tooltip."""
    before = qapp.font()
    if points:
        f = QFont(before)
        f.setPointSize(points)
        qapp.setFont(f)
    try:
        folder = shoot(tmp_path / "p", monkeypatch, n=1)
        win = make_window()
        edit = win.number_edit

        def fits() -> None:
            QApplication.processEvents()
            hint = edit.placeholderText()
            assert edit.fontMetrics().horizontalAdvance(hint) <= _room(edit), (hint, _room(edit))

        fits()  # no photo
        assert "retype the selected bib" in edit.toolTip()  # the long form, whatever the hint shows
        win.open_folder(folder)
        wait_idle(qtbot, win)
        win.select_row(0)
        win.select_bib(None)
        fits()
        win.delete_selected_bib()
        win.edit_number()  # a photo without a bib: a number without a box
        fits()
        assert "number" in edit.placeholderText()
        win.cancel_entry()
        win.photo_view.start_drawing()
        win.photo_view.boxDrawn.emit((10.0, 10.0, 50.0, 30.0))  # a drawn box waits for its number
        fits()
        assert "number" in edit.placeholderText()
        win.cancel_entry()
        if not points:  # a wide panel shows the long form
            win.centralWidget().setSizes([200, 500, 700])
            fits()
            QApplication.processEvents()
            assert edit.placeholderText() == "type digits to change the selected bib"
    finally:
        qapp.setFont(before)
