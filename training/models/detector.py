"""Bib detector: a small MobileNetV2-like backbone, FPN-ish upsampling to stride 4, CenterNet head.

Single class ("bib" = the printed number region).  Outputs follow the ONNX contract of
docs/architecture.md: ``heatmap`` [N,1,H/4,W/4] (sigmoid applied), ``size`` [N,2,H/4,W/4]
(box width/height in input pixels), ``offset`` [N,2,H/4,W/4] (sub-cell centre offset,
centre = (cell + offset) * stride).  Trained from scratch, no pretrained weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 4
SIZE_SCALE = 16.0  # size = exp(raw) * SIZE_SCALE input pixels; keeps the raw output near 0 at init


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    """Conv + BatchNorm (+ ReLU6)."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise (stride), 1x1 project, residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int = 1, expand: int = 3):
        super().__init__()
        mid = cin * expand
        self.block = nn.Sequential(
            conv_bn(cin, mid, 1),
            conv_bn(mid, mid, 3, stride, groups=mid),
            conv_bn(mid, cout, 1, act=False),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


def sep_conv(cin: int, cout: int) -> nn.Sequential:
    """Depthwise-separable 3x3 conv (cheap smoothing at high resolution)."""
    return nn.Sequential(conv_bn(cin, cin, 3, groups=cin), conv_bn(cin, cout, 1))


class BibDetector(nn.Module):
    """CenterNet-style single-class detector, stride 4; `width` scales every channel count."""

    def __init__(self, width: float = 1.0, fpn: int = 48):
        super().__init__()
        c = [max(8, int(round(v * width))) for v in (16, 24, 40, 80, 128)]
        self.stem = conv_bn(3, c[0], 3, 2)  # /2
        self.s4 = nn.Sequential(InvertedResidual(c[0], c[1], 2), InvertedResidual(c[1], c[1]))
        self.s8 = nn.Sequential(InvertedResidual(c[1], c[2], 2), InvertedResidual(c[2], c[2]), InvertedResidual(c[2], c[2]))
        self.s16 = nn.Sequential(
            InvertedResidual(c[2], c[3], 2), InvertedResidual(c[3], c[3]), InvertedResidual(c[3], c[3]), InvertedResidual(c[3], c[3])
        )
        self.s32 = nn.Sequential(InvertedResidual(c[3], c[4], 2), InvertedResidual(c[4], c[4]), InvertedResidual(c[4], c[4]))
        self.lat = nn.ModuleList([conv_bn(ci, fpn, 1) for ci in c[1:]])
        self.smooth = nn.ModuleList([sep_conv(fpn, fpn) for _ in range(3)])
        self.head = sep_conv(fpn, fpn)
        self.hm = nn.Conv2d(fpn, 1, 1)
        self.wh = nn.Conv2d(fpn, 2, 1)
        self.off = nn.Conv2d(fpn, 2, 1)
        self._init()

    def _init(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.hm.weight, std=0.01)
        nn.init.constant_(self.hm.bias, -math.log((1 - 0.01) / 0.01))  # prior 0.01 (focal-loss init)
        for m in (self.wh, self.off):
            nn.init.normal_(m.weight, std=0.01)
        nn.init.zeros_(self.wh.bias)
        nn.init.constant_(self.off.bias, 0.5)

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Heatmap logits, log-size (relative to SIZE_SCALE) and offset, before output activations."""
        x = self.stem(x)
        f4 = self.s4(x)
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        f32 = self.s32(f16)
        p = self.lat[3](f32)
        for lat, smooth, f in zip((self.lat[2], self.lat[1], self.lat[0]), reversed(self.smooth), (f16, f8, f4)):
            p = smooth(lat(f) + F.interpolate(p, scale_factor=2.0, mode="nearest"))
        h = self.head(p)
        return self.hm(h), self.wh(h), self.off(h)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """image [N,3,H,W] RGB 0..1 (H, W multiples of 32) -> heatmap, size (input px), offset."""
        hm, wh, off = self.raw(image)
        return torch.sigmoid(hm), torch.exp(wh.clamp(-6.0, 6.0)) * SIZE_SCALE, off


def build_detector(**kwargs) -> BibDetector:
    """The detector architecture shipped in resources/models/detector.onnx."""
    return BibDetector(**kwargs)
