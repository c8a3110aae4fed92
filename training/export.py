"""ONNX export for both models, with the bibtagger metadata of docs/architecture.md.

`python -m training export --kind reader|detector --ckpt C --out resources/models/X.onnx [--version V]`

For the reader, a slim torch checkpoint (`X.pt`: weights, charset, version) is written beside the
ONNX file; `python -m training finetune` starts from it.
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import hashlib
import sys
import warnings
from pathlib import Path

import onnx
import torch

OPSET = 17


def export_onnx(
    module: torch.nn.Module,
    dummy: torch.Tensor | tuple[torch.Tensor, ...],
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict | None,
    metadata: dict[str, str],
    path: Path | str,
) -> Path:
    """Export `module` (eval mode, on a copy) to ONNX opset 17, add `metadata` as metadata_props,
    run onnx.checker and write `path` atomically. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(module).eval()
    args = dummy if isinstance(dummy, tuple) else (dummy,)
    tmp = path.with_name(path.name + ".tmp")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation and LSTM tracer notes
        torch.onnx.export(model, args, str(tmp), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False, do_constant_folding=True)
    proto = onnx.load(str(tmp))
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = str(key), str(value)
    proto.producer_name = "bibtagger-training"
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(tmp))
    tmp.replace(path)
    return path


def read_metadata(path: Path | str) -> dict[str, str]:
    """The metadata_props of an ONNX file as a dict."""
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def weights_hash(state_dict: dict, length: int = 6) -> str:
    """Short hash of a state dict's names and tensor bytes: tells apart any two differently trained models,
    so it goes into the version of every fine-tuned export (calibration.json and `bibtagger predict`
    key on versions)."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        value = state_dict[key]
        h.update(str(key).encode())
        if torch.is_tensor(value):
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()[:length]


def default_version(kind: str, state_dict: dict) -> str:
    """``<kind>-<date>-<weights hash>``: two exports of differently trained weights never share a version
    (calibration.json and `bibtagger predict`'s "already done" key on versions)."""
    return f"{kind}-{_dt.date.today():%Y.%m.%d}-{weights_hash(state_dict)}"


def export_reader(model, path: Path | str, version: str, data_hash: str) -> Path:
    """Export a CRNN reader per the contract: input `crop` [N,C,h,w] (C = 1 grey, 3 RGB), output `logits` [N,T,C]."""
    channels = getattr(model, "in_channels", 1)
    dummy = torch.zeros(1, channels, model.height, model.width)
    metadata = {
        "bibtagger.kind": "reader",
        "bibtagger.version": version,
        "bibtagger.input_size": f"{model.height},{model.width}",
        "bibtagger.charset": model.charset,
        "bibtagger.data_hash": data_hash,
    }
    if getattr(model, "stretch", 1.0) != 1.0:
        metadata["bibtagger.stretch"] = f"{model.stretch:g}"
    if channels != 1:
        metadata["bibtagger.channels"] = str(channels)
    return export_onnx(model, dummy, ["crop"], ["logits"], {"crop": {0: "N"}, "logits": {0: "N"}}, metadata, path)


def export_reader_checkpoint(ckpt: Path | str, out: Path | str, version: str | None = None) -> Path:
    from training.train_reader import load_reader

    model, info = load_reader(Path(ckpt))
    version = version or default_version("reader", model.state_dict())
    path = export_reader(model, out, version, str(info.get("data_hash", "unknown")))
    write_slim_reader_checkpoint(info, path.with_suffix(".pt"), version)
    return path


def write_slim_reader_checkpoint(ckpt: dict, path: Path, version: str) -> Path:
    """The weights `finetune` starts from, beside the ONNX (ONNX weights cannot be trained further)."""
    keep = {k: ckpt[k] for k in ("kind", "state_dict", "charset", "input_size", "stretch", "channels", "conv_channels", "hidden",
                                        "data_hash") if k in ckpt}
    tmp = path.with_name(path.name + ".tmp")
    torch.save({**keep, "version": version}, tmp)
    tmp.replace(path)
    return path


def export_detector_checkpoint(ckpt: Path | str, out: Path | str, version: str | None = None) -> Path:
    """Detector export through the detector's own code path (training.train_detector), which calls export_onnx."""
    from training.train_detector import export_detector, load_checkpoint

    model, info = load_checkpoint(Path(ckpt))
    size = info.get("input_size", 512)
    size = int(size[0] if isinstance(size, (list, tuple)) else size)
    version = version or default_version("detector", model.state_dict())
    return export_detector(model, Path(out), size, str(info.get("data_hash", "unknown")), version)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training export", description="export a checkpoint to ONNX")
    p.add_argument("--kind", choices=["reader", "detector"], required=True)
    p.add_argument("--ckpt", type=Path, required=True, help=".pt checkpoint written by train-reader / train-detector")
    p.add_argument("--out", type=Path, required=True, help="ONNX path, e.g. resources/models/reader.onnx")
    p.add_argument("--version", help="bibtagger.version (default KIND-YYYY.MM.DD-<hash of the weights>: differently trained weights never share one)")
    args = p.parse_args(argv)
    if not args.ckpt.is_file():
        print(f"checkpoint not found: {args.ckpt}", file=sys.stderr)
        return 2
    fn = export_reader_checkpoint if args.kind == "reader" else export_detector_checkpoint
    path = fn(args.ckpt, args.out, args.version)
    meta = read_metadata(path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    for k, v in meta.items():
        print(f"  {k} = {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
