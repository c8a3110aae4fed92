"""Shared by every benchmark runner: the job/result protocol, timing, peak memory, digit filtering.

Standard library only: runners import this as a sibling module from interpreters (peer venvs)
that do not have bibtagger installed.

Protocol: ``python RUNNER JOB.json RESULT.json``. The job holds ``images`` (absolute paths),
``warmup`` (how many of them to run once, untimed, after loading), ``workers`` (parallel threads)
and ``threads`` (intra-op threads per inference session, or null for the library's default)
plus runner-specific keys. The result holds ``predictions`` ({path: [{number, box, confidence}]}),
``errors`` ({path: message}), ``seconds`` (wall time of a timed pass over all images: the median
of ``passes`` passes, default 1; every pass's time in ``pass_seconds``),
``photos``, ``peak_rss_mb`` and ``version``.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

Recognize = Callable[[str], list]  # image path -> list of {"number", "box", "confidence"}

MIN_DIGITS, MAX_DIGITS = 2, 6
MIN_HEIGHT_FRACTION = 0.015  # peers' text boxes lower than 1.5 % of the photo height are dropped


def digit_bibs(items: Iterable[tuple[str, tuple, float | None]], image_height: int,
               min_height_fraction: float = MIN_HEIGHT_FRACTION) -> list[dict]:
    """Turn a general OCR's (text, (x1, y1, x2, y2), confidence) items into bib candidates.

    Each whitespace-separated token has its non-digits stripped and is kept when 2-6 digits
    remain; items whose box is lower than `min_height_fraction` of the image height are dropped.
    Every kept token gets its item's box.
    """
    out = []
    for text, box, conf in items:
        x1, y1, x2, y2 = (float(v) for v in box)
        if y2 - y1 < min_height_fraction * image_height:
            continue
        for token in str(text).split():
            digits = re.sub(r"\D", "", token)
            if MIN_DIGITS <= len(digits) <= MAX_DIGITS:
                out.append({"number": digits, "box": [round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)],
                            "confidence": None if conf is None else round(float(conf), 4)})
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process or its largest waited-for child, in MiB.

    Our own peak is VmHWM from /proc/self/status, not ru_maxrss: Linux carries the parent's
    high-water mark over fork+exec into RUSAGE_SELF, so a runner started by a big bench process
    would report the bench's memory. Children (tesseract) are forked from this small runner, so
    their ru_maxrss is at most max(runner, child), which is what we report anyway.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            own = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        pass
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def timed_pass(recognize: Recognize, images: list[str], workers: int) -> tuple[dict, dict, float]:
    """Run `recognize` over all images with `workers` threads: (predictions, errors, seconds)."""
    preds: dict[str, list] = {}
    errors: dict[str, str] = {}

    def one(path: str) -> tuple[str, list | None, str | None]:
        try:
            return path, recognize(path), None
        except Exception as exc:  # a bad photo is reported, the run goes on
            return path, None, f"{type(exc).__name__}: {exc}"

    start = time.perf_counter()
    if workers <= 1:
        results = [one(p) for p in images]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, images))
    seconds = time.perf_counter() - start
    for path, bibs, err in results:
        preds[path] = bibs or []
        if err:
            errors[path] = err
    return preds, errors, seconds


def median_pass(times: list[float]) -> float:
    """The timed pass a result reports: the median (the upper one of an even count)."""
    return sorted(times)[len(times) // 2]


def run_job(setup: Callable[[dict], tuple[Recognize, str]], argv: list[str] | None = None) -> int:
    """Runner main: load the job, set the pipeline up, warm up, time one pass, write the result."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: RUNNER JOB.json RESULT.json", file=sys.stderr)
        return 2
    job_path, result_path = argv
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    try:
        recognize, version = setup(job)
    except Exception as exc:
        traceback.print_exc()
        _write(result_path, {"status": "failed", "error": f"setup: {type(exc).__name__}: {exc}"})
        return 1
    images = list(job["images"])
    for path in images[: int(job.get("warmup", 0))]:
        try:
            recognize(path)
        except Exception:
            pass  # reported by the timed pass
    times = []
    for i in range(max(1, int(job.get("passes", 1)))):
        got, errs, seconds = timed_pass(recognize, images, int(job.get("workers", 1)))
        if i == 0:
            preds, errors = got, errs
        times.append(seconds)
    _write(result_path, {
        "status": "ok", "version": version, "predictions": preds, "errors": errors,
        "seconds": round(median_pass(times), 4), "pass_seconds": [round(t, 4) for t in times],
        "photos": len(images), "workers": int(job.get("workers", 1)),
        "threads": job.get("threads"), "peak_rss_mb": peak_rss_mb(),
    })
    return 0


def _write(path: str, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
