"""List model of the review queue: one row per photo, no image loading in ``data()``.

Rows are :class:`~bibtagger_gui.core.review.ReviewItem` snapshots already in
memory (built by core.review from the store), so ``data()`` is a dict lookup.
Thumbnails come from :class:`ThumbnailProvider` (async; a placeholder until ready).
Rows are exposed lazily in batches through ``canFetchMore``/``fetchMore`` so that
views of 10,000+ photos lay out only what they show.
"""

from __future__ import annotations

from operator import attrgetter, is_
from pathlib import PurePosixPath
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from bibtagger_gui.core import name_match
from bibtagger_gui.core.review import ReviewItem
from bibtagger_gui.gui import look
from bibtagger_gui.gui.thumbnails import ThumbnailProvider

PhotoIdRole = Qt.ItemDataRole.UserRole + 1
ItemRole = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex
_PHOTO_ID = attrgetter("photo.id")
_RELPATH = attrgetter("photo.relpath")


class PhotoListModel(QAbstractListModel):
    """Review-queue rows over ReviewItem snapshots."""

    BATCH = 500

    def __init__(self, thumbnails: ThumbnailProvider | None = None, parent=None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self._items: list[ReviewItem] = []
        self._row_of: dict[int, int] = {}
        self._labels: dict[str, str] = {}  # relpath -> what the row names it by, for names several photos share
        self._loaded = 0
        self._placeholder: QIcon | None = None
        self._error_icon: QIcon | None = None
        if thumbnails is not None:
            thumbnails.ready.connect(self._thumb_changed)
            thumbnails.failed.connect(lambda pid, _msg: self._thumb_changed(pid))

    # ---- content
    def set_items(self, items: list[ReviewItem], labels: dict[str, str] | None = None,
                  ids: list[int] | None = None) -> None:
        """Show ``items``; ``labels``: what ``name_match.list_labels`` gives for their relpaths, and ``ids``: their
        photo ids in order, when the caller keeps them (the window's ``ReviewIndex.labels`` and ``queue_ids``), else
        worked out here. The same snapshots in the same order as shown already (a keystroke that changed no row)
        keep the rows as they are: no model reset, so the view lays out nothing again (docs/gui.md#search-keystrokes)."""
        items = list(items)
        if labels is None:  # two cards' IMG_0001.JPG: the row shows as much of the folder as tells them apart
            labels = name_match.list_labels(map(_RELPATH, items))
        if len(items) == len(self._items) and all(map(is_, items, self._items)) and labels == self._labels:
            return
        self.beginResetModel()
        self._items = items
        ids = list(map(_PHOTO_ID, items)) if ids is None else ids
        self._row_of = dict(zip(ids, range(len(items))))
        self._labels = labels
        self._loaded = min(self.BATCH, len(self._items))
        self.endResetModel()

    @property
    def items(self) -> list[ReviewItem]:
        return self._items

    def total(self) -> int:
        """Rows in the queue, fetched or not."""
        return len(self._items)

    def item(self, row: int) -> ReviewItem:
        return self._items[row]

    def row_of(self, photo_id: int) -> int | None:
        return self._row_of.get(photo_id)

    def ensure_fetched(self, row: int) -> None:
        """Make sure ``row`` is exposed to views (fetching batches up to it)."""
        if row >= self._loaded and row < len(self._items):
            new = min(len(self._items), max(row + 1, self._loaded + self.BATCH))
            self.beginInsertRows(QModelIndex(), self._loaded, new - 1)
            self._loaded = new
            self.endInsertRows()

    def update_item(self, item: ReviewItem) -> None:
        """Replace the snapshot of one photo (it keeps its row until the queue is rebuilt)."""
        row = self._row_of.get(item.photo_id)
        if row is None:
            return
        self._items[row] = item
        if row < self._loaded:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def _thumb_changed(self, photo_id: int) -> None:
        row = self._row_of.get(photo_id)
        if row is not None and row < self._loaded:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole])

    # ---- Qt model API
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._loaded

    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:
        return not parent.isValid() and self._loaded < len(self._items)

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:
        if not parent.isValid():
            self.ensure_fetched(self._loaded)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= self._loaded:
            return None
        item = self._items[index.row()]
        photo = item.photo
        if role == Qt.ItemDataRole.DisplayRole:
            name = self._labels.get(photo.relpath) or PurePosixPath(photo.relpath).name
            if item.bibs:
                nums = ", ".join(item.numbers)
            elif photo.error:
                nums = "error"
            else:
                nums = "no bib" if getattr(photo, "model_version", "") else "not recognized yet"
            # the row's state in text, not only in its background colour
            mark = "✓ " if photo.reviewed else "⚠ " if item.conflict or photo.error else ""
            state = " · conflict" if item.conflict and not photo.reviewed else ""
            return f"{mark}{name}{state}\n{nums}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self.spoken(item)
        if role == Qt.ItemDataRole.DecorationRole:
            if photo.error:
                return self._error()
            if self.thumbnails is not None:
                if self.thumbnails.failure(photo.id):
                    return self._error()
                icon = self.thumbnails.icon(photo)
                if icon is not None:
                    return icon
            return self._placeholder_pixmap()
        if role == Qt.ItemDataRole.ToolTipRole:
            error = photo.error or (self.thumbnails.failure(photo.id) if self.thumbnails else None)
            lines = [photo.relpath]
            if error:
                lines.append(f"Error: {error}")
            else:
                lines.append(f"{len(item.bibs)} bib(s): {', '.join(item.numbers) or '-'}")
                lines.append("reviewed" if photo.reviewed else f"confidence {item.confidence:.2f}")
                if item.conflict:
                    lines.append("conflict: model and people disagree")
            return "\n".join(lines)
        # colours follow the palette (a dark one too): a red that reads on its base, tints of its base
        if role == Qt.ItemDataRole.ForegroundRole:
            if photo.error:  # a red that reads on this row's own background (a conflict's tint too)
                background = self.data(index, Qt.ItemDataRole.BackgroundRole)
                base = background.color() if background is not None else look.palette().color(QPalette.ColorRole.Base)
                return QBrush(look.readable_on(look.warning_text(), base))
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            if photo.reviewed:
                return QBrush(look.tint(look.BLUISH_GREEN))
            if item.conflict:
                return QBrush(look.tint(look.ORANGE))
            return None
        if role == PhotoIdRole:
            return photo.id
        if role == ItemRole:
            return item
        return None

    def spoken(self, item: ReviewItem) -> str:
        """The row in words for a screen reader (Qt's AccessibleTextRole): name, state, bibs; no "✓"/"⚠" marks.
        "IMG_1.jpg, reviewed, bibs 101, 7" / "IMG_2.jpg, not reviewed, conflict: model and people disagree, bibs 12, 13"."""
        photo = item.photo
        parts = [self._labels.get(photo.relpath) or PurePosixPath(photo.relpath).name,
                 "reviewed" if photo.reviewed else "not reviewed"]  # fmt: skip
        if item.conflict and not photo.reviewed:
            parts.append("conflict: model and people disagree")
        error = photo.error or (self.thumbnails.failure(photo.id) if self.thumbnails else None)
        if error:
            parts.append(f"error: {error}")
        elif item.bibs:
            parts.append(f"bib{'s' if len(item.bibs) > 1 else ''} {', '.join(item.numbers)}")
        else:
            parts.append("no bib" if getattr(photo, "model_version", "") else "not recognized yet")
        return ", ".join(parts)

    # ---- cheap shared decorations (made once, no image decode)
    def _placeholder_pixmap(self) -> QIcon:
        if self._placeholder is None:
            size = self.thumbnails.size if self.thumbnails else 96
            pix = QPixmap(QSize(size, size * 2 // 3))
            pix.fill(QColor(200, 200, 200))
            self._placeholder = QIcon(pix)
        return self._placeholder

    def _error(self) -> QIcon:
        if self._error_icon is None:
            self._error_icon = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        return self._error_icon
