"""`bibtagger import DIR FILE.json`: put the bibs of a bib annotation JSON into a folder's project store.

Predictions (bibs with a confidence, e.g. from `bibtagger predict --json` on another machine)
become the photos' model bibs; bibs without one (ground truth, another tool's output) become
human bibs. An entry's "reviewed": true (from `export --format json`) makes it the truth for its
photo; two reviews that disagree, or your own bibs a review lacks, are reported as conflicts and left
for you (`--overwrite`: the file wins). Several files are imported one after the other, so a second
volunteer's review of a photo the first one reviewed differently is a conflict too. A file exported by this
project (it carries each photo's "handout" state) is merged three ways, bib by bib: the reviewer's changes land
on the bibs you did not change otherwise, a bib both changed differently is a conflict that says who did what,
and a review lands only where the merged bibs are the ones its reviewer saw (docs/volunteers.md).
Photos are never modified; only the project store changes.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from bibtagger_gui.cli import note_store
from pathlib import Path
from typing import Any


def register(sub) -> None:
    p = sub.add_parser("import", help="import bib annotation JSON (predictions or ground truth) into a photo folder's project",
                       description=__doc__)  # fmt: skip
    p.add_argument("dir", type=Path, help="photo folder (scanned first; photos are never modified)")
    p.add_argument("file", type=Path, nargs="+", help="bib annotation JSON (predict --json, export --format json, a dataset's "
                   "annotations.json); several are imported in turn, each in one transaction")  # fmt: skip
    p.add_argument("--as", dest="source", choices=("auto", "human", "model"), default="auto",
                   help="auto (default): bibs with a confidence are predictions, the others human bibs; "
                   "human / model: every bib is one")  # fmt: skip
    p.add_argument("--reviewed", action="store_true",
                   help="the file is ground truth: photos without predictions in it get its bibs only and are marked reviewed")  # fmt: skip
    p.add_argument("--overwrite", action="store_true",
                   help="reviewed entries replace what the folder has for their photos, even a review or your own bibs "
                   "(default: such conflicts are reported and left for you)")  # fmt: skip
    p.add_argument("--store", type=Path, metavar="DB", help="project database file to use instead of DIR/.bibtagger/project.db")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    done: list[Path] = []  # the files imported (each one transaction, committed), in order
    try:
        return _run(args, done)
    except KeyboardInterrupt:  # Ctrl+C: say which files are in, which are not, and how to finish
        print(interrupted_note(args, done), file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, done: list[Path]) -> int:
    from bibtagger_gui.core.annotations import AnnotationError, load_annotations
    from bibtagger_gui.core.store import Store, StoreError, folder_problem, store_db_problem

    folder: Path = args.dir
    why = folder_problem(folder)
    if why:
        print(f"{folder}: {why}", file=sys.stderr)
        return 1
    if args.reviewed and args.source == "model":
        print("error: --reviewed marks ground truth as reviewed; predictions (--as model) cannot be", file=sys.stderr)
        return 2
    why = store_db_problem(args.store) if args.store is not None else None  # before a big file is parsed (Store.open says it too)
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 1
    files: list[tuple[Path, list]] = []
    for path in args.file:  # all files are read before anything is imported: a malformed one imports nothing
        try:
            files.append((path, load_annotations(path)))
        except AnnotationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    try:
        store = Store.open(folder, db_path=args.store)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    note_store(store)
    return _import_files(store, files, args, done)


def interrupted_note(args: argparse.Namespace, done: list[Path]) -> str:
    """What an import stopped by Ctrl+C did: the files imported before it, the others (the one it was in rolled
    back: one transaction each), and the command that imports the rest (a file imported already changes nothing)."""
    from bibtagger_gui.core.finetune_run import shell_line

    rest = list(args.file)[len(done):]  # imported in turn: the files done are the first ones
    said = f"imported {', '.join(p.name for p in done)}; " if done else "nothing imported; "
    if not rest:
        return f"interrupted: {said}every file was imported"
    argv = ["bibtagger", "import", str(args.dir), *map(str, rest)]
    argv += ["--as", args.source] if args.source != "auto" else []
    argv += ["--reviewed"] * bool(args.reviewed) + ["--overwrite"] * bool(args.overwrite)
    argv += ["--store", str(args.store)] if args.store else []
    return (f"interrupted: {said}not imported: {', '.join(p.name for p in rest)} (nothing of the file being "
            f"imported was saved: each file is one transaction); to import the rest: {shell_line(argv)}")


def _import_files(store: Any, files: list[tuple[Path, list]], args: argparse.Namespace, done: list[Path]) -> int:
    """Scan the folder, then import ``files`` in turn, each in one transaction (``done`` gets each one committed)."""
    from bibtagger_gui.core.importers import import_annotations
    from bibtagger_gui.core.name_match import across_folders_note
    from bibtagger_gui.core.store import StoreError

    folder: Path = args.dir
    with store:
        scan = store.scan()
        for rel, message in scan.errors:
            print(f"{os.path.join(str(folder), rel)}: {message}", file=sys.stderr)
        db = store.db_path
        found_none = False
        for path, entries in files:
            try:
                report = import_annotations(store, entries, source=args.source, mark_reviewed=args.reviewed,
                                            name=path.name, overwrite=args.overwrite)  # fmt: skip
            except (StoreError, sqlite3.Error) as exc:  # nothing of this file was imported (one transaction)
                print(f"error: cannot import {path} into {db}: {exc}", file=sys.stderr)
                return 1
            done.append(path)  # committed: a Ctrl+C while its lines print leaves it imported
            for line in report.problems:
                print(f"{path}: {line}", file=sys.stderr)
            for image, rel in report.by_name:  # a guess across folders is named, not only counted
                note = across_folders_note(image, rel)  # the entry's folders are not the photo's
                if note:
                    print(f"{path}: {image}: {note}", file=sys.stderr)
            print(f"imported {path.name}: {report.summary()}; store {db}", file=sys.stderr)
            # the wrong folder, most likely: no photo of the file there, or only others' pictures under their names
            if report.entries and len(report.missing_photos) + report.other_pictures == report.entries:
                found_none = True
                others = (f"; {report.other_pictures} there under their names hold other pictures (another shoot's)"
                          if report.other_pictures else "")  # fmt: skip
                print(f"error: none of the {report.entries} photo(s) of {path.name} is in {folder} (by path or file name, "
                      f"sub-folders included{others}): is it the folder the photos were copied to?", file=sys.stderr)  # fmt: skip
    return 1 if found_none else 0
