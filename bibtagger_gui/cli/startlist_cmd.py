"""`bibtagger startlist import CSV DIR` / `bibtagger startlist check DIR`: valid bib numbers and names."""

from __future__ import annotations

import argparse
import sys
from bibtagger_gui.cli import note_store

from bibtagger_gui.cli.find_cmd import open_project
from bibtagger_gui.core.startlist import (
    StartListError,
    describe,
    load_from_store,
    off_list_reads,
    parse_startlist,
    save_to_store,
)


def run_import(args: argparse.Namespace) -> int:
    from bibtagger_gui.core.store import Store, StoreError

    try:
        startlist = parse_startlist(args.csv)
    except StartListError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    for problem in startlist.problems:
        print(f"{args.csv}: {problem}", file=sys.stderr)
    try:
        with Store.open(args.dir) as store:
            note_store(store)
            save_to_store(store, startlist)
    except StoreError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    named = sum(1 for v in startlist.entries.values() if v)
    print(f"imported {len(startlist)} bib numbers ({named} with names, {len(startlist.problems)} line(s) skipped)")
    for note in startlist.notes:  # e.g. which of several number columns holds the bibs
        print(f"note: {note}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    store = open_project(args.dir)
    if store is None:
        return 1
    with store:
        startlist = load_from_store(store)
        if startlist is None:
            print(f"{args.dir}: no start list imported (bibtagger startlist import CSV DIR)", file=sys.stderr)
            return 1
        reads = off_list_reads(store, startlist)
    for read in reads:
        print(describe(read))
    print(f"{len(reads)} read(s) not on the start list of {len(startlist)} numbers", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("startlist", help="import a start list / check reads against it", description=__doc__)
    actions = p.add_subparsers(dest="startlist_action", metavar="ACTION", required=True)
    imp = actions.add_parser("import", help="store a CSV of bib numbers and names in the project")
    imp.add_argument("csv", help="CSV with a bib/number/dossard column and name (or first/last name) columns")
    imp.add_argument("dir", help="photo folder")
    imp.set_defaults(func=run_import)
    chk = actions.add_parser("check", help="list bib reads that are not on the start list, with suggestions")
    chk.add_argument("dir", help="photo folder (with a bibtagger project)")
    chk.set_defaults(func=run_check)
