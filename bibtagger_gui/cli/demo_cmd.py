"""`bibtagger demo [OUTDIR] [--count N] [--seed S]`: synthetic race photos to try the app on (core/demo.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bibtagger_gui.cli import whole_number


def _shell_arg(path: Path) -> str:
    """``path`` as typed in a shell: quoted when it holds a space or a shell character."""
    text = str(path)
    return f'"{text}"' if any(c in text for c in " '&()$;!*?[]#~") else text


def run(args: argparse.Namespace) -> int:
    from bibtagger_gui.core.demo import DemoFolderError, default_demo_dir, write_demo
    from bibtagger_gui.core.store import out_folder_problem

    out = Path(args.outdir).expanduser() if args.outdir else default_demo_dir()
    why = out_folder_problem(out) if args.outdir else None  # OUTDIR itself may be new, its folder must exist
    if why:  # a typo in the path: no folder tree made for it (the default one, in the user data folder, is made)
        print(f"bibtagger demo: {why}", file=sys.stderr)
        return 1
    try:
        truth = write_demo(out, args.count, args.seed)
    except DemoFolderError as exc:
        print(f"bibtagger demo: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"bibtagger demo: cannot write the demo photos to {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    bibs = sum(len(t.bibs) for t in truth)
    print(f"wrote {len(truth)} demo photos ({bibs} bibs, answers in ground_truth.json) to {out}")
    print(f"next: bibtagger gui {_shell_arg(out)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="write synthetic race photos to try the app on",
                       description="Write synthetic race photos (bursts with EXIF capture times, a sideways photo, "
                                   "photos without a bib) and their ground_truth.json into OUTDIR, then open them with "
                                   "`bibtagger gui OUTDIR`. OUTDIR must be missing, empty or an earlier demo; an "
                                   "earlier demo is replaced (its photos, ground truth and review).")  # fmt: skip
    p.add_argument("outdir", nargs="?", metavar="OUTDIR",
                   help="folder to write (default: bibtagger-demo in the user data folder, the one the app's "
                        "Try Demo Photos opens)")  # fmt: skip
    p.add_argument("--count", type=whole_number(1), default=24, help="how many photos (default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same photos (default 0)")
    p.set_defaults(func=run)
