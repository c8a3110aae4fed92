"""Benchmark runner for bibtagger's own recognizer (run with the project venv's Python).

Job keys: ``models`` (folder with detector.onnx + reader.onnx), ``threads`` (intra-op threads per
ONNX session, null = onnxruntime default), ``workers`` (threads sharing one Recognizer).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common  # noqa: E402


def setup(job: dict):
    from bibtagger_gui.core.recognizer import Recognizer

    rec = Recognizer.from_dir(Path(job["models"]), threads=job.get("threads"))

    def recognize(path: str) -> list[dict]:
        return [b.to_json() for b in rec.recognize_path(Path(path))]

    return recognize, rec.version


if __name__ == "__main__":
    sys.exit(peer_common.run_job(setup))
