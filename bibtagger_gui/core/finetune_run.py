"""What the app's Recognition > Improve Models from Reviewed Photos… needs of `python -m training finetune`,
Qt-free and torch-free (docs/training.md#fine-tuning-from-the-app).

The app never imports torch: it runs the fine-tune as a child process (:func:`finetune_command`) and
reads what the child prints (:func:`parse_progress`, :func:`last_error_line`) and writes
(:func:`read_result`). The rule that decides whether a folder has enough to learn from
(:data:`MIN_BOXED_BIBS`, :func:`too_few`) lives here so that the app's refusal and finetune's own are
one rule: finetune imports it.
"""

from __future__ import annotations

import datetime as _dt
import glob
import importlib.util
import json
import math
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bibtagger_gui.core.portable import shorten_name, user_data_dir, windows_safe_name

#: the reader learns from the crops of boxed bibs: finetune needs at least this many among the reviewed photos
MIN_BOXED_BIBS = 1
#: finetune's own words when there are fewer (it prints them and exits with status 2)
TOO_FEW = "no reviewed photos with boxed bibs in those folders: mark photos reviewed in the app first"
#: what the child process imports; the app only looks them up (importlib.util.find_spec), never imports them
TRAIN_MODULES = ("training", "torch", "onnx")
INSTALL_COMMAND = 'pip install -e ".[train]"'
#: the source folder in the install command when the app does not run from one (the packaged app)
SOURCE_PLACEHOLDER = "BIBTAGGER_SOURCE"
MODELS_DIR_NAME = "models"  # <user data dir>/models/<photo folder>-<time>: the fine-tuned model folders


def reader_members(models: Path) -> tuple[list[str], list[str]]:
    """(members finetune trains, members it cannot) of a models folder's reader ensemble: ``reader`` and each
    ``reader-*.onnx`` member (the recognizer's order, core.recognizer.ensemble_members), by name without the
    suffix. A member trains from its torch checkpoint ``NAME.pt``; one without it is left out."""
    from bibtagger_gui.core.recognizer import ensemble_members

    models = Path(models)
    names = ["reader"] + [p.stem for p in ensemble_members(models)]
    trainable = [n for n in names if (models / f"{n}.pt").is_file()]
    return trainable, [n for n in names if n not in trainable]


def too_few(boxed_bibs: int) -> bool:
    """Whether finetune refuses to start for this many boxed bibs among the reviewed photos."""
    return boxed_bibs < MIN_BOXED_BIBS


@dataclass(frozen=True)
class Material:
    """What a folder's reviewed photos give a fine-tune: photos, bibs with a box (the reader's crops), bibs."""

    photos: int
    boxed_bibs: int
    bibs: int

    @property
    def enough(self) -> bool:
        return not too_few(self.boxed_bibs)

    def describe(self) -> str:
        unboxed = self.bibs - self.boxed_bibs
        extra = f" (+{unboxed} without a box, which training cannot use)" if unboxed else ""
        return f"{self.photos} reviewed photo(s) with {self.boxed_bibs} boxed bib(s){extra}"


def material_of(annotations: Iterable[dict]) -> Material:
    """Count reviewed photos and their bibs from ``core.training_labels.training_set(store).entries`` (what finetune reads)."""
    photos = boxed = bibs = 0
    for item in annotations:
        photos += 1
        for b in item.get("bibs", []):
            bibs += 1
            boxed += b.get("box") is not None
    return Material(photos, boxed, bibs)


def missing_modules(modules: Iterable[str] = TRAIN_MODULES, find_spec: Callable = importlib.util.find_spec) -> list[str]:
    """The modules of ``modules`` this Python cannot import (looked up, not imported)."""
    missing = []
    for name in modules:
        try:
            found = find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package missing, or a broken __spec__
            found = False
        if not found:
            missing.append(name)
    return missing


def is_frozen() -> bool:
    """Whether this is the packaged app (PyInstaller sets ``sys.frozen``): its ``sys.executable`` is the app
    itself, never a Python that could run ``-m training``."""
    return bool(getattr(sys, "frozen", False))


