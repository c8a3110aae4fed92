"""Accessibility and display conditions of the GUI (docs/gui.md#accessibility): states readable without
colour, dark palettes, fractional scale factors, keyboard-only use, tooltips that follow the key map."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.gui import look
from tests.test_gui_mturk import project  # noqa: F401 - fixture
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401

MODEL_CONFIDENCES = {"sure": 0.99, "check": 0.92, "doubtful": 0.42}


def _bib(source: str, confidence: float | None, number: str = "123", bib_id: int = 1, box=(10, 10, 60, 40)):
    return SimpleNamespace(id=bib_id, number=number, box=box, source=source, confidence=confidence)


def _all_states():
    return [("human", None), ("mturk", None)] + [("model", c) for c in MODEL_CONFIDENCES.values()]


@pytest.fixture
def dark_palette(qapp):
    """The application in a dark palette (light text on dark bases), put back afterwards."""
    before = qapp.palette()
    p = QPalette()
    dark, base, text = QColor(53, 53, 53), QColor(35, 35, 35), QColor(230, 230, 230)
    for role, c in [
        (QPalette.ColorRole.Window, dark), (QPalette.ColorRole.WindowText, text), (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, dark), (QPalette.ColorRole.ButtonText, text),
    ]:  # fmt: skip
        p.setColor(role, c)
    qapp.setPalette(p)
    yield p
    qapp.setPalette(before)


# ---------------------------------------------------------------- 1. states without colour


def test_every_bib_state_differs_by_line_style_or_tag_mark_not_only_colour(qapp):
    from bibtagger_gui.gui.photo_view import BibBoxItem

    seen = {}
    for source, conf in _all_states():
        for selected in (False, True):
            item = BibBoxItem(_bib(source, conf), selected)
            # (line style, mark on the tag): what a reader who cannot tell the colours apart sees
            seen.setdefault((source, conf), set()).add((item.pen().style(), item.childItems()[0].text.split()[-1]))
    cues = {k: v.pop() for k, v in seen.items() if len(v) == 1}
    assert len(cues) == len(seen), f"selecting a box changed its state cue: {seen}"  # (it was forced solid)
    assert len(set(cues.values())) == len(cues), cues
    # the model states are told apart by the line alone too
    assert len({cues[("model", c)][0] for c in MODEL_CONFIDENCES.values()}) == 3


def test_colour_pairs_stay_apart_for_red_green_colour_blindness():
    """Simulated deuteranopia/protanopia (Machado et al. 2009, severity 1): each pair of the drawn box
    colours keeps a distance (sRGB, 0-255) over 50; the old palette had sure/check at 42 (protanopia) and
    human/mturk at 45 (deuteranopia). A modest guard: the line style and tag mark are the real cue."""
    from bibtagger_gui.gui.photo_view import bib_colour

    sims = {
        "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
        "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    }

    def simulate(c: QColor, m) -> tuple[float, ...]:
        lin = [(v / 255) ** 2.2 for v in c.getRgb()[:3]]
        return tuple(min(1.0, max(0.0, sum(m[i][j] * lin[j] for j in range(3)))) ** (1 / 2.2) * 255 for i in range(3))

    states = [(f"{s} {c}", bib_colour(s, c)) for s, c in _all_states()]
    for name, m in sims.items():
        for i, (a, ca) in enumerate(states):
            for b, cb in states[i + 1 :]:
                d = sum((x - y) ** 2 for x, y in zip(simulate(ca, m), simulate(cb, m))) ** 0.5
                assert d > 50, f"{name}: {a} and {b} look alike ({d:.0f})"


def test_box_tags_read_black_or_white_at_4_5_to_1_on_their_colour(qapp):
    from bibtagger_gui.gui.photo_view import BibBoxItem

    for source, conf in _all_states():
        item = BibBoxItem(_bib(source, conf), False)
        label = item.childItems()[0]
        img = _render(label)
        text_colour = look.text_on(label.colour)
        assert look.contrast(text_colour, label.colour) >= 4.5, (source, conf)  # white on orange was 2.1:1
        # and the tag is painted in that colour (not a fixed white)
        pixels = {img.pixelColor(x, y).rgb() for x in range(img.width()) for y in range(img.height())}
        assert text_colour.rgb() in pixels, (source, conf)


def _render(label):
    from PySide6.QtGui import QImage, QPainter

    r = label.boundingRect()
    img = QImage(int(r.width()) + 2, int(r.height()) + 2, QImage.Format.Format_RGB32)
    img.fill(QColor(128, 128, 128))
    p = QPainter(img)
    p.translate(-r.left() + 1, -r.top() + 1)
    label.paint(p, None)
    p.end()
    return img


def test_box_tag_font_follows_a_larger_application_font(qapp):
    from bibtagger_gui.gui.photo_view import BibBoxItem

    before = QApplication.font()
    try:
        small = BibBoxItem(_bib("model", 0.5), False).childItems()[0].boundingRect()
        f = QApplication.font()
        f.setPointSizeF(f.pointSizeF() * 2)
        QApplication.setFont(f)
        big = BibBoxItem(_bib("model", 0.5), False).childItems()[0].boundingRect()
    finally:
        QApplication.setFont(before)
    assert big.height() > small.height() * 1.5 and big.width() > small.width() * 1.5  # (it was a fixed 11 pt)


# ---------------------------------------------------------------- 2. dark palettes


def _list_model_with(qapp, reviewed: bool = False, conflict: bool = False, error: str = ""):
    from bibtagger_gui.core.review import ReviewItem
    from bibtagger_gui.gui.photo_list_model import PhotoListModel

    photo = SimpleNamespace(id=1, relpath="a.jpg", reviewed=reviewed, error=error, model_version="m", width=10, height=10)
    bibs = [_bib("model", 0.5, "12"), _bib("human", None, "13", 2)] if conflict else [_bib("model", 0.99, "12")]
    model = PhotoListModel(None)
    model.set_items([ReviewItem(photo=photo, bibs=tuple(bibs))])
    return model, model.index(0)


@pytest.mark.parametrize("dark", [False, True])
def test_list_row_markers_read_in_light_and_dark_palettes_and_say_their_state_in_text(qapp, dark, request):
    if dark:
        request.getfixturevalue("dark_palette")
    pal = qapp.palette()
    text = pal.color(QPalette.ColorRole.Text)
    for kind in ("reviewed", "conflict"):
        model, idx = _list_model_with(qapp, **{kind: True})
        bg = model.data(idx, Qt.ItemDataRole.BackgroundRole).color()
        assert look.contrast(text, bg) >= 4.5, (kind, bg.getRgb())  # light green under light text was 1.2:1
        assert ("✓" if kind == "reviewed" else "conflict") in model.data(idx, Qt.ItemDataRole.DisplayRole)
    model, idx = _list_model_with(qapp, error="cannot read")
    fg = model.data(idx, Qt.ItemDataRole.ForegroundRole).color()
    assert look.contrast(fg, pal.color(QPalette.ColorRole.Base)) >= 4.5


@pytest.mark.parametrize("dark", [False, True])
def test_the_empty_state_card_has_an_edge_that_stands_out_from_the_photo_canvas(qtbot, make_window, dark, request):
    """WCAG 1.4.11: the card's boundary keeps 3:1 against the dark photo canvas it lies on. In a dark palette
    the card's window colour (53 grey) was 1.1:1 against the canvas (45 grey) and the style's frame darker
    still. Checked on the rendered card: its outermost pixels, all four sides."""
    if dark:
        request.getfixturevalue("dark_palette")
    win = make_window()
    card = win.empty_state
    qtbot.waitUntil(lambda: card.isVisible() and card.state() == "no_folder")
    canvas = win.photo_view.backgroundBrush().color()
    image = card.grab().toImage()
    w, h = image.width(), image.height()
    edge = [image.pixelColor(x, y) for x, y in ((0, h // 2), (w - 1, h // 2), (w // 2, 0), (w // 2, h - 1))]
    ratios = [round(look.contrast(c, canvas), 2) for c in edge]
    assert min(ratios) >= look.NON_TEXT_CONTRAST, (ratios, [c.getRgb() for c in edge])
    pal = card.palette()  # palette-derived: between the card's window colour and its text
    window, text = pal.color(QPalette.ColorRole.Window), pal.color(QPalette.ColorRole.WindowText)
    for c in edge:
        assert all(min(a, b) - 1 <= v <= max(a, b) + 1 for v, a, b in zip(c.getRgb()[:3], window.getRgb()[:3], text.getRgb()[:3]))
    if dark:
        assert look.contrast(window, canvas) < look.NON_TEXT_CONTRAST  # what the edge is for


@pytest.mark.parametrize("dark", [False, True])
def test_bib_table_text_reads_in_light_and_dark_palettes(qapp, dark, request):
    from bibtagger_gui.core.startlist import StartList
    from bibtagger_gui.gui.bib_panel import COL_CONFIDENCE, COL_NUMBER, BibPanel

    if dark:
        request.getfixturevalue("dark_palette")
    panel = BibPanel()
    bibs = [_bib(s, c, str(100 + i), i) for i, (s, c) in enumerate(_all_states())]
    panel.show_item(None, bibs, None)
    base = panel.table.palette().color(QPalette.ColorRole.Base)
    for r, b in enumerate(bibs):
        cell = panel.table.item(r, COL_NUMBER)
        fg = cell.foreground().color() if cell.foreground().style() != Qt.BrushStyle.NoBrush else panel.table.palette().color(QPalette.ColorRole.Text)
        assert look.contrast(fg, base) >= 4.5, (b.source, b.confidence, fg.getRgb())  # orange text on white: 2:1
        assert not cell.icon().isNull()  # the box's colour and line, as an icon
        state = look.bib_look(b.source, b.confidence)
        assert state.words in panel.table.item(r, COL_CONFIDENCE).toolTip()
        if state.mark and b.source == "model":
            assert panel.table.item(r, COL_CONFIDENCE).text().endswith(state.mark)
    # an off-list number: its own background, and text that reads on it whatever the palette's text is
    panel.set_startlist(StartList(entries={"1234": "Cleo Park"}))
    cell = panel.table.item(0, COL_NUMBER)
    assert "not on start list" in cell.toolTip()
    assert look.contrast(cell.foreground().color(), cell.background().color()) >= 4.5
    # the key help under the buttons uses the palette's text colour (a fixed grey was 2.6:1 on dark)
    panel.ensurePolished()
    help_fg = panel.help.palette().color(panel.help.foregroundRole())
    assert look.contrast(help_fg, panel.help.palette().color(QPalette.ColorRole.Window)) >= 4.5


# ---------------------------------------------------------------- 3. high DPI

_DRAW_AT_SCALE = r"""
import json, sys
from types import SimpleNamespace
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from bibtagger_gui.gui.photo_view import PhotoView

