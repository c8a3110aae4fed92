"""`bibtagger predict DIR`: find bibs in every photo of a folder and keep them in its project store."""

from __future__ import annotations

import argparse
import json
import os
import sys
from bibtagger_gui.cli import note_store
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("predict", help="recognize bib numbers in a photo folder", description=__doc__)
    p.add_argument("dir", type=Path, help="photo folder (scanned recursively; photos are never modified)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the results as bib annotation JSON (paths relative to DIR; photos that failed are left out; - for stdout)")
    p.add_argument("--csv", type=Path, metavar="OUT", help="write the results as CSV (image,number,x1,y1,x2,y2,confidence,error; - for stdout)")
    p.add_argument("--models", type=Path, metavar="DIR", help="folder with detector.onnx and reader.onnx (default: bundled models, or $BIBTAGGER_MODELS)")
    p.add_argument("--store", type=Path, metavar="DB", help="project database file to use instead of DIR/.bibtagger/project.db")
    p.add_argument("--all", action="store_true", help="predict again photos already done by these models and reviewed photos")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bibtagger_gui.core.annotations import AnnotationError, dump_annotations
    from bibtagger_gui.core.exporters import bib_rows_csv
    from bibtagger_gui.core.imageio import ImageError, photo_target_problem, unsupported_note
    from bibtagger_gui.core.progress import Progress
    from bibtagger_gui.core.recognizer import ModelError, Recognizer
    from bibtagger_gui.core.store import Store, StoreError, folder_problem, store_db_problem, out_folder_problem

    folder: Path = args.dir
    why = folder_problem(folder)
    if why:
        print(f"{folder}: {why}", file=sys.stderr)
        return 1
    for out in (args.json, args.csv):  # before the recognition, which can take an hour
        why = (photo_target_problem(out) or out_folder_problem(out)) if out is not None and str(out) != "-" else None
        if why:
            print(f"error: {why}", file=sys.stderr)
            return 1
    why = store_db_problem(args.store) if args.store is not None else None  # before the models load (Store.open says it too)
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 1
    try:
        rec = Recognizer.from_dir(args.models) if args.models else Recognizer()
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        store = Store.open(folder, db_path=args.store)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    note_store(store)

    def shown(relpath: str) -> str:
        return os.path.join(str(folder), relpath)

    with store:
        report = store.scan()
        photos = [p for p in store.photos() if p.width is not None]
        todo = [p for p in photos if args.all or not (p.reviewed or (p.model_version == rec.version and p.error is None))]
        retried = {p.relpath for p in todo}  # a stored decode error is tried again below and reported there
        scan_errors = [(rel, message) for rel, message in report.errors if rel not in retried]
        for rel, message in scan_errors:
            print(f"{shown(rel)}: {message}", file=sys.stderr)
        note = unsupported_note(report.unsupported)
        if note:
            print(note, file=sys.stderr)
        if report.moved:
            print(f"{len(report.moved)} photo(s) moved or renamed since the last scan (bibs kept)", file=sys.stderr)
        if report.replaced:
            print(f"{len(report.replaced)} photo(s) replaced by another picture under the same name "
                  "(recognized again and unreviewed; your own bibs kept)", file=sys.stderr)  # fmt: skip
        failed = found = 0
        unreviewed: list[str] = []  # reviewed photos given new model bibs (--all): unreviewed again, by design
        with Progress(len(todo), "predict", unit="photos") as bar:
            for photo in todo:
                try:
                    bibs = rec.recognize_path(store.path(photo))
                except ImageError as exc:
                    message = exc.message
                except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the run
                    message = f"recognition failed ({type(exc).__name__}: {exc})"
                else:
                    rows = store.set_model_bibs(photo.id, bibs, rec.version, pixel_print=getattr(rec, "last_print", None))
                    if photo.reviewed and rows:  # new bibs on a reviewed photo make it unreviewed (Store.set_model_bibs)
                        unreviewed.append(photo.relpath)
                    store.set_error(photo.id, None)
                    found += len(bibs)
                    bar.update()
                    continue
                failed += 1
                store.set_error(photo.id, message)
                bar.write(f"{shown(photo.relpath)}: {message}")
                bar.update()
        # photos reviewed or tagged without being recognized here (a store from before schema 4, imports) get
        # their decoded-pixel print once, so a re-encoded copy of them is still told from another picture
        unprinted = store.photos_without_print()
        if unprinted:  # thousands on an old store: a bar, as for the recognition
            with Progress(len(unprinted), "fingerprint photos", unit="photos") as bar:
                store.fill_pixel_prints(unprinted, progress=lambda done, total: bar.update())
        failed_photos = {p.relpath: p.error for p in store.photos() if p.error and not p.reviewed}
        entries = store.to_annotations()
        try:
            if args.json:  # the exchange format has no error field: failed photos are left out
                ok = [e for e in entries if e["image"] not in failed_photos]
                _write(args.json, json.dumps(dump_annotations(ok), indent=1, ensure_ascii=False) + "\n")
            if args.csv:
                _write(args.csv, bib_rows_csv(entries, failed_photos), bom=True)  # a file for Excel: UTF-8 BOM
        except (OSError, AnnotationError) as exc:
            print(f"error: cannot write results: {exc}", file=sys.stderr)
            return 1
        skipped = len(photos) - len(todo)
        counts = store.counts()
        print(
            f"{len(todo) - failed} photo(s) recognized, {found} bib(s) found, {skipped} already done, "
            f"{failed + len(scan_errors)} with errors; {counts.tagged}/{counts.photos} photos tagged; "
            f"models {rec.version}; store {store.db_path}",
            file=sys.stderr,
        )
        note = unreviewed_note(unreviewed)
        if note:
            print(note, file=sys.stderr)
    return 0


def unreviewed_note(relpaths: list[str], first: int = 3) -> str:
    """What to say when a re-run (``--all``) gave reviewed photos new bibs, which makes them unreviewed: "" when none."""
    if not relpaths:
        return ""
    more = f" and {len(relpaths) - first} more" if len(relpaths) > first else ""
    return (f"note: {len(relpaths)} reviewed photo(s) got new bibs from these models, so they are unreviewed again "
            f"(the new bibs are not confirmed): {', '.join(relpaths[:first])}{more}; review them (in the app: the "
            "unreviewed photos) to confirm or reject the new bibs")


def _write(path: Path, text: str, bom: bool = False) -> None:
    """Write ``text`` to a file (atomically; with ``bom`` a UTF-8 BOM first, as Excel needs) or to stdout for ``-`` (no BOM)."""
    from bibtagger_gui.core.annotations import atomic_write_text
    from bibtagger_gui.core.sheet_csv import BOM

    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write_text(path, BOM + text if bom else text)
