# Two entry points: `make run` (install + main job) and `make test` (install + test suite).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sciimg-installed
# Without a CUDA GPU, the CPU build of PyTorch (on this kind of machine it installs from local disk).
TORCH_CPU ?= torch==2.13.0
QUIET_PIP := grep -v -e '^WARNING: Location' -e '^$$' || true

.PHONY: install run test test-cluster bench lint nets clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | $(QUIET_PIP)
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		echo "CUDA GPU found: PyTorch comes from the package index"; \
	else \
		echo "no CUDA GPU: installing the CPU build $(TORCH_CPU)"; \
		$(BIN)/python -m pip install -q "$(TORCH_CPU)" 2>&1 | $(QUIET_PIP); \
	fi
	$(BIN)/python -m pip install -q -e ".[dev]" 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import sciimg, torch; print('sciimg installed; torch', torch.__version__)"
	touch $(STAMP)

run: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores all
	@echo "Report: $(abspath results/report.html)"

test: $(STAMP)
	$(BIN)/ruff check sciimg tests benchmarks examples
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest

# A real single-node SLURM (Debian's slurm-wlm + munge, installed if missing; needs root):
# the tiny cluster config through workflow/profiles/slurm, checked against a local run.
test-cluster: $(STAMP)
	tests/cluster/run.sh

# Speed and scale as ratios within one run (not a test): results/bench/bench.json and a table.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

lint: $(STAMP)
	$(BIN)/ruff check sciimg tests benchmarks examples
	$(BIN)/ruff format --check sciimg tests benchmarks examples

nets: $(STAMP)
	$(BIN)/sciimg nets --spatial-dims 2 --size 64
	$(BIN)/sciimg nets --spatial-dims 3 --size 32

clean:
	rm -rf results data/raw data/interim .snakemake
