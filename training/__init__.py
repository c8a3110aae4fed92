"""Training of bibtagger's models (torch, CPU). Never imported by the app."""
