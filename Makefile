# `make run` starts the server on SQLite + a local folder; `make test` sets up and runs the suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test install install-test system-deps lint typecheck bench conformance clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

run: install
	$(BIN)/tracklet server --host $(HOST) --port $(PORT)

system-deps:
	./scripts/system-deps.sh

test: install-test system-deps
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup tests

lint: install-test
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: install-test
	$(BIN)/python -m benchmarks

conformance: install-test
	./scripts/conformance.sh

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache
