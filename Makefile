# Two commands on a fresh machine: `make demo` runs the main job, `make test` runs every check.
# Each creates and fills .venv itself; a stamp keeps a second run quick.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fedcrypt-installed

.PHONY: demo test lint typecheck unit docs bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# Exactly this spelling takes the local CPU wheel; any other may pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[demo,plot,fast,dev,flower,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m federated.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet --site-dir .site

test: lint typecheck unit docs

# Benchmarks compare against peer libraries; they live in their own venv so the benchmark-only
# peers never leak into the environment the tests run in (dp_accounting and Opacus are also in
# the test environment, through the interop extra that the dp.interop tests exercise).
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.fedcrypt-installed

$(BENCH_STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[demo,fast,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .site .mypy_cache .ruff_cache .hypothesis
