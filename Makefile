# `make run` serves tracklet on SQLite + a local folder. `make test` takes a fresh Debian
# machine with Python 3.11 to a full run: venv, test extras, system packages (PostgreSQL, via
# apt-get), then ruff, mypy and pytest on two workers.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?= -n 2 --dist loadgroup tests

.PHONY: run test install install-test system-deps lint typecheck pytest bench conformance clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/tracklet server --host $(HOST) --port $(PORT)

system-deps:
	PY=$(PY) ./scripts/system-deps.sh

test: system-deps install-test lint pytest

lint: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

typecheck: lint

# pytest exits 5 when it collected nothing; that is a failure here like any other non-zero.
pytest: system-deps install-test
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python -m benchmarks

conformance: install-test
	./scripts/conformance.sh

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
