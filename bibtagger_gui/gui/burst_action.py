"""Burst tools of the review (Edit menu, keys in the one key map): Copy Bibs from Previous Photo
(``copy_prev_bibs``, Ctrl+D) and Apply This Fix to the Burst (``apply_fix_to_burst``, Ctrl+B), and the
status-bar hint after a fix that other frames of the burst could take.

The rules are Qt-free: bursts in ``core.bursts``, what each tool changes in ``core.burst_edits``. Each use
is one undo step written at once through the window's ``push_edit`` (a ``CopyBibsCommand`` on one photo,
a ``BurstFixCommand`` over the burst's photos in one transaction). docs/bursts.md.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer

from bibtagger_gui.core import bursts, review
from bibtagger_gui.core.burst_edits import boxes_carry, plan_copy, plan_fix
from bibtagger_gui.gui.commands import BatchEditCommand, BurstFixCommand, CopyBibsCommand, number_fix
from bibtagger_gui.gui.feature_controller import FeatureController

#: how many photo names a status message lists before "+N more"
NAMES_SHOWN = 4
#: the capture timeline of a folder just read (or whose photos changed their names or times) is built this long
#: after, while the window is idle, not by the first Ctrl+D / Ctrl+B (30-40 ms at 10,000 photos): after the list
#: is shown, never on the key's path
WARM_MS = 100


def _names(relpaths: list[str]) -> str:
    more = f" +{len(relpaths) - NAMES_SHOWN} more" if len(relpaths) > NAMES_SHOWN else ""
    return ", ".join(relpaths[:NAMES_SHOWN]) + more


class BurstController(FeatureController):
    """The burst tools of one window (``window.burst_controller``)."""

    say_ms = 8000

    def __init__(self, window: Any):
        super().__init__(window)
        window.undo_stack.indexChanged.connect(self._hint_after_fix)
        # the timeline built ahead of the keys: after the list is rebuilt (a folder opened, a job's end, F5) or a
        # photo refreshed (another program renamed or re-timed it) left the window's index without one
        self.warm_timer = QTimer(window)
        self.warm_timer.setSingleShot(True)
        self.warm_timer.setInterval(WARM_MS)
        self.warm_timer.timeout.connect(self.warm_timeline)
        window.list_model.modelReset.connect(self._schedule_warm)
        window.list_model.dataChanged.connect(self._schedule_warm)

    def _schedule_warm(self, *_args: Any) -> None:
        w = self.window
        if w.store is not None and not w.items.timeline_built and not self.warm_timer.isActive():
            self.warm_timer.start()

    def warm_timeline(self) -> bool:
        """Build the window's capture timeline now if it has none (True when it built one). Always from the index's
        snapshots of this moment, which drop it again when a photo comes, goes or changes its name or time: a key
        never sees one older than the photos."""
        w = self.window
        if w.store is None or w.items.timeline_built or not w.items:
            return False
        w.items.timeline()
        return True

    # ---------------------------------------------------------------- helpers
    def _key(self, action: str, menu: str) -> str:
        return self.window.keymap.text(action) or menu

    def _timeline(self) -> bursts.Timeline:
        """The capture order and bursts of the folder's photos, kept by the window's snapshots (built again only
        when a photo's name or capture time changed: a key press over 10,000 photos stays cheap)."""
        return self.window.items.timeline()

    def _relpath(self, photo_id: int) -> str:
        item = self.window.items.get(photo_id)
        return item.photo.relpath if item is not None else f"photo {photo_id}"

    # ---------------------------------------------------------------- copy from the previous photo
    def copy_previous(self) -> bool:
        """Ctrl+D: the bibs of the photo taken just before this one (capture order) onto it, as one undo step."""
        w = self.window
        if w._no_photo_shown():
            return False
        if w._box_waits_for_number():  # a drawn box waiting for its number went without a word
            return False
        w._commit_entry()  # a number typed here is saved first (its own undo step), so the copy sees it
        prev_id = self._timeline().previous_frame(w.current_id)
        if prev_id is None:
            item = w.items.get(w.current_id)
            if item is not None and bursts.capture_time(item.photo) is None:
                return self._say("This photo has no capture time (no EXIF date, no file time): there is no previous "
                                 "photo to copy bibs from", photo=True)  # fmt: skip
            return self._say("This is the first photo taken in its folder: there is no previous photo to copy bibs from",
                             photo=True)
        try:
            prev, cur = review.item_for(w.store, prev_id), review.item_for(w.store, w.current_id)
        except KeyError:
            return self._say("The previous photo is no longer in the folder; nothing copied", photo=True)
        if not prev.bibs:
            return self._say(f"The previous photo ({prev.photo.relpath}) has no bib to copy", photo=True)
        in_burst = self._timeline().same_burst(prev_id, w.current_id)
        keep, why = boxes_carry(prev.photo, cur.photo, in_burst)
        plan = plan_copy(prev.bibs, cur.bibs, keep, why)
        numbers = ", ".join(b.number for b in prev.bibs)
        if not plan.changes:
            return self._say(f"This photo already has the bibs of {prev.photo.relpath} ({numbers}) as your bibs; nothing copied", photo=True)
        command = CopyBibsCommand(w.ctx, w.current_id, plan, f"Copy bibs from {prev.photo.relpath}")
        if not w.push_edit(command):
            return False  # reported ("Not saved: …")
        parts = []
        if plan.add:
            boxes = "with their boxes" if keep else f"without boxes ({why})"
            parts.append(f"copied {', '.join(n for n, _ in plan.add)} {boxes}")
        if plan.retype:
            parts.append("replaced " + ", ".join(f"{old} with {new}" for _id, old, new in plan.retype)
                         + " (the same plate, read differently here)")
        if plan.confirm:
            confirmed = [r.number for r in cur.bibs if r.id in {i for i, _ in plan.confirm}]
            parts.append(f"confirmed {', '.join(confirmed)} (already here)")
        unreviewed = "" if prev.photo.reviewed else " (that photo is not reviewed yet: check them)"
        undo = self._key("undo", "Edit > Undo")
        return self._say(f"From {prev.photo.relpath}: {'; '.join(parts)}{unreviewed}; {undo} undoes it", 12000, photo=True) or True

    # ---------------------------------------------------------------- apply the last fix to the burst
    def last_fix(self) -> tuple[int, str, str] | None:
        """The fix to apply: the latest retyped model reading among the undo steps still done, looking back
        past later steps of that same photo only (an accept, a box moved, the fix of another bib)."""
        stack = self.window.undo_stack
        i = stack.index() - 1
        top = stack.command(i) if i >= 0 else None
        photo_id = getattr(top, "photo_id", None)
        while photo_id is not None and i >= 0:
            command = stack.command(i)
            if getattr(command, "photo_id", None) != photo_id:
                break
            fix = number_fix(command)
            if fix is not None:
                return fix
            i -= 1
        return None

    def frames(self, photo_id: int) -> tuple[int, ...]:
        """The burst of ``photo_id`` among the folder's photos (capture order), () when it has none."""
        return self._timeline().burst_of(photo_id)

    def apply_fix(self) -> bool:
        """Ctrl+B: the last fix A -> B on the other unreviewed frames of its burst whose model bib reads A."""
        w = self.window
        if w.store is None:
            return self._say("No folder is open")
        if w._box_waits_for_number():  # a drawn box waiting for its number went without a word
            return False
        w._commit_entry()  # a number being typed is a fix too: saved first, then applied
        fix = self.last_fix()
        if fix is None:
            top = w.undo_stack.command(w.undo_stack.index() - 1) if w.undo_stack.index() > 0 else None
            if isinstance(top, BurstFixCommand):
                _pid, old, new = top.fix
                return self._say(f"{old} → {new} was just applied to its burst ({self._key('undo', 'Edit > Undo')} "
                                 "takes it back); fix another reading first")  # fmt: skip
            return self._say("No fix to apply: retype a predicted number first (digits, Enter), then "
                             f"{self._key('apply_fix_to_burst', 'Edit > Apply This Fix to the Burst')}")  # fmt: skip
        photo_id, old, new = fix
        where = self._relpath(photo_id)
        frames = self.frames(photo_id)
        if not frames:
            return self._say(f"{where} is not part of a burst (no other photo of its folder taken within "
                             f"{bursts.GAP_S:g} s of it, or a run longer than {bursts.MAX_SPAN_S:g} s); nothing changed")  # fmt: skip
        items = []
        for pid in frames:
            try:
                items.append(review.item_for(w.store, pid))
            except KeyError:
                continue
        plan = plan_fix(items, photo_id, old, new)
        skipped = self._skipped_note(plan.skipped)
        if not plan.todo:
            return self._say(f"No other unreviewed photo of the burst of {where} ({len(frames)} frames) has a "
                             f"prediction reading {old}{skipped}; nothing changed", 10000)  # fmt: skip
        command = BurstFixCommand(w.ctx, plan, photo_id, shown=self._shown)
        if not w.push_edit(command):
            return False
        changed = [self._relpath(p) for p in command.photo_ids]
        if not changed:
            return self._say(f"The burst's photos changed meanwhile; no prediction reads {old} any more{skipped}")
        command.setText(f"Apply {old} → {new} to the burst ({len(changed)} photos)")
        undo = self._key("undo", "Edit > Undo")
        return self._say(f"{old} → {new} on {len(changed)} more photo(s) of the burst: {_names(changed)}{skipped}; "
                         f"{undo} undoes all of it", 15000) or True  # fmt: skip

    def _skipped_note(self, skipped: tuple[tuple[int, str], ...]) -> str:
        if not skipped:
            return ""
        return " (left alone: " + "; ".join(f"{self._relpath(p)}: {why}" for p, why in skipped) + ")"

    def _shown(self, command: BatchEditCommand, how: str) -> None:
        """After the burst fix wrote (apply, undo, redo) or failed: its photos re-read into the list and view."""
        w = self.window
        if w.store is None:
            return
        for pid in command.photo_ids:
            w.refresh_photo(pid)
        w._update_counts()
        if how in ("undo", "redo"):
            self._say(f"{'Undid' if how == 'undo' else 'Redid'} {command.text()}: {_names([self._relpath(p) for p in command.photo_ids])}")

    # ---------------------------------------------------------------- the hint after a fix
    def qualifying(self, photo_id: int, old: str, new: str) -> list[int]:
        """The frames a fix on ``photo_id`` would change, from the window's snapshots (no store read)."""
        frames = self.frames(photo_id)
        if not frames:
            return []
        items = [self.window.items[p] for p in frames if p in self.window.items]
        return [pid for pid, _bib in plan_fix(items, photo_id, old, new).todo]

    def _hint_after_fix(self, index: int) -> None:
        """Right after a model reading was retyped: say that the burst's other frames could take the fix."""
        command = self.window.undo_stack.command(index - 1) if index > 0 else None
        fix = number_fix(command)
        if fix is None or getattr(command, "burst_hinted", False):
            return
        command.burst_hinted = True  # once: its redo does not hint again
        photo_id, old, new = fix
        others = self.qualifying(photo_id, old, new)
        if others:
            key = self._key("apply_fix_to_burst", "Edit > Apply This Fix to the Burst")
            # the photo is named: a J/K commits a retyped number on its way on, and the hint (valid from any photo)
            # stays up on the next one (docs/gui.md#status-bar-messages)
            self._say(f"Bib {old} is now {new} on {self._relpath(photo_id)}; {len(others)} other unreviewed frame(s) of "
                      f"its burst read {old}: {key} fixes them too", 15000)  # fmt: skip


def install(window: Any) -> BurstController:
    """Edit > Copy Bibs from Previous Photo and Edit > Apply This Fix to the Burst (before Adjust Box)."""
    controller = BurstController(window)
    edit = window.edit_menu
    before = window.adjust_menu.menuAction() if getattr(window, "adjust_menu", None) is not None else None
    for name, text, slot in (
        ("copy_prev_bibs", "&Copy Bibs from Previous Photo", controller.copy_previous),
        ("apply_fix_to_burst", "Apply This &Fix to the Burst", controller.apply_fix),
    ):
        act = window._action(name, text, slot, None)
        if before is not None:
            edit.insertAction(before, act)
        else:
            edit.addAction(act)
    window.burst_controller = controller
    return controller
