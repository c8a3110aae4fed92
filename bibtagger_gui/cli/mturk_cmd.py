"""`bibtagger mturk import|review|export`: review an MTurk batch results CSV without MTurk's web UI."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from bibtagger_gui.cli import note_store, whole_number
from bibtagger_gui.core import mturk


# --list N: a count of lines, 0 for all (a negative one, `--list -1`, was taken as "all" without a word)
LIST_COUNT = whole_number(0, "0 (every line) or more")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mturk", help="review an Amazon Mechanical Turk batch results CSV", description=__doc__)
    msub = p.add_subparsers(dest="mturk_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("csv", type=Path, metavar="CSV", help="batch results CSV downloaded from MTurk")
        sp.add_argument("dir", type=Path, metavar="DIR", help="photo folder (photos named as in Input.objects_to_find)")
        sp.add_argument("--list", type=LIST_COUNT, default=30, metavar="N", help="show at most N lines per list (0: all; default 30)")

    imp = msub.add_parser("import", help="check the batch, list missing photos, add workers' boxes as mturk bibs")
    common(imp)
    imp.add_argument("--no-store", action="store_true", help="only report; do not add bibs to the project store")
    imp.set_defaults(func=cmd_import)

    rev = msub.add_parser("review", help="list assignments waiting for a verdict; --auto approves the clear ones")
    common(rev)
    rev.add_argument("--auto", action="store_true", help="approve pending assignments whose digit labels agree with another worker or the photo's bibs")
    rev.set_defaults(func=cmd_review)

    exp = msub.add_parser("export", help="write the CSV back with Approve/Reject filled from the verdicts")
    common(exp)
    exp.add_argument("--out", type=Path, required=True, metavar="OUT.csv", help="file to upload to MTurk (never the input CSV)")
    exp.set_defaults(func=cmd_export)


# --------------------------------------------------------------------------- helpers


def _limited(lines: Sequence[str], limit: int, what: str) -> None:
    shown = lines if limit <= 0 else lines[:limit]
    for line in shown:
        print(f"  {line}")
    if len(shown) < len(lines):
        print(f"  ... and {len(lines) - len(shown)} more {what} (--list 0 shows all)")


def _read(args: argparse.Namespace) -> mturk.Batch | None:
    try:
        batch = mturk.read_batch(args.csv)
    except mturk.BatchFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    shown = batch.errors if args.list <= 0 else batch.errors[:args.list]  # a CSV of 100,000 broken rows: the first ones
    for e in shown:
        print(f"{args.csv}:{e.line}: {e.message}", file=sys.stderr)
    if len(shown) < len(batch.errors):
        print(f"{args.csv}: ... and {len(batch.errors) - len(shown):,} more row problems (--list 0 shows all)", file=sys.stderr)
    return batch


def _open_store(folder: Path, scan: bool = True) -> Any:
    """The folder's project store (scanned), or None with a message when it cannot be opened."""
    if not folder.is_dir():
        print(f"{folder}: folder not found; every photo is listed as missing", file=sys.stderr)
        return None
    from bibtagger_gui.core.store import Store, StoreError

    try:
        store = Store.open(folder)
    except StoreError as exc:
        print(f"{folder}: {exc}", file=sys.stderr)
        return None
    note_store(store)
    if scan:
        report = store.scan()
        for rel, msg in report.errors:
            print(f"{rel}: {msg}", file=sys.stderr)
    return store


def _finish_pending(store: Any, verdicts: mturk.VerdictStore, batch: mturk.Batch) -> None:
    """Write the verdict a crash left noted in the project (docs/mturk.md#a-crash-between-the-two-databases)."""
    if store is None:
        return
    finished = mturk.finish_pending_verdict(store, verdicts, batch)
    if finished is not None:
        aid, verdict = finished
        what = f"verdict {verdict.action}" if verdict is not None else "removal of its verdict"
        print(f"note: finished saving the {what} for assignment {aid}, interrupted last time", file=sys.stderr)


