"""`bibtagger export DIR --format FMT`: write a project's bibs as csv, bibcsv, xlsx, json, coco, crops or bibfolders."""

from __future__ import annotations

import argparse
import sys
from bibtagger_gui.cli import note_store
from pathlib import Path

FORMATS = ("csv", "bibcsv", "xlsx", "json", "coco", "crops", "bibfolders")


def register(sub) -> None:
    p = sub.add_parser("export", help="export bibs (csv, bibcsv, xlsx, json, coco, crops, bibfolders)", description=__doc__)
    p.add_argument("dir", type=Path, help="photo folder with a bibtagger project")
    p.add_argument(
        "--format", required=True, choices=FORMATS,
        help="csv: photo->bibs rows; bibcsv: bib->photos; xlsx: both as an Excel workbook (sheets Photos, Bibs); json: bib annotation JSON; coco: COCO detection JSON; "
        "crops: bib crops + labels.csv; bibfolders: one folder per bib with links to its photos",
    )
    p.add_argument("--out", type=Path, metavar="PATH", help="output file (default or -: stdout; xlsx needs a file) or folder (crops, bibfolders)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--reviewed-only", action="store_true", help="only photos marked reviewed")
    which.add_argument("--unreviewed-only", action="store_true", help="only photos not reviewed yet (e.g. the work left to hand out)")
    p.add_argument("--photos", type=Path, metavar="LIST",
                   help="only the photos named in this text file, one a line (relative path, or a file name only one photo has)")
    p.add_argument("--only", action="append", default=[], metavar="GLOB",
                   help="only photos whose relative path matches this pattern (e.g. 'day1/*', 'IMG_0[0-2]*'); repeatable")
    p.add_argument("--copy", action="store_true", help="bibfolders: copy photos instead of symlinking them")
    p.add_argument("--store", type=Path, metavar="DB", help="project database file to use instead of DIR/.bibtagger/project.db")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bibtagger_gui.core.exporters import ExportError, export
    from bibtagger_gui.core.name_match import across_folders_note
    from bibtagger_gui.core.photo_selection import read_list, select_photos
    from bibtagger_gui.core.store import Store, StoreError, folder_problem, out_folder_problem, project_exists

    folder: Path = args.dir
    why = folder_problem(folder)
    if why:
        print(f"{folder}: {why}", file=sys.stderr)
        return 1
    names = None
    if args.photos is not None:
        try:
            names = read_list(args.photos)
        except (OSError, ValueError) as exc:  # no such file, binary data, broken UTF-16
            print(f"error: cannot read the photo list {args.photos}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
            return 1
    if args.out is not None and str(args.out) == "-":
        args.out = None
    if args.format in ("crops", "bibfolders") and args.out is None:
        print(f"error: --format {args.format} writes a folder: give --out FOLDER", file=sys.stderr)
        return 2
    if args.format == "xlsx" and args.out is None:
        print("error: --format xlsx writes a binary file, not text for stdout: give --out FILE.xlsx", file=sys.stderr)
        return 2
    why = out_folder_problem(args.out, makes_folder=args.format in ("crops", "bibfolders")) if args.out is not None else None
    if why:  # before the scan: nothing is written, no folder made (the export checks it too, for the GUI)
        print(f"error: {why}", file=sys.stderr)
        return 1
    if args.store is not None and not args.store.exists():  # a typo in --store DB, not a folder without a project
        print(f"error: {args.store}: no such database file (--store names an existing project database)", file=sys.stderr)
        return 1
    if args.store is None and not project_exists(folder):
        print(f"{folder}: no bibtagger project yet (run `bibtagger predict {folder}` or open it in the GUI first)", file=sys.stderr)
        return 1
    try:
        store = Store.open(folder, db_path=args.store)  # the folder's own project is found as predict finds it
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    note_store(store)
    with store:
        store.scan()  # export the folder as it is: renamed or moved photos under their new names
        sel = select_photos(store, names, args.only, args.unreviewed_only)
        if sel.unmatched:  # a typo in the list must not silently shrink a volunteer's share
            for line, name, why in sel.unmatched:
                print(f"{args.photos}:{line}: {name}: {why}", file=sys.stderr)
            print(f"error: {len(sel.unmatched)} line(s) of {args.photos} name no photo of {folder}; nothing exported", file=sys.stderr)
            return 1
        for line, name, rel in sel.by_name:  # a guess across folders is named, as the import names it
            note = across_folders_note(name, rel)
            if note:
                print(f"{args.photos}:{line}: {name}: {note}", file=sys.stderr)
        try:
            rep, text = export(store, args.format, args.out, reviewed_only=args.reviewed_only, copy=args.copy, only=sel.only)
        except ExportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    if text is not None:
        sys.stdout.write(text)
    for rel, message in rep.errors:
        print(f"{folder / rel}: {message}", file=sys.stderr)
    for note in rep.notes:
        print(f"note: {note}", file=sys.stderr)
    where = f" to {args.out}" if args.out else ""
    print(f"exported {rep.bibs} bib(s) from {rep.photos} photo(s) as {args.format}{where}", file=sys.stderr)
    return 0
