# `make run` serves tracklet on SQLite + a local folder, with the web UI built from frontend/
# first when it is missing or stale (Node.js 20.19+ and npm; apt-installed if missing). `make test` takes a fresh Debian
# machine with Python 3.11 to a full run: venv, test extras, system packages (PostgreSQL, via
# apt-get), then ruff, mypy and pytest on two workers.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?= -n 2 --dist loadgroup tests
# The test environment, pinned: every package `make install-test` installs, resolved for
# Python 3.11 on Linux x86_64 by `make lock`.
LOCK := requirements/test.lock
LOCK_ARGS ?=

.PHONY: ui run test test-compat install install-test lock system-deps lint typecheck pytest bench conformance clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Stamp files: reinstall only when pyproject.toml (or the lock) changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Plain pip from the lock, then tracklet itself without resolving anything again.
$(VENV)/.installed-test: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Re-resolve $(LOCK) after a dependency changes in pyproject.toml; pins already in the lock
# are kept where they still fit (`make lock LOCK_ARGS=--upgrade` takes the newest of
# everything). uv goes into the venv for this only; installing never needs it.
lock: | $(BIN)/python
	$(BIN)/pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" \
		-q $(LOCK_ARGS) -o $(LOCK)

# The web UI's assets (src/tracklet/ui/static/, gitignored): scripts/build_ui.py rebuilds
# them when frontend/'s sources changed, and does nothing otherwise.
ui:
	command -v npm >/dev/null 2>&1 || ./scripts/system-deps.sh ui
	$(PY) scripts/build_ui.py

run: install ui
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

# The SDK compatibility matrix (docs/compatibility.md): the e2e core scenarios with every wandb
# release in tests/e2e/sdk_venvs.py, each from a venv of its own under .cache/compat/ (made on
# first use); `make test` runs the pinned release only. Naming the `compat` marker keeps the
# older releases in (they are left out otherwise).
COMPAT_ARGS ?= -n 2 --dist loadgroup
test-compat: system-deps install-test
	$(BIN)/pytest $(COMPAT_ARGS) -m "compat or not compat" tests/e2e/test_sdk_matrix.py

bench: install-test
	$(BIN)/python -m benchmarks

conformance: install-test
	./scripts/conformance.sh

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