app = QApplication([])
view = PhotoView()
view.resize(801, 601)
view.show()
app.processEvents()
photo = SimpleNamespace(width=4000, height=3000, error="not decoded in this test", relpath="x.jpg")
view.set_photo(photo, ".")
view.fit()
app.processEvents()
got = []
view.boxDrawn.connect(got.append)
view.start_drawing()
# what a real mouse gives at a fractional scale: physical pixels / scale, between logical pixels
scale = app.devicePixelRatio()
a, b = QPointF(151 / scale, 137 / scale), QPointF(563 / scale, 419 / scale)
vp = view.viewport()
for kind, pos, buttons in ((QEvent.Type.MouseButtonPress, a, Qt.MouseButton.LeftButton),
                           (QEvent.Type.MouseMove, b, Qt.MouseButton.LeftButton),
                           (QEvent.Type.MouseButtonRelease, b, Qt.MouseButton.NoButton)):
    app.sendEvent(vp, QMouseEvent(kind, pos, vp.mapToGlobal(pos), Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier))
inv = view.viewportTransform().inverted()[0]
pa, pb = inv.map(a), inv.map(b)
print(json.dumps({"scale": scale, "zoom": view.zoom_level(), "box": got[0] if got else None,
                  "expected": [pa.x(), pa.y(), pb.x(), pb.y()]}))
