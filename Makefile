# mockprovider — every target makes its own virtualenv; nothing is installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test install clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Serve the mock on built-in defaults (http://127.0.0.1:8080, the built-in personas).
run: $(STAMP)
	$(BIN)/mockprovider serve --host $(HOST) --port $(PORT)

## The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
