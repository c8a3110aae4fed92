"""Train the CRNN reader: pretrain on synthetic + real train crops, fine-tune on real crops.

`python -m training train-reader --synthetic N --epochs E --out runs/reader`

Validation is the real val split (training.data.split) of the dev set, read from the ground-truth
boxes through the app's own crop preprocessing and decoded by core.decode.ctc_greedy_decode.
The best checkpoint (val exact-number accuracy, then val CTC loss) is kept as OUT/best.pt.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bibtagger_gui.core.decode import ctc_greedy_decode
from bibtagger_gui.core.recognizer import default_models_dir, reader_batch
from training.data import DEFAULT_DEV, Entry, audited, data_hash, label_audit_path, load_entries, split
from training.models import cpu_state
from training.models.reader import CHARSET, CONV_CHANNELS, CRNN, HIDDEN, INPUT_H, INPUT_W, encode_targets
from training.reader_data import (NO_SQUEEZE, RealBib, attach_detector_boxes, attach_glyph_cuts, eval_crop, load_real_bibs, mosaic_bib,
                                  real_sample, render_synthetic, synthetic_cached)
from training.synth_bibs import SQUEEZE

LUMA = (0.299, 0.587, 0.114)  # RGB -> grey, as cv2.COLOR_RGB2GRAY (reader_crop's grey)


@dataclass
class ReaderConfig:
    """Everything that defines a reader training run (stored in checkpoints)."""

    out: str = "runs/reader"
    synthetic: int = 30000
    epochs: int = 5  # pretraining passes over the synthetic set
    finetune_epochs: int = 3
    finetune_steps: int = 300  # steps per fine-tuning epoch
    batch: int = 64
    real_fraction: float = 0.25  # share of real crops in pretraining batches
    lr: float = 2e-3
    finetune_lr: float = 5e-4
    threads: int = 2
    seed: int = 0
    init: str | None = None  # checkpoint to start from (finetune)
    detector: str | None = None  # detector.onnx: also train on its boxes of the train bibs (share det_share)
    det_share: float = 0.5
    charset: str = CHARSET
    height: int | None = None  # reader input (crop) size, the app reads it from the ONNX metadata;
    width: int | None = None  # None: the --init checkpoint's, else INPUT_H x INPUT_W
    stretch: float | None = None  # reader_crop's horizontal stretch; None: the init checkpoint's, else 1.0
    channels: int | None = None  # crop channels, 1 grey or 3 RGB; None: the init checkpoint's, else 1
    conv_channels: tuple[int, int, int, int] | None = None  # model widths; None: the init checkpoint's, else CONV_CHANNELS
    hidden: int | None = None  # BiLSTM units per direction; None: the init checkpoint's, else HIDDEN
    squeeze: tuple[float, float] = SQUEEZE  # synthetic numbers' horizontal scale range
    real_squeeze: tuple[float, float] = NO_SQUEEZE  # real crops' extra horizontal scale range
    real_fold: float = 0.0  # share of real crops given a crease (reader_data.fold_region)
    real_mosaic: float = 0.0  # share of real crops recombined from their own character strips (reader_data.mosaic_bib)
    mosaic_reader: str | None = None  # reader.onnx whose CTC alignment finds the strips (None: the app's shipped one)
    train_sources: list[str] = field(default_factory=list)
    log_every: int = 50
    device: str = "cpu"  # torch device of the model ("cuda" on a GPU machine); the data stays on the CPU
    render_workers: int = 1  # processes rendering the synthetic crops (reader_data.render_synthetic)
    synthetic_cache: str | None = None  # .npz of rendered synthetic crops, reused by runs with the same settings
    synthetic_seed: int | None = None  # seed of the synthetic render (None: --seed)
    time_budget: float = 0.0  # minutes for pretraining + fine-tuning (0: none); pretraining is shortened to fit
    keep_epochs: bool = False  # also keep every epoch's checkpoint as OUT/<phase>-<epoch>.pt
    pick: str = "accuracy"  # which epoch is OUT/best.pt: one of PICKS


# How train() picks the epoch kept as OUT/best.pt among those it evaluated on the val crops:
#   accuracy: the highest exact-number accuracy, then the lowest val CTC loss; a tie keeps the earlier (train-reader)
#   loss: the lowest val CTC loss over every val crop; a tie takes the later epoch; a NaN loss (diverged) only
#         when no epoch had a finite one (then the last)
#   last: the last epoch, whatever the val crops say (they are only reported; finetune's default,
#         docs/training.md#choosing-the-epoch)
# Without val crops every pick takes the last epoch.
PICKS = ("accuracy", "loss", "last")


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def evaluate(model: CRNN, crops: np.ndarray, numbers: list[str], batch: int = 128, device: str = "cpu") -> dict:
    """Exact-number accuracy, char error proxy and mean CTC loss on prepared crops [n,h,w] / [n,3,h,w] float 0..1."""
    model.eval()
    if len(numbers) == 0:
        return {"n": 0, "accuracy": float("nan"), "loss": float("nan"), "errors": []}
    ctc = nn.CTCLoss(blank=0, zero_infinity=True, reduction="sum")
    correct, loss_sum, errors = 0, 0.0, []
    with torch.no_grad():
        for i in range(0, len(numbers), batch):
            x = torch.from_numpy(reader_batch(crops[i : i + batch])).to(device)
            labels = numbers[i : i + batch]
            lp = model(x)
            tg, tl = encode_targets(labels, model.charset)
            il = torch.full((len(labels),), lp.shape[1], dtype=torch.long)
            loss_sum += float(ctc(lp.permute(1, 0, 2), tg.to(device), il, tl))
            for (text, conf), truth in zip(ctc_greedy_decode(lp.cpu().numpy(), model.charset), labels):
                if text == truth:
                    correct += 1
                else:
                    errors.append((truth, text, round(conf, 3)))
    return {"n": len(numbers), "accuracy": correct / len(numbers), "loss": loss_sum / len(numbers), "errors": errors}


def is_better(pick: str, v: dict, best: dict) -> bool:
    """Whether an epoch with val metrics ``v`` replaces ``best`` (the kept epoch's) as OUT/best.pt, by ``pick`` (PICKS)."""
    if pick == "last" or v["n"] == 0:
        return True
    if pick == "loss":  # NaN (a diverged epoch) compares false: a finite loss wins over it, and one epoch is always kept
        return best.get("epoch") is None or math.isnan(best["loss"]) or v["loss"] <= best["loss"]
    if pick == "accuracy":
        return v["accuracy"] > best["accuracy"] or (v["accuracy"] == best["accuracy"] and v["loss"] < best["loss"])
    raise ValueError(f"unknown epoch pick {pick!r}: one of {', '.join(PICKS)}")


def save_checkpoint(path: Path, model: CRNN, cfg: ReaderConfig, extra: dict) -> None:
    tmp = path.with_suffix(".tmp")
    state = cpu_state(model)
    torch.save({"kind": "reader", "state_dict": state, "charset": model.charset,
                "input_size": [model.height, model.width], "stretch": model.stretch, "channels": model.in_channels,
                "conv_channels": list(model.conv_channels), "hidden": model.hidden, "config": asdict(cfg), **extra}, tmp)
    tmp.replace(path)


def load_reader(path: Path) -> tuple[CRNN, dict]:
    """A CRNN and its checkpoint dict from a reader checkpoint."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if ckpt.get("kind") != "reader":
        raise ValueError(f"{path} is not a reader checkpoint")
    h, w = ckpt.get("input_size", [32, 128])
    model = CRNN(ckpt["charset"], h, w, channels=tuple(ckpt.get("conv_channels", CONV_CHANNELS)), hidden=int(ckpt.get("hidden", HIDDEN)),
                 stretch=float(ckpt.get("stretch", 1.0)), in_channels=int(ckpt.get("channels", 1)))
    model.load_state_dict(ckpt["state_dict"])
    return model, ckpt


def resize_reader_state(state: dict, target: dict) -> dict:
    """``state`` (a CRNN's weights) fitted to a CRNN of another input size with state dict ``target``.

    Only the convolution that collapses the feature height depends on the input size (its kernel
    height is input height / 16); its kernel is resampled along the height and scaled so that a
    uniform feature column gives the same response. Everything else is size-independent and kept.
    A grey reader's first convolution becomes an RGB one that sees the crop's luminance (the
    weights times the RGB->grey coefficients), so the RGB reader starts as the grey one; an RGB
    one becomes grey by summing its channels.
    """
    out = {}
    for k, v in state.items():
        want = target[k].shape
        inputs_only = v.dim() == 4 and v.shape[0] == want[0] and v.shape[2:] == want[2:]  # a conv's input channels differ
        if v.shape == want:
            out[k] = v
        elif inputs_only and (v.shape[1], want[1]) == (1, 3):
            out[k] = v * torch.tensor(LUMA, dtype=v.dtype).view(1, 3, 1, 1)
        elif inputs_only and (v.shape[1], want[1]) == (3, 1):
            out[k] = v.sum(dim=1, keepdim=True)
        elif v.dim() == 4 and v.shape[:2] == want[:2] and v.shape[3] == want[3]:
            w = torch.nn.functional.interpolate(v, size=(want[2], want[3]), mode="bilinear", align_corners=True)
            out[k] = w * (v.shape[2] / want[2])
        else:
            raise ValueError(f"cannot fit {k} of shape {tuple(v.shape)} to {tuple(want)}")
    return out


def _photos(bibs: list[RealBib]) -> list[np.ndarray]:
    seen, out = set(), []
    for b in bibs:
        if id(b.image) not in seen:
            seen.add(id(b.image))
            out.append(b.image)
    return out


def _fit_budget(cfg: ReaderConfig, done: int, elapsed: float, rate: float, real_batch) -> int:
    """Pretraining steps that fit ``cfg.time_budget`` minutes when ``done`` steps took ``elapsed``
    seconds in all and the steps after the warm-up take ``rate`` seconds each (the first steps on a
    GPU take far longer), with a timed estimate of the fine-tuning steps (their real crops cost more
    to make); at least one more step than done."""
    t0 = time.time()
    for _ in range(3):
        real_batch(cfg.batch)
    finetune = cfg.finetune_steps * cfg.finetune_epochs * (rate + (time.time() - t0) / 3)
    left = cfg.time_budget * 60 * 0.95 - elapsed - finetune
    return done + max(1, int(left / rate))


def train(cfg: ReaderConfig, train_entries: list[Entry], val_entries: list[Entry],
          on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Run pretraining + fine-tuning; returns a summary (best checkpoint path, metrics).

    ``on_progress(stage, done, total)`` hears of the work as it goes: "synthetic" (crops rendered), then
    "reader" (training steps of both phases). With ``cfg.init`` the summary also holds the start model's
    val metrics on the same crops (``init_val_accuracy``, ``init_val_loss``), before any step."""
    def tell(stage: str, done: int, total: int) -> None:
        if on_progress is not None:
            on_progress(stage, done, total)

    if cfg.pick not in PICKS:
        raise ValueError(f"unknown epoch pick {cfg.pick!r}: one of {', '.join(PICKS)}")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    init_model = load_reader(Path(cfg.init))[0] if cfg.init else None
    base_h, base_w = (init_model.height, init_model.width) if init_model is not None else (INPUT_H, INPUT_W)
    cfg = replace(cfg, height=cfg.height or base_h, width=cfg.width or base_w)
    if init_model is not None and (base_h, base_w) != (cfg.height, cfg.width):
        log(f"input size {cfg.height}x{cfg.width}: warm start from {cfg.init}'s {base_h}x{base_w} weights")
    # settings left unset (None) come from the --init checkpoint's model, else from the defaults
    inherited = {"stretch": ("stretch", 1.0), "channels": ("in_channels", 1), "conv_channels": ("conv_channels", CONV_CHANNELS),
                 "hidden": ("hidden", HIDDEN)}
    cfg = replace(cfg, **{k: getattr(init_model, attr) if init_model is not None else default
                          for k, (attr, default) in inherited.items() if getattr(cfg, k) is None})
    cfg = replace(cfg, conv_channels=tuple(cfg.conv_channels))
    if init_model is not None and (init_model.conv_channels, init_model.hidden) != (cfg.conv_channels, cfg.hidden):
        raise ValueError(f"--init {cfg.init} has widths {init_model.conv_channels}/{init_model.hidden}, "
                         f"not {cfg.conv_channels}/{cfg.hidden}: a warm start keeps the model's widths")
    if init_model is not None and init_model.in_channels != cfg.channels:
        log(f"{cfg.channels}-channel crops: warm start from {cfg.init}'s {init_model.in_channels}-channel weights")
    stretch, channels = cfg.stretch, cfg.channels
    train_bibs = load_real_bibs(train_entries, cfg.charset)
    val_bibs = load_real_bibs(val_entries, cfg.charset)
    log(f"real bibs: train {len(train_bibs)} from {len(train_entries)} photos, val {len(val_bibs)} from {len(val_entries)} photos")
    if cfg.detector and train_bibs:
        n_det = attach_detector_boxes(train_bibs, Path(cfg.detector))
        log(f"detector boxes matched for {n_det}/{len(train_bibs)} train bibs ({cfg.detector})")
    if cfg.real_mosaic > 0 and train_bibs:
        aligner = Path(cfg.mosaic_reader) if cfg.mosaic_reader else default_models_dir() / "reader.onnx"
        n_cut = attach_glyph_cuts(train_bibs, aligner)
        log(f"character strips found for {n_cut}/{len(train_bibs)} train bibs ({aligner}); mosaics from {cfg.real_mosaic:.0%} of real crops")
    size = (cfg.height, cfg.width)
    crop_shape = size if channels == 1 else (channels, *size)
    val_x = np.stack([eval_crop(b, size, stretch, channels) for b in val_bibs]) if val_bibs else np.zeros((0, *crop_shape), np.float32)
    val_y = [b.number for b in val_bibs]
    photos = _photos(train_bibs)
    hash_ = data_hash(train_entries)

    t0 = time.time()
    synth_x, synth_y = (np.zeros((0, *crop_shape), np.uint8), [])
    if cfg.synthetic > 0:
        syn_seed = cfg.seed if cfg.synthetic_seed is None else cfg.synthetic_seed
        # a parallel render (workers > 1) draws other crops than the single stream: part of the key
        key = {"n": cfg.synthetic, "seed": syn_seed, "size": list(size), "stretch": stretch, "squeeze": list(cfg.squeeze),
               "channels": channels, "chunked": cfg.render_workers > 1, "data_hash": hash_}

        def render():
            tell("synthetic", 0, cfg.synthetic)  # at once: the render is the first long step, seconds to minutes
            log(f"rendering {cfg.synthetic} synthetic crops (seed {syn_seed}, {max(1, cfg.render_workers)} process(es)) ...")
            return render_synthetic(cfg.synthetic, syn_seed, photos,
                                    progress=lambda i, n: (tell("synthetic", i, n), log(f"  synthetic {i}/{n}") if i % 5000 == 0 or i == n else None), size=size,
                                    stretch=stretch, squeeze=cfg.squeeze, channels=channels, workers=cfg.render_workers)

        synth_x, synth_y, loaded = synthetic_cached(Path(cfg.synthetic_cache) if cfg.synthetic_cache else None, key, render)
        tell("synthetic", cfg.synthetic, cfg.synthetic)
        log(f"synthetic {'loaded from ' + str(cfg.synthetic_cache) if loaded else 'done'} in {time.time() - t0:.0f}s")
    held = min(500, len(synth_y) // 10)
    sval_x, sval_y = synth_x[:held].astype(np.float32) / 255.0, synth_y[:held]
    synth_x, synth_y = synth_x[held:], synth_y[held:]

    model = CRNN(cfg.charset, cfg.height, cfg.width, channels=cfg.conv_channels, hidden=cfg.hidden, stretch=stretch,
                 in_channels=channels)
    if init_model is not None:
        if init_model.charset != cfg.charset:
            raise ValueError(f"charset of {cfg.init} differs from {cfg.charset!r}")
        model.load_state_dict(resize_reader_state(init_model.state_dict(), model.state_dict()))
        log(f"initialised from {cfg.init}")
    device = cfg.device
    model.to(device)
    t_train = time.time()  # the time budget counts from here (after rendering)
    log(f"model: {sum(p.numel() for p in model.parameters())} parameters")
    start_val = evaluate(model, val_x, val_y, device=device) if init_model is not None else None
    if start_val is not None:
        log(f"start model {cfg.init}: val acc {start_val['accuracy']:.4f} ({start_val['n']} crops) val loss {start_val['loss']:.3f}")
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    best = {"accuracy": -1.0, "loss": math.inf}
    history = []
    n_real_steps = (cfg.finetune_steps * cfg.finetune_epochs) if cfg.finetune_epochs > 0 and train_bibs else 0
    n_pre_steps = [0]  # set once pretraining knows its length
    steps_done = [0]

    def stepped() -> None:
        steps_done[0] += 1
        tell("reader", steps_done[0], n_pre_steps[0] + n_real_steps)

    def real_batch(k: int) -> tuple[list[np.ndarray], list[str]]:
        idx = rng.integers(0, len(train_bibs), k)
        bibs = [train_bibs[i] for i in idx]
        if cfg.real_mosaic > 0:
            bibs = [mosaic_bib(rng, b) if rng.random() < cfg.real_mosaic else b for b in bibs]
        return [real_sample(rng, b, det_share=cfg.det_share if cfg.detector else 0.0, size=size, stretch=stretch,
                            squeeze=cfg.real_squeeze, fold=cfg.real_fold, channels=channels) for b in bibs], [b.number for b in bibs]

    def step(opt, sched, xs: list[np.ndarray], ys: list[str]) -> float:
        model.train()
        x = torch.from_numpy(reader_batch(xs)).to(device, non_blocking=True)
        tg, tl = encode_targets(ys, model.charset)
        lp = model(x)
        il = torch.full((len(ys),), lp.shape[1], dtype=torch.long)
        loss = ctc(lp.permute(1, 0, 2), tg.to(device), il, tl)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        return loss.item()

    def end_epoch(phase: str, epoch: int, losses: list[float]) -> None:
        v = evaluate(model, val_x, val_y, device=device)
        s = evaluate(model, sval_x, sval_y, device=device) if held else {"accuracy": float("nan")}
        rec = {"phase": phase, "epoch": epoch, "train_loss": float(np.mean(losses)) if losses else float("nan"),
               "val_accuracy": v["accuracy"], "val_loss": v["loss"], "synth_val_accuracy": s["accuracy"],
               "elapsed_s": round(time.time() - t0)}
        history.append(rec)
        log(f"{phase} epoch {epoch}: train loss {rec['train_loss']:.3f}  val acc {v['accuracy']:.4f} "
            f"({v['n']} crops) val loss {v['loss']:.3f}  synth-val acc {s['accuracy']:.4f}  errors {v['errors'][:8]}")
        extra = {"data_hash": hash_, "val": {k: v[k] for k in ("n", "accuracy", "loss")}, "history": history}
        save_checkpoint(out / "last.pt", model, cfg, extra)
        if cfg.keep_epochs:
            save_checkpoint(out / f"{phase}-{epoch}.pt", model, cfg, extra)
        better = is_better(cfg.pick, v, best)
        if better:
            best.update(accuracy=v["accuracy"], loss=v["loss"], phase=phase, epoch=epoch)
            save_checkpoint(out / "best.pt", model, cfg, extra)
            log(f"  new best -> {out / 'best.pt'}")
        (out / "history.json").write_text(json.dumps(history, indent=1))

    # phase 1: synthetic + real
    n_real = int(round(cfg.batch * cfg.real_fraction)) if train_bibs else 0
    n_syn = cfg.batch - n_real
    if cfg.epochs > 0 and len(synth_y) >= n_syn > 0:
        steps_per_epoch = len(synth_y) // n_syn
        total = steps_per_epoch * cfg.epochs
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=total, pct_start=0.1)
        # the time budget is fitted once from the rate of the steps warm..probe (after the warm-up)
        done, warm, probe, t_warm = 0, min(50, total // 20), min(150, total // 10), 0.0
        n_pre_steps[0] = total
        for epoch in range(1, cfg.epochs + 1):
            if done >= total:
                break
            order = rng.permutation(len(synth_y))
            losses = []
            for s in range(steps_per_epoch):
                if done >= total:
                    break
                if done == warm:
                    t_warm = time.time()
                if cfg.time_budget > 0 and done == probe and probe > warm:
                    fitted = _fit_budget(cfg, done, time.time() - t_train, (time.time() - t_warm) / (probe - warm), real_batch)
                    if fitted < total:
                        log(f"time budget {cfg.time_budget:g} min: pretraining shortened to {fitted} of {total} steps "
                            f"({fitted / steps_per_epoch:.2f} epochs)")
                        total = fitted
                        n_pre_steps[0] = total
                        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=total, pct_start=0.1)
                        for _ in range(done):  # the new schedule, at the step reached
                            sched.step()
                done += 1
                sel = order[s * n_syn : (s + 1) * n_syn]
                xs = list(synth_x[sel].astype(np.float32) / 255.0)
                ys = [synth_y[i] for i in sel]
                if n_real:
                    rx, ry = real_batch(n_real)
                    xs, ys = xs + rx, ys + ry
                losses.append(step(opt, sched, xs, ys))
                stepped()
                if (s + 1) % cfg.log_every == 0:
                    log(f"pretrain epoch {epoch}/{cfg.epochs} step {s + 1}/{steps_per_epoch} loss {np.mean(losses[-cfg.log_every:]):.3f}")
            end_epoch("pretrain", epoch, losses)

    # phase 2: real crops with heavy augmentation (+ a quarter synthetic to keep variety)
    if cfg.finetune_epochs > 0 and train_bibs:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.finetune_lr, weight_decay=1e-4)
        total = cfg.finetune_steps * cfg.finetune_epochs
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.finetune_lr, total_steps=total, pct_start=0.1)
        n_syn_ft = cfg.batch // 4 if len(synth_y) else 0
        for epoch in range(1, cfg.finetune_epochs + 1):
            losses = []
            for s in range(cfg.finetune_steps):
                xs, ys = real_batch(cfg.batch - n_syn_ft)
                if n_syn_ft:
                    sel = rng.integers(0, len(synth_y), n_syn_ft)
                    xs += list(synth_x[sel].astype(np.float32) / 255.0)
                    ys += [synth_y[i] for i in sel]
                losses.append(step(opt, sched, xs, ys))
                stepped()
                if (s + 1) % cfg.log_every == 0:
                    log(f"finetune epoch {epoch}/{cfg.finetune_epochs} step {s + 1}/{cfg.finetune_steps} loss {np.mean(losses[-cfg.log_every:]):.3f}")
            end_epoch("finetune", epoch, losses)

    if not (out / "best.pt").exists():  # nothing trained (e.g. zero epochs): keep the model as is
        end_epoch("none", 0, [])
    summary = {"best": str(out / "best.pt"), "best_val_accuracy": best["accuracy"], "best_val_loss": best["loss"],
               "best_phase": best.get("phase"), "best_epoch": best.get("epoch"), "epoch_pick": cfg.pick, "data_hash": hash_,
               "train_photos": len(train_entries), "train_bibs": len(train_bibs), "val_bibs": len(val_bibs),
               "elapsed_s": round(time.time() - t0)}
    if start_val is not None:
        summary.update(init_val_accuracy=start_val["accuracy"], init_val_loss=start_val["loss"])
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    log(f"done: {summary}")
    return summary


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(prog="python -m training train-reader", description=__doc__.splitlines()[0])
    d = ReaderConfig()
    p.add_argument("--synthetic", type=int, default=d.synthetic, help="number of synthetic crops to render")
    p.add_argument("--epochs", type=int, default=d.epochs, help="pretraining epochs over the synthetic set")
    p.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs)
    p.add_argument("--finetune-steps", type=int, default=d.finetune_steps)
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--finetune-lr", type=float, default=d.finetune_lr)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--init", help="start from this reader checkpoint")
    p.add_argument("--detector", help="detector.onnx whose boxes of the train bibs are also used as crops")
    p.add_argument("--det-share", type=float, default=d.det_share, help="share of real crops taken from detector boxes")
    p.add_argument("--data", type=Path, default=DEFAULT_DEV / "annotations.json", help="bib annotation JSON (dev set)")
    p.add_argument("--store", type=Path, nargs="*", default=[], help="app photo folders whose reviewed photos are added to training")
    p.add_argument("--label-audit", default="auto", metavar="JSON",
                   help="legible bibs the annotations miss, added to the train crops; "
                        "'auto' = training/label_audit.json for rbnr_dev, 'none' = off")
    p.add_argument("--input-height", type=int, default=d.height,
                   help=f"reader input height (multiple of 16; default: the --init checkpoint's, else {INPUT_H}; "
                        "another than --init's warm-starts from its weights)")
    p.add_argument("--input-width", type=int, default=d.width,
                   help=f"reader input width (multiple of 4; default: the --init checkpoint's, else {INPUT_W})")
    p.add_argument("--stretch", type=float, default=d.stretch,
                   help="horizontal stretch of reader crops (default: the --init checkpoint's, else 1.0)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=d.channels,
                   help="crop channels: 1 grey, 3 RGB (default: the --init checkpoint's, else 1; "
                        "another than --init's warm-starts from its weights)")
    p.add_argument("--squeeze", type=float, nargs=2, default=list(d.squeeze), metavar=("LO", "HI"),
                   help="horizontal scale range of the synthetic numbers (below 1: narrower digits)")
    p.add_argument("--real-squeeze", type=float, nargs=2, default=list(d.real_squeeze), metavar=("LO", "HI"),
                   help="extra horizontal scale range of the real crops (1 1: none)")
    p.add_argument("--real-fold", type=float, default=d.real_fold, metavar="P",
                   help="share of real crops given a crease: the part beyond it foreshortened, sheared, shaded (0: none)")
    p.add_argument("--real-mosaic", type=float, default=d.real_mosaic, metavar="P",
                   help="share of real crops recombined from their own character strips into new numbers (reader_data.mosaic_bib)")
    p.add_argument("--mosaic-reader", metavar="ONNX", help="reader whose CTC alignment cuts the strips (default: the app's reader.onnx)")
    p.add_argument("--conv-channels", type=int, nargs=4, metavar=("C1", "C2", "C3", "C4"),
                   help=f"output channels of the four conv stages (default: the --init checkpoint's, else {' '.join(map(str, CONV_CHANNELS))})")
    p.add_argument("--hidden", type=int, help=f"BiLSTM units per direction (default: the --init checkpoint's, else {HIDDEN})")
    p.add_argument("--device", default=d.device, help="torch device for the model: cpu (default), cuda, cuda:1, ...")
    p.add_argument("--render-workers", type=int, default=d.render_workers, metavar="N",
                   help="processes rendering the synthetic crops (2 or more: chunked seeds, same crops for any N)")
    p.add_argument("--synthetic-cache", metavar="NPZ",
                   help="keep the rendered synthetic crops in this file and reuse them in runs with the same render settings")
    p.add_argument("--synthetic-seed", type=int, default=d.synthetic_seed,
                   help="seed of the synthetic render (default: --seed); runs that share it can share --synthetic-cache")
    p.add_argument("--time-budget", type=float, default=d.time_budget, metavar="MIN",
                   help="minutes for pretraining + fine-tuning after rendering; pretraining is cut to fit (0: no limit)")
    p.add_argument("--keep-epochs", action="store_true", help="also keep every epoch's checkpoint as OUT/<phase>-<epoch>.pt")
    p.add_argument("--out", default=d.out)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from training.data import entries_from_store

    entries = load_entries(args.data)
    train_entries, val_entries = split(entries)  # validation = dev val split, never trained on
    audit = label_audit_path(args.label_audit, args.data)
    if audit is not None:  # val stays as labelled, so reader accuracies compare across versions
        train_entries = audited(train_entries, audit)
    sources = [str(args.data)]
    for folder in args.store:
        extra = entries_from_store(folder)
        train_entries += extra
        sources.append(str(folder))
        log(f"{folder}: {len(extra)} reviewed photos added to training")
    cfg = ReaderConfig(out=args.out, synthetic=args.synthetic, epochs=args.epochs, finetune_epochs=args.finetune_epochs,
                       finetune_steps=args.finetune_steps, batch=args.batch, lr=args.lr, threads=args.threads,
                       seed=args.seed, init=args.init, train_sources=sources, detector=args.detector,
                       det_share=args.det_share, finetune_lr=args.finetune_lr, height=args.input_height,
                       width=args.input_width, stretch=args.stretch, squeeze=tuple(args.squeeze),
                       real_squeeze=tuple(args.real_squeeze), real_fold=args.real_fold,
                       real_mosaic=args.real_mosaic, mosaic_reader=args.mosaic_reader, channels=args.channels,
                       conv_channels=tuple(args.conv_channels) if args.conv_channels else None, hidden=args.hidden,
                       device=args.device, render_workers=args.render_workers, synthetic_cache=args.synthetic_cache,
                       synthetic_seed=args.synthetic_seed, time_budget=args.time_budget, keep_epochs=args.keep_epochs)
    log(f"command: python -m training train-reader {' '.join(argv if argv is not None else sys.argv[2:])}")
    train(cfg, train_entries, val_entries)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def eval_onnx_main(argv: list[str] | None = None) -> int:
    """`python -m training eval-reader [--onnx resources/models/reader.onnx] [--data JSON]`: dev val split metrics.

    Runs the exported model through ONNX Runtime on ground-truth crops of the val split, with the
    app's preprocessing (reader_crop, pad 0.1) and core.decode.ctc_greedy_decode; also with other
    paddings and jittered boxes to show robustness to detector boxes.
    """
    from bibtagger_gui.core.recognizer import OnnxModel, reader_crop
    from training.reader_data import jitter_box

    p = argparse.ArgumentParser(prog="python -m training eval-reader")
    p.add_argument("--onnx", type=Path, default=Path(__file__).resolve().parents[1] / "resources" / "models" / "reader.onnx")
    p.add_argument("--data", type=Path, default=DEFAULT_DEV / "annotations.json")
    args = p.parse_args(argv)
    model = OnnxModel.load(args.onnx, "reader", threads=1)  # the app's loader: contract checks, metadata
    meta, SIZE, ST, CH = model.meta, model.input_size, model.stretch, model.channels
    charset = meta["bibtagger.charset"]
    _, val = split(load_entries(args.data))
    bibs = load_real_bibs(val, charset)
    print(f"model {args.onnx} version {meta.get('bibtagger.version')} data_hash {meta.get('bibtagger.data_hash')}")
    print(f"val split of {args.data}: {len(val)} photos, {len(bibs)} boxed bibs")

    def run(crops: list[np.ndarray]) -> list[tuple[str, float]]:
        (lp,) = model.run({"crop": reader_batch(crops)})
        return ctc_greedy_decode(lp, charset)

    rng = np.random.default_rng(0)
    for name, make in [
        ("gt box, pad 0.10 (app default)", lambda b: reader_crop(b.image, b.box, SIZE, pad=0.1, stretch=ST, channels=CH)),
        ("gt box, pad 0.00", lambda b: reader_crop(b.image, b.box, SIZE, pad=0.0, stretch=ST, channels=CH)),
        ("gt box, pad 0.25", lambda b: reader_crop(b.image, b.box, SIZE, pad=0.25, stretch=ST, channels=CH)),
        ("jittered box (+-8% w, +-12% h)", lambda b: reader_crop(b.image, jitter_box(rng, b.box), SIZE, pad=0.1, stretch=ST, channels=CH)),
    ]:
        res = run([make(b) for b in bibs])
        ok = [t == b.number for (t, _), b in zip(res, bibs)]
        conf_ok = [c for (_, c), k in zip(res, ok) if k]
        conf_bad = [c for (_, c), k in zip(res, ok) if not k]
        print(f"{name:34s} exact-number accuracy {np.mean(ok):.4f} ({sum(ok)}/{len(ok)})  "
              f"mean confidence correct {np.mean(conf_ok) if conf_ok else float('nan'):.3f} wrong "
              f"{np.mean(conf_bad) if conf_bad else float('nan'):.3f}")
        errors = [(b.number, t, round(c, 3)) for (t, c), b, k in zip(res, bibs, ok) if not k]
        if errors:
            print(f"{'':34s} errors (truth, read, confidence): {errors[:12]}"
                  + (f" ... {len(errors) - 12} more" if len(errors) > 12 else ""))
    one = [reader_crop(bibs[0].image, bibs[0].box, SIZE, stretch=ST, channels=CH)]
    run(one)
    t = time.perf_counter()
    for _ in range(200):
        run(one)
    print(f"onnxruntime, 1 thread, batch 1: {(time.perf_counter() - t) / 200 * 1000:.2f} ms per crop "
          f"(model file {args.onnx.stat().st_size / 1e6:.2f} MB)")
    return 0
