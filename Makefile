# Every target that runs code creates/refreshes .venv itself, so a fresh machine needs nothing else.
# One .venv holds both distributions: the library (.) and the reference app (examples/fretes).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SCALE   ?= real
DB      ?= sqlite
APP     := examples/fretes

.PHONY: venv demo serve test test-fast compat bench lint clean

$(STAMP): pyproject.toml $(APP)/pyproject.toml requirements-dev.txt tests/requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt -e '.[redis]' -e '$(APP)[bench]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	cd $(APP) && ../../$(BIN)/python -m bench.demo

# fretes on the demo's dataset at http://127.0.0.1:8000 with Turbina's dashboard (Ctrl-C stops).
serve: $(STAMP)
	cd $(APP) && ../../$(BIN)/python -m bench.serve

# The library's and the app's tests, then the library's tests against its built wheel at the
# oldest and the newest supported versions (tests/compat).
test: $(STAMP)
	$(BIN)/python -m pytest
	$(MAKE) compat

test-fast: $(STAMP)
	$(BIN)/python -m pytest

compat: $(STAMP)
	$(BIN)/python tests/compat/run.py

# The before/after proof: naive, optimized and cached forms in their own phases, fixed offered
# load (bench/results/proof-<db>-<scale>.*). SCALE=real|large, DB=sqlite|postgres|all;
# BENCH_ARGS passes more options (python -m bench.proof --help).
bench: $(STAMP)
	cd $(APP) && ../../$(BIN)/python -m bench.proof --scale $(SCALE) --db $(DB) $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests $(APP)
	$(BIN)/ruff format --check src tests $(APP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
