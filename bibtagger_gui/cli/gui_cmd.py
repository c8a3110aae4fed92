"""`bibtagger gui [DIR] [--models DIR] [--screenshot PNG]`: the desktop app (PySide6 imported lazily)."""

from __future__ import annotations

import argparse
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop app (review photos, correct bibs)",
                       description="Open the desktop app on DIR (else the last folder): review the photos, "
                                   "correct the bibs the recognizer proposes, export and write keywords.")
    p.add_argument("folder", nargs="?", metavar="DIR", help="photo folder to open (default: the last one), or a photo: "
                   "its folder opens at that photo")
    p.add_argument("--models", metavar="DIR", help="folder with detector.onnx and reader.onnx (default: the folder last chosen with "
                   "Recognition > Load Model Folder…, else the bundled models, or $BIBTAGGER_MODELS)")
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        help="load DIR, scan, recognize every photo, show the first photo with bibs, save the window as PNG and exit",
    )
    p.set_defaults(func=run)


def display_problem(screenshot: bool, env=None, platform: str | None = None) -> str | None:
    """Why the window cannot open here, or None. On Linux without DISPLAY/WAYLAND_DISPLAY (an SSH or
    CI shell) Qt would abort with a message about xcb libraries; ``--screenshot`` then runs offscreen."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if env.get("QT_QPA_PLATFORM") or not platform.startswith("linux") or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    if screenshot:
        env["QT_QPA_PLATFORM"] = "offscreen"  # nothing is shown: no display needed
        return None
    return ("no display found (DISPLAY and WAYLAND_DISPLAY are not set): run the app in a desktop session "
            "(or over ssh -X); --screenshot and the command-line tools need none")


def refuse(problem: str) -> None:
    """Say why the app cannot start on this display: on stderr, and in the log file, where an app started from
    a desktop's menu (no terminal) leaves it (docs/gui.md#log-file, docs/x11.md#missing-libraries-and-dead-displays)."""
    import logging

    from bibtagger_gui import __version__
    from bibtagger_gui.core import applog

    print(f"bibtagger gui: {problem}", file=sys.stderr)
    if applog.setup_file_log() is not None:
        logging.getLogger(applog.STARTUP_LOGGER).info("bibtagger %s cannot start: %s", __version__, problem)
        applog.close_file_log()


def screenshot_problem(screenshot: str, folder: str | None) -> str | None:
    """Why the window's PNG must not be written to ``screenshot``: a photo's name in the photo folder ``folder`` (a
    photo given: its folder), which it would replace or, new, be scanned as a photo; or a photo's name other than
    .png anywhere (``RACE/IMG_1.jpg`` from the shell's completion replaced the photo). Photos are never modified."""
    from pathlib import Path

    from bibtagger_gui.core.imageio import is_supported, is_unsupported_photo, photo_target_problem

    target = Path(os.path.realpath(screenshot))
    if folder and (is_supported(target.name) or is_unsupported_photo(target.name)):
        root = Path(os.path.realpath(folder))
        root = root.parent if root.is_file() else root
        if target.is_relative_to(root):
            harm = "replace a photo" if target.exists() else "be taken for a new photo by the next scan"
            return f"{screenshot} is inside the photo folder {root}: the screenshot would {harm}; choose a file outside it"
    if Path(screenshot).suffix.lower() != ".png" and photo_target_problem(screenshot):
        return (f"{screenshot} is named like a photo ({Path(screenshot).suffix}), and the screenshot is a PNG: "
                "choose a .png file name outside the photo folder")  # fmt: skip
    return None


def run(args: argparse.Namespace) -> int:
    from bibtagger_gui.core.store import out_folder_problem
    from bibtagger_gui.core.xcb_check import xcb_problem

    problem = (out_folder_problem(args.screenshot) or screenshot_problem(args.screenshot, args.folder)) if args.screenshot else None
    if problem:  # before the window scans and recognizes the whole folder; no folders made for a typo
        print(f"bibtagger gui: {problem}", file=sys.stderr)
        return 1
    problem = display_problem(bool(args.screenshot))
    if problem:
        print(f"bibtagger gui: {problem}", file=sys.stderr)
        return 1
    problem = xcb_problem()  # a missing X11 library or a dead DISPLAY: Qt would abort, blaming xcb-cursor0
    if problem:
        refuse(problem)
        return 1
    from bibtagger_gui.gui.app import run_gui  # PySide6 only when the GUI is wanted

    return run_gui(args.folder, args.models, args.screenshot)
