# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Feast, for the benchmark's comparison only, pins its own duckdb and pandas: its own venv.
FEAST_VENV := .venv-feast
FEAST_STAMP := $(FEAST_VENV)/.installed

SPARK_STAMP := $(VENV)/.installed-spark

.PHONY: install install-spark browser demo test test-quick lint bench bench-scale bench-feast clean

install: $(STAMP)

# The stamp depends on the pinned lock, so editing it reinstalls; uv resolves nothing here,
# it installs exactly the versions in requirements.lock. Bytecode is compiled at install (as
# pip does, uv does not): with PYTHONDONTWRITEBYTECODE set, every `fti` command and every dbt
# invocation would otherwise compile Dagster, dbt and MLflow from source again (about 8 s of
# `fti demo`).
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$$(sed -n 's/^uv==//p' requirements.lock)"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# The Spark engine (dbt-spark's session method, pyspark with Spark Connect's client); it needs
# a Java runtime (17 here).
install-spark: $(SPARK_STAMP)

$(SPARK_STAMP): requirements-spark.lock $(STAMP)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements-spark.lock -c requirements.lock
	touch $(SPARK_STAMP)

demo: install
	$(BIN)/fti demo

# The slowest tests are listed at the end: the suite's time on a fresh clone is a budget.
# Two workers (pytest-xdist), a module's tests on one of them (its fixtures are built once):
# most of a whole-pipeline test is single-threaded Python (Dagster, dbt's parse, MLflow).
test: install install-spark browser
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 2 --dist loadscope --durations=25

# The dashboard's browser tests drive Debian's Chromium (Playwright cannot download its own
# here); installed once, as root, when it is missing.
browser:
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

# The quick loop: everything but the tests that run whole pipelines through Dagster.
test-quick: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 2 --dist loadscope -m "not slow"

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Benchmarks measure ratios against a reference in the same run; see bench/README.md.
bench: install $(FEAST_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/run.py $(BENCH_ARGS)

# `fti demo` at 10M and 50M transactions with the whole process tree's memory (about an hour).
bench-scale: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/scale.py $(SCALE_ARGS)

bench-feast: $(FEAST_STAMP)

$(FEAST_STAMP): bench/requirements-feast.lock $(STAMP)
	test -x $(FEAST_VENV)/bin/python || $(PYTHON) -m venv $(FEAST_VENV)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(FEAST_VENV)/bin/python -r bench/requirements-feast.lock
	touch $(FEAST_STAMP)

clean:
	rm -rf $(VENV) $(FEAST_VENV) data dbt_project/target dbt_project/logs
