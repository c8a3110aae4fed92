"""Windows that fit the screen they open on: laptops at 1366x768 and 1280x720, Full HD at 150 % and 200 %
(docs/gui.md#small-screens).

A window asks for a comfortable size (the main window 1400x900, the MTurk review 1300x800); on a smaller
screen it is shrunk to the screen's available area less a window manager's title bar and frame
(:data:`FRAME`), never below its own minimum size hint, which every window keeps within the smallest
supported screen (:data:`SUPPORTED_SCREENS`). Sizes are Qt's logical pixels: a 1920x1080 screen at
200 % is 960x540 of them.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication, QPainter
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QWidget

#: the screens the app is laid out for, in logical pixels (physical size / scale factor): name -> size
SUPPORTED_SCREENS: dict[str, QSize] = {
    "1366x768": QSize(1366, 768),
    "1280x720": QSize(1280, 720),
    "1920x1080 at 150 %": QSize(1280, 720),
    "1920x1080 at 200 %": QSize(960, 540),
}

#: a window manager's title bar and borders around a window's client area (logical pixels), assumed while
#: Qt does not know the real frame (a window not shown yet has none)
FRAME = QSize(16, 40)
#: a desktop's panel or taskbar: ``availableGeometry`` leaves it out on a real desktop, a target size does not
PANEL = 48


def smallest_screen() -> QSize:
    """The smallest supported screen in each direction (logical pixels)."""
    return QSize(min(s.width() for s in SUPPORTED_SCREENS.values()), min(s.height() for s in SUPPORTED_SCREENS.values()))


def room_on(screen: QSize) -> QSize:
    """The client area a window gets on a screen of ``screen`` logical pixels (less :data:`FRAME` and :data:`PANEL`)."""
    return QSize(screen.width() - FRAME.width(), screen.height() - FRAME.height() - PANEL)


def available(widget: QWidget) -> QRect:
    """The available geometry of the screen ``widget`` (else its parent window, else the primary screen) is on."""
    for w in (widget, widget.parentWidget()):
        if w is not None and w.screen() is not None:
            return w.screen().availableGeometry()
    screen = QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1280, 720)


def frame_extra(widget: QWidget) -> QSize:
    """The frame around ``widget``'s client area: its real one once shown, else :data:`FRAME` (the screen's
    available area already leaves out the desktop's panels)."""
    frame, inner = widget.frameGeometry(), widget.geometry()
    if widget.isVisible() and frame.size() != inner.size():
        return QSize(frame.width() - inner.width(), frame.height() - inner.height())
    return QSize(FRAME)


def fitted(wanted: QSize, minimum: QSize, area: QSize) -> QSize:
    """``wanted`` shrunk to ``area`` in each direction, but never below ``minimum``."""
    return QSize(max(minimum.width(), min(wanted.width(), area.width())), max(minimum.height(), min(wanted.height(), area.height())))


def resize_within(widget: QWidget, width: int, height: int) -> QSize:
    """Resize ``widget`` (a window) to ``width`` x ``height``, or less on a screen where that does not fit
    (its frame included); returns the size given."""
    screen, extra = available(widget).size(), frame_extra(widget)
    area = QSize(screen.width() - extra.width(), screen.height() - extra.height())
    size = fitted(QSize(width, height), widget.minimumSizeHint().expandedTo(widget.minimumSize()), area)
    widget.resize(size)
    return size


def fits(widget: QWidget, area: QSize) -> bool:
    """Whether ``widget``'s minimum size (hint) fits in ``area``."""
    need = widget.minimumSizeHint().expandedTo(widget.minimumSize())
    return need.width() <= area.width() and need.height() <= area.height()


class ElidedLabel(QLabel):
    """A one-line label that asks only for a few characters and grows (up to its whole text) into the room
    left, showing as much of its text as fits, with "…" at ``mode``. A plain label asked for its whole text
    and a status bar cut what came after it on a narrow window (the counts, the progress bar). The whole
    text stays in :meth:`text` (give it a tooltip too)."""

    def __init__(self, text: str = "", mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle, parent: QWidget | None = None):
        super().__init__(parent)
        self.mode = mode
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        margins = self.contentsMargins()
        self.setMaximumWidth(self.fontMetrics().horizontalAdvance(text) + margins.left() + margins.right() + 2)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.fontMetrics().horizontalAdvance("…") * 8, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSizeHint()

    def shown_text(self) -> str:
        """The text as painted at the current width."""
        return self.fontMetrics().elidedText(self.text(), self.mode, self.contentsRect().width())

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(self.alignment()), self.shown_text())


class FittingProgressBar(QProgressBar):
    """A progress bar whose text is the first of its formats (:meth:`set_texts`: ``%v``, ``%m``, ``%p`` as in
    ``setFormat``) that fits its width, else the last one elided in its middle. A bar draws its text centred and
    clips it: a text wider than the bar lost both ends ("ing models: comparing on held-out pho", "ecognizing
    5000/100" beside a fine-tune on a small screen). Give the whole text as its tooltip or accessible description."""

    TEXT_MARGIN = 8  # the style's room around the text (pixels, both sides together)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.texts: list[str] = []

    def set_texts(self, *texts: str) -> None:
        """The formats to show, the preferred (longest) first."""
        self.texts = list(texts)
        self.update()

    def _filled(self, text: str) -> str:
        span = self.maximum() - self.minimum()
        percent = (self.value() - self.minimum()) * 100 // span if span > 0 else 0
        return text.replace("%v", str(self.value())).replace("%m", str(self.maximum())).replace("%p", str(percent))

    def text(self) -> str:  # noqa: D102 (QProgressBar's virtual: the style draws what it returns)
        shown = super().text()  # empty while busy (no range) or before any value
        if not self.texts or not shown:
            return shown
        room, metrics = self.contentsRect().width() - self.TEXT_MARGIN, self.fontMetrics()
        texts = [self._filled(t) for t in self.texts]
        return next((t for t in texts if metrics.horizontalAdvance(t) <= room),
                    metrics.elidedText(texts[-1], Qt.TextElideMode.ElideMiddle, room))  # fmt: skip
