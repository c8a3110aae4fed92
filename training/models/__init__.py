"""torch models: the number reader (CRNN + CTC) and the bib detector (CenterNet)."""

from __future__ import annotations


def cpu_state(model) -> dict:
    """A model's state dict with CPU tensors: checkpoints load without the training device."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}
