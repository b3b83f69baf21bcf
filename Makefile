# Two commands: `make demo` (set up, then run the main job on the embedded default data)
# and `make test` (set up, then lint with ruff and run the test suite). Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup peers-env test-peers fuzz
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

# Every reader a user's file reaches, attacked with 10,000 generated inputs each (outside CI's time: about 7 minutes
# on 2 cores); the counts go to docs/results/fuzz-readers.json, quoted in docs/reliability.md.
fuzz: setup
	rm -f docs/results/fuzz-readers.json
	GENSTRAT_FUZZ_EXAMPLES=10000 GENSTRAT_FUZZ_COUNTS=docs/results/fuzz-readers.json \
		$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_fuzz_readers.py

# A second environment for the peers that import torchvision (k-diffusion, MaskGIT): torch 2.14.1 with torchvision
# 0.29.1 (a CUDA build, about 6 GB; it runs on the CPU too). `genstrat bench --peers` run from it measures every
# peer beside our rows in one process: .venv-peers/bin/genstrat bench ... --peers
PEERS_VENV := .venv-peers
peers-env: $(PEERS_VENV)/.installed

$(PEERS_VENV)/.installed: pyproject.toml
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --disable-pip-version-check torch==2.14.1 torchvision==0.29.1
	$(PEERS_VENV)/bin/python -m pip install -q --disable-pip-version-check -e '.[test,peers,peers-vision]'
	touch $@

test-peers: peers-env
	$(PEERS_VENV)/bin/python -m pytest -q tests/test_peers.py
