"""`bibtagger gui [DIR] [--models DIR] [--screenshot PNG]`: the desktop app (PySide6 imported lazily)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop app (review photos, correct bibs)")
    p.add_argument("folder", nargs="?", metavar="DIR", help="photo folder to open (default: the last one)")
    p.add_argument("--models", metavar="DIR", help="folder with detector.onnx and reader.onnx (default: resources/models)")
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        help="load DIR, scan, recognize every photo, show the first photo with bibs, save the window as PNG and exit",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bibtagger_gui.gui.app import run_gui  # PySide6 only when the GUI is wanted

    return run_gui(args.folder, args.models, args.screenshot)
