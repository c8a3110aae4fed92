"""torch models: the number reader (CRNN + CTC) and the bib detector (CenterNet)."""
