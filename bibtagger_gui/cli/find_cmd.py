"""`bibtagger find DIR NUMBER`: photos of a folder's project that carry a bib number."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bibtagger_gui.core.bib import clean_number, number_matches


def open_project(folder: str | Path, scan: bool = True):
    """The existing project store of ``folder``, synced with the folder by a scan (unless ``scan`` is
    False: the caller scans and reports); None (after a message on stderr) when there is none."""
    from bibtagger_gui.core.store import Store, StoreError, project_exists

    folder = Path(folder)
    if not folder.is_dir():
        print(f"{folder}: not a folder", file=sys.stderr)
        return None
    if not project_exists(folder):
        print(
            f"{folder}: no bibtagger project yet (run `bibtagger predict {folder}` or open it in the GUI first)",
            file=sys.stderr,
        )
        return None
    try:
        store = Store.open(folder)
    except StoreError as exc:
        print(str(exc), file=sys.stderr)
        return None
    if scan:  # act on the folder as it is: a renamed or moved photo is matched by its hash
        store.scan()
    return store


def find_photos(store, number: str, prefix: bool = False) -> list[str]:
    """Relpaths (sorted) of photos with a bib that is ``number`` (``core.bib.number_matches``:
    case-insensitive, leading zeros aside), or with ``prefix`` one starting with it."""
    if not clean_number(number):
        return []
    bibs = store.all_bibs()
    out = []
    for photo in store.photos():
        if any(number_matches(b.number, number, prefix) for b in bibs.get(photo.id, [])):
            out.append(photo.relpath)
    return out


def run(args: argparse.Namespace) -> int:
    store = open_project(args.dir)
    if store is None:
        return 1
    with store:
        found = find_photos(store, args.number, prefix=args.prefix)
    for relpath in found:
        print(relpath)
    what = f"starting with {args.number}" if args.prefix else args.number
    print(f"{len(found)} photo(s) with bib {what}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("find", help="list the photos showing a bib number", description=__doc__)
    p.add_argument("dir", help="photo folder (with a bibtagger project)")
    p.add_argument("number", help="bib number to look for (case-insensitive; leading zeros do not count: 891 finds 0891)")
    p.add_argument("--prefix", action="store_true", help="match every number starting with NUMBER")
    p.set_defaults(func=run)