def source_root() -> Path | None:
    """The source checkout this app runs from (it holds pyproject.toml), or None (installed, or frozen)."""
    if is_frozen():
        return None
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "training").is_dir() else None


def unavailable_reason(modules: Iterable[str] = TRAIN_MODULES, frozen: bool | None = None) -> str | None:
    """Why this app cannot fine-tune (None when it can): the packaged app, or the training install missing."""
    frozen = is_frozen() if frozen is None else frozen
    if frozen:
        return ("This is the packaged app: it recognizes with ONNX models only and has no Python or torch "
                "to train them with. Fine-tuning needs bibtagger installed from source with its training "
                f"extras ({INSTALL_COMMAND}).")
    missing = missing_modules(modules)
    if missing:
        return (f"Fine-tuning needs {', '.join(missing)}, which this Python ({sys.executable}) cannot import. "
                f"Install bibtagger's training extras from its source folder: {INSTALL_COMMAND}")
    return None


def shell_line(argv: list[str], windows: bool | None = None) -> str:
    """One command line a user can paste into a terminal (cmd.exe quoting on Windows)."""
    windows = sys.platform == "win32" if windows is None else windows
    return subprocess.list2cmdline(argv) if windows else shlex.join(argv)


def finetune_command(python: str, photos: Path, models: Path, out: Path, extra: Iterable[str] = (),
                     progress: bool = True) -> list[str]:  # fmt: skip
    """argv of the fine-tune of ``photos``'s reviewed photos from ``models`` into the new folder ``out``."""
    argv = [python, "-m", "training", "finetune", "--from", str(photos), "--models", str(models), "--out", str(out)]
    return argv + (["--progress-json"] if progress else []) + list(extra)


def setup_lines(photos: Path, models: Path, out: Path) -> list[str]:
    """What a user types to fine-tune this folder outside the app: the install, then the fine-tune.

    From a source checkout: its folder and this Python. Without one (the packaged app, whose ``sys.executable``
    is the app itself and whose folder holds no source; or an install without it) the install changes into
    :data:`SOURCE_PLACEHOLDER`, which :func:`setup_notes` asks the user to replace, and runs ``python``. A models
    folder without ``reader.pt`` (the packaged app's bundled models are ONNX only) cannot be a start: the
    command then leaves ``--models`` out, so finetune starts from the source's ``resources/models``."""
    root = source_root()
    python = sys.executable if root is not None or not is_frozen() else "python"
    cd = "cd /d" if sys.platform == "win32" else "cd"
    folder = shell_line([str(root)]) if root is not None else SOURCE_PLACEHOLDER
    install = f"{cd} {folder} && {shell_line([python])} -m {INSTALL_COMMAND}"
    argv = finetune_command(python, photos, models, out, progress=False)
    if not trainable_start(models):
        i = argv.index("--models")
        del argv[i:i + 2]
    return [install, shell_line(argv)]


def trainable_start(models: Path) -> bool:
    """Whether a fine-tune can start from ``models`` (its reader's torch checkpoint, ``reader.pt``, is there)."""
    return (Path(models) / "reader.pt").is_file()


def setup_notes(models: Path) -> list[str]:
    """What the user must know of :func:`setup_lines`' commands: the source folder to put in, the start models."""
    notes = []
    if source_root() is None:
        notes.append(f"Replace {SOURCE_PLACEHOLDER} with the folder of bibtagger's source code (the one holding "
                     "pyproject.toml and training/, which this app was built from); it needs Python 3.11 or newer.")
    if not trainable_start(models):
        notes.append(f"The models in use ({models}) have no reader.pt, the torch checkpoint a fine-tune starts "
                     "from, so the command starts from the source's resources/models.")
    return notes


def output_folder(photos: Path, now: _dt.datetime | None = None, data_dir: Path | None = None) -> Path:
    """A new folder for the fine-tuned models: ``<user data dir>/models/<photo folder name>-<YYYYmmdd-HHMMSS>``
    (never inside the photos); ``-2``, ``-3``… when that name is taken."""
    now = now or _dt.datetime.now()
    base = (data_dir or user_data_dir()) / MODELS_DIR_NAME
    name = shorten_name(windows_safe_name(Path(photos).name or "photos"), 80)
    out = base / f"{name}-{now:%Y%m%d-%H%M%S}"
    n = 1
    while out.exists() or partial_folders(out):
        n += 1
        out = base / f"{name}-{now:%Y%m%d-%H%M%S}-{n}"
    return out


