"""Train, evaluate and export the bib detector (from scratch; CPU, or a GPU with --device).

    python -m training train-detector --epochs 60 --out runs/detector

Writes ``OUT/last.pt`` and ``OUT/best.pt`` (EMA weights, best val AP50), ``OUT/metrics.jsonl``
(one line per epoch) and ``OUT/detector.onnx`` (the best checkpoint, ONNX contract of
docs/architecture.md).  Validation is the rbnr_dev val split of ``training.data.split``; the
model never sees it during training.
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from bibtagger_gui.core.decode import box_iou, centernet_decode, letterbox, nms
from training.data import DEFAULT_DEV, Entry, audited, data_hash, label_audit_path, load_entries, split
from training.detector_data import DetectorSampler, load_photos, load_synth, make_targets, to_tensor_batch
from training.models import cpu_state
from training.models.detector import SIZE_SCALE, STRIDE, BibDetector

DEFAULT_THRESHOLD = 0.3
# H and W are dynamic (multiples of 32): the app feeds input_size for the photo and smaller
# zoomed crops when it refines small boxes (docs/recognizer.md).
DYNAMIC_AXES = {"image": {2: "H", 3: "W"}, "heatmap": {2: "h", 3: "w"}, "size": {2: "h", 3: "w"}, "offset": {2: "h", 3: "w"}}
NMS_IOU = 0.4
PICKS = ("ap50", "last")  # train()'s choice of the epoch it keeps


# --------------------------------------------------------------------------- loss
def detector_loss(model: BibDetector, images: torch.Tensor, targets: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """CenterNet focal loss on the heatmap, L1 on log-size (cells weighted by the target Gaussian), L1 on the centre offset."""
    logit, wh_raw, off = model.raw(images)
    t = targets["heatmap"]
    valid = 1.0 - targets["ignore"]
    pos = (t >= 0.999).float()
    npos = pos.sum().clamp(min=1.0)
    logp, log1mp = F.logsigmoid(logit), F.logsigmoid(-logit)
    p = torch.sigmoid(logit)
    pos_l = -(logp * (1 - p) ** 2 * pos).sum()
    neg_l = -(log1mp * p**2 * (1 - t) ** 4 * (1 - pos) * valid).sum()
    hm_loss = (pos_l + neg_l) / npos
    w = targets["reg_weight"]
    wsum = w.sum().clamp(min=1e-3)
    log_wh_t = torch.log(targets["wh"].clamp(min=1.0) / SIZE_SCALE)
    wh_loss = ((wh_raw - log_wh_t).abs() * w).sum() / wsum
    # the offset only matters on the peak cell (that is where decoding reads it)
    off_loss = ((off - targets["off"]).abs() * pos).sum() / npos
    total = hm_loss + wh_loss + off_loss
    return total, {"hm": float(hm_loss.detach()), "wh": float(wh_loss.detach()), "off": float(off_loss.detach())}


def make_batch(sampler: DetectorSampler, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """n augmented samples -> image tensor [n,3,c,c] and stacked target tensors."""
    imgs, tg = [], []
    for _ in range(n):
        img, boxes = sampler.sample(rng)
        imgs.append(img)
        tg.append(make_targets(boxes, sampler.crop, STRIDE))
    targets = {k: torch.from_numpy(np.stack([t[k] for t in tg])) for k in tg[0]}
    return torch.from_numpy(to_tensor_batch(imgs)), targets


# --------------------------------------------------------------------------- evaluation
Predictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def torch_predictor(model: BibDetector) -> Predictor:
    """Wrap a torch model as numpy [1,3,H,W] -> (heatmap, size, offset)."""

    def run(x: np.ndarray):
        model.eval()
        with torch.no_grad():
            hm, wh, off = model(torch.from_numpy(x).to(next(model.parameters()).device))
        return hm.cpu().numpy(), wh.cpu().numpy(), off.cpu().numpy()

    return run


def onnx_predictor(path: Path, threads: int = 2) -> Predictor:
    """Wrap an exported detector.onnx as a Predictor."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def run(x: np.ndarray):
        hm, wh, off = sess.run(["heatmap", "size", "offset"], {"image": x})
        return hm, wh, off

    return run