"""


@pytest.mark.parametrize("scale", ["1.5", "2"])
def test_a_box_drawn_with_the_mouse_at_a_fractional_scale_factor_is_where_the_mouse_was(tmp_path, scale):
    """QT_SCALE_FACTOR=1.5 puts mouse positions between logical pixels; the drawn box must be the photo
    pixels under them (``mapToScene(QPoint)`` rounded first: ~1.7 photo px off on a fitted 4000 px photo)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale}
    out = subprocess.run([sys.executable, "-c", _DRAW_AT_SCALE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["scale"] == float(scale) and res["zoom"] < 0.5  # the scale is on; one screen px is > 2 photo px
    assert res["box"] is not None
    assert res["box"] == pytest.approx(res["expected"], abs=0.051)  # boxDrawn rounds to 0.1 px


_LINE_AT_SCALE = r"""
import json
from types import SimpleNamespace
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication
from bibtagger_gui.gui.look import SKY_BLUE
from bibtagger_gui.gui.photo_view import PhotoView

app = QApplication([])
view = PhotoView()
view.resize(400, 300)
view.show()
app.processEvents()
view.set_photo(SimpleNamespace(width=400, height=300, error="not decoded", relpath="x.jpg"), ".")
bib = SimpleNamespace(id=1, number="12", box=(100.0, 100.0, 300.0, 200.0), source="model", confidence=0.99)
view.set_bibs([bib], None)
view.fit()
app.processEvents()
img = view.viewport().grab().toImage()
dpr = img.devicePixelRatio()
bottom = view.mapFromScene(200, 200)  # the box's bottom edge, in the middle
x = round(bottom.x() * dpr)
near = lambda c: abs(c.red() - SKY_BLUE.red()) + abs(c.green() - SKY_BLUE.green()) + abs(c.blue() - SKY_BLUE.blue()) < 60
ys = [y for y in range(round((bottom.y() - 8) * dpr), round((bottom.y() + 8) * dpr)) if near(QColor(img.pixel(x, y)))]
print(json.dumps({"dpr": dpr, "thickness": len(ys)}))
"""


def test_box_lines_keep_their_thickness_in_logical_pixels_at_200_percent(tmp_path):
    """A cosmetic pen is measured in device pixels: at QT_SCALE_FACTOR=2 the 2 px box line was drawn 2
    physical pixels thick, half as thick as the tags and text around it."""
    thick = {}
    for scale in ("1", "2"):
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale}
        out = subprocess.run([sys.executable, "-c", _LINE_AT_SCALE], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        res = json.loads(out.stdout.strip().splitlines()[-1])
        assert res["dpr"] == float(scale)
        thick[scale] = res["thickness"]
    assert thick["1"] >= 2 and thick["2"] >= 2 * thick["1"], thick


# ---------------------------------------------------------------- 4. keyboard and screen readers


def _usable_widgets(root):
    """The widgets a user operates (buttons, fields, lists, the photo), Qt's own sub-widgets left out."""
    from PySide6.QtWidgets import QAbstractButton, QAbstractItemView, QComboBox, QGraphicsView, QLineEdit, QProgressBar

    kinds = (QAbstractButton, QComboBox, QLineEdit, QAbstractItemView, QGraphicsView, QProgressBar)
    out = []
    for w in root.findChildren(QWidget):
        if not isinstance(w, kinds) or w.objectName().startswith("qt_"):
            continue
        if any(isinstance(a, (QComboBox, QLineEdit, QAbstractItemView)) for a in _ancestors(w, root)):
            continue  # a combo's popup list, a line edit's clear button, a table's header
        out.append(w)
    return out


from PySide6.QtWidgets import QWidget  # noqa: E402


def _ancestors(w, root):
    p = w.parentWidget()
    while p is not None and p is not root:
        yield p
        p = p.parentWidget()


def test_every_usable_widget_of_the_window_has_an_accessible_name_and_a_tooltip(qtbot, make_window):
    win = make_window()
    widgets = _usable_widgets(win)
    assert len(widgets) >= 8  # list, filter, search, photo, table, number, 3 buttons, cancel, progress
    unnamed = [f"{type(w).__name__} {w.objectName()!r}" for w in widgets if not w.accessibleName() or not w.toolTip()]
    assert unnamed == []


def test_tooltips_and_search_hint_show_the_users_own_keys(qtbot, tmp_path, monkeypatch, qapp):
    from PySide6.QtCore import QSettings

    from bibtagger_gui.gui.main_window import MainWindow

    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"draw_box": "N", "search": "Ctrl+G", "accept_photo": ["Ctrl+Return"]}))
    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(path))
    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    tips = {b.defaultAction().objectName(): b.toolTip() for b in win.panel.button_widgets()}
    assert tips["draw_box"] == "Draw Box (N)" and tips["accept_photo"] == "Accept Photo (Ctrl+Return)"
    assert tips["delete_bib"] == "Delete Bib (Delete)"
    assert "(N)" in win.panel.button_widgets()[1].accessibleDescription()
    assert win.search_edit.placeholderText() == "Search bib number (Ctrl+G)"  # was a fixed "(Ctrl+F)"
    assert "(N)" in win.photo_view.accessibleDescription()