def partial_folder(out: Path, pid: int) -> Path:
    """The work folder finetune process ``pid`` builds ``out`` in: ``OUT.partial-<pid>``, renamed to OUT at the end."""
    return out.parent / f"{out.name}.partial-{pid}"


def partial_folders(out: Path, pid: int | None = None) -> list[Path]:
    """The work folders finetune builds ``out`` in (:func:`partial_folder`; of that pid only when given)."""
    if not out.parent.is_dir():
        return []
    pattern = f"{glob.escape(out.name)}.partial-{pid if pid is not None else '*'}"
    return sorted(out.parent.glob(pattern))


@dataclass(frozen=True)
class Progress:
    """One ``--progress-json`` line: a stage (gather, synthetic, reader, reader-2…, detector, quantize, calibrate,
    compare) and its count."""

    stage: str
    done: int
    total: int


STAGE_LABELS = {"gather": "reading reviewed photos", "synthetic": "making synthetic bibs", "reader": "training reader 1",
                "detector": "training the detector", "quantize": "making int8 readers", "calibrate": "calibrating confidences",
                "choose": "checking the new models on held-out photos", "compare": "comparing on held-out photos"}


def stage_label(stage: str) -> str:
    """Words for a progress stage: ``reader-N`` (an ensemble member's training) is "training reader N"."""
    if stage in STAGE_LABELS:
        return STAGE_LABELS[stage]
    name, _, n = stage.partition("-")
    return f"training reader {n}" if name == "reader" and n.isdigit() else stage


def progress_json(stage: str, done: int, total: int) -> str:
    """The line finetune --progress-json prints (one JSON object, no other text)."""
    return json.dumps({"stage": stage, "done": int(done), "total": int(total)})


def parse_progress(line: str) -> Progress | None:
    """A progress line, or None for finetune's human output."""
    line = line.strip()
    if not (line.startswith("{") and line.endswith("}")):
        return None
    try:
        data = json.loads(line)
        return Progress(str(data["stage"]), int(data["done"]), int(data["total"]))
    except (ValueError, KeyError, TypeError):
        return None


def last_error_line(lines: Iterable[str]) -> str:
    """The line of the child's output that says what went wrong: its last line that is not progress."""
    said = [ln.strip() for ln in lines if ln.strip() and parse_progress(ln) is None]
    return said[-1] if said else "the fine-tune stopped without a message"


