"""The value type every part of bibtagger exchanges: one bib on one photo."""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Bib:
    """A bib number, its box (x1, y1, x2, y2 in oriented-image pixels) and confidence."""

    number: str
    box: Box | None
    confidence: float | None = None

    def to_json(self) -> dict:
        d: dict = {"number": self.number, "box": list(self.box) if self.box is not None else None}
        if self.confidence is not None:
            d["confidence"] = round(float(self.confidence), 4)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Bib":
        box = d.get("box")
        conf = d.get("confidence")
        return cls(
            number=str(d["number"]),
            box=tuple(float(v) for v in box) if box is not None else None,  # type: ignore[arg-type]
            confidence=float(conf) if conf is not None else None,
        )
