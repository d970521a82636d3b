# Everything needs only a fresh machine with Python 3.11: the venv and packages are set up here.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export DROSOPHILA_HOME ?= $(CURDIR)/.cache/drosophila

.PHONY: demo test bench setup clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

## the flagship experiment (E3 emergent misalignment, small scale, two seeds in parallel) with its report
demo: $(STAMP)
	$(BIN)/drosophila run emergent-misalignment --scale small --seeds 2 --option ablation=false

## the test suite
test: $(STAMP)
	$(BIN)/python -m pytest

## speed benchmarks (sampler vs HF generate, trainer vs a plain HF loop)
bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) .cache runs
