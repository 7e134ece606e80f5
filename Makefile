# napari-medseg: `make run` opens napari with the plugin (or runs the headless demo),
# `make test` runs the whole suite under Xvfb. Both create .venv/ when missing.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PKGS := xvfb xauth libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0 libxcb-cursor0 \
	libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 \
	libxcb-render-util0 libxcb-image0 libdbus-1-3 libfontconfig1 \
	dcmtk dicom3tools

.PHONY: run test quick lint typecheck install install-dev system-deps demo bench clean

$(BIN)/python:
	@$(PY) -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing python3-venv"; rm -rf $(VENV); \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && $(PY) -m venv $(VENV); \
	  else echo "python3 -m venv failed: install python3-venv (Debian/Ubuntu) and rerun" >&2; exit 1; fi; }
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[qt]"
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian's Xvfb, mesa and Qt xcb libraries, installed only when root and missing.
system-deps:
	@missing=$$(for p in $(APT_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages (install as root): $$missing"; fi; \
	fi

run: install
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  $(BIN)/medseg gui; \
	else \
	  echo "no display found (DISPLAY unset): running the headless demo 'medseg demo' instead"; \
	  $(BIN)/medseg demo --out out; \
	fi

demo: install
	$(BIN)/medseg demo --out out

test: install-dev system-deps
	xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python -m pytest -q tests

# The core and CLI tests without a viewer and without model runs (under a minute).
quick: install-dev
	$(BIN)/python -m pytest -q -m "not gui and not slow" tests

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

bench: install-dev
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) out build dist