def test_the_review_filter_is_reachable_from_the_menu_without_a_mouse(qtbot, make_window, tmp_path, monkeypatch):
    from bibtagger_gui.core.review import ReviewFilter

    win = make_window()
    assert [a.text() for a in win.filter_menu.actions()] == [f.label for f in ReviewFilter]
    win.filter_actions[ReviewFilter.REVIEWED].trigger()
    assert win.filter is ReviewFilter.REVIEWED and win.filter_box.currentData() == ReviewFilter.REVIEWED.value
    win.filter_box.setCurrentIndex(win.filter_box.findData(ReviewFilter.NO_BIB.value))  # the box and the menu agree
    assert win.filter_actions[ReviewFilter.NO_BIB].isChecked() and not win.filter_actions[ReviewFilter.REVIEWED].isChecked()


def test_a_box_can_be_drawn_and_numbered_with_the_keyboard_alone(qtbot, make_window, tmp_path, monkeypatch):
    make_photos(tmp_path / "p", 2)
    fixed_predictions(monkeypatch, {})
    win = make_window()
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    first = win.current_id

    def key(k, mod=Qt.KeyboardModifier.NoModifier):
        qtbot.keyClick(QApplication.focusWidget(), k, mod)

    key(Qt.Key.Key_B)
    assert win.photo_view.drawing and QApplication.focusWidget() is win.photo_view
    key(Qt.Key.Key_Right)  # puts a box in the middle; does not go to the next photo
    rubber = win.photo_view._rubber
    assert rubber is not None and win.current_id == first
    r0 = rubber.rect()
    key(Qt.Key.Key_Right)
    key(Qt.Key.Key_Down)
    key(Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    r1 = rubber.rect()
    assert r1.left() > r0.left() and r1.top() > r0.top() and r1.width() > r0.width() and r1.height() == r0.height()
    key(Qt.Key.Key_Return)  # takes the box (does not accept the photo)
    assert QApplication.focusWidget() is win.number_edit and win.current_id == first
    qtbot.keyClicks(win.number_edit, "77")
    key(Qt.Key.Key_Return)
    (bib,) = win.store.bibs(first)
    assert bib.number == "77" and bib.box == pytest.approx((r1.left(), r1.top(), r1.right(), r1.bottom()), abs=0.051)
    assert not win.store.photo(first).reviewed
    key(Qt.Key.Key_Right)  # drawing is over: Right is the next photo again
    assert win.current_id != first


def test_mturk_dialog_widgets_are_named_and_tab_goes_filter_list_feedback(qtbot, project):
    from tests.test_gui_mturk import open_dialog

    src, _folder, store = project
    dialog = open_dialog(qtbot, src, store)
    widgets = _usable_widgets(dialog)
    unnamed = [f"{type(w).__name__} {w.objectName()!r}" for w in widgets if not w.accessibleName() or not w.toolTip()]
    assert unnamed == []
    assert "(A)" in dialog.approve_button.toolTip()
    order, w = [], dialog.filter_box
    for _ in range(3):
        order.append(w)
        w = w.nextInFocusChain()
        while not (w.focusPolicy() & Qt.FocusPolicy.TabFocus) or not w.isEnabled() or w is dialog:
            w = w.nextInFocusChain()
    assert order == [dialog.filter_box, dialog.table, dialog.feedback]
