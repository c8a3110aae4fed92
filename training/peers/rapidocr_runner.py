"""Benchmark runner for RapidOCR (run with bench_out/venv-rapidocr's Python, see `make bench-peers`).

RapidOCR >= 3 ships its PP-OCR ONNX models inside the wheel, so nothing is downloaded at run time.
The photo path goes straight to RapidOCR (its own loader applies EXIF orientation); every text
line then goes through the shared digit filter.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common  # noqa: E402


def setup(job: dict):
    from importlib.metadata import version

    from rapidocr import RapidOCR

    params = {"Global.log_level": "error"}
    if job.get("threads"):
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = int(job["threads"])
    engine = RapidOCR(params=params)

    def recognize(path: str) -> list[dict]:
        out = engine(path)
        if out.boxes is None or out.txts is None:
            return []
        items = []
        for poly, text, score in zip(out.boxes, out.txts, out.scores):
            xs, ys = [float(p[0]) for p in poly], [float(p[1]) for p in poly]
            items.append((text, (min(xs), min(ys), max(xs), max(ys)), float(score)))
        return peer_common.digit_bibs(items, out.img.shape[0])

    return recognize, f"rapidocr {version('rapidocr')} (onnxruntime {version('onnxruntime')})"


if __name__ == "__main__":
    sys.exit(peer_common.run_job(setup))
