"""The `bibtagger` command line. Each sub-command lives in its own module with `register(sub)`."""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys

from bibtagger_gui import __version__

# Sub-commands, in help order; each lives in cli/NAME_cmd.py (a "-" in NAME is "_" there), which defines
# register(subparsers) and sets `func` (args -> int exit code) with set_defaults.
COMMANDS = [
    "predict",
    "export",
    "import",
    "eval",
    "gui",
    "find",
    "keywords",
    "mturk",
    "startlist",
    "demo",
    "install-desktop",
]


def command_module(name: str) -> str:
    """The module of the sub-command ``name`` in cli/: ``install-desktop`` -> ``install_desktop_cmd``."""
    return f"{name.replace('-', '_')}_cmd"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bibtagger", description="Find race bib numbers in event photos.")
    parser.add_argument("--version", action="version", version=f"bibtagger {__version__}")
    # handled by main() before parsing (it must work without building the parser); here for --help
    parser.add_argument("--selftest", action="store_true",
                        help="check this installation: open Qt offscreen, load the models, read a drawn bib; "
                        "prints OK ... (exit 0) or SELFTEST FAILED: ... (exit 1)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module_name = f"bibtagger_gui.cli.{command_module(name)}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.register(sub)
    return parser


def whole_number(minimum: int, least: str = ""):
    """An argparse ``type``: a whole number of at least ``minimum`` ("not a whole number: 'x'", else "must be at least
    1, not 0", or ``least`` in place of "at least 1": "0 (every line) or more")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {least or f'at least {minimum}'}, not {value}")
        return value

    return parse


def note_store(store) -> None:
    """Say on stderr what the opening of a project found to tell (``Store.copy_behind``: a read-only folder's own
    project changed since the copy the user works on was made from it, docs/store.md)."""
    if getattr(store, "copy_behind", None):
        print(f"note: {store.copy_behind}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--selftest"]:
        from bibtagger_gui.selftest import run_selftest

        return run_selftest()
    parser = build_parser()
    if len(argv) == 1 and argv[0] not in COMMANDS and not argv[0].startswith("-") and os.path.exists(argv[0]):
        # a folder or a photo dropped on the app's icon, Open With, `bibtagger FOLDER`: the window opens it (a photo
        # at that photo, another file says why); the windowed app has no stderr for argparse's "invalid choice"
        argv = ["gui", argv[0]]
    args = parser.parse_args(argv or ["gui"])
    if args.selftest:  # `--selftest` after another top-level option
        from bibtagger_gui.selftest import run_selftest

        return run_selftest()
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = int(args.func(args) or 0)
        if sys.stdout is not None:  # None in the windowed Windows app (no console)
            sys.stdout.flush()  # a closed pipe shows up here, not at exit
        return rc
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except sqlite3.Error as exc:  # the project database failed mid-run: locked too long by another program, disk full
        from bibtagger_gui.core.store import busy_hint, full_hint

        print(f"error: project database: {exc}{busy_hint(exc)}{full_hint(exc)}; the changes saved before this stay saved", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        _stdout_to_devnull()
        return 141
    except OSError as exc:  # a disk full or failing mid-run (`> /media/stick/list.txt` on a full stick): one line
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except OSError:  # what stdout still holds cannot go out: not tried again at exit
            _stdout_to_devnull()
        where = f"{exc.filename}: " if exc.filename else "cannot write: "  # a write names no file (stdout's, say)
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


def _stdout_to_devnull() -> None:
    """Point stdout at os.devnull so the exit-time flush of unwritten output cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (stdout replaced, e.g. in tests)
        sys.stdout = open(os.devnull, "w")
