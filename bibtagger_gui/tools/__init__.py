"""Developer tools run from a checkout (``python -m bibtagger_gui.tools.NAME``); not part of the packaged app
(build.spec leaves them out)."""
