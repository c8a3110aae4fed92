"""Number reader: a small CRNN (conv stack -> BiLSTM -> linear) trained with CTC.

Input ``crop`` [N,C,32,128] in 0..1, C = 1 (grey) or 3 (RGB; ``channels``) (see docs/architecture.md); output ``logits``
[N,T=32,C] log-softmax, class 0 = CTC blank, class i+1 = charset[i].
"""

from __future__ import annotations

import torch
from torch import nn

CHARSET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
INPUT_H, INPUT_W = 32, 128
CONV_CHANNELS = (32, 64, 96, 128)  # output channels of the four conv stages (the shipped readers' widths)
HIDDEN = 96  # BiLSTM units per direction


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class CRNN(nn.Module):
    """Conv features (height pooled to 1, width /4) -> BiLSTM -> per-column class log-probs."""

    def __init__(self, charset: str = CHARSET, height: int = INPUT_H, width: int = INPUT_W,
                 channels: tuple[int, int, int, int] = CONV_CHANNELS, hidden: int = HIDDEN, stretch: float = 1.0,
                 in_channels: int = 1):
        super().__init__()
        if height % 16 or width % 4:
            raise ValueError(f"reader input {height}x{width}: height must be a multiple of 16, width of 4")
        self.charset, self.height, self.width = charset, height, width
        self.stretch = stretch  # preprocessing only (core.recognizer.reader_crop); exported as metadata
        if in_channels not in (1, 3):
            raise ValueError(f"reader input has 1 (grey) or 3 (RGB) channels, not {in_channels}")
        self.in_channels = in_channels  # 1 grey, 3 RGB crops; exported as metadata
        if len(channels) != 4 or min(channels) < 1 or hidden < 1:
            raise ValueError(f"reader widths: four conv channel counts and a hidden size >= 1, not {channels}, {hidden}")
        self.conv_channels, self.hidden = tuple(int(c) for c in channels), int(hidden)  # stored in checkpoints
        c1, c2, c3, c4 = self.conv_channels
        self.features = nn.Sequential(
            *_block(in_channels, c1), nn.MaxPool2d(2, 2),  # 16 x 64
            *_block(c1, c2), nn.MaxPool2d(2, 2),           # 8 x 32
            *_block(c2, c3), *_block(c3, c3), nn.MaxPool2d((2, 1)),  # 4 x 32
            *_block(c3, c4), nn.MaxPool2d((2, 1)),         # 2 x 32
            # collapse the remaining height (height / 16: 2 for 32-px input, 3 for 48) to 1
            nn.Conv2d(c4, c4, (height // 16, 1), bias=False), nn.BatchNorm2d(c4), nn.ReLU(inplace=True),
        )
        self.rnn = nn.LSTM(c4, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(2 * hidden, len(charset) + 1)

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        x = (crop - 0.5) / 0.25
        f = self.features(x).squeeze(2).permute(0, 2, 1)  # N, T, C
        f, _ = self.rnn(f)
        return torch.log_softmax(self.head(self.dropout(f)), dim=2)

    @property
    def steps(self) -> int:
        return self.width // 4


def greedy_decode(logits: torch.Tensor, charset: str) -> list[str]:
    """Best-path CTC decode in torch (for parity tests; evaluation uses core.decode.ctc_greedy_decode)."""
    out = []
    for seq in logits.argmax(2).tolist():
        chars, prev = [], 0
        for k in seq:
            if k != prev and k != 0:
                chars.append(charset[k - 1])
            prev = k
        out.append("".join(chars))
    return out


def encode_targets(numbers: list[str], charset: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenated CTC targets and their lengths; characters outside the charset are dropped."""
    index = {c: i + 1 for i, c in enumerate(charset)}
    seqs = [[index[c] for c in n.upper() if c in index] for n in numbers]
    return torch.tensor([i for s in seqs for i in s], dtype=torch.long), torch.tensor([len(s) for s in seqs], dtype=torch.long)
