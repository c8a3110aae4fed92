"""bibtagger: find runners' race bib numbers in event photos."""

__version__ = "0.1.0"
