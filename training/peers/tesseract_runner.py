"""Benchmark runner for the tesseract CLI (standard library only; any Python runs it).

One ``tesseract IMG stdout --psm 11 -c tessedit_char_whitelist=0123456789 tsv`` process per photo
(sparse text, digits only); its words go through the shared digit filter. Job key ``tesseract``
names the binary. Peak memory is the larger of this runner and its biggest tesseract child.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common  # noqa: E402

ARGS = ["stdout", "--psm", "11", "-c", "tessedit_char_whitelist=0123456789", "tsv"]


def parse_tsv(tsv: str) -> tuple[int, list[tuple[str, tuple, float | None]]]:
    """(page height, [(text, box, confidence)]) from tesseract's TSV output (level 5 = words)."""
    height, items = 0, []
    lines = tsv.splitlines()
    for line in lines[1:]:
        cols = line.split("\t")
        if len(cols) < 12:
            continue
        level, left, top, width, h = (int(c) for c in (cols[0], cols[6], cols[7], cols[8], cols[9]))
        if level == 1:
            height = h
        elif level == 5 and cols[11].strip():
            conf = float(cols[10])
            items.append((cols[11], (left, top, left + width, top + h), conf / 100 if conf >= 0 else None))
    return height, items


def setup(job: dict):
    binary = shutil.which(job.get("tesseract", "tesseract"))
    if binary is None:
        raise FileNotFoundError("tesseract not found")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.splitlines()[0]

    def recognize(path: str) -> list[dict]:
        proc = subprocess.run([binary, path, *ARGS], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip()[-300:])
        height, items = parse_tsv(proc.stdout)
        return peer_common.digit_bibs(items, height)

    return recognize, version.strip()


if __name__ == "__main__":
    sys.exit(peer_common.run_job(setup))
