"""Recognition > "Improve Models from Reviewed Photos…": fine-tune the models in use on the open folder's
reviewed photos, in a child process, and offer the result (docs/training.md#fine-tuning-from-the-app).

The app never imports torch: the fine-tune is ``python -m training finetune --progress-json`` run by a
QProcess, its JSON lines feed a progress bar in the status bar, and what it writes (finetune.json) is read
back by ``core.finetune_run``. The user reviews on meanwhile. Cancel (or stopping it when the window closes
or another folder opens) sends SIGINT where there is one, so finetune removes its partial folder itself;
whatever is left (a kill on Windows, a run that finished as it was stopped) is removed here, so a stopped
run leaves no model folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from bibtagger_gui.core import finetune_run as fr
from bibtagger_gui.core.training_labels import crowd_note, training_set, unreviewed_crowd_photos
from bibtagger_gui.gui import look, screen_fit
from bibtagger_gui.gui.feature_controller import FeatureController

log = logging.getLogger(__name__)
TITLE = "Improve Models"
GRACE_MS = 20000  # after SIGINT, finetune removes its work folder and exits; killed if it takes longer
#: the widest the error line of a failed run is shown (pixels), within the smallest supported screen
ERROR_LINE_PX = screen_fit.room_on(screen_fit.smallest_screen()).width() - 160
WAIT_MS = 300  # how often a finished run's dialog looks whether the reviewer stopped typing/drawing


def _label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    label.setAccessibleName(name)
    return label


class MessageDialog(QDialog):
    """A non-modal message with named buttons; ``clicked(name)`` says which one was pressed."""

    clicked = Signal(str)

    def __init__(self, title: str, text: str, buttons: list[tuple[str, str, str]], parent=None, details: str = "",
                 unsolicited: bool = False):  # fmt: skip
        super().__init__(parent)
        # a dialog the user did not ask for just now (the end of a run) must not take a key press meant for the
        # review: no default button (Enter does nothing, Escape closes = keeps the models), the focus on its text
        self.unsolicited = unsolicited
        self.setWindowTitle(title)
        self.text = _label(text, title)
        self.text.setAccessibleDescription(text)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        self.details = None
        if details:
            self.details = QPlainTextEdit(details)
            self.details.setReadOnly(True)
            self.details.setMaximumHeight(160)
            look.name_widget(self.details, "Details", "What the fine-tune printed last")
            layout.addWidget(self.details)
        self.box = QDialogButtonBox()
        layout.addWidget(self.box)
        self.buttons: dict[str, QPushButton] = {}
        self.set_buttons(buttons)

    def set_buttons(self, buttons: list[tuple[str, str, str]]) -> None:
        """(name, text, what it does) of each button; the first is the default."""
        self.box.clear()
        self.buttons = {}
        for i, (name, text, tip) in enumerate(buttons):
            button = self.box.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
            look.name_widget(button, text.replace("&", ""), tip)
            button.clicked.connect(lambda _c=False, n=name: self.clicked.emit(n))
            button.setAutoDefault(not self.unsolicited)
            button.setDefault(i == 0 and not self.unsolicited)
            self.buttons[name] = button
        if self.unsolicited:
            self.text.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            self.text.setFocus()
        elif self.buttons:
            next(iter(self.buttons.values())).setFocus()

    def press(self, name: str) -> None:
        """What a click on that button does (tests, keyboard)."""
        self.buttons[name].click()


class UnavailableDialog(MessageDialog):
    """Why this app cannot fine-tune, with the commands to do it from a source install (copyable)."""

    def __init__(self, reason: str, commands: list[str], parent=None, notes: list[str] | None = None):
        super().__init__(TITLE, reason + "\n\nFrom a terminal, these commands install the training extras and "
                         "fine-tune this folder's models:", [("copy", "&Copy Commands", "Copy the commands to the clipboard"),
                                                             ("close", "Close", "Close this message")], parent)
        self.commands = QPlainTextEdit("\n".join(commands))
        self.commands.setReadOnly(True)
        self.commands.setMaximumHeight(120)
        look.name_widget(self.commands, "Commands", "The install and fine-tune commands for this folder; select and copy them")
        self.layout().insertWidget(1, self.commands)
        # made after the buttons: Tab went from Close back up to it. Now text, Copy Commands, Close, as shown
        chain = [self.commands, *self.buttons.values()]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)
        self.notes = None  # what to change in the commands, and which models they start from
        if notes:
            self.notes = _label("\n\n".join(notes), "Notes on the commands")
            self.layout().insertWidget(2, self.notes)
        self.clicked.connect(self._clicked)

    def _clicked(self, name: str) -> None:
        if name == "copy":
            QGuiApplication.clipboard().setText(self.commands.toPlainText())
        else:
            self.close()


class FinetuneController(FeatureController):
    """The fine-tune of one window: checks, the child process, its progress and its result."""

    finished = Signal(str)  # "done", "stopped", "failed"

    def __init__(self, window: Any):
        super().__init__(window)
        self.modules: tuple[str, ...] = fr.TRAIN_MODULES  # what must be importable (tests point it at a missing one)
        self.python = sys.executable
        self.extra_args: list[str] = []  # more finetune options (tests: a tiny run)
        self.data_dir: Path | None = None  # None: the user data dir
        self.process: QProcess | None = None
        self.out: Path | None = None
        self.photos: Path | None = None
        self.start_models: Path | None = None
        self.lines: list[str] = []
        self._partial = ""  # the child's output after its last newline
        self.stopping = False
        self.outcome = ""
        self.result: fr.Result | None = None
        self.stages_seen: set[str] = set()  # the run's stages so far (its progress lines)
        self.last_progress: fr.Progress | None = None
        self.dialog: MessageDialog | None = None  # the one dialog this action shows at a time
        self.wait_timer = QTimer(self)  # an unsolicited dialog waits while a number is typed or a box drawn
        self.wait_timer.setInterval(WAIT_MS)
        self.wait_timer.timeout.connect(self._show_when_idle)
        self.kill_timer = QTimer(self)
        self.kill_timer.setSingleShot(True)
        self.kill_timer.timeout.connect(self._kill)

        self.progress = screen_fit.FittingProgressBar()  # its text gives way on a narrow status bar
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(True)
        look.name_widget(self.progress, "Model improvement progress", "Progress of the fine-tune on the reviewed photos")
        self.stop_button = QPushButton("Stop Improving")
        look.name_widget(self.stop_button, "Stop improving models",
                         "Stop the fine-tune; no model folder is kept (also Recognition > Stop Improving Models)")
        self.stop_button.clicked.connect(self.cancel)
        for w in (self.progress, self.stop_button):
            w.hide()
            window.statusBar().addPermanentWidget(w)

    # ------------------------------------------------------------------ checks
    @property
    def running(self) -> bool:
        return self.process is not None

    def models_in_use(self) -> Path:
        from bibtagger_gui.core.recognizer import default_models_dir

        return Path(self.window.models_dir) if getattr(self.window, "models_dir", None) else default_models_dir()

    def trigger(self) -> MessageDialog | None:
        """The menu action: explain, refuse or ask to start (each a non-modal dialog, kept as ``self.dialog``)."""
        if self.running:
            return self._show("Improving models", "A fine-tune is already running (see the status bar).",
                              [("ok", "OK", "Close this message")])
        store, folder = getattr(self.window, "store", None), getattr(self.window, "folder", None)
        if store is None or folder is None:
            return self._show(TITLE, "Open a photo folder and review some of its photos first.", [("ok", "OK", "Close this message")])
        if self._refused_while_away("Improve Models not started"):  # the folder is away: nothing opened or written there
            return None
        self._save_typed_number()  # a fix being typed is in the labels counted and trained on
        models = self.models_in_use()
        out = fr.output_folder(folder, data_dir=self.data_dir)
        reason = fr.unavailable_reason(self.modules)
        if reason is not None:
            return self._explain_unavailable(reason, folder, models, out)
        material = fr.material_of(training_set(store).entries)
        crowd = crowd_note(unreviewed_crowd_photos(store))
        if not material.enough:
            return self._show(TITLE, f"{folder.name} has {material.describe()}. Fine-tuning needs at least "
                              f"{fr.MIN_BOXED_BIBS} reviewed bib with a box: review photos (Accept), drawing a box "
                              "around each bib that has none, then try again." + (f"\n\n{crowd}." if crowd else ""),
                              [("ok", "OK", "Close this message")])
        if not (models / "reader.pt").is_file():
            return self._show(TITLE, f"The models in use ({models}) have no reader.pt, the torch checkpoint a fine-tune "
                              "starts from (ONNX models cannot be trained further). Load a model folder that has one "
                              "(Recognition > Load Model Folder…): the bundled models and every folder this action "
                              "makes have it.", [("ok", "OK", "Close this message")])
        detector = "and the detector " if (models / "detector.pt").is_file() else ""
        members, left_out = fr.reader_members(models)
        readers = "the reader" if len(members) == 1 else f"the {len(members)} readers of the ensemble"
        skipped = f" (left out, no .pt to train from: {', '.join(n + '.onnx' for n in left_out)})" if left_out else ""
        text = (f"Fine-tune {readers}{skipped} {detector}on {material.describe()} of {folder.name}.\n\n"
                f"Starting from the models in use: {models}\nNew models go to: {out}\n\n"
                "This takes minutes for each reader (more with the detector) and runs in the background: keep reviewing "
                "meanwhile. Photos reviewed after the start are not used. When it is done, the current and the new models "
                "are compared on held-out photos and you choose whether to use the new ones."
                + (f"\n\n{crowd}." if crowd else ""))
        dialog = self._show(TITLE, text, [("start", "&Start", "Start the fine-tune in the background"),
                                          ("cancel", "Cancel", "Close without starting")])
        dialog.clicked.connect(lambda name: self.start(folder, models, out) if name == "start" else None)
        return dialog

    def _explain_unavailable(self, reason: str, folder: Path, models: Path, out: Path) -> MessageDialog:
        """Why this app cannot fine-tune, with the commands that do it from a source install."""
        self._close_dialog()
        self.dialog = UnavailableDialog(reason, fr.setup_lines(folder, models, out), self.window, fr.setup_notes(models))
        self.dialog.finished.connect(self.dialog.deleteLater)
        self.last_message = reason
        self.dialog.open()
        return self.dialog

    def _show(self, title: str, text: str, buttons: list[tuple[str, str, str]], details: str = "",
              unsolicited: bool = False) -> MessageDialog:  # fmt: skip
        """Asked for (the menu action): window-modal, not blocking. Unsolicited (a run's end): modeless."""
        self._close_dialog()
        self.last_message = text
        dialog = MessageDialog(title, text, buttons, self.window, details, unsolicited)
        dialog.clicked.connect(lambda _n: dialog.close())
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        if unsolicited:
            # the review goes on beside it: shown without taking the keyboard (keys typed for the photo stay
            # there; Alt+Tab or a click reaches it), and not while a number is typed or a box drawn
            dialog.setModal(False)
            dialog.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, True)
            self._show_when_idle()
        else:
            dialog.open()
        return dialog

    def _reviewer_busy(self) -> bool:
        w = self.window
        return getattr(w, "_entry", None) is not None or bool(getattr(w.photo_view, "drawing", False))

    def _show_when_idle(self) -> None:
        """Show the waiting unsolicited dialog once the reviewer is not typing a number or drawing a box."""
        dialog = self.dialog
        try:
            shown = dialog is None or dialog.isVisible()
        except RuntimeError:  # deleted meanwhile
            shown = True
        if shown:
            self.wait_timer.stop()
            return
        if self._reviewer_busy():
            self.wait_timer.start()
            return
        self.wait_timer.stop()
        dialog.show()

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            try:
                self.dialog.close()
            except RuntimeError:  # already deleted
                pass
            self.dialog = None

    # ------------------------------------------------------------------ the child
    def start(self, photos: Path, models: Path, out: Path) -> QProcess | None:
        """Run the fine-tune of ``photos`` from ``models`` into ``out`` (:meth:`trigger` makes the checks). Never in
        the packaged app, whatever the caller: its ``sys.executable`` is the app itself, so ``-m training`` would
        start another bibtagger instead of a Python (None; it explains as :meth:`trigger` does)."""
        if fr.is_frozen():
            log.error("fine-tune not started: the packaged app cannot run %s -m training", sys.executable)
            self._explain_unavailable(fr.unavailable_reason(frozen=True) or "", photos, models, out)
            return None
        argv = fr.finetune_command(self.python, photos, models, out, self.extra_args)
        self.photos, self.start_models, self.out = photos, models, out
        self.lines, self._partial, self.stopping, self.outcome, self.result = [], "", False, "", None
        self.stages_seen: set[str] = set()
        proc = QProcess(self)
        proc.setProgram(argv[0])
        proc.setArguments(argv[1:])
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        env = QProcessEnvironment.systemEnvironment()
        for key, value in fr.child_env({}).items():
            env.insert(key, value)
        proc.setProcessEnvironment(env)
        root = fr.source_root()
        proc.setWorkingDirectory(str(root or Path.home()))
        proc.readyReadStandardOutput.connect(self._read)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._process_error)
        self.process = proc
        log.info("fine-tune started: %s", fr.shell_line(argv))
        self._set_running(True)
        self._show_progress(fr.Progress("gather", 0, 1))
        proc.start()
        return proc

    def _read(self) -> None:
        proc = self.process
        if proc is None:
            return
        text = self._partial + bytes(proc.readAllStandardOutput().data()).decode("utf-8", "replace")
        *complete, self._partial = text.replace("\r\n", "\n").split("\n")
        for line in complete:
            step = fr.parse_progress(line)
            if step is not None:
                self._show_progress(step)
            elif line.strip():
                self.lines.append(line)
        del self.lines[:-500]  # the end says what happened; the run's log is in its folder (runs/)

    def _show_progress(self, step: fr.Progress) -> None:
        self.last_progress = step
        self.stages_seen.add(step.stage)
        label = fr.stage_label(step.stage)
        total = max(1, step.total)
        done = min(step.done, total)
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        self.progress.set_texts(f"Improving models: {label} %v/%m", f"{label} %v/%m", "%v/%m")
        self.progress.setAccessibleDescription(f"Improving models: {label} {step.done} of {step.total}")
        self.progress.setToolTip(f"Improving models: {label} {done}/{total}")

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.stop_button.setVisible(running)
        self.stop_button.setEnabled(running)
        self.action.setEnabled(not running)
        self.stop_action.setEnabled(running)

    def cancel(self) -> None:
        """Stop the child: SIGINT (finetune removes its work folder and says so), a kill after GRACE_MS."""
        proc = self.process
        if proc is None or self.stopping:
            return
        self.stopping = True
        self.stop_button.setEnabled(False)
        self.progress.set_texts("Stopping the fine-tune…", "Stopping…")
        pid = proc.processId()
        if os.name != "nt" and pid > 0:
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                proc.kill()
        else:  # no SIGINT for a child on Windows: killed, and its work folder removed in _finished
            proc.kill()
        self.kill_timer.start(GRACE_MS)

    def _kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def stop(self, wait_ms: int = GRACE_MS + 5000) -> None:
        """Stop a running fine-tune and wait for it (the window closes or another folder opens)."""
        proc = self.process
        if proc is None:
            return
        self.cancel()
        if not proc.waitForFinished(wait_ms):
            proc.kill()
            proc.waitForFinished(5000)

    def _process_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.process is not None:
            self.lines.append(f"cannot start {self.python}: {self.process.errorString()}")
            self._finished(-1, QProcess.ExitStatus.CrashExit)

    def _finished(self, code: int, status) -> None:
        proc, self.process = self.process, None
        if proc is None:
            return
        self.kill_timer.stop()
        rest = bytes(proc.readAllStandardOutput().data()).decode("utf-8", "replace") + self._partial
        self._partial = ""
        self.lines += [ln for ln in rest.splitlines() if ln.strip() and fr.parse_progress(ln) is None]
        proc.deleteLater()
        self._set_running(False)
        out = self.out
        if self.stopping:
            self._discard(out)
            self.outcome = "stopped"
            self.window.statusBar().showMessage("Model improvement stopped; no new models were kept", 10000)
            log.info("fine-tune stopped by the user (exit %s)", code)
        elif status == QProcess.ExitStatus.NormalExit and code == 0 and out is not None:
            try:
                self.result = fr.read_result(out)
            except ValueError as exc:
                self.lines.append(str(exc))
                self._failed(code)
            else:
                self.outcome = "done"
                self._show_result(self.result)
        else:
            self._failed(code)
        self.finished.emit(self.outcome)

    def _discard(self, out: Path | None, finished_too: bool = True) -> None:
        """Remove what a run left: its work folders (a kill, a failure) and, with ``finished_too`` (a stop), the
        folder it finished as it was stopped."""
        if out is None:
            return
        for folder in fr.partial_folders(out) + ([out] if finished_too and out.exists() else []):
            shutil.rmtree(folder, ignore_errors=True)

    def _failed(self, code: int) -> None:
        self.outcome = "failed"
        self._discard(self.out, finished_too=False)
        line = fr.last_error_line(self.lines)
        tail = "\n".join(self.lines[-40:])
        log.warning("fine-tune failed (exit %s): %s\n%s", code, line, tail)
        where = "Help > Open Log Folder shows the log" if _log_path() else "the details below are all there is"
        self.window.statusBar().showMessage(f"Model improvement failed: {line}", 15000)
        # a path in the line (a Windows one: no break at "\\") made the dialog as wide as the path, wider than a
        # small screen; the label gets such a word cut in its middle, the details keep the line whole
        metrics = self.window.fontMetrics()
        shown = " ".join(metrics.elidedText(word, Qt.TextElideMode.ElideMiddle, ERROR_LINE_PX)
                         if metrics.horizontalAdvance(word) > ERROR_LINE_PX else word for word in line.split(" "))  # fmt: skip
        if shown != line:
            shown += " (whole in the details)"
        self._show(f"{TITLE}: failed", f"The fine-tune stopped with an error:\n\n{shown}\n\nThe models in use are "
                   f"unchanged and no new folder was kept. The full output is in the details below ({where}).",
                   [("ok", "OK", "Close this message")], details=tail, unsolicited=True)

    # ------------------------------------------------------------------ the result
    def _show_result(self, result: fr.Result) -> None:
        self.window.statusBar().showMessage(f"New models ready in {result.folder}", 10000)
        text = "The fine-tune is done. Compared on held-out photos it did not train on:\n\n" + "\n".join(result.lines())
        text += f"\n\nThe new models are in {result.folder}."
        dialog = self._show(TITLE, text, [("use", "&Use These Models", "Load the new models, as Recognition > Load Model Folder… does"),
                                          ("keep", "&Keep Current Models", "Close; the new folder stays for later")],
                            unsolicited=True)
        dialog.clicked.disconnect()
        dialog.clicked.connect(self._result_clicked)

    def _result_clicked(self, name: str) -> None:
        dialog, result = self.dialog, self.result
        if dialog is None or result is None:
            return
        if name == "use":
            if not self.window.load_models_dir(result.folder):  # remembered, like Load Model Folder…
                dialog.close()
                return
            self.window.statusBar().showMessage(
                "Models loaded; use Recognition > Re-run on Unreviewed Photos to apply them", 10000)
            dialog.text.setText(f"Now using the models in {result.folder}.\n\nPhotos recognized before keep their "
                                "old readings until they are recognized again; reviewed photos are never changed.")
            dialog.set_buttons([("rerun", "&Re-run on Unreviewed Photos", "Recognize the unreviewed photos again with the new models"),
                                ("close", "Close", "Close this message")])
        elif name == "rerun":
            self.window.rerun_unreviewed()
            dialog.close()
        else:
            dialog.close()

    # ------------------------------------------------------------------ leaving
    def stop_question(self, what: str, can_keep: bool) -> tuple[QMessageBox, QPushButton, QPushButton | None]:
        """The question :meth:`ask_stop` asks, with its Stop It and Keep It Running (``can_keep``) buttons."""
        box = QMessageBox(QMessageBox.Icon.Question, TITLE,
                          f"Models are being improved from the reviewed photos of {self.photos.name if self.photos else 'a folder'}. "
                          f"Stop it to {what}? A stopped run keeps nothing.", parent=self.window)  # fmt: skip
        stop = box.addButton("Stop It", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep It Running", QMessageBox.ButtonRole.ActionRole) if can_keep else None
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(stop)
        return box, stop, keep

    def ask_stop(self, what: str, can_keep: bool) -> str:
        """Ask whether to stop the running fine-tune before ``what``: "stop", "keep" (it goes on) or "cancel"."""
        if not self.interactive:  # tests without a question answered: stop it
            return "stop"
        box, stop, keep = self.stop_question(what, can_keep)
        box.exec()
        clicked = box.clickedButton()
        box.deleteLater()
        return "stop" if clicked is stop else "keep" if keep is not None and clicked is keep else "cancel"

    def may_leave(self, what: str, can_keep: bool = False) -> bool:
        """Whether the window may ``what`` (close, open another folder); stops the fine-tune when the user says so."""
        if not self.running:
            return True
        answer = self.ask_stop(what, can_keep)
        if answer == "cancel":
            return False
        if answer == "stop":
            self.stop()
        return True


def _log_path() -> Path | None:
    from bibtagger_gui.core import applog

    return applog.state.path


def install(window: Any) -> FinetuneController:
    """Add Recognition > Improve Models from Reviewed Photos… and Stop Improving Models."""
    from bibtagger_gui.gui.keywords_action import find_or_add_menu

    controller = FinetuneController(window)
    menu = getattr(window, "recognition_menu", None) or find_or_add_menu(window, "Recognition")
    action = QAction("&Improve Models from Reviewed Photos…", window)
    action.setObjectName("improve_models")
    tip = "Fine-tune the models in use on this folder's reviewed photos, in the background"
    action.setStatusTip(tip)
    action.setToolTip(tip)
    action.triggered.connect(lambda _checked=False: controller.trigger())
    stop = QAction("S&top Improving Models", window)
    stop.setObjectName("stop_improving_models")
    stop.setStatusTip("Stop the running fine-tune; no model folder is kept")
    stop.setToolTip(stop.statusTip())
    stop.setEnabled(False)
    stop.triggered.connect(lambda _checked=False: controller.cancel())
    after = next((a for a in menu.actions() if a.objectName() == "rerun"), None)
    actions = menu.actions()
    before = actions[actions.index(after) + 1] if after is not None and actions.index(after) + 1 < len(actions) else None
    for act in (action, stop):
        if before is not None:
            menu.insertAction(before, act)
        else:
            menu.addAction(act)
        window.addAction(act)
    controller.action, controller.stop_action, controller.menu = action, stop, menu
    window.finetune_controller = controller
    return controller
