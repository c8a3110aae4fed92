# bibtagger: `make run` opens the app, `make test` runs every test. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_WHEEL ?= torch==2.13.0
DEMO_DIR ?= demo_photos
DIR ?= $(DEMO_DIR)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: Qt's runtime libs, fonts for synthetic bibs, exiftool for keywords, an X server
# with a keyboard and its settings for the real-display tests (xvfb, xdotool, xrdb: tests/test_x11_display.py, docs/x11.md),
# the libraries of Qt's Wayland plugin and a headless Wayland compositor with its keyboard and screen grab
# (sway, wtype, grim: tests/test_wayland_display.py, docs/wayland.md), xprop (x11-utils) for a window's WM_CLASS,
# desktop-file-validate and gio (desktop-file-utils, libglib2.0-bin: the desktop launcher's tests, docs/desktop.md),
# and LibreOffice Calc (headless) with its Python bridge for tests/test_office_roundtrip.py (about 90 MB, under a minute; docs/exports.md).
SYSDEPS := libegl1 libgl1 libglib2.0-0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0 \
	libxcb-image0 libxcb-xinerama0 libxcb-xkb1 \
	xvfb xdotool x11-xserver-utils x11-utils desktop-file-utils libglib2.0-bin \
	libwayland-client0 libwayland-cursor0 libwayland-egl1 sway wtype grim \
	fonts-dejavu-core fonts-dejavu-extra fonts-liberation2 fonts-freefont-ttf fonts-urw-base35 fonts-roboto-unhinted \
	libimage-exiftool-perl libreoffice-calc-nogui python3-uno

.PHONY: setup sysdeps run test bench bench-app bench-peers package demo install-desktop uninstall-desktop icons clean

sysdeps: $(VENV)/.sysdeps
$(VENV)/.sysdeps:
	@missing=$$(for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@mkdir -p $(VENV) && touch $@

setup: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml $(VENV)/.sysdeps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_WHEEL)
	$(PIP) install -q -e '.[train,dev]'
	touch $@

# the demo folder (kept once made): the same `bibtagger demo` the packaged app has (docs/packaging.md#demo-photos)
demo: setup
	@test -d $(DEMO_DIR) || $(VENV)/bin/bibtagger demo $(DEMO_DIR)

run: setup demo
	$(VENV)/bin/bibtagger gui $(DIR)

# the app in this user's desktop menu (Linux, no root): an entry that runs this checkout's .venv/bin/bibtagger, and its
# icon, in $XDG_DATA_HOME (~/.local/share) (docs/desktop.md)
install-desktop: setup
	$(VENV)/bin/bibtagger install-desktop

# the window icon's PNGs (resources/icons) rendered again from resources/desktop/bibtagger.svg: run after editing
# the SVG; tests/test_app_icon.py fails while they differ (docs/desktop.md#window-icon)
icons: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m bibtagger_gui.tools.render_icons

uninstall-desktop:
	@test -x $(VENV)/bin/bibtagger || { echo "no $(VENV): nothing installed from this checkout"; exit 0; }; \
	$(VENV)/bin/bibtagger install-desktop --uninstall

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# Benchmark tables (docs/benchmarks.md): the recognizer, then the app. `make bench-peers` first installs the comparison peers:
# tesseract-ocr (apt, bench only, so not in SYSDEPS) and RapidOCR in its own venv under bench_out/.
BENCH_OUT ?= bench_out
PEER_VENV := $(BENCH_OUT)/venv-rapidocr
RAPIDOCR ?= rapidocr==3.10.0

bench: setup
	$(PY) -m training.bench --out $(BENCH_OUT)
	$(PY) -m training.bench_app --out $(BENCH_OUT)

# The app's own paths (scan, store, GUI list/search/next photo, thumbnails, find, keywords, exports)
# on a generated 10,000-photo shoot: bench_out/bench-app.md (docs/benchmarks.md#app).
bench-app: setup
	$(PY) -m training.bench_app --out $(BENCH_OUT)

bench-peers:
	@command -v tesseract >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends tesseract-ocr; }
	@test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install -q --disable-pip-version-check $(RAPIDOCR) onnxruntime opencv-python-headless
	$(PEER_VENV)/bin/python -c "import rapidocr, onnxruntime; print('rapidocr', rapidocr.__version__ if hasattr(rapidocr, '__version__') else '?', 'onnxruntime', onnxruntime.__version__)"

package: setup
	$(VENV)/bin/pyinstaller --noconfirm --clean build.spec

clean:
	rm -rf build dist bench_out .pytest_cache
