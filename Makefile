# Two commands: `make demo` (set up, then run the main job on the embedded default data)
# and `make test` (set up, then lint with ruff and run the test suite). Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup
setup: $(VENV)/.installed

# torch is pinned to the CPU build that installs offline here; the rest comes from PyPI.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test,audio,peers]'
	touch $@

demo: setup
	$(BIN)/genstrat demo

test: setup
	$(BIN)/ruff check genstrat tests docs/experiments
	$(BIN)/python -m pytest -q --durations=15
