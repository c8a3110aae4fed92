"""`bibtagger find DIR NUMBER`: photos of a folder's project that carry a bib number."""

from __future__ import annotations

import argparse
import sys
from bibtagger_gui.cli import note_store
from pathlib import Path

from bibtagger_gui.core.bib import clean_number, number_matches
from bibtagger_gui.core.review import search_query


def open_project(folder: str | Path, scan: bool = True):
    """The existing project store of ``folder``, synced with the folder by a scan (unless ``scan`` is
    False: the caller scans and reports); None (after a message on stderr) when there is none."""
    from bibtagger_gui.core.store import Store, StoreError, folder_problem, project_exists

    folder = Path(folder)
    why = folder_problem(folder)
    if why:
        print(f"{folder}: {why}", file=sys.stderr)
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
    note_store(store)
    if scan:  # act on the folder as it is: a renamed or moved photo is matched by its hash
        for line in skipped_lines(folder, store.scan(), store):  # find said nothing of them (a name not UTF-8)
            print(line, file=sys.stderr)
    return store


SKIPPED_SHOWN = 10  # files a scan skipped that are named one by one; the rest are counted


def skipped_lines(folder: Path, report, store=None) -> list[str]:
    """What the scan (``core.store.ScanReport``) left out, said as ``predict`` says it: ``DIR/name: why`` for each
    file that is no usable photo (a name that is not UTF-8, not an image; the first :data:`SKIPPED_SHOWN`), the
    formats it cannot read, and how many files that is; [] when it skipped nothing. With ``store``: a skipped file
    that is a photo of the project holding bibs (typed or imported before its file broke) still has them looked
    at, which the note says instead of "no bibs of theirs are looked at"."""
    from bibtagger_gui.core.imageio import unsupported_note

    lines = [f"{folder / rel}: {message}" for rel, message in report.errors[:SKIPPED_SHOWN]]
    if len(report.errors) > SKIPPED_SHOWN:
        lines.append(f"... and {len(report.errors) - SKIPPED_SHOWN} more (bibtagger predict {folder} lists each)")
    note = unsupported_note(report.unsupported)
    if note:
        lines.append(note)
    skipped = len(report.errors) + len(report.unsupported)
    if skipped:
        held = _holding_bibs(store, [rel for rel, _message in report.errors]) if store is not None else 0
        lines.append(f"note: {skipped} file(s) skipped by the scan (above): " + (
            f"not read for bibs; the bibs the project already holds for {held} of them (typed or imported) are looked at"
            if held else "no bibs of theirs are looked at"))
    return lines


def _holding_bibs(store, relpaths: list[str]) -> int:
    """How many of ``relpaths`` are photos of ``store`` with bibs (a photo whose file broke keeps them)."""
    ids = {p.relpath: p.id for p in store.photos()}  # (one query, not one per file: a scan may skip thousands)
    with_bibs = store.bibs_of(ids[rel] for rel in relpaths if rel in ids)
    return len(with_bibs)


def find_photos(store, number: str, prefix: bool = False) -> list[str]:
    """Relpaths (sorted) of photos with a bib that is ``number`` (``core.bib.number_matches``:
    case-insensitive, leading zeros aside), or with ``prefix`` one starting with it. Bibs a photo kept from an
    earlier picture under its name do not count (``Store.bibs_by_picture``, as keywords and exports leave them out)."""
    return search(store, number, prefix)[0]


def search(store, number: str, prefix: bool = False) -> tuple[list[str], list[str]]:
    """(:func:`find_photos`'s relpaths, those of the photos it leaves out although a bib of theirs matches: one read
    on an earlier picture under the photo's name, the file replaced since, unreviewed). One read of the bibs; only
    the photos found are read."""
    if not clean_number(number):
        return [], []
    current, earlier = store.bibs_by_picture()
    found = _matching(store, number, prefix, current)
    return found, sorted(set(_matching(store, number, prefix, earlier)) - set(found))


def _matching(store, number: str, prefix: bool, bibs: dict) -> list[str]:
    ids = [pid for pid, rows in bibs.items() if any(number_matches(b.number, number, prefix) for b in rows)]
    return sorted(p.relpath for p in map(store.photo, ids) if not p.missing)


def run(args: argparse.Namespace) -> int:
    number, star = search_query(args.number)  # as the GUI's search box reads it
    prefix = args.prefix or star
    if not number:
        print(f"error: no bib number to look for (got {args.number!r}); e.g. bibtagger find {args.dir} 1234",
              file=sys.stderr)  # fmt: skip
        return 2
    store = open_project(args.dir)
    if store is None:
        return 1
    with store:
        found, earlier = search(store, number, prefix=prefix)
        from bibtagger_gui.core.exporters import not_recognized_note

        note = not_recognized_note(store)  # a card copied in after `predict`: its photos cannot be found yet
    for relpath in found:
        print(relpath)
    what = f"starting with {number}" if prefix else number
    print(f"{len(found)} photo(s) with bib {what}", file=sys.stderr)
    if earlier:  # a card copied over another: the bib was read on the picture the file held before
        more = f" and {len(earlier) - 3} more" if len(earlier) > 3 else ""
        print(f"note: {len(earlier)} photo(s) not listed, whose bib {what} was read on an earlier picture under their "
              f"name (the file was replaced since): {', '.join(earlier[:3])}{more}; open them in the app to confirm or "
              "delete that bib (until then find, the exports and keywords leave it out)", file=sys.stderr)  # fmt: skip
    if note:
        print(f"note: {note}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("find", help="list the photos showing a bib number", description=__doc__)
    p.add_argument("dir", help="photo folder (with a bibtagger project)")
    p.add_argument("number", help="bib number to look for (case-insensitive; spaces and leading zeros do not count: "
                   "891 finds 0891; 12* is --prefix 12)")
    p.add_argument("--prefix", action="store_true", help="match every number starting with NUMBER (as NUMBER*)")
    p.set_defaults(func=run)
