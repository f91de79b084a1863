# The two set-up commands (see README): `make demo` and `make test`. Both work on a fresh
# machine: they create .venv and install perfsmith with what it needs.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck install system-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/optimize examples/logstats --model scripted:examples/logstats/demo.yaml \
		--runs-dir runs --budget-iterations 6

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy

# System packages the tests use (bubblewrap); installed when missing and we are root.
system-deps:
	@sh scripts/system_deps.sh

test: system-deps lint typecheck
	$(BIN)/python scripts/run_tests.py

clean:
	rm -rf $(VENV) runs .mypy_cache .ruff_cache .pytest_cache
