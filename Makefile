# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

# The stamp depends on the pinned lock, so editing it reinstalls; uv resolves nothing here,
# it installs exactly the versions in requirements.lock.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$$(sed -n 's/^uv==//p' requirements.lock)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: install
	$(BIN)/fti demo

test: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Benchmarks measure ratios against a reference in the same run; see bench/.
bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/pit.py
	$(BIN)/python bench/tracking.py
	test -f data/online/online_store.sqlite || $(BIN)/fti demo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/online.py

clean:
	rm -rf $(VENV) data dbt_project/target dbt_project/logs
