"""`bibtagger import DIR FILE.json`: put the bibs of a bib annotation JSON into a folder's project store.

Predictions (bibs with a confidence, e.g. from `bibtagger predict --json` on another machine)
become the photos' model bibs; bibs without one (ground truth, another tool's output) become
human bibs. Photos are never modified; only the project store changes.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("import", help="import bib annotation JSON (predictions or ground truth) into a photo folder's project",
                       description=__doc__)  # fmt: skip
    p.add_argument("dir", type=Path, help="photo folder (scanned first; photos are never modified)")
    p.add_argument("file", type=Path, help="bib annotation JSON (predict --json, export --format json, a dataset's annotations.json)")
    p.add_argument("--as", dest="source", choices=("auto", "human", "model"), default="auto",
                   help="auto (default): bibs with a confidence are predictions, the others human bibs; "
                   "human / model: every bib is one")  # fmt: skip
    p.add_argument("--reviewed", action="store_true",
                   help="the file is ground truth: photos without predictions in it get its bibs only and are marked reviewed")  # fmt: skip
    p.add_argument("--store", type=Path, metavar="DB", help="project database file to use instead of DIR/.bibtagger/project.db")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bibtagger_gui.core.annotations import AnnotationError, load_annotations
    from bibtagger_gui.core.importers import import_annotations
    from bibtagger_gui.core.store import Store, StoreError

    folder: Path = args.dir
    if not folder.is_dir():
        print(f"{folder}: not a folder", file=sys.stderr)
        return 1
    if args.reviewed and args.source == "model":
        print("error: --reviewed marks ground truth as reviewed; predictions (--as model) cannot be", file=sys.stderr)
        return 2
    try:
        entries = load_annotations(args.file)
    except AnnotationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        store = Store.open(folder, db_path=args.store)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with store:
        scan = store.scan()
        for rel, message in scan.errors:
            print(f"{os.path.join(str(folder), rel)}: {message}", file=sys.stderr)
        try:
            report = import_annotations(store, entries, source=args.source, mark_reviewed=args.reviewed, name=args.file.name)
        except (StoreError, sqlite3.Error) as exc:  # nothing was imported (one transaction)
            print(f"error: cannot import into {store.db_path}: {exc}", file=sys.stderr)
            return 1
        db = store.db_path
    for line in report.problems:
        print(f"{args.file}: {line}", file=sys.stderr)
    print(f"imported {args.file.name}: {report.summary()}; store {db}", file=sys.stderr)
    return 0
