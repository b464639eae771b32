# Two commands on a fresh machine: `make run` and `make test`. Each creates .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-quick lint bench clean

# A .venv left by another Python (or whose interpreter is gone) would break every target until
# `make clean`: notice it and start afresh.
PY_VERSION = $(shell $(PYTHON) -c 'import sys; print(sys.version_info[:2])' 2>/dev/null)
VENV_VERSION = $(shell $(BIN)/python -c 'import sys; print(sys.version_info[:2])' 2>/dev/null)
ifneq ($(wildcard $(VENV)),)
ifneq ($(VENV_VERSION),$(PY_VERSION))
$(info .venv was built by another Python ($(or $(VENV_VERSION),missing)), not $(PY_VERSION): rebuilding it)
$(shell rm -rf $(VENV))
endif
endif

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamp files re-install only when pyproject.toml changes.
# `make run` installs the serve extra: the README's next sections (serve, FastAPI) use it.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[serve]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# An editable install leaves our modules uncompiled (a wheel install compiles them): compile
# them here, so that a command's start-up is what an installed policyctl's is (with
# PYTHONDONTWRITEBYTECODE set, Python would otherwise compile every module on every start).
run: $(VENV)/.installed
	$(BIN)/python -m compileall -q policyctl
	$(BIN)/policyctl validate policy/policy.yaml
	$(BIN)/policyctl show --explain policy/policy.yaml

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check policyctl tests benchmarks
	$(BIN)/ruff format --check policyctl tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

# The inner loop while editing: every test but those marked slow (real pip install, soaks,
# multi-process writers, real servers; see `markers` in pyproject.toml), and no lint. `make test`,
# which CI runs, still runs them all.
test-quick: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -m "not slow"

# Figures, not tests: prints a table and writes benchmarks/results.json.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m compileall -q policyctl
	cd benchmarks && ../$(BIN)/python run.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
