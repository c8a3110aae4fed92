"""INT8 readers: static quantization of an exported reader's convolutions (docs/recognizer.md#int8-readers).

`python -m training quantize --onnx resources/models/reader.onnx --out resources/models/reader.onnx`

Convolutions are ~87 % of a reader's time on CPU. ONNX Runtime's static QDQ quantization turns their
weights into int8 (per output channel) and their inputs into uint8 with ranges measured (MinMax) on
calibration crops: the crops the recognizer itself makes from the shipped detector's boxes on the dev
**train** split, at every reading padding and at the doubtful re-read's stretch. The last convolution
(the one that folds the remaining height into the sequence features) stays float: quantizing it too
moved a partly hidden reading across the cut-off. The LSTM and head stay float. The file keeps the
source's bibtagger metadata, with `-int8` added to the version and `bibtagger.int8` naming the source
version and calibration, is checked by `onnx.checker` and written atomically.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

INT8_SUFFIX = "-int8"
BATCH = 32


def last_conv(model: onnx.ModelProto) -> str:
    """Name of the graph's last Conv node (the one kept float)."""
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    if not convs:
        raise ValueError("the model has no Conv node to quantize")
    return convs[-1]


def quantize_reader(src: Path | str, out: Path | str, crops: np.ndarray, note: str = "") -> Path:
    """Write an INT8 copy of reader `src` to `out`, calibrated on `crops` [N,1,H,W] float32 0..1."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, out = Path(src), Path(out)
    source = onnx.load(str(src))
    meta = {p.key: p.value for p in source.metadata_props}
    check_float_reader(src, meta)
    crops = np.ascontiguousarray(crops, np.float32)
    channels = int(meta.get("bibtagger.channels", "1"))
    if crops.ndim != 4 or crops.shape[1] != channels or not len(crops):
        raise ValueError(f"calibration crops must be [N,{channels},H,W] with N > 0 (the reader's channels), got {crops.shape}")

    class Crops(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self):
            if self.i >= len(crops):
                return None
            batch = crops[self.i : self.i + BATCH]
            self.i += BATCH
            return {"crop": batch}

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bibtagger-quant-") as tmp:
        pre, q = Path(tmp) / "pre.onnx", Path(tmp) / "q.onnx"
        quant_pre_process(str(src), str(pre))
        quantize_static(str(pre), str(q), Crops(), quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8, op_types_to_quantize=["Conv"],
                        nodes_to_exclude=[last_conv(onnx.load(str(pre)))], calibrate_method=CalibrationMethod.MinMax)
        proto = onnx.load(str(q))
    del proto.metadata_props[:]
    version = meta.get("bibtagger.version", "reader")
    meta["bibtagger.version"] = version + INT8_SUFFIX
    meta["bibtagger.int8"] = f"from {src.name} {version}; MinMax on {len(crops)} crops" + (f"; {note}" if note else "")
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "bibtagger-training"
    onnx.checker.check_model(proto, full_check=True)
    tmp_out = out.with_name(out.name + ".tmp")
    onnx.save(proto, str(tmp_out))
    tmp_out.replace(out)
    return out


def train_split_crops(annotations: Path, detector: Path, reader: Path, limit: int | None = None) -> np.ndarray:
    """The crops the recognizer makes for `reader` on the train split of `annotations` (:func:`recognizer_crops`)."""
    from training.data import load_entries, split

    train, _ = split(load_entries(annotations))
    crops = recognizer_crops(train[:limit], detector, reader)
    if not len(crops):
        raise ValueError(f"no detections on the train split of {annotations}: nothing to calibrate on")
    return crops


def recognizer_crops(entries, detector: Path | None, reader: Path) -> np.ndarray:
    """The crops the recognizer makes for `reader` on `entries`' photos: every detected box (`detector` on
    the first decode) at every `READ_PADS` padding, at the reader's own stretch and `REREAD_STRETCH`
    times it (the doubtful re-read), with the reader's channels. [N,C,H,W] float32, N = 0 when nothing
    was detected. `detector` None: the entries' annotated boxes instead (full-resolution decode).
    A photo that cannot be read is reported on stderr and skipped."""
    from bibtagger_gui.core.imageio import load_with_info
    from bibtagger_gui.core.recognizer import FIRST_DECODE_SIDE, READ_PADS, REREAD_STRETCH, OnnxModel, Recognizer, reader_batch, reader_crop

    model = OnnxModel.load(Path(reader), "reader", 1)
    rec = Recognizer(detector, reader, threads=1, extra_readers=[], calibration=False) if detector is not None else None
    size, stretch, channels = tuple(model.input_size), model.stretch, model.channels
    crops = []
    for entry in entries:
        try:
            image, _ = load_with_info(entry.path, max_side=FIRST_DECODE_SIDE if rec is not None else None)
        except Exception as exc:  # ImageError, OSError: report, go on
            print(f"{entry.path}: {exc}", file=sys.stderr)
            continue
        boxes = rec.detect(image)[0] if rec is not None else [b.box for b in entry.bibs if b.box is not None]
        for box in boxes:
            for s in (stretch, stretch * REREAD_STRETCH):
                crops += [reader_crop(image, box, size, pad, stretch=s, channels=channels) for pad in READ_PADS]
    if not crops:
        return np.zeros((0, channels, *size), np.float32)
    return reader_batch(crops)


def crop_key(path: Path) -> tuple:
    """Readers with the same input size, stretch and channels calibrate on the same crops."""
    from bibtagger_gui.core.recognizer import OnnxModel

    model = OnnxModel.load(path, "reader", 1)
    return tuple(model.input_size), model.stretch, model.channels


def check_float_reader(src: Path, meta: dict[str, str] | None = None) -> None:
    """ValueError unless ``src`` is a float bibtagger reader (what quantize_reader accepts)."""
    if meta is None:
        from training.export import read_metadata

        meta = read_metadata(src)
    if meta.get("bibtagger.kind") != "reader":
        raise ValueError(f"{src} is not a bibtagger reader (kind {meta.get('bibtagger.kind')!r})")
    if "bibtagger.int8" in meta:
        raise ValueError(f"{src} is already quantized ({meta['bibtagger.int8']})")


def main(argv: list[str] | None = None) -> int:
    from bibtagger_gui.core.recognizer import ModelError
    from training.data import DEFAULT_DEV

    ap = argparse.ArgumentParser(prog="python -m training quantize", description=__doc__.split("\n")[0])
    ap.add_argument("--onnx", type=Path, required=True, nargs="+", help="float reader(s) to quantize")
    ap.add_argument("--out", type=Path, default=None, help="output file (one --onnx) or folder; default: in place")
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DEV / "annotations.json", help="bib annotation JSON (train split used)")
    ap.add_argument("--detector", type=Path, default=Path("resources/models/detector.onnx"))
    ap.add_argument("--limit", type=int, default=None, help="use only the first N train photos")
    args = ap.parse_args(argv)
    for path in args.onnx:  # every input is checked before any file is written
        if not path.is_file():
            print(f"quantize: {path} not found", file=sys.stderr)
            return 2
        try:
            check_float_reader(path)
        except Exception as exc:  # noqa: BLE001 - not a float reader, or not ONNX at all
            print(f"quantize: {exc}; nothing written", file=sys.stderr)
            return 2
    if not args.dataset.is_file() or not args.detector.is_file():
        print(f"quantize: need {args.dataset} and {args.detector} for calibration crops", file=sys.stderr)
        return 2
    calibration: dict[tuple, np.ndarray] = {}
    for path in args.onnx:
        if args.out is None:
            target = path
        elif args.out.suffix == ".onnx" and len(args.onnx) == 1:
            target = args.out
        else:
            target = args.out / path.name
        try:
            key = crop_key(path)
            if key not in calibration:
                calibration[key] = train_split_crops(args.dataset, args.detector, path, args.limit)
                print(f"calibration: {len(calibration[key])} crops from the train split's detected boxes "
                      f"(input {key[0][0]}x{key[0][1]}, stretch {key[1]:g})", flush=True)
            quantize_reader(path, target, calibration[key], note=f"train split of {args.dataset.parent.name}")
        except (ModelError, ValueError) as exc:
            print(f"quantize: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
