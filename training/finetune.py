"""Fine-tune the shipped models on reviewed photos of app folders and export a loadable model folder.

`python -m training finetune --from DIR [DIR ...] [--models resources/models] --out OUTDIR [--readers N] [--no-int8] [--progress-json]
    [--pick-epoch last|held-out] [--dev JSON]`

Every reader of the MODELS ensemble (reader.onnx, reader-2.onnx, … : core.recognizer.ensemble_members)
starts from its torch checkpoint beside it (reader.pt, reader-2.pt, …; `--readers N`: the first N only)
and is written under the same name, exported and made int8 as the shipped ones are (training.quantize,
calibrated on the recognizer's crops of the train photos; `--no-int8` keeps them float). The detector
starts from `MODELS/detector.pt` through `training.train_detector.finetune` when both exist. A detector
that is not fine-tuned is copied unchanged, so OUTDIR always holds detector.onnx + the readers (+ cards)
for the app's "Load Model Folder" action, and calibration.json when the reviewed photos give both right
and wrong readings to fit it on (training.calibrate). Each reader and the detector keep their last epoch
(``--pick-epoch last``; docs/training.md#choosing-the-epoch): nothing but the user's reviewed photos decides
anything, and a dev set is read only when ``--dev JSON`` names one. Last, the app's recognizer runs with the MODELS
folder and with the new one on the held-out photos (the val splits): image-level P/R/F1 of both go to
finetune.json and the cards (the app's "Use These Models" advice). Before that, `--keep-start auto` (the
default) keeps the start detector / readers in the new folder unless the fine-tuned ones do better end to end
on the held-out reviewed photos (choose_parts; the fine-tuned files then go to OUTDIR/runs/not-used/).

OUTDIR is built as the sibling folder OUTDIR.partial-<pid> and renamed into place at the end, so an
interrupted or failed run leaves OUTDIR as it was. An OUTDIR that holds files (the --models folder
included) is refused unless --overwrite is given; then the old folder is moved to
OUTDIR.previous-<time>, never deleted.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import signal
import sys
import threading
import traceback
from pathlib import Path

from bibtagger_gui.core.finetune_run import TOO_FEW, partial_folder, partial_folders, progress_json, reader_members, too_few
from training.data import Entry, data_hash, entries_from_store, load_entries, split


def log(msg: str) -> None:
    print(msg, flush=True)


class ProgressLines:
    """``--progress-json``: one JSON line ``{"stage", "done", "total"}`` per step on stdout, beside the human
    output (the app's progress bar reads them; bibtagger_gui.core.finetune_run). A stage's first and last
    step always print; in between at most one line per 1 % of its total."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.last: tuple[str, int] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.last is not None and self.last[0] == stage and done < total and done - self.last[1] < max(1, total // 100):
            return
        self.last = (stage, done)
        print(progress_json(stage, done, total), flush=True)


progress = ProgressLines(False)


def gather(folders: list[Path]) -> list[Entry]:
    """Reviewed photos (with at least one boxed bib or none at all) of every folder's store."""
    from bibtagger_gui.core.store import project_exists

    entries: list[Entry] = []
    for i, folder in enumerate(folders):
        progress("gather", i, len(folders))
        if not Path(folder).is_dir():
            log(f"{folder}: no such folder")
            continue
        if not project_exists(folder):  # opening the store would create an empty project there (a read-only
            # folder's own project counts: Store.open copies it to the user's data folder)
            log(f"{folder}: not a project folder yet (open it in the app and review its photos first)")
            continue
        notes: list[str] = []
        try:
            found = entries_from_store(folder, notes)
        except Exception as exc:  # StoreError, missing folder: report and go on with the others
            log(f"{folder}: cannot read the project store ({exc})")
            continue
        for line in notes:
            log(f"{folder}: {line}")
        log(f"{folder}: {len(found)} reviewed photos, {sum(len(e.bibs) for e in found)} bibs")
        entries += found
    progress("gather", len(folders), len(folders))
    return entries


def reader_splits(entries: list[Entry], args) -> tuple[list[Entry], list[Entry], dict, dict[str, list[Entry]]]:
    """(train, val, counts per source, held-out photos per source) of the readers: the reviewed photos split as the
    detector's fine-tune splits them; with ``--dev JSON`` (never by default: a user's machine has no dev set, and
    another race's photos are no measure of this one) + the dev set's train split for training and its val split
    for the end-to-end comparison only (reported apart: it is never the readers' val, and chooses nothing)."""
    from training.train_detector import finetune_split

    train_e, val_e = finetune_split(entries)  # the detector's fine-tune splits the reviewed photos alike
    data = {"reviewed": counts(train_e, val_e)}
    held_out = {"reviewed": list(val_e)}
    if args.dev:
        dev = Path(args.dev)
        dev_entries, same = without_reviewed(load_entries(dev), entries)
        if same:
            log(f"dev set {dev}: {same} of its photos are reviewed photos of these folders: each used once, as a reviewed photo")
        dev_train, dev_val = split(dev_entries)
        train_e = train_e + dev_train
        dev_counts = counts(dev_train, dev_val)
        data["dev"] = {"annotations": str(dev), "train_photos": dev_counts["train_photos"], "train_bibs": dev_counts["train_bibs"],
                       "held_out_photos": dev_counts["val_photos"], "held_out_bibs": dev_counts["val_bibs"]}
        held_out["dev"] = list(dev_val)
        log(f"dev set {dev}: +{len(dev_train)} train photos; {len(dev_val)} val photos compared end to end only (chosen on: never)")
    return train_e, val_e, data, held_out


def file_digest(path: Path) -> str | None:
    """SHA-1 of a file's bytes (None when it cannot be read)."""
    import hashlib

    try:
        h = hashlib.sha1()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except OSError:
        return None


def without_reviewed(dev: list[Entry], reviewed: list[Entry]) -> tuple[list[Entry], int]:
    """(the dev entries that are not one of the reviewed photos, how many were): a photo of the dev set copied
    into a project folder is the same picture under another path, and would be trained on and counted twice,
    or held out as a reviewed photo while trained on as a dev photo (another relpath, another split)."""
    sizes: dict[int, list[Path]] = {}
    for e in reviewed:
        try:
            sizes.setdefault(e.path.stat().st_size, []).append(e.path)
        except OSError:
            continue
    digests: set[str] = set()
    keep = []
    for e in dev:
        try:
            size = e.path.stat().st_size
        except OSError:
            keep.append(e)
            continue
        if size in sizes and not digests:  # hash the reviewed photos only when a dev photo could be one of them
            digests = {d for paths in sizes.values() for d in map(file_digest, paths) if d}
        if size in sizes and file_digest(e.path) in digests:
            continue
        keep.append(e)
    return keep, len(dev) - len(keep)


def finetune_reader(splits, name: str, index: int, init: Path, out: Path, args) -> dict:
    """Fine-tune ensemble member `name` (reader, reader-2, …) from `init`; export the float OUT/NAME.onnx + NAME.pt."""
    from training.export import export_reader, weights_hash, write_slim_reader_checkpoint
    from training.train_reader import ReaderConfig, load_reader, train

    train_e, val_e, data, _ = splits
    run_dir = out / "runs" / name
    # each member its own training seed; one synthetic render (seed 0) shared through a cache in the work folder
    cfg = ReaderConfig(out=str(run_dir), synthetic=args.synthetic, epochs=0, finetune_epochs=args.epochs,
                       finetune_steps=args.steps, batch=args.batch, finetune_lr=args.lr, threads=args.threads,
                       init=str(init), train_sources=[str(f) for f in args.from_dirs], seed=index, synthetic_seed=0,
                       synthetic_cache=str(out / "runs" / SYNTHETIC_CACHE), pick=READER_PICK[args.pick_epoch])
    summary = train(cfg, train_e, val_e, on_progress=lambda stage, done, total: progress(name if stage == "reader" else stage, done, total))
    model, ckpt = load_reader(Path(summary["best"]))
    # the data hash alone names every run on the same photos alike; the weights hash tells the runs apart
    version = f"reader-{_dt.date.today():%Y.%m.%d}-ft-{summary['data_hash'][:6]}-{weights_hash(model.state_dict())}"
    path = export_reader(model, out / f"{name}.onnx", version, summary["data_hash"])
    write_slim_reader_checkpoint(ckpt, out / f"{name}.pt", version)
    summary.update(name=name, version=version, float_version=version, onnx=str(path), init=str(init),
                   train_photos=len(train_e), val_photos=len(val_e), data=data, epoch_rule=READER_RULE[args.pick_epoch])
    log(f"{name} fine-tuned (version {version}; kept {summary['best_phase']} epoch {summary['best_epoch']}, "
        f"{READER_RULE[args.pick_epoch]}; held-out crop accuracy {summary['best_val_accuracy']:.4f})")
    return summary


SYNTHETIC_CACHE = "synthetic.npz"

# --pick-epoch -> the epoch each reader / the detector keeps (train_reader.PICKS, train_detector.PICKS), on the
# held-out reviewed photos only (docs/training.md#choosing-the-epoch)
READER_PICK = {"last": "last", "held-out": "loss"}
DETECTOR_PICK = {"last": "last", "held-out": "ap50"}
READER_RULE = {"last": "the last epoch (a fixed schedule; the held-out crops are only reported)",
               "held-out": "the lowest CTC loss summed over every held-out reviewed crop (a tie: the later epoch; "
                           "none held out: the last)"}
DETECTOR_RULE = {"last": "the last epoch (a fixed schedule; the held-out photos are only reported)",
                 "held-out": "the highest AP50 on the held-out reviewed photos, then F1 (a tie: the later epoch; "
                             "none held out: the last)"}


def quantize_readers(readers: list[dict], train_e: list[Entry], out: Path, args) -> dict:
    """Replace each float OUT/NAME.onnx by its int8 copy, as the shipped readers were made (training.quantize:
    MinMax ranges from the crops the recognizer makes with OUT's detector on the train photos; the
    annotated boxes when it detects nothing there)."""
    from training.quantize import INT8_SUFFIX, crop_key, quantize_reader, recognizer_crops

    if args.no_int8:
        return {"int8": False, "reason": "--no-int8 given"}
    detector = out / "detector.onnx"
    made: dict[tuple, tuple] = {}
    for i, summary in enumerate(readers):
        progress("quantize", i, len(readers))
        path = Path(summary["onnx"])
        key = crop_key(path)
        if key not in made:  # readers with one input size, stretch and channels calibrate on the same crops
            crops = recognizer_crops(train_e, detector, path) if detector.is_file() else None
            boxes = "detected boxes"
            if crops is None or not len(crops):
                crops, boxes = recognizer_crops(train_e, None, path), "annotated boxes (the detector found none)"
            if not len(crops):
                raise ValueError("no train photo could be read for the int8 readers' calibration crops")
            made[key] = crops, f"{boxes} of the {len(train_e)} fine-tune train photos"
            log(f"int8 calibration: {len(crops)} crops from the {made[key][1]}")
        crops, note = made[key]
        quantize_reader(path, path, crops, note=note)
        summary["version"] = summary["float_version"] + INT8_SUFFIX
        summary["int8"] = note
    progress("quantize", len(readers), len(readers))
    return {"int8": True, "calibration_crops": {f"{k[0][0]}x{k[0][1]}": len(v[0]) for k, v in made.items()},
            "note": next(iter(made.values()))[1] if made else ""}


def compare_end_to_end(start: Path, out: Path, held_out: dict[str, list[Entry]], args) -> dict:
    """The app's recognizer (Recognizer.from_dir: every reader, the detector, the calibration when it matches)
    with the `start` folder and with `out` on the held-out photos; image-level (and box) P/R/F1 of both
    (core.evaluation), over all of them and per source (reviewed, dev)."""
    from bibtagger_gui.core.annotations import PhotoAnnotation
    from bibtagger_gui.core.evaluation import evaluate
    from bibtagger_gui.core.recognizer import ModelError, Recognizer

    photos = [(source, e) for source, entries in held_out.items() for e in entries]
    if not photos:
        return {"measured": False, "reason": "no photo was held out (every reviewed photo was needed for training)"}
    if not (out / "detector.onnx").is_file():
        return {"measured": False, "reason": "the new folder has no detector"}
    try:
        recs = {"start": Recognizer.from_dir(start, threads=args.threads), "new": Recognizer.from_dir(out, threads=args.threads)}
    except ModelError as exc:
        return {"measured": False, "reason": f"cannot load the models ({exc})"}
    preds: dict[str, list] = {"start": [], "new": []}
    truth, sources, skipped = [], [], []
    for i, (source, e) in enumerate(photos):
        progress("compare", i, len(photos))
        try:
            read = {k: rec.recognize_path(e.path) for k, rec in recs.items()}
        except Exception as exc:  # ImageError, OSError: report, leave the photo out of both
            log(f"{e.path}: {exc}; left out of the comparison")
            skipped.append(str(e.path))
            continue
        image = str(e.path)  # a reviewed photo and a dev photo may share a relpath
        truth.append(PhotoAnnotation(image, e.width, e.height, list(e.bibs)))
        sources.append(source)
        for k, bibs in read.items():
            preds[k].append(PhotoAnnotation(image, e.width, e.height, bibs))
    progress("compare", len(photos), len(photos))
    if not truth:
        return {"measured": False, "reason": "no held-out photo could be read", "skipped": skipped}
    report: dict = {"measured": True, "photos": len(truth), "by_source": {s: sources.count(s) for s in held_out},
                    "skipped": skipped}
    for k, rec in recs.items():
        result = evaluate(truth, preds[k]).to_json()
        part = {"models": str(start if k == "start" else out), "version": rec.version, "readers": len(rec.readers),
                "image_level": result["image_level"], "box_level": result["box_level"], "per_source": {}}
        for source in held_out:
            pick = [i for i, s in enumerate(sources) if s == source]
            if pick:
                sub = evaluate([truth[i] for i in pick], [preds[k][i] for i in pick]).to_json()["image_level"]
                part["per_source"][source] = {key: sub[key] for key in ("tp", "fp", "fn", "precision", "recall", "f1")}
        report[k] = part
    s, n = report["start"]["image_level"], report["new"]["image_level"]
    log(f"end to end on {len(truth)} held-out photos, image-level F1: {start} {s['f1']:.3f} "
        f"(P {s['precision']:.3f} R {s['recall']:.3f}) -> new {n['f1']:.3f} (P {n['precision']:.3f} R {n['recall']:.3f})")
    return report


def counts(train: list[Entry], val: list[Entry]) -> dict:
    """Photos and boxed bibs (the reader's ground-truth crops) of a train/val split."""
    def bibs(entries: list[Entry]) -> int:
        return sum(1 for e in entries for b in e.bibs if b.box is not None)

    return {"train_photos": len(train), "train_bibs": bibs(train), "val_photos": len(val), "val_bibs": bibs(val)}


def data_lines(summary: dict) -> tuple[str, str]:
    """Where the train and the held-out (val) crops came from: the user's reviewed photos and the dev set, apart."""
    own, dev = summary["data"]["reviewed"], summary["data"].get("dev")
    sources = ", ".join(summary.get("sources", []))
    train = f"{own['train_photos']} reviewed photos of {sources} ({own['train_bibs']} bibs)"
    val = f"{own['val_photos']} reviewed photos ({own['val_bibs']} bibs)"
    if dev:
        train += f" + {dev['train_photos']} photos of the dev set `{dev['annotations']}` ({dev['train_bibs']} bibs, its train split)"
    else:
        train += " (no dev set)"
    return train, val


def reader_card(summary: dict, argv: list[str], end_to_end: dict | None = None, members: int = 1) -> str:
    train, val = data_lines(summary)
    name = summary.get("name", "reader")
    int8 = (f"\n- int8: an int8 copy of the float export of `{name}.pt` (version `{summary['float_version']}`; "
            f"docs/recognizer.md#int8-readers), calibrated on the recognizer's crops: {summary['int8']}") if summary.get("int8") else ""
    ensemble = f"; one of the {members} readers of this folder's ensemble" if members > 1 else ""
    return f"""# {name}.onnx (fine-tuned)

- version: `{summary['version']}`, fine-tuned from `{summary['init']}` on {_dt.date.today():%Y-%m-%d}{ensemble}{int8}
- data: {summary['train_photos']} train photos: {train}; data_hash `{summary['data_hash']}`; plus synthetic bibs
- command: `python -m training finetune {' '.join(argv)}`
- epoch kept: {summary.get('best_phase')} epoch {summary.get('best_epoch')}, {summary.get('epoch_rule', 'the best on the val crops')}
- held out: {val}; on their {summary['val_bibs']} ground-truth crops, exact-number accuracy
  {summary['best_val_accuracy']:.4f}, CTC loss {summary['best_val_loss']:.3f}{start_line(summary)}{end_to_end_line(end_to_end)}
- contract: see docs/architecture.md (input `crop` [N,1,32,128], output `logits` [N,T,C])
"""


def end_to_end_line(e2e: dict | None) -> str:
    """The card's line on the end-to-end comparison (the whole model folders, as the app runs them)."""
    if e2e is None:
        return ""
    if not e2e.get("measured"):
        return f"\n- end to end: not compared ({e2e.get('reason', 'not measured')})"

    def prf(part: dict) -> str:
        m = part["image_level"]
        return (f"P {m['precision']:.3f} / R {m['recall']:.3f} / F1 {m['f1']:.3f} (TP {m['tp']}, FP {m['fp']}, FN {m['fn']}; "
                f"{part['readers']} reader(s))")

    where = ", ".join(f"{n} {s}" for s, n in e2e["by_source"].items() if n)
    return (f"\n- end to end (the app's recognizer: detector + every reader + calibration) on the {e2e['photos']} held-out "
            f"photos ({where}), image level: the start folder `{e2e['start']['models']}` {prf(e2e['start'])}; "
            f"this folder {prf(e2e['new'])}")


def start_line(summary: dict) -> str:
    """The start reader on the same val crops (train_reader.train measures it before the first step)."""
    if summary.get("init_val_accuracy") is None:
        return ""
    return (f"; the start reader `{summary['init']}` on the same crops: accuracy {summary['init_val_accuracy']:.4f}, "
            f"CTC loss {summary['init_val_loss']:.3f}")


def calibration_card(cal: dict, readers: list[dict]) -> str:
    return f"""# calibration.json (fine-tuned models)

- **for** the detector and readers `{','.join(r['version'] for r in readers)}` of this folder (the file names them;
  the recognizer ignores it for any other set and reports raw scores)
- **map** `p = sigmoid({cal['slope']:.3f} * logit(raw) + {cal['intercept']:.3f})` (docs/recognizer.md#confidence)
- **fitted on** the readings of {cal['fitted_on']} (optimistic, since most of them were trained on;
  `python -m training calibrate` on photos the models never saw does better)
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[2:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m training finetune", description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="from_dirs", type=Path, nargs="+", required=True, help="photo folders with an app store")
    p.add_argument("--models", type=Path, default=Path(__file__).resolve().parents[1] / "resources" / "models")
    p.add_argument("--out", type=Path, required=True, help="new model folder (must not exist or be empty; see --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an --out that holds files (the old folder is kept as OUT.previous-<time>)")
    p.add_argument("--epochs", type=int, default=3, help="reader fine-tuning epochs")
    p.add_argument("--steps", type=int, default=150, help="reader steps per epoch")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--synthetic", type=int, default=2000, help="synthetic crops mixed in (keeps the reader general)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dev", default="", metavar="JSON",
                   help="a dev set's annotations (e.g. ../shared/datasets/rbnr_dev/annotations.json): its train split is added "
                        "to the readers' training, its val split to the end-to-end comparison (reported apart, chooses "
                        "nothing); never read unless given")
    p.add_argument("--pick-epoch", choices=("last", "held-out"), default="last",
                   help="the epoch each reader and the detector keep: last (default: a fixed schedule), or held-out "
                        "(readers: the lowest CTC loss summed over the held-out reviewed crops; detector: the best AP50 on "
                        "the held-out reviewed photos)")
    p.add_argument("--readers", type=int, default=None, metavar="N",
                   help="fine-tune only the first N readers of the ensemble (default: every one with its .pt; 1 is fastest)")
    p.add_argument("--no-int8", action="store_true", help="keep the new readers float (the shipped ones are int8)")
    p.add_argument("--detector-epochs", type=int, default=5,
                   help="detector fine-tuning epochs (default 5; --epochs sets the readers' only)")
    p.add_argument("--detector-steps", type=int, default=40, help="detector steps per epoch")
    p.add_argument("--skip-detector", action="store_true", help="keep the current detector (copied), fine-tune only the readers")
    p.add_argument("--detector-lr", type=float, default=5e-4, help="the detector's peak learning rate")
    p.add_argument("--detector-dev", action="store_true",
                   help="also train the detector on the train split of the dev set given by --dev (validated on the reviewed val photos only)")
    p.add_argument("--keep-start", choices=("auto", "never"), default="auto",
                   help="auto: the new folder keeps the start detector / readers unless the fine-tuned ones do better end "
                        "to end on the held-out reviewed photos (a tie with the start keeps it); never: always the fine-tuned ones")
    p.add_argument("--progress-json", action="store_true",
                   help='also print one JSON line per step: {"stage": ..., "done": N, "total": M} (for the app)')
    args = p.parse_args(argv)
    honour_interrupt()
    progress.enabled, progress.last = args.progress_json, None

    out: Path = args.out
    problem = output_problem(out, args.models, args.overwrite)
    if problem:
        log(problem)
        return 2
    if args.dev and not Path(args.dev).is_file():
        log(f"--dev {args.dev}: no such file (give a dev set's annotations JSON, or leave --dev out)")
        return 2
    if args.detector_dev and not args.dev:  # the dev set used to be read by default: the option alone did it
        log("--detector-dev: no dev set to train the detector on: give one with --dev JSON (none is read by default)")
        return 2
    if args.readers is not None and args.readers < 1:
        log(f"--readers {args.readers}: give 1 or more (the number of ensemble readers to fine-tune)")
        return 2
    init = args.models / "reader.pt"
    if not init.is_file():
        log(f"{init} not found: the reader cannot be fine-tuned without its torch checkpoint")
        return 2
    members, left_out = reader_members(args.models)
    for name in left_out:
        log(f"{args.models / (name + '.onnx')} has no {name}.pt beside it (its torch checkpoint): it cannot be fine-tuned "
            f"and is left out of the new folder")
    if args.readers is not None and args.readers < len(members):
        log(f"--readers {args.readers}: fine-tuning {', '.join(members[:args.readers])}; "
            f"left out: {', '.join(members[args.readers:])}")
        left_out += members[args.readers:]
        members = members[:args.readers]
    args.members, args.left_out = members, left_out
    try:
        entries = gather(args.from_dirs)
    except KeyboardInterrupt:
        log(f"interrupted: nothing written, {out} left as it was")
        return 130
    if too_few(sum(b.box is not None for e in entries for b in e.bibs)):  # the app asks the same before it starts
        log(TOO_FEW)
        return 2
    try:  # the training modules need them; the app and its store do not
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ModuleNotFoundError as exc:
        log(f"fine-tuning needs {exc.name or 'torch'}, which is not installed: pip install -e .[train]")
        return 2

    # everything is built in a sibling folder and moved into place at the end: an interrupted or failed
    # run leaves OUT as it was, and a finished one leaves no file of an earlier run in it
    try:
        work, made = make_work_dir(out)
    except OSError as exc:
        log(f"cannot write the model folder {out}: {exc.strerror or exc}")
        return 2
    try:
        report = build(entries, init, work, args, argv)
        backup = install(work, out)
    except KeyboardInterrupt:
        discard(work, made)
        log(f"interrupted: nothing written, {out} left as it was")
        return 130
    except Exception as exc:  # OUT stays as it was; the traceback goes to stderr for a bug report
        discard(work, made)
        traceback.print_exc()
        log(f"fine-tuning failed ({type(exc).__name__}: {exc}); nothing written, {out} left as it was")
        return 1
    if backup is not None:
        log(f"the previous {out} was moved to {backup}")
    log(f"models written to {out}: {', '.join(sorted(p.name for p in out.iterdir() if p.is_file()))}")
    return 0


def honour_interrupt() -> None:
    """Make SIGINT (Ctrl+C, the app's Stop) raise KeyboardInterrupt even where this process was started with it
    ignored (an app or shell run in the background passes SIG_IGN on): otherwise Stop waited 20 s for the kill
    and the work folder was left to the app to remove."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


MODEL_FILES = ("*.onnx", "*.pt", "calibration.json", "finetune.json")


def output_problem(out: Path, models: Path, overwrite: bool) -> str | None:
    """Why `out` cannot take the new model folder, or None."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder: choose a new folder"
    if overwrite:
        return None
    if out.exists() and models.exists() and out.resolve() == models.resolve():
        return (f"--out {out} is the --models folder the fine-tune starts from: choose a new folder "
                f"(or add --overwrite to replace it, keeping the old one as {out.name}.previous-<time>)")
    if out.is_dir() and any(out.iterdir()):
        what = "holds models" if any(any(out.glob(g)) for g in MODEL_FILES) else "is not empty"
        return (f"--out {out} already {what}: choose a new folder "
                f"(or add --overwrite to replace it, keeping the old one as {out.name}.previous-<time>)")
    return None


def make_work_dir(out: Path) -> tuple[Path, list[Path]]:
    """A new sibling folder OUT.partial-<pid> (+ the missing parents it needed, to remove on failure)."""
    made = [d for d in reversed(out.absolute().parents) if not d.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in partial_folders(out):  # left by killed runs
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and (int(pid) == os.getpid() or not _running(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)
    work = partial_folder(out, os.getpid())
    work.mkdir()
    return work, made


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (on Windows assumed so: os.kill there would end it)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def discard(work: Path, made: list[Path]) -> None:
    shutil.rmtree(work, ignore_errors=True)
    for d in reversed(made):  # deepest first; only folders this run made and left empty
        try:
            d.rmdir()
        except OSError:
            break


def install(work: Path, out: Path) -> Path | None:
    """Move the finished `work` folder to `out`; an `out` with files goes aside first (returned), never deleted."""
    backup = None
    if out.is_dir():
        if any(out.iterdir()):
            backup = out.parent / f"{out.name}.previous-{_dt.datetime.now():%Y%m%d-%H%M%S}"
            n = 1
            while backup.exists():
                n += 1
                backup = backup.with_name(f"{out.name}.previous-{_dt.datetime.now():%Y%m%d-%H%M%S}-{n}")
            out.rename(backup)
        else:
            out.rmdir()
    try:
        work.rename(out)
    except BaseException:
        if backup is not None and not out.exists():
            backup.rename(out)
        raise
    return backup


def build(entries: list[Entry], init: Path, work: Path, args, argv: list[str]) -> dict:
    """Fine-tune and export everything into `work`; the paths written into its files name OUT instead."""
    report: dict = {"sources": [str(f) for f in args.from_dirs], "photos": len(entries), "data_hash": data_hash(entries),
                    "epoch_pick": {"policy": args.pick_epoch, "readers": READER_RULE[args.pick_epoch],
                                   "detector": DETECTOR_RULE[args.pick_epoch]}}
    splits = reader_splits(entries, args)
    readers = []
    for i, name in enumerate(args.members):
        summary = finetune_reader(splits, name, i, args.models / f"{name}.pt", work, args)
        summary["sources"] = report["sources"]
        readers.append(summary)
    (work / "runs" / SYNTHETIC_CACHE).unlink(missing_ok=True)  # rendered crops: not worth keeping
    report["reader"], report["readers"] = readers[0], readers  # "reader": the first one (what older readers of this file read)
    report["readers_left_out"] = args.left_out
    dev_train = splits[0][splits[2]["reviewed"]["train_photos"]:]  # reader_splits: reviewed train + dev train
    report["detector"] = finetune_detector(entries, args, work, dev_train if args.detector_dev else [])
    report["int8"] = quantize_readers(readers, splits[0], work, args)
    report["choice"] = choose_parts(args.models, work, splits[3]["reviewed"], report["detector"].get("finetuned", False), args)
    keep_start_parts(args.models, work, report["choice"])
    if report["choice"]["detector"] == "start" and report["choice"]["readers"] == "start" and copy_start_calibration(args.models, work):
        report["calibration"] = {"calibrated": True, "start": True, "file": str(work / "calibration.json"),
                                 "note": "the start models' calibration.json (the new folder holds the start models)"}
    else:
        report["calibration"] = calibrate_output(entries, args, work, len(splits[3]["reviewed"]))
        if report["calibration"].get("calibrated"):
            used = readers if report["choice"]["readers"] == "new" else [{"version": v} for v in report["choice"].get("start_reader_versions", [])]
            (work / "calibration.md").write_text(calibration_card(report["calibration"], used), encoding="utf-8")
    report["end_to_end"] = compare_end_to_end(args.models, work, splits[3], args)
    for summary in readers:
        card = reader_card(summary, argv, report["end_to_end"], len(readers))
        if report["choice"]["readers"] == "start":  # the fine-tuned reader's card goes with its files
            (work / NOT_USED / f"{summary['name']}.md").write_text(card, encoding="utf-8")
        else:
            (work / f"{summary['name']}.md").write_text(card, encoding="utf-8")
    if report["choice"]["readers"] == "start" or report["choice"]["detector"] == "start":
        note_kept_parts(work, report["choice"])
    text = json.dumps(report, indent=1, default=str)
    text = text.replace(json.dumps(str(work))[1:-1], json.dumps(str(args.out))[1:-1])
    (work / "finetune.json").write_text(text, encoding="utf-8")
    return report


NOT_USED = Path("runs") / "not-used"  # fine-tuned parts the new folder does not use (choose_parts), kept for a look


def _recognize_all(rec, photos: list[Entry]) -> list | None:
    """The app recognizer's bibs on each photo (None for a photo it cannot read)."""
    out = []
    for e in photos:
        try:
            out.append(rec.recognize_path(e.path))
        except Exception as exc:  # ImageError, OSError: left out of every candidate alike
            log(f"{e.path}: {exc}; left out of the choice")
            out.append(None)
    return out


def choose_parts(start: Path, work: Path, val: list[Entry], detector_finetuned: bool, args) -> dict:
    """Which parts of the new folder are the fine-tuned ones (``--keep-start auto``): every mix of the start /
    fine-tuned detector and the start / fine-tuned readers runs end to end (the app's recognizer, raw scores:
    a calibration maps the app's cut-off too, so it keeps the same readings) on the **held-out reviewed photos**
    only (never the dev set's val split, the project's benchmark); the highest image-level F1 wins. A tie with the
    start models keeps them (a fine-tuned part is used only when it does better); a tie among fine-tuned mixes
    that beat the start goes to the one with more fine-tuned parts, the detector first (these photos showed the
    start models fall short on this race: docs/training.md#keeping-the-start-models). Without held-out reviewed
    photos nothing can show that, and the start models are kept."""
    from bibtagger_gui.core.annotations import PhotoAnnotation
    from bibtagger_gui.core.evaluation import evaluate
    from bibtagger_gui.core.recognizer import ModelError, Recognizer, ensemble_members

    start_readers = [start / "reader.onnx", *ensemble_members(start)]
    new_readers = [work / "reader.onnx", *ensemble_members(work)]
    choice: dict = {"policy": args.keep_start, "detector": "new" if detector_finetuned else "start", "readers": "new",
                    "detector_finetuned": detector_finetuned, "start_reader_versions": []}
    if args.keep_start == "never":
        choice["reason"] = "--keep-start never: the fine-tuned models are used whatever they score"
        return choice
    if not val:
        choice.update(detector="start", readers="start",
                      reason="no reviewed photo was held out (too few reviewed photos), so nothing showed the fine-tuned "
                             "models do better: the start models are kept")
        log(f"--keep-start auto: {choice['reason']}")
        return choice
    mixes = [("start", "start"), ("start", "new")] + ([("new", "start"), ("new", "new")] if detector_finetuned else [])
    preds: dict[tuple[str, str], list] = {}
    unusable: list[str] = []
    for i, (det, read) in enumerate(mixes):
        progress("choose", i, len(mixes))
        readers = start_readers if read == "start" else new_readers
        try:
            rec = Recognizer((start if det == "start" else work) / "detector.onnx", readers[0], extra_readers=readers[1:],
                             calibration=False, threads=args.threads)
        except ModelError as exc:  # e.g. a start folder with detector.pt but no detector.onnx: that mix cannot compete
            unusable.append(f"detector {det}, readers {read}: {exc}")
            continue
        if (det, read) == ("start", "start"):
            choice["start_reader_versions"] = [m.version for m in rec.readers]
        preds[(det, read)] = _recognize_all(rec, val)
    progress("choose", len(mixes), len(mixes))
    if unusable:
        choice["unusable"] = unusable
        log("--keep-start auto: could not run " + "; ".join(unusable))
    mixes = [mix for mix in mixes if mix in preds]
    if not mixes:
        raise ModelError("neither the start nor the fine-tuned models could be run to choose between them: "
                         + "; ".join(unusable))
    readable = [i for i in range(len(val)) if all(p[i] is not None for p in preds.values())]
    truth = [PhotoAnnotation(str(val[i].path), val[i].width, val[i].height, list(val[i].bibs)) for i in readable]
    scores = {}
    for mix, bibs in preds.items():
        pred = [PhotoAnnotation(str(val[i].path), val[i].width, val[i].height, bibs[i]) for i in readable]
        m = evaluate(truth, pred).to_json()["image_level"] if truth else {"f1": 0.0, "tp": 0, "fp": 0, "fn": 0}
        scores[mix] = {k: m[k] for k in ("tp", "fp", "fn", "f1")}
    f1 = {mix: round(scores[mix]["f1"], 9) for mix in mixes}
    tied = [mix for mix in mixes if f1[mix] == max(f1.values())]
    # a tie with the start keeps it; otherwise the tied mix with the most fine-tuned parts (mixes: start, readers,
    # detector, both)
    best = ("start", "start") if ("start", "start") in tied else tied[-1]
    choice.update(detector=best[0], readers=best[1], photos=len(truth),
                  scores={f"detector {d}, readers {r}": scores[(d, r)] for d, r in mixes})
    start_f1 = f"{scores[('start', 'start')]['f1']:.3f}" if ("start", "start") in scores else "could not be run"
    new_best = scores[mixes[-1]]["f1"]
    choice["reason"] = (f"image-level F1 on the {len(truth)} held-out reviewed photos: start models {start_f1}, "
                        f"fine-tuned {new_best:.3f}; used: detector {best[0]}, readers {best[1]} "
                        f"(a tie with the start keeps it; a tie among better fine-tuned mixes takes more fine-tuned parts)")
    log(f"--keep-start auto: {choice['reason']}")
    return choice


def keep_start_parts(start: Path, work: Path, choice: dict) -> None:
    """Put the start detector / readers the choice kept into `work`, the fine-tuned ones under runs/not-used/."""
    from bibtagger_gui.core.recognizer import ensemble_members

    moves: list[str] = []
    copies: list[str] = []
    if choice["detector"] == "start" and (work / "detector.pt").is_file() and (work / "detector.onnx").is_file() \
            and (work / "runs" / "detector").is_dir():  # a fine-tuned detector (a copied one is the start's already)
        moves += ["detector.onnx", "detector.pt", "detector.md"]
        copies += ["detector.onnx", "detector.pt", "detector.md"]
    if choice["readers"] == "start":
        moves += [p.name for p in [work / "reader.onnx", *ensemble_members(work)]]
        moves += [p.with_suffix(".pt").name for p in [work / "reader.onnx", *ensemble_members(work)]]
        start_readers = [start / "reader.onnx", *ensemble_members(start)]
        copies += [n for p in start_readers for n in (p.name, p.with_suffix(".pt").name, p.with_suffix(".md").name)]
    if moves:
        (work / NOT_USED).mkdir(parents=True, exist_ok=True)
    for name in moves:
        if (work / name).is_file():
            (work / name).rename(work / NOT_USED / name)
    for name in copies:
        if (start / name).is_file():
            shutil.copyfile(start / name, work / name)


def copy_start_calibration(start: Path, work: Path) -> bool:
    """The start models' calibration.json (+ card) for a new folder that holds the start models; False without one."""
    if not (start / "calibration.json").is_file():
        return False
    for name in ("calibration.json", "calibration.md"):
        if (start / name).is_file():
            shutil.copyfile(start / name, work / name)
    return True


def note_kept_parts(work: Path, choice: dict) -> None:
    """Add to the cards of the start parts kept in the new folder why they were kept."""
    from bibtagger_gui.core.recognizer import ensemble_members

    line = (f"\n- kept by `python -m training finetune` on {_dt.date.today():%Y-%m-%d} (`--keep-start auto`): "
            f"{choice.get('reason', '')}; the fine-tuned files are in `{NOT_USED.as_posix()}/`\n")
    names = []
    if choice["detector"] == "start" and choice.get("detector_finetuned"):  # a detector copied unchanged has nothing to add
        names.append("detector.md")
    if choice["readers"] == "start":
        names += [p.with_suffix(".md").name for p in [work / "reader.onnx", *ensemble_members(work)]]
    for name in names:
        card = work / name
        text = card.read_text(encoding="utf-8") if card.is_file() else f"# {Path(name).stem}.onnx (the start model)\n"
        card.write_text(text.rstrip("\n") + "\n" + line, encoding="utf-8")


def fitted_on(photos: int, held_out: int) -> str:
    """What the calibration was fitted on: every reviewed photo, those trained on and those held out apart."""
    if not held_out:
        return f"{photos} reviewed photos (all trained on)"
    return f"{photos} reviewed photos ({photos - held_out} trained on, {held_out} held out)"


def calibrate_output(entries: list[Entry], args, out: Path, held_out: int = 0) -> dict:
    """Fit calibration.json for the new model pair on every reviewed photo (training.calibrate); ``held_out`` of
    them are the held-out ones (the comparison's, which the calibration cannot change: the app's cut-off is
    mapped through it, so it takes the same readings).

    Most were trained on, so the map is somewhat optimistic; `python -m training calibrate` on
    photos the models never saw does better. Without both right and wrong readings the models stay uncalibrated
    (the app then shows raw scores)."""
    from bibtagger_gui.core.calibration import FILE_NAME
    from training.calibrate import calibrate_models, format_report

    if not ((out / "detector.onnx").is_file() and (out / "reader.onnx").is_file()):
        return {"calibrated": False, "reason": "no detector + reader pair in the output"}
    progress("calibrate", 0, 1)
    try:
        cal, report = calibrate_models(out, entries, threads=args.threads, fitted_on=fitted_on(len(entries), held_out))
        progress("calibrate", 1, 1)
    except ValueError as exc:
        log(f"confidence not calibrated: {exc}; the app will show raw scores")
        return {"calibrated": False, "reason": str(exc)}
    cal.save(out / FILE_NAME)
    log(format_report(report))
    return {"calibrated": True, "file": str(out / FILE_NAME), "slope": cal.slope, "intercept": cal.intercept,
            "fitted_on": cal.fitted_on}


def detector_summary(entries: list[Entry], out: Path, run_dir: Path, start: Path | None = None, threads: int = 1) -> dict:
    """Version, data and best-epoch val metrics of the fine-tuned detector (train_detector.finetune's split:
    the reviewed photos only, val = their val split), and the `start` detector.onnx's on the same val photos
    (``start_val_metrics``: the same measure, so the card and the app can say whether it moved)."""
    import torch

    from training.detector_data import load_photos
    from training.export import read_metadata
    from training.train_detector import evaluate, finetune_split, onnx_predictor

    train_e, val_e = finetune_split(entries)
    best = torch.load(run_dir / "best.pt", map_location="cpu", weights_only=False)
    metrics = {k: round(float(v), 4) for k, v in best.get("metrics", {}).items()}
    info = {"version": read_metadata(out / "detector.onnx").get("bibtagger.version", "unknown"), "best_epoch": best.get("epoch"),
            "val_metrics": metrics if val_e else {}, "data": {"reviewed": counts(train_e, val_e)}}
    if val_e and metrics and start is not None and start.is_file():
        try:  # a measure beside the result: a start detector it cannot run on is named, and the run goes on
            size = int(best.get("input_size", 512))
            fixed = read_metadata(start).get("bibtagger.input_size", "")
            if fixed and not _dynamic_input(start):  # a detector exported with a fixed frame is fed that frame
                size = int(fixed.split(",")[0])
            start_m = evaluate(onnx_predictor(start, threads), load_photos(val_e), size, float(metrics.get("threshold", 0.3)))
            info["start_val_metrics"] = {k: round(float(v), 4) for k, v in start_m.items()}
            info["start_version"] = read_metadata(start).get("bibtagger.version", "unknown")
        except Exception as exc:  # onnxruntime errors, unreadable photos
            log(f"the start detector {start} was not measured on the held-out photos ({exc})")
    return info


def _dynamic_input(path: Path) -> bool:
    """Whether an ONNX detector takes any H/W (its input's spatial dims are named, not numbers)."""
    import onnx

    dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    return any(d.dim_param or not d.dim_value for d in dims[2:])


def detector_card(info: dict) -> str:
    own = info["data"]["reviewed"]
    m = info["val_metrics"]
    if m:
        at = f" at box score {m['threshold']:g} (the app's; its readers then drop most wrong boxes)" if "threshold" in m else ""
        val = (f"val AP50 {m.get('ap50', 0):.3f}, P {m.get('precision', 0):.3f}, R {m.get('recall', 0):.3f}, "
               f"F1 {m.get('f1', 0):.3f}{at} on {own['val_photos']} reviewed photos ({own['val_bibs']} bibs) at the kept epoch {info['best_epoch']}")
        s = info.get("start_val_metrics")
        if s:
            val += (f"; the start detector `{info.get('start_version', 'unknown')}` on the same photos: AP50 {s['ap50']:.3f}, "
                    f"P {s['precision']:.3f}, R {s['recall']:.3f}, F1 {s['f1']:.3f}")
    else:
        val = "not measured: every reviewed photo was trained on (too few for a val split)"
    n_dev = info.get("dev_train_photos", 0)
    dev = f"+ {n_dev} photos of the dev set's train split (--detector-dev)" if n_dev else "no dev-set photos"
    return f"""# detector.onnx (fine-tuned)

- version: `{info['version']}`, fine-tuned from `{info['init']}` on {_dt.date.today():%Y-%m-%d}
- data: {own['train_photos']} reviewed photos of {', '.join(info['sources'])} ({own['train_bibs']} bibs); {dev}
- epoch kept: {info['best_epoch']}, {info.get('epoch_rule', 'the best val AP50')}
- validation: {val}
- training log and metrics per epoch: `runs/detector/metrics.jsonl` in this folder
"""


def finetune_detector(entries: list[Entry], args, out: Path, dev_train: list[Entry] | None = None) -> dict:
    """Detector fine-tuning through the detector's own `training.train_detector.finetune` (on the reviewed train
    photos + ``dev_train``, validated on the reviewed val photos), else a copy."""
    ckpt = args.models / "detector.pt"
    reason = None
    if args.skip_detector:
        reason = "--skip-detector given"
    elif not ckpt.is_file():
        reason = f"{ckpt} not found (the detector needs its torch checkpoint)"
    else:
        try:
            from training.train_detector import finetune as det_finetune
        except ImportError as exc:
            reason = f"training.train_detector.finetune unavailable ({exc})"
    if reason is None:
        run_dir = out / "runs" / "detector"
        path = det_finetune(entries, ckpt, run_dir, epochs=args.detector_epochs, steps_per_epoch=args.detector_steps,
                            threads=args.threads, extra_train=dev_train, lr=args.detector_lr, pick=DETECTOR_PICK[args.pick_epoch],
                            on_step=lambda done, total: progress("detector", done, total))
        shutil.copyfile(path, out / "detector.onnx")
        shutil.copyfile(run_dir / "best.pt", out / "detector.pt")
        info = detector_summary(entries, out, run_dir, args.models / "detector.onnx", args.threads)
        info.update(init=str(ckpt), sources=[str(f) for f in args.from_dirs], dev_train_photos=len(dev_train or []),
                    epoch_pick=DETECTOR_PICK[args.pick_epoch], epoch_rule=DETECTOR_RULE[args.pick_epoch])
        (out / "detector.md").write_text(detector_card(info), encoding="utf-8")
        log(f"detector fine-tuned (version {info['version']})")
        return {"finetuned": True, "onnx": str(out / "detector.onnx"), **info}
    # detector.pt too, so this folder can be the --models of a later fine-tune (it matches detector.onnx)
    copied = [name for name in ("detector.onnx", "detector.md", "detector.pt") if (args.models / name).is_file()]
    for name in copied:
        shutil.copyfile(args.models / name, out / name)
    if "detector.onnx" in copied:
        log(f"detector not fine-tuned: {reason}; the current detector was copied")
    else:
        log(f"detector not fine-tuned: {reason}; no {args.models / 'detector.onnx'} to copy either, "
            f"so {out} holds only the reader")
    return {"finetuned": False, "reason": reason, "copied": copied}


if __name__ == "__main__":
    sys.exit(main())