def detect(predict: Predictor, image: np.ndarray, input_size: int, threshold: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Boxes [N,4] in the image's pixels and scores [N] (decode + NMS, app post-processing)."""
    x, scale = letterbox(image, (input_size, input_size))
    hm, wh, off = predict(x)
    boxes, scores = centernet_decode(hm, wh, off, stride=STRIDE, score_threshold=threshold)
    keep = nms(boxes, scores, NMS_IOU)
    return boxes[keep] / scale, scores[keep]


def match(pred: np.ndarray, scores: np.ndarray, gt: np.ndarray, iou: float = 0.5) -> np.ndarray:
    """Greedy matching by score; True where a prediction hits a not-yet-matched ground-truth box."""
    tp = np.zeros(len(pred), bool)
    if len(pred) == 0 or len(gt) == 0:
        return tp
    ious = box_iou(pred, gt)
    used = np.zeros(len(gt), bool)
    for i in np.argsort(-scores):
        j = int(np.argmax(np.where(used, -1, ious[i])))
        if not used[j] and ious[i, j] >= iou:
            used[j] = True
            tp[i] = True
    return tp


def box_metrics(dets: list[tuple[np.ndarray, np.ndarray]], gts: list[np.ndarray], threshold: float) -> dict[str, float]:
    """AP50 (all-point interpolated) and precision/recall/F1 at `threshold`; also the best-F1 threshold."""
    all_scores, all_tp = [], []
    for (boxes, scores), gt in zip(dets, gts):
        all_scores.append(scores)
        all_tp.append(match(boxes, scores, gt))
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    tp = np.concatenate(all_tp) if all_tp else np.zeros(0, bool)
    n_gt = sum(len(g) for g in gts)
    order = np.argsort(-scores)
    scores, tp = scores[order], tp[order]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    recall = ctp / max(n_gt, 1)
    precision = ctp / np.maximum(ctp + cfp, 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    ap = float(np.sum((mrec[1:] - mrec[:-1]) * mpre[1:]))
    at = scores >= threshold
    k = int(at.sum())
    p = float(ctp[k - 1] / k) if k else 1.0
    r = float(ctp[k - 1] / max(n_gt, 1)) if k else 0.0
    f1s = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    best = int(np.argmax(f1s)) if len(f1s) else 0
    return {
        "ap50": ap,
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / max(p + r, 1e-9),
        "threshold": threshold,
        "best_f1": float(f1s[best]) if len(f1s) else 0.0,
        "best_f1_threshold": float(scores[best]) if len(f1s) else threshold,
    }


def evaluate(predict: Predictor, photos, input_size: int, threshold: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    """Box metrics of a predictor on decoded photos (``detector_data.Photo``)."""
    dets = [detect(predict, p.image, input_size) for p in photos]
    return box_metrics(dets, [p.boxes for p in photos], threshold)


# --------------------------------------------------------------------------- export
def export_detector(model: BibDetector, path: Path, input_size: int, data_hash_: str, version: str) -> Path:
    """Export to ONNX with the contract's names and metadata (via training.export when available)."""
    model = copy.deepcopy(model).eval()
    dummy = torch.zeros(1, 3, input_size, input_size)
    metadata = {
        "bibtagger.kind": "detector",
        "bibtagger.version": version,
        "bibtagger.input_size": f"{input_size},{input_size}",
        "bibtagger.stride": str(STRIDE),
        "bibtagger.data_hash": data_hash_,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from training.export import export_onnx
    except ImportError:
        export_onnx = None
    if export_onnx is not None:
        export_onnx(model, dummy, ["image"], ["heatmap", "size", "offset"], DYNAMIC_AXES, metadata, path)
        return path
    import onnx

    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(model, (dummy,), str(tmp), input_names=["image"], output_names=["heatmap", "size", "offset"],
                      dynamic_axes=DYNAMIC_AXES, opset_version=17, dynamo=False)
    proto = onnx.load(str(tmp))
    for k, v in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    tmp.unlink(missing_ok=True)
    return path


# --------------------------------------------------------------------------- training
class EMA:
    """Exponential moving average of weights (and BN buffers), evaluated and exported instead of the raw model."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.998):
        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        msd = model.state_dict()
        for k, v in self.model.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
            else:
                v.copy_(msd[k])


class BatchStream(torch.utils.data.IterableDataset):
    """Endless training batches drawn in DataLoader worker processes (``train(workers=N)``).

    Each worker decodes the photos itself and draws from the stream seeded ``(seed, worker + 1)``,
    so the batches depend on the seed and the number of workers, not on timing (the loader takes
    them from the workers in turn)."""

    def __init__(self, entries: list[Entry], batch: int, seed: int, **sampler_kwargs):
        self.entries, self.batch, self.seed, self.kwargs = entries, batch, seed, sampler_kwargs

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
        sampler = DetectorSampler(load_photos(self.entries), **self.kwargs)
        rng = np.random.default_rng([self.seed, (info.id if info else 0) + 1])
        while True:
            yield make_batch(sampler, rng, self.batch)


def save_checkpoint(ck: dict, path: Path) -> None:
    """torch.save through a temp file: a run killed while saving keeps the previous best.pt/last.pt."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ck, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> tuple[BibDetector, dict]:
    """Model and config from a .pt checkpoint written by train()."""
    ck = torch.load(str(path), map_location="cpu", weights_only=False)
    model = BibDetector(**ck.get("arch", {}))
    model.load_state_dict(ck["model"])
    return model, ck


def train(
    train_entries: list[Entry],
    val_entries: list[Entry],
    out: Path,
    epochs: int = 60,
    steps_per_epoch: int = 40,
    batch: int = 8,
    lr: float = 2e-3,
    input_size: int = 512,
    crop: int = 384,
    threads: int = 2,
    seed: int = 0,
    init: Path | None = None,
    synth: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
    time_budget_min: float | None = None,
    log: Callable[[str], None] = print,
    p_occlude: float = 0.0,
    workers: int = 0,
    device: str = "cpu",
    keep_epochs: bool = False,
    on_step: Callable[[int, int], None] | None = None,
    pick: str = "ap50",
) -> dict:
    """Train from scratch (or from `init`), keep the best EMA checkpoint by val AP50, export it.

    ``p_occlude``: share of bibs given an arm-like occluder (``DetectorSampler``). ``workers`` > 0
    draws the batches in that many spawned processes (``BatchStream``; 0: in this process, the
    shipped recipe's stream), ``device`` runs the model there (e.g. ``cuda``), ``keep_epochs`` also
    keeps every epoch's checkpoint as ``OUT/epoch-<n>.pt`` (docs/training.md#gpu-runs). ``on_step(done, total)``
    is called after each training step (the app's progress, through finetune --progress-json).
    ``pick`` (PICKS): which epoch is OUT/best.pt and the export: "ap50", the highest val AP50, then F1, a tie keeping
    the later (a small val split that every epoch from the third on gets right must not keep the third: docs/training.md#an-unseen-race); "last", the last epoch (val only reported; finetune's default, docs/training.md#choosing-the-epoch).
    Without val photos both take the last epoch."""
    if pick not in PICKS:
        raise ValueError(f"unknown epoch pick {pick!r}: one of {', '.join(PICKS)}")
    # under CPU contention 2 OpenMP threads can be ~10x slower than 1 (threads spin waiting on each other)
    torch.set_num_threads(threads)
    cv2.setNumThreads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_photos = load_photos(train_entries)
    if not train_photos:
        raise ValueError("no readable training photos")
    n_train, n_bibs = len(train_photos), sum(len(p.boxes) for p in train_photos)
    val_photos = load_photos(val_entries)
    if init is not None:
        model, init_ck = load_checkpoint(Path(init))
        input_size = int(init_ck.get("input_size", input_size))  # the exported frame stays the same
    else:
        model = BibDetector()
    dev = torch.device(device)
    model.to(dev)
    sampler_kwargs = dict(input_size=input_size, crop=crop, synth="auto" if synth else None, p_occlude=p_occlude)
    if workers > 0:  # each worker decodes the photos and builds its own sampler; this process only trains
        del train_photos
        has_synth = synth and load_synth() is not None
        batches = iter(torch.utils.data.DataLoader(
            BatchStream(train_entries, batch, seed, **sampler_kwargs), batch_size=None, num_workers=workers,
            multiprocessing_context="spawn", persistent_workers=True, prefetch_factor=4))

        def next_batch():
            return next(batches)
    else:
        sampler = DetectorSampler(train_photos, **sampler_kwargs)
        has_synth = sampler.render_bib is not None

        def next_batch():
            return make_batch(sampler, rng, batch)
    log(f"train photos {n_train} ({n_bibs} bibs), val photos {len(val_photos)}, "
        f"synthetic bibs: {'yes' if has_synth else 'no'}, batches drawn in {max(workers, 1)} process(es) for {dev}")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    total = epochs * steps_per_epoch
    warm = min(200, total // 10)

    def progress(step: int) -> float:
        # with a time budget the cosine schedule follows wall time too, so a busy CPU still anneals
        p = step / max(1, total)
        if time_budget_min:
            p = max(p, (time.time() - start) / (time_budget_min * 60))
        return min(1.0, p)

    def lr_at(step: int) -> float:
        if step < warm:
            return lr * (0.1 + 0.9 * step / max(1, warm))
        return lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress(step))))

    ema = EMA(model)
    dhash = data_hash(train_entries)
    best: dict = {"ap50": -1.0}
    start = time.time()
    step = 0
    metrics_path = out / "metrics.jsonl"
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.time()
        agg = {"loss": 0.0, "hm": 0.0, "wh": 0.0, "off": 0.0}
        for _ in range(steps_per_epoch):
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            images, targets = next_batch()
            images = images.to(dev, non_blocking=True)
            targets = {k: v.to(dev, non_blocking=True) for k, v in targets.items()}
            loss, parts = detector_loss(model, images, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            ema.update(model)
            step += 1
            if on_step is not None:
                on_step(step, total)
            agg["loss"] += float(loss.detach()) / steps_per_epoch
            for k, v in parts.items():
                agg[k] += v / steps_per_epoch
        m = evaluate(torch_predictor(ema.model), val_photos, input_size, threshold) if val_photos else {"ap50": 0.0}
        rec = {"epoch": epoch, "step": step, "lr": lr_at(step), "time_s": round(time.time() - start, 1), **{k: round(v, 4) for k, v in agg.items()}, **{f"val_{k}": round(v, 4) for k, v in m.items()}}
        with metrics_path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        ck = {"model": cpu_state(ema.model), "arch": {}, "input_size": input_size, "epoch": epoch, "metrics": m, "data_hash": dhash}
        save_checkpoint(ck, out / "last.pt")
        if keep_epochs:
            save_checkpoint(ck, out / f"epoch-{epoch}.pt")
        tag = ""
        score = (m["ap50"], m.get("f1", 0))
        if pick == "last" or not val_photos or score >= (best["ap50"], best.get("f1", 0)):  # a tie: the later epoch
            best = {**m, "epoch": epoch}
            save_checkpoint(ck, out / "best.pt")
            tag = " *best*"
        log(f"epoch {epoch}/{epochs} loss {agg['loss']:.3f} (hm {agg['hm']:.3f} wh {agg['wh']:.3f} off {agg['off']:.3f}) "
            f"{time.time() - t0:.0f}s | val AP50 {m['ap50']:.3f} P {m.get('precision', 0):.3f} R {m.get('recall', 0):.3f} "
            f"F1 {m.get('f1', 0):.3f} (best F1 {m.get('best_f1', 0):.3f} @ {m.get('best_f1_threshold', 0):.2f}){tag}")
        if progress(step) >= 1.0:
            if epoch < epochs:
                log(f"time budget of {time_budget_min} min reached after epoch {epoch}")
            break
    model, ck = load_checkpoint(out / "best.pt")
    from training.export import weights_hash  # the epoch and data hash alone name runs with other settings alike

    version = f"{_dt.date.today():%Y%m%d}-e{ck['epoch']}-{dhash[:6]}-{weights_hash(ck['model'])}"
    path = export_detector(model, out / "detector.onnx", input_size, dhash, version)
    log(f"best epoch {best.get('epoch')} AP50 {best['ap50']:.3f}; exported {path} (version {version})")
    return {"best": best, "onnx": str(path), "version": version}


def finetune_split(entries: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(train, val) of reviewed photos for a fine-tune: the usual hash split, or all of them as train when
    a handful all hash to val (train on them all rather than nothing)."""
    train_e, val_e = split(entries)
    if not train_e:
        train_e, val_e = entries, []
    return train_e, val_e


def finetune(entries: list[Entry], init: Path | str | None, out_dir: Path | str, epochs: int = 10,
             extra_train: list[Entry] | None = None, **kwargs) -> Path:
    """Fine-tune the detector on corrected annotations (their `finetune_split`: train, and val to report, or to choose
    the epoch with ``pick="ap50"``).

    `init` is a ``.pt`` checkpoint from train() (or None to start from scratch). ``extra_train``: more train
    photos (e.g. the dev set's train split), never validated on. Writes OUT_DIR/detector.onnx and returns its path.
    """
    train_e, val_e = finetune_split(entries)
    kwargs.setdefault("lr", 5e-4)
    res = train(train_e + list(extra_train or []), val_e, Path(out_dir), epochs=epochs, init=Path(init) if init else None, **kwargs)
    return Path(res["onnx"])


def evaluate_models(models_dir: Path, entries: list[Entry], threads: int = 2, sweep: bool = True) -> dict:
    """End-to-end numbers of the app's Recognizer (``recognize_path``) and the detector's box metrics.

    Image-level and box+number P/R/F1 come from ``core.evaluation``; ``sweep`` adds image-level
    F1 for a range of ``min_confidence`` values (informational: the shipped default is not tuned on val).
    """
    from bibtagger_gui.core.annotations import PhotoAnnotation
    from bibtagger_gui.core.evaluation import evaluate as evaluate_bibs
    from bibtagger_gui.core.recognizer import Recognizer

    models_dir = Path(models_dir)
    rec = Recognizer.from_dir(models_dir, threads=threads, min_confidence=0.0)
    default_min = rec.default_min_confidence  # the app's default threshold (calibrated scale when calibrated)
    gt = [PhotoAnnotation(e.image, e.width, e.height, list(e.bibs)) for e in entries]
    raw, seconds = [], 0.0
    for e in entries:
        t0 = time.perf_counter()
        bibs = rec.recognize_path(e.path)
        seconds += time.perf_counter() - t0
        raw.append(bibs)

    def at(th: float):
        pred = [PhotoAnnotation(e.image, e.width, e.height, [b for b in bibs if (b.confidence or 0) >= th]) for e, bibs in zip(entries, raw)]
        return evaluate_bibs(gt, pred)

    result = at(default_min).to_json()
    out = {
        "models": str(models_dir),
        "version": rec.version,
        "photos": len(entries),
        "min_confidence": default_min,
        "image_level": result["image_level"],
        "box_level": result["box_level"],
        "seconds_per_photo": round(seconds / max(1, len(entries)), 4),
        "threads": threads,
    }
    photos = load_photos(entries)
    size = rec.detector.input_size[0]
    out["detector"] = {k: round(v, 4) for k, v in evaluate(onnx_predictor(models_dir / "detector.onnx", threads), photos, size).items()}
    if sweep:
        out["sweep"] = {f"{th:.2f}": at(th).image.to_json() for th in np.arange(0.1, 0.75, 0.05)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training train-detector", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DEV / "annotations.json", help="bib annotation JSON (rbnr_dev)")
    ap.add_argument("--out", type=Path, default=Path("runs/detector"))
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--steps-per-epoch", type=int, default=40)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--input-size", type=int, default=512)
    ap.add_argument("--crop", type=int, default=384)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (<= 2; 1 is fastest on a shared CPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", type=Path, default=None, help="start from this .pt checkpoint")
    ap.add_argument("--no-synth", action="store_true", help="do not composite synthetic bibs")
    ap.add_argument("--time-budget", type=float, default=None, help="stop after this many minutes")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--label-audit", default="auto", metavar="JSON",
                    help="bibs the annotations miss, added to training (all) and to val (legible ones); "
                         "'auto' = training/label_audit.json for rbnr_dev, 'none' = off")
    ap.add_argument("--partly-hidden", choices=("positive", "negative"), default="positive",
                    help="the label audit's partly hidden train bibs: boxes to find, or background, i.e. negatives "
                         "(docs/recognizer.md#partly-hidden-bibs)")
    ap.add_argument("--occlude", type=float, default=0.0, metavar="P",
                    help="chance that a training bib gets an arm-like occluder; those that hide part of the "
                         "number become negatives (docs/recognizer.md#partly-hidden-bibs)")
    ap.add_argument("--workers", type=int, default=0, metavar="N",
                    help="draw the training batches in N spawned processes (0: in this one; docs/training.md#gpu-runs)")
    ap.add_argument("--device", default="cpu", help="torch device for the model, e.g. cuda")
    ap.add_argument("--keep-epochs", action="store_true", help="also keep every epoch's checkpoint as OUT/epoch-<n>.pt")
    ap.add_argument("--evaluate-models", type=Path, default=None, metavar="DIR",
                    help="do not train: evaluate DIR/detector.onnx + DIR/reader.onnx on the val split and print JSON")
    args = ap.parse_args(argv)
    entries = load_entries(args.data)
    train_e, val_e = split(entries)
    if args.evaluate_models is not None:
        print(json.dumps(evaluate_models(args.evaluate_models, val_e, threads=min(args.threads, 2)), indent=2))
        return 0
    audit = label_audit_path(args.label_audit, args.data)
    if audit is not None:
        train_e, val_e = audited(train_e, audit, legible_only=args.partly_hidden == "negative"), audited(val_e, audit)
        print(f"label audit {audit}: train {sum(len(e.bibs) for e in train_e)} bibs, val {sum(len(e.bibs) for e in val_e)}", flush=True)
    train(
        train_e, val_e, args.out, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch=args.batch, lr=args.lr,
        input_size=args.input_size, crop=args.crop, threads=min(args.threads, 2), seed=args.seed, init=args.init,
        synth=not args.no_synth, threshold=args.threshold, time_budget_min=args.time_budget,
        log=lambda s: print(s, flush=True), p_occlude=args.occlude, workers=args.workers, device=args.device,
        keep_epochs=args.keep_epochs,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
