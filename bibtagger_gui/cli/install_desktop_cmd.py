"""`bibtagger install-desktop [--uninstall] [--prefix DIR]`: the Linux desktop launcher, for this user, no root
(core/desktop_entry.py, docs/desktop.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from bibtagger_gui.core import desktop_entry as de

    if sys.platform in ("win32", "darwin"):
        print("bibtagger install-desktop: desktop entries are for Linux (and BSD) desktops; on Windows and macOS "
              "start the packaged app from its folder (docs/packaging.md)", file=sys.stderr)  # fmt: skip
        return 1
    if args.prefix is not None and not args.uninstall:  # `--prefix /typo` made /typo/share/applications without a word
        from bibtagger_gui.core.store import folder_problem

        why = folder_problem(Path(args.prefix).expanduser())
        if why:
            print(f"bibtagger install-desktop: {args.prefix}: {why} (--prefix names a folder that exists; the launcher "
                  "goes into its share/ folder, made if needed; make the folder first, or check its name)", file=sys.stderr)  # fmt: skip
            return 1
    folder = de.data_dir(args.prefix)
    try:
        done = de.uninstall(folder) if args.uninstall else de.install(folder)
    except de.DesktopEntryError as exc:
        print(f"bibtagger install-desktop: {exc}", file=sys.stderr)
        return 1
    for path in done.written:
        print(f"wrote {path}")
    for path in done.unchanged:
        print(f"up to date: {path}")
    for path in done.removed:
        print(f"removed {path}")
    for path in done.kept:
        print(f"left alone (not written by bibtagger install-desktop): {path}")
    if args.uninstall:
        if not done.removed and not done.kept:
            print(f"no bibtagger launcher in {folder}: nothing to remove")
        return 0
    entry = de.read_entry((folder / de.ENTRY_DIR / de.ENTRY_NAME).read_text(encoding="utf-8"))
    print(f"the launcher runs: {entry['Exec']}")
    if not de.searched(folder):
        print(f"note: desktops do not look in {folder} (XDG_DATA_HOME, XDG_DATA_DIRS): add it to XDG_DATA_DIRS "
              "or leave out --prefix", file=sys.stderr)  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("install-desktop", help="add bibtagger to this user's desktop menu (Linux; --uninstall removes it)",
                       description="Write bibtagger's desktop entry and icon for the current user (no root): "
                                   "$XDG_DATA_HOME/applications/bibtagger.desktop (default ~/.local/share) and "
                                   "icons/hicolor/scalable/apps/bibtagger.svg, so GNOME, KDE or a launcher on sway "
                                   "list the app with its name and icon and start it. The entry runs the program "
                                   "you run now: the packaged executable, the bibtagger script, or python -m "
                                   "bibtagger_gui. Running it again updates the entry (e.g. after moving the app).")  # fmt: skip
    p.add_argument("--uninstall", action="store_true", help="remove the entry and the icon this command wrote")
    p.add_argument("--prefix", metavar="DIR",
                   help="install under DIR/share instead of $XDG_DATA_HOME (e.g. ~/.local, or a folder a "
                        "package is built from); DIR must exist")  # fmt: skip
    p.set_defaults(func=run)