@dataclass(frozen=True)
class Score:
    """Image-level counts and P/R/F1 of one model folder on the held-out photos (core.evaluation)."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def from_json(cls, data: dict) -> "Score":
        return cls(int(data["tp"]), int(data["fp"]), int(data["fn"]), float(data["precision"]), float(data["recall"]),
                   float(data["f1"]))

    def describe(self) -> str:
        return f"F1 {self.f1:.3f} (precision {self.precision:.3f}, recall {self.recall:.3f}; {self.tp} right, {self.fp} wrong, {self.fn} missed)"


@dataclass(frozen=True)
class Result:
    """What finetune.json says of a finished run (docs/training.md#fine-tuning-on-user-corrections)."""

    folder: Path
    reader_version: str
    val_accuracy: float  # exact-number accuracy of the new first reader on the val crops
    start_accuracy: float | None  # the start reader (MODELS/reader.pt) on the same crops; None: not measured
    val_bibs: int
    train_photos: int
    val_photos: int
    detector: str  # one line on the detector
    calibrated: bool
    dev_photos: tuple[int, int] = (0, 0)  # (train, val) photos of the dev set among them (finetune --dev; val: older runs only)
    readers: int = 1  # reader ensemble members in the new folder
    int8: bool = False  # the new readers are int8 copies (as the shipped ones)
    compare_photos: int = 0  # held-out photos both model folders recognized (end to end)
    start_score: Score | None = None  # the app's recognizer with the start folder on them
    new_score: Score | None = None  # and with the new folder
    compare_note: str = ""  # why there is no end-to-end comparison
    kept: tuple[str, ...] = ()  # start parts the new folder kept ("detector", "readers"; finetune --keep-start auto)
    kept_reason: str = ""  # why (finetune.json choice.reason)
    current_only: bool = False  # the new folder holds the start models only (every part kept or not fine-tuned)
    calibration_kept: bool = False  # its calibration.json is the start models' (finetune copies it for current_only)

    @property
    def measured(self) -> bool:
        return self.val_bibs > 0 and not math.isnan(self.val_accuracy)

    @property
    def compared(self) -> bool:
        """Whether both model folders were run end to end on held-out photos."""
        return self.compare_photos > 0 and self.start_score is not None and self.new_score is not None

    def verdict(self) -> str:
        """better / same / worse / unknown: the new models against the start ones, by the end-to-end image-level
        F1 on the held-out photos (what the app runs); a finetune.json without it: the first reader's crop accuracy."""
        if self.compared:
            new, start = self.new_score.f1, self.start_score.f1  # type: ignore[union-attr]
        elif self.measured and self.start_accuracy is not None and not math.isnan(self.start_accuracy) and not self.compare_note:
            new, start = self.val_accuracy, self.start_accuracy
        else:
            return "unknown"
        if abs(new - start) < 1e-9:
            return "same"
        return "better" if new > start else "worse"

    def lines(self) -> list[str]:
        """The summary the app shows, one fact a line."""
        def pct(x: float) -> str:
            return f"{x:.1%} ({round(x * self.val_bibs)}/{self.val_bibs})"

        dev_train, dev_val = self.dev_photos
        train = f"{self.train_photos - dev_train} reviewed photo(s)" + (f" + {dev_train} dev-set photo(s)" if dev_train else "")
        val = f"{self.val_photos - dev_val} reviewed photo(s)" + (f" + {dev_val} dev-set photo(s)" if dev_val else "")
        out = [f"Trained on {train}; checked on {val} held out ({self.val_bibs} bib crops)."]
        if self.kept:
            parts = " and ".join({"detector": "detector", "readers": "readers"}[k] for k in self.kept)
            if self.current_only:
                out.append("The fine-tuned models did not do better on your held-out reviewed photos, so the new folder "
                           "holds the current models: keeping them is advised.")
            else:
                out.append(f"The fine-tuned {parts} did not do better on your held-out reviewed photos: the new folder "
                           f"keeps the current {parts}.")
            if self.kept_reason:
                out.append(f"  ({self.kept_reason})")
        if self.compared:
            out.append(f"Bibs found on the {self.compare_photos} held-out photo(s), recognized as the app does:")
            out.append(f"  current models: {self.start_score.describe()}")  # type: ignore[union-attr]
            out.append(f"  new models: {self.new_score.describe()}")  # type: ignore[union-attr]
            if not self.current_only:  # a folder of the current models says so above
                out.append({"better": "The new models find more of them (higher F1).", "same": "The new models do as well (same F1).",
                            "worse": "The new models do worse (lower F1): keeping the current models is advised."}[self.verdict()])
        elif self.compare_note:
            out.append(f"Not compared end to end: {self.compare_note}.")
        if not self.measured:
            out.append("Reader accuracy not measured: every reviewed photo was needed for training (review more photos "
                       "for a check).")
        elif self.start_accuracy is None or math.isnan(self.start_accuracy):
            out.append(f"New first reader alone: {pct(self.val_accuracy)} of the held-out bib crops read exactly.")
        elif self.compared or self.compare_note:
            out.append(f"First reader alone, held-out bib crops read exactly: current {pct(self.start_accuracy)} → "
                       f"new {pct(self.val_accuracy)}.")
        else:  # a finetune.json of before the end-to-end comparison
            out.append(f"Reader, held-out bibs read exactly: current {pct(self.start_accuracy)} → new {pct(self.val_accuracy)}.")
            out.append({"better": "The new reader reads more of them.", "same": "The new reader reads as many of them.",
                        "worse": "The new reader reads fewer of them: keeping the current models is advised."}[self.verdict()])
        out.append(self.detector)
        out.append("Confidences calibrated as the current models' (the same calibration)." if self.calibration_kept
                   else "Confidences calibrated on the reviewed photos." if self.calibrated
                   else "Confidences not calibrated (raw scores shown).")
        readers = "1 reader" if self.readers == 1 else f"{self.readers} readers voting (an ensemble)"
        out.append(f"New models: {readers}{', int8' if self.int8 else ''}; first reader version {self.reader_version}")
        return out


def read_result(folder: Path) -> Result:
    """The result of a finished fine-tune from ``folder/finetune.json``; ValueError when it is missing or unreadable."""
    try:
        data = json.loads((Path(folder) / "finetune.json").read_text(encoding="utf-8"))
        reader = data["reader"]
        det = data.get("detector", {})
        cal = data.get("calibration", {})
        val_bibs = int(reader.get("val_bibs", 0))
        start = reader.get("init_val_accuracy")
        result_kw = dict(reader_version=str(reader["version"]), val_accuracy=float(reader["best_val_accuracy"]),
                         start_accuracy=None if start is None else float(start), val_bibs=val_bibs,
                         train_photos=int(reader.get("train_photos", 0)), val_photos=int(reader.get("val_photos", 0)))
        dev = (reader.get("data") or {}).get("dev") or {}
        result_kw["dev_photos"] = (int(dev.get("train_photos", 0)), int(dev.get("val_photos", 0)))
        result_kw["readers"] = len(data.get("readers") or [reader])
        result_kw["int8"] = bool((data.get("int8") or {}).get("int8"))
        e2e = data.get("end_to_end")
        if e2e is not None:
            if e2e.get("measured"):
                result_kw.update(compare_photos=int(e2e["photos"]), start_score=Score.from_json(e2e["start"]["image_level"]),
                                 new_score=Score.from_json(e2e["new"]["image_level"]))
            else:
                result_kw["compare_note"] = str(e2e.get("reason") or "not measured")
        if det.get("finetuned"):
            m, s = det.get("val_metrics") or {}, det.get("start_val_metrics") or {}
            if "ap50" in m and "ap50" in s:  # the box average precision of both detectors on the same held-out photos
                detector = (f"Detector fine-tuned: bibs boxed on the held-out photos (AP50), current {s['ap50']:.3f} → "
                            f"new {m['ap50']:.3f}.")
            elif "ap50" in m:  # a finetune.json of before the start detector was measured: no number to set it against
                detector = f"Detector fine-tuned: bibs boxed on the held-out photos (AP50) {m['ap50']:.3f}."
            else:
                detector = "Detector fine-tuned (too few photos held out to measure it)."
        else:
            detector = f"Detector kept as it was ({det.get('reason', 'not fine-tuned')})."
        calibrated = bool(cal.get("calibrated"))
        choice = data.get("choice") or {}
        result_kw["kept"] = tuple(k for k in ("detector", "readers") if choice.get(k) == "start"
                                  and (k == "readers" or det.get("finetuned")))
        result_kw["kept_reason"] = str(choice.get("reason", "")) if result_kw["kept"] else ""
        result_kw["calibration_kept"] = bool(cal.get("start"))
        result_kw["current_only"] = choice.get("readers") == "start" and (choice.get("detector") == "start" or not det.get("finetuned"))
        kept_readers = [str(v) for v in choice.get("start_reader_versions") or []] if choice.get("readers") == "start" else []
        if kept_readers:  # the folder's readers are the start ones: say theirs, not the fine-tuned ones'
            result_kw.update(reader_version=kept_readers[0], readers=len(kept_readers))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # AttributeError: a list where an object belongs
        raise ValueError(f"cannot read {Path(folder) / 'finetune.json'}: {exc}") from exc
    return Result(folder=Path(folder), detector=detector, calibrated=calibrated, **result_kw)


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: unbuffered UTF-8 output, so each progress line arrives as it is printed."""
    env = dict(os.environ if base is None else base)
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    return env
