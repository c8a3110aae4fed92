"""`python -m training <command>`: synth-preview, train-reader, eval-reader, train-detector, export, finetune, bench,
refine-zoom, calibrate, quantize, pack.

Sub-command modules are imported lazily so one broken or missing module does not break the others.
"""

from __future__ import annotations

import importlib
import pickle
import sys

COMMANDS = {
    "synth-preview": ("training.synth_bibs", "preview_main", "contact sheet of synthetic bibs"),
    "train-reader": ("training.train_reader", "main", "train the number reader (CRNN + CTC)"),
    "eval-reader": ("training.train_reader", "eval_onnx_main", "reader metrics on the dev val split (ONNX)"),
    "train-detector": ("training.train_detector", "main", "train the bib detector"),
    "export": ("training.export", "main", "export a checkpoint to ONNX (--kind reader|detector)"),
    "finetune": ("training.finetune", "main", "fine-tune the models on reviewed photos of app folders"),
    "bench": ("training.bench", "main", "speed/accuracy benchmarks"),
    "refine-zoom": ("training.refine_zoom", "main", "detector box IoU vs zoom (the recognizer's refinement settings)"),
    "calibrate": ("training.calibrate", "main", "fit calibration.json: raw scores -> P(right), on the train split"),
    "quantize": ("training.quantize", "main", "INT8 copies of exported readers (calibrated on the train split)"),
    "pack": ("training.pack", "main", "pack the dev set and fonts for a training run on another machine"),
}

# what `pip install -e .[train]` adds to the app's dependencies (pyproject.toml)
TRAIN_EXTRAS = ("torch", "onnx", "PIL", "sympy")


def usage() -> str:
    lines = ["usage: python -m training <command> [options]", "", "commands:"]
    lines += [f"  {name:15s} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, func, _ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            print(f"{name}: {module_name} is not available in this checkout", file=sys.stderr)
            return 2
        if (exc.name or "").split(".")[0] in TRAIN_EXTRAS:
            print(f"{name} needs {exc.name}, which is not installed: pip install -e .[train]", file=sys.stderr)
            return 2
        raise
    from bibtagger_gui.core.recognizer import ModelError

    try:
        result = getattr(module, func)(rest)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:  # a path given on the command line
        print(f"{name}: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return 2
    except ModelError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except pickle.UnpicklingError as exc:  # --init / --ckpt naming something that is not a torch checkpoint
        print(f"{name}: not a torch checkpoint (.pt) ({exc})", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
