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

# Debian packages: Qt's runtime libs, fonts for synthetic bibs, exiftool for keywords.
SYSDEPS := libegl1 libgl1 libglib2.0-0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0 \
	libxcb-image0 libxcb-xinerama0 libxcb-xkb1 \
	fonts-dejavu-core fonts-dejavu-extra fonts-liberation2 fonts-freefont-ttf fonts-urw-base35 fonts-roboto-unhinted \
	libimage-exiftool-perl

.PHONY: setup sysdeps run test bench package demo clean

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

demo: setup
	@test -d $(DEMO_DIR) || $(PY) -m bibtagger_gui.core.demo $(DEMO_DIR)

run: setup demo
	$(VENV)/bin/bibtagger gui $(DIR)

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: setup
	$(PY) -m training.bench --out bench_out

package: setup
	$(VENV)/bin/pyinstaller --noconfirm --clean build.spec

clean:
	rm -rf build dist bench_out .pytest_cache
