"""How a bib's state looks, readable without colour, and colours that follow the system palette.

A bib box says who made it and how sure the model is three ways at once (docs/gui.md#accessibility):
a colour from the Okabe-Ito palette (told apart with the common colour-vision deficiencies), a
line style (solid: sure or a person's; dashed: check; dotted: doubtful) and a mark on its tag
("?" check, "!" doubtful, "✓" human, "MT" mturk). Text drawn on a colour picks black or white,
whichever contrasts more (:func:`text_on`). Backgrounds that flag a row are tints of the palette's
own base colour (:func:`tint`), so dark palettes keep their light text readable.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QWidget

from bibtagger_gui.core.review import LOW_CONFIDENCE


def name_widget(widget, name: str, description: str, tip: str | None = None) -> None:
    """What a screen reader says of a widget one can use (accessible name and description) and its
    tooltip (``tip``, else the description): one call, so no widget gets a name without the rest."""
    widget.setAccessibleName(name)
    widget.setAccessibleDescription(description)
    widget.setToolTip(tip if tip is not None else description)


class BuddyLabel(QLabel):
    """A field's visible label, its buddy, with an Alt key (``"&Show:"``): a screen reader names the field by it
    (a combo box's own name on Linux is its current value) and the Alt key goes to the field. For a combo box
    that takes no focus (the main window's filter and order boxes: the keys stay with the review) Qt's buddy
    key would do nothing, so it opens the box's list: arrows and Enter choose, Escape leaves it as it was."""

    def __init__(self, text: str, buddy: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setBuddy(buddy)

    def event(self, e: QEvent) -> bool:
        box = self.buddy()
        if e.type() == QEvent.Type.Shortcut and isinstance(box, QComboBox) and box.focusPolicy() == Qt.FocusPolicy.NoFocus:
            if box.isEnabled():
                box.showPopup()
            return True
        return super().event(e)


HIGH_CONFIDENCE = 0.95  # "sure": calibrated P(right) >= 0.95 (dev train split: 140 readings, 1 wrong)

# Okabe & Ito (2008), "Color Universal Design": distinguishable with protanopia, deuteranopia, tritanopia.
SKY_BLUE = QColor(86, 180, 233)
ORANGE = QColor(230, 159, 0)
VERMILLION = QColor(213, 94, 0)
BLUISH_GREEN = QColor(0, 158, 115)
REDDISH_PURPLE = QColor(204, 121, 167)
BLUE = QColor(0, 114, 178)
YELLOW = QColor(240, 228, 66)


@dataclass(frozen=True)
class BibLook:
    """How one bib state is drawn: colour, line style, tag mark and the same in words."""

    state: str  # "human" | "mturk" | "sure" | "check" | "doubtful"
    colour: QColor
    line: Qt.PenStyle
    mark: str
    words: str


LOOKS: dict[str, BibLook] = {
    "human": BibLook("human", BLUISH_GREEN, Qt.PenStyle.SolidLine, "✓", "typed or confirmed by a person"),
    "mturk": BibLook("mturk", REDDISH_PURPLE, Qt.PenStyle.SolidLine, "MT", "from an MTurk worker"),
    "sure": BibLook("sure", SKY_BLUE, Qt.PenStyle.SolidLine, "", f"model, sure (confidence {HIGH_CONFIDENCE:.2f} or more)"),
    "check": BibLook("check", ORANGE, Qt.PenStyle.DashLine, "?", f"model, check it (confidence {LOW_CONFIDENCE:.2f} to {HIGH_CONFIDENCE:.2f})"),
    "doubtful": BibLook("doubtful", VERMILLION, Qt.PenStyle.DotLine, "!", f"model, doubtful (confidence under {LOW_CONFIDENCE:.2f})"),
}


def bib_look(source: str, confidence: float | None) -> BibLook:
    """The look of a bib: people's bibs by source, model bibs by confidence."""
    if source in ("human", "mturk"):
        return LOOKS[source]
    c = confidence or 0.0
    if c >= HIGH_CONFIDENCE:
        return LOOKS["sure"]
    if c >= LOW_CONFIDENCE:
        return LOOKS["check"]
    return LOOKS["doubtful"]


def luminance(c: QColor) -> float:
    """WCAG relative luminance of an sRGB colour (0 black .. 1 white)."""

    def lin(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.red()) + 0.7152 * lin(c.green()) + 0.0722 * lin(c.blue())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio (1 .. 21); 4.5 is the minimum for normal text."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on ``background``."""
    black, white = QColor(0, 0, 0), QColor(255, 255, 255)
    return black if contrast(black, background) >= contrast(white, background) else white


def palette() -> QPalette:
    app = QApplication.instance()
    return app.palette() if app is not None else QPalette()  # type: ignore[union-attr]


def is_dark(pal: QPalette | None = None) -> bool:
    """True when the palette's base (list/table background) is dark."""
    return luminance((pal or palette()).color(QPalette.ColorRole.Base)) < 0.2


def tint(colour: QColor, amount: float = 0.25, pal: QPalette | None = None) -> QColor:
    """``colour`` mixed into the palette's base colour: a row background that keeps the palette's text readable."""
    base = (pal or palette()).color(QPalette.ColorRole.Base)
    mix = [round(b + (c - b) * amount) for b, c in zip(base.getRgb()[:3], colour.getRgb()[:3])]
    return QColor(*mix)


#: WCAG 2.1 SC 1.4.11 (non-text contrast): a component's edge against what lies next to it
NON_TEXT_CONTRAST = 3.0


def edge_on(canvas: QColor, pal: QPalette | None = None, ratio: float = NON_TEXT_CONTRAST) -> QColor:
    """An edge colour for a panel in the palette's window colour that lies on ``canvas``: the window colour
    mixed toward the palette's window text by the least step (of 10 %) that keeps ``ratio`` against
    ``canvas``; the text colour itself when no mix does (a light card on a light canvas: it stands out
    by its text then). A light palette's card already differs from the dark photo canvas: its edge is
    its own colour, no line drawn over it."""
    p = pal or palette()
    window, text = p.color(QPalette.ColorRole.Window), p.color(QPalette.ColorRole.WindowText)
    for step in range(11):
        a = step / 10
        mix = QColor(*(round(w + (t - w) * a) for w, t in zip(window.getRgb()[:3], text.getRgb()[:3])))
        if contrast(mix, canvas) >= ratio:
            return mix
    return text


def readable_on(colour: QColor, background: QColor, ratio: float = 4.5) -> QColor:
    """``colour`` as text on ``background``: itself when it keeps ``ratio``, else mixed toward black or white
    (whichever ``background`` contrasts more with) by the least step of 10 % that does. The error red on a
    row's orange conflict tint was 4.0:1; it stays a red, a little darker."""
    target = text_on(background)
    for step in range(11):
        a = step / 10
        mix = QColor(*(round(c + (t - c) * a) for c, t in zip(colour.getRgb()[:3], target.getRgb()[:3])))
        if contrast(mix, background) >= ratio:
            return mix
    return target


def dimmed_text(pal: QPalette | None = None, ratio: float = 4.5) -> QColor:
    """Text for rows that are done (decided, greyed): the palette's text mixed toward its base as far as keeps
    ``ratio`` against the base. The palette's disabled text is not for reading (1.9:1 on white in Fusion)."""
    p = pal or palette()
    text, base = p.color(QPalette.ColorRole.Text), p.color(QPalette.ColorRole.Base)
    best = text
    for step in range(1, 10):
        a = step / 10
        mix = QColor(*(round(t + (b - t) * a) for t, b in zip(text.getRgb()[:3], base.getRgb()[:3])))
        if contrast(mix, base) < ratio:
            break
        best = mix
    return best


def name_progress_dialog(dialog, name: str, description: str) -> None:
    """A QProgressDialog and its bar named for screen readers (Qt leaves the bar nameless: "progress bar 40 %")."""
    from PySide6.QtWidgets import QProgressBar

    name_widget(dialog, name, description)
    for bar in dialog.findChildren(QProgressBar):
        name_widget(bar, f"{name}: progress", description)


def warning_text(pal: QPalette | None = None) -> QColor:
    """A red for error text that keeps 4.5:1 on the palette's base (darker on light, lighter on dark)."""
    return QColor(255, 130, 120) if is_dark(pal) else QColor(180, 30, 30)
