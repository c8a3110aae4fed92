"""The photo list keeps the current photo in view past the first few hundred rows while rows change."""

from __future__ import annotations

from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401

N = 300


def test_the_list_follows_the_current_photo_while_rows_change(qtbot, make_window, tmp_path, monkeypatch):
    folder = tmp_path / "shoot"
    make_photos(folder, N, size=(160, 120))
    fixed_predictions(monkeypatch, {})
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    view, model = win.list_view, win.list_model
    assert model.total() == N
    hidden = []
    for row in range(N):
        win.select_row(row)
        if row:
            model.update_item(model.item(row - 1))  # what an accept, an edit or a new thumbnail does
        qtbot.wait(1)
        if not view.viewport().rect().intersects(view.visualRect(model.index(row))):
            hidden.append(row)
    assert hidden == []
