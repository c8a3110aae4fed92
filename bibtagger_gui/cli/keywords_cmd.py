"""`bibtagger keywords DIR`: write the bib numbers into the photos as XMP/IPTC keywords (exiftool)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from bibtagger_gui.cli.find_cmd import open_project
from bibtagger_gui.core.keywords import (
    DEFAULT_PREFIX,
    LEFT_WITH_A_MESSAGE,
    FileResult,
    KeywordError,
    KeywordOptions,
    KeywordReport,
    earlier_picture_notes,
    find_exiftool,
    jobs_from_store,
    write_keywords,
)


def run(args: argparse.Namespace) -> int:
    try:
        options = KeywordOptions(
            prefix=args.prefix, hierarchical=args.hierarchical, sidecar=args.sidecar,
            dry_run=args.dry_run, backup=args.backup,
        )  # fmt: skip
        exe = find_exiftool()
    except KeywordError as exc:
        print(f"bibtagger keywords: {exc}", file=sys.stderr)
        return 1
    store = open_project(args.dir, scan=False)
    if store is None:
        return 1
    try:
        with store:
            # Sync with the folder first (as `bibtagger predict` does): a photo renamed or moved since
            # the last scan is found again by its hash and keeps its bibs, instead of "file not found".
            scan = store.scan()
            jobs = jobs_from_store(store, reviewed_only=args.reviewed_only)
    except KeyboardInterrupt:  # Ctrl+C before the run: what the scan saw is saved, no photo was touched
        print("interrupted: no keywords written, the photos are untouched", file=sys.stderr)
        return 130
    in_jobs = {job.relpath for job in jobs}
    # a photo of the project that failed its scan is reported by the keyword run itself (one line each)
    scan_errors = [(rel, message) for rel, message in scan.errors if rel not in in_jobs]
    for rel, message in scan_errors:
        print(f"{os.path.join(str(args.dir), rel)}: {message}", file=sys.stderr)
    for line in earlier_picture_notes(jobs):  # said before the run: these bibs are not written
        print(line, file=sys.stderr)
    if scan.moved:
        print(f"{len(scan.moved)} photo(s) moved or renamed since the last scan (bibs kept)", file=sys.stderr)

    done: list[FileResult] = []

    def show(result: FileResult) -> None:
        done.append(result)
        if result.status in LEFT_WITH_A_MESSAGE:  # skipped, changed: left as it is, said with why
            print(result.describe(), file=sys.stderr)
        elif result.status != "unchanged" or args.verbose:
            print(result.describe(), flush=True)

    stop = threading.Event()
    at_once = False
    try:
        with _stop_on_ctrl_c(stop):  # Ctrl+C: stop after the photo being written, and say how far it got
            report = write_keywords(jobs, options, exiftool=exe, on_result=show, cancel=stop.is_set)
    except KeywordError as exc:
        print(f"bibtagger keywords: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a second Ctrl+C: stopped at once
        report, at_once = KeywordReport(done, cancelled=True), True
    if report.rewritten():  # keep the stored hashes the files' own (a later move is still matched)
        with open_project(args.dir, scan=False) as store:
            store.refresh_files(report.rewritten())
    if report.cancelled:
        print("interrupted: dry run, nothing written" if args.dry_run else report.stopped_note(len(jobs), at_once),
              file=sys.stderr)  # fmt: skip
        return 130  # as for any Ctrl+C (cli.main)
    scan_note = f", {len(scan_errors)} scan error(s)" if scan_errors else ""
    print(f"{len(jobs)} photo(s): {report.summary()}{scan_note}" + (" (dry run, nothing written)" if args.dry_run else ""),
          file=sys.stderr)  # fmt: skip
    note = report.read_only_note(args.dry_run)
    if note:  # sidecars the photo-sales site and Lightroom will not read: say why, and what to do
        print(note, file=sys.stderr)
    # scripts must see that a photo failed or changed during the run (the others were still done)
    return 1 if report.errors or report.count("changed") or scan_errors else 0


@contextlib.contextmanager
def _stop_on_ctrl_c(stop: threading.Event) -> Iterator[None]:
    """While inside, the first Ctrl+C (SIGINT) sets ``stop`` (the run ends after the file being written, so each
    photo is either untouched or complete and the count is exact); a second one interrupts at once, as SIGTERM and
    SIGHUP do (exiftool, in a session of its own so that Ctrl+C does not reach it, is closed on the way out:
    ``-stay_open`` does not end with its input, so one left behind polls for ever)."""

    def handler(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    def at_once(signum, frame) -> None:  # the terminal closed (SIGHUP), or a kill (SIGTERM): stop now, but through
        raise KeyboardInterrupt  # the `with ExifTool` that ends exiftool; left to the default it outlived us for ever

    try:
        previous = {signal.SIGINT: signal.signal(signal.SIGINT, handler)}
    except ValueError:  # not the main thread: Ctrl+C is not ours to catch
        yield
        return
    for other in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)):
        if other is not None:
            previous[other] = signal.signal(other, at_once)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def register(sub) -> None:
    p = sub.add_parser(
        "keywords",
        help="write bib numbers into the photos' keywords (XMP dc:subject, IPTC Keywords)",
        description=__doc__ + " Only keywords starting with the prefix are added or removed; others are kept.",
    )
    p.add_argument("dir", help="photo folder (with a bibtagger project)")
    p.add_argument("--sidecar", action="store_true", help="write IMG.xmp sidecars, never touch the photos")
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"keyword prefix (default {DEFAULT_PREFIX!r})")
    p.add_argument("--hierarchical", action="store_true", help="also write XMP-lr:HierarchicalSubject 'Bib|1234'")
    p.add_argument("--reviewed-only", action="store_true", help="only photos marked reviewed")
    p.add_argument("--backup", action="store_true", help="keep exiftool's FILE_original copies")
    p.add_argument("-v", "--verbose", action="store_true", help="also list photos that are already up to date")
    p.set_defaults(func=run)
