# The two commands of the README:
#   make demo   set everything up, run the default scenario, print a summary and where outputs are
#   make test   set everything up, run lint, types and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install lint jsipfs chromium clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints-ci.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints-ci.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/baasim demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# js-ipfs for the tests marked `ipfs` (npm install once, cached under ~/.cache/baasim/jsipfs)
jsipfs:
	scripts/jsipfs.sh install

# headless Chromium for the tests marked `browser` (the sweep report renders in it); installed
# from Debian once, only when /usr/bin/chromium is missing (as root, or through sudo)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

test: lint jsipfs chromium
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