def _match(batch: mturk.Batch, folder: Path, store: Any) -> mturk.PhotoMatch:
    match = mturk.match_photos(batch, store if store is not None else folder)
    for msg in match.errors:
        print(msg, file=sys.stderr)
    return match


def _describe(a: mturk.Assignment) -> str:
    flags = ", ".join(mturk.FLAG_LABELS[f] for f in sorted(a.all_flags)) or "ok"
    labels = " ".join(repr(b.label) if not b.is_digit else b.label for b in a.boxes) or "(no box)"
    notes = "".join(f" ({n})" for n in a.photo_notes)  # which files an ambiguous name matched
    return f"line {a.line}: {a.image}  {a.worker_id}  {a.status}  [{labels}]  {flags}{notes}"


def _summary(batch: mturk.Batch, match: mturk.PhotoMatch, limit: int) -> None:
    c = batch.counts()
    statuses = ", ".join(f"{v} {k.split(':', 1)[1]}" for k, v in c.items() if k.startswith("status:"))
    print(f"{batch.path.name}: {c['assignments']} assignments ({statuses}) by {c['workers']} workers on {c['images']} images "
          f"({c['images_with_several']} with several assignments)")
    print(f"malformed rows: {len(batch.errors)}")
    _limited([str(e) for e in batch.errors], limit, "problems")
    print(f"photos: {len(match.present)} present, {len(match.missing)} missing in {match.folder}")
    if match.missing:
        print("missing photos:")
        _limited(match.missing, limit, "missing photos")
    if match.ambiguous:  # a shared file name its URL's folders do not tell apart: never a guess
        print(f"photos that cannot be told apart: {len(match.ambiguous)} (the same file name in several folders)")
        _limited(match.ambiguous_lines(), limit, "photos that cannot be told apart")
    flagged = [a for a in batch.assignments if a.all_flags - mturk.PHOTO_NOT_FOUND]  # those photos are listed above
    print(f"flagged assignments: {len(flagged)}")
    _limited([_describe(a) for a in flagged], limit, "flagged assignments")
    print(f"disagreements: {len(batch.disagreements)} images")
    _limited([f"{img}: {msg}" for img, msgs in batch.disagreements.items() for msg in msgs], limit, "disagreements")


# --------------------------------------------------------------------------- commands


def cmd_import(args: argparse.Namespace) -> int:
    batch = _read(args)
    if batch is None:
        return 1
    store = None if args.no_store else _open_store(args.dir)
    match = _match(batch, args.dir, store)
    rep = None
    if store is not None:  # the store write comes first: a reader that stops early (| head) must not stop it
        with mturk.VerdictStore.open(store) as verdicts:
            _finish_pending(store, verdicts, batch)  # before the import, as the app does
            verdicts.set_meta("last_csv", str(args.csv.resolve()))
            rep = mturk.import_into_store(batch, store, verdicts, match)
        store.close()
    _summary(batch, match, args.list)
    if rep is not None:
        print(f"store: {rep.added} mturk bibs added, {rep.already_there} already there, "
              f"{rep.skipped_non_digit} non-digit boxes and {rep.skipped_rejected} boxes of rejected answers left out")
        if rep.reviewed_note():
            print(f"note: {rep.reviewed_note()}: {', '.join(rep.reviewed_photos[:args.list] if args.list else rep.reviewed_photos)}")
    return 0


def _need_folder(folder: Path) -> bool:
    if folder.is_dir():
        return True
    print(f"error: {folder}: folder not found (the verdicts live in its .bibtagger/)", file=sys.stderr)
    return False


