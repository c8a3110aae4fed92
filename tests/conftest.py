"""Shared fixtures: real datasets from ../shared (skip outside CI, fail in CI), placeholder models."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BIBTAGGER_SHARED", REPO.parent / "shared"))


def _need(path: Path) -> Path:
    if path.exists():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide {path} (../shared beside the clone)")
    pytest.skip(f"{path} not present (research data lives in ../shared, only in CI and dev machines)")


@pytest.fixture(scope="session")
def rbnr_dev() -> Path:
    """The rbnr_dev folder (photos + annotations.json); never copied into the repo."""
    return _need(SHARED / "datasets" / "rbnr_dev" / "annotations.json").parent


@pytest.fixture(scope="session")
def mturk_csv() -> Path:
    """The real MTurk batch results CSV."""
    return _need(SHARED / "datasets" / "mturk" / "mturk_results.csv")


@pytest.fixture(scope="session")
def placeholder_models(tmp_path_factory) -> tuple[Path, Path]:
    """(detector_path, reader_path): tiny real ONNX models obeying the recognizer contract."""
    from tests.model_factory import make_placeholder_models

    return make_placeholder_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def placeholder_models_dir(placeholder_models) -> Path:
    return placeholder_models[0].parent


@pytest.fixture(scope="session")
def shipped_models_dir() -> Path:
    """resources/models with the trained models; fails if they are missing (they are committed)."""
    folder = REPO / "resources" / "models"
    if not (folder / "detector.onnx").exists() or not (folder / "reader.onnx").exists():
        pytest.fail(f"trained models missing from {folder}")
    return folder


@pytest.fixture
def one_torch_thread():
    """One torch thread for training/export tests: on a shared 2-core machine two OpenMP threads
    can be ~10x slower than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A temporary folder other users may enter (0o755; pytest's ``tmp_path`` lies in folders only its owner can),
    for tests that make folders in it read-only and, as root (which ignores file modes), run a child as user nobody.
    Removed after the test, each folder in it made writable again first."""
    base = Path(tempfile.mkdtemp(prefix="bt_public_"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        folders = [base]
        while folders:  # each folder opened (0o755) before it is listed: a test may have closed one (0o000)
            folder = folders.pop()
            os.chmod(folder, 0o755)
            folders += [e.path for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
        shutil.rmtree(base)