def cmd_review(args: argparse.Namespace) -> int:
    if not _need_folder(args.dir):
        return 1
    batch = _read(args)
    if batch is None:
        return 1
    store = _open_store(args.dir)
    match = _match(batch, args.dir, store)
    with mturk.VerdictStore.open(store if store is not None else args.dir) as verdicts:
        _finish_pending(store, verdicts, batch)
        decided = verdicts.all()
        pending = [a for a in batch.assignments if a.pending]
        print(f"pending on MTurk: {len(pending)} of {len(batch.assignments)} assignments; "
              f"{sum(1 for a in pending if a.assignment_id in decided)} already have a verdict")
        if args.auto:
            result = mturk.auto_review(batch, match, verdicts, store)
            print(f"auto-approved: {len(result.approved)}")
            print(f"need a person: {len(result.held)}")
            _limited([f"{_describe(a)}  -> {why}" for a, why in result.held], args.list, "assignments")
        else:
            todo = [a for a in pending if a.assignment_id not in decided]
            print(f"waiting for a verdict: {len(todo)}")
            _limited([_describe(a) for a in todo], args.list, "assignments")
        kept = _kept_after_reject(batch, match, decided, store)
        if kept:
            print(f"rejected answers whose boxes stay on accepted photos: {len(kept)}")
            _limited(kept, args.list, "answers")
    if store is not None:
        store.close()
    return 0


def _kept_after_reject(batch: mturk.Batch, match: mturk.PhotoMatch, decided: dict[str, mturk.Verdict], store: Any) -> list[str]:
    """A line per answer rejected here whose boxes stay on a photo accepted before the rejection (docs/mturk.md)."""
    if store is None:
        return []
    lines = []
    for a in batch.assignments:
        v = decided.get(a.assignment_id)
        ref = match.present.get(a.image)
        if v is None or v.action != mturk.REJECT or ref is None or ref.photo_id is None:
            continue
        note = mturk.kept_note(ref.relpath, mturk.kept_after_reject(a, store, ref.photo_id))
        if note:
            lines.append(f"{a.worker_id} ({a.assignment_id}), rejected: {note}")
    return lines


def cmd_export(args: argparse.Namespace) -> int:
    from bibtagger_gui.core.store import out_folder_problem

    if not _need_folder(args.dir):
        return 1
    why = out_folder_problem(args.out)
    if why:  # no folders made for a typo (mturk.export_batch refuses it too, for the dialog)
        print(f"error: {why}", file=sys.stderr)
        return 1
    batch = _read(args)
    if batch is None:
        return 1
    try:
        if args.out.exists() and os.path.samefile(args.out, args.csv):
            print("error: --out must not be the input CSV (keep MTurk's download as it is)", file=sys.stderr)
            return 1
    except OSError:
        pass
    from bibtagger_gui.core.store import project_exists

    # a project only to finish a verdict a crash left noted in it: never create one for that
    store = _open_store(args.dir, scan=False) if project_exists(args.dir) else None
    with mturk.VerdictStore.open(store if store is not None else args.dir) as verdicts:
        _finish_pending(store, verdicts, batch)
        if store is not None:
            store.close()
        try:
            rep = mturk.export_batch(batch, verdicts, args.out)
        except OSError as exc:
            print(f"{args.out}: cannot write ({exc.strerror or exc})", file=sys.stderr)
            return 1
    pending_left = sum(1 for a in batch.assignments if a.pending) - len(rep.approved) - len(rep.rejected)
    print(f"wrote {args.out}: {len(rep.approved)} approved, {len(rep.rejected)} rejected, "
          f"{rep.untouched} rows unchanged ({pending_left} pending assignments left without a verdict)")
    if rep.ignored_final:
        print(f"warning: {len(rep.ignored_final)} verdicts are for assignments already Approved/Rejected on MTurk; "
              "those rows were left as they are", file=sys.stderr)
    if rep.unknown:
        print(f"note: {len(rep.unknown)} verdicts are for assignments not in this CSV", file=sys.stderr)
    if rep.encoding_note:
        print(f"note: {rep.encoding_note}", file=sys.stderr)
    return 0
