# The two commands of the README: `make run` and `make test`. Every target sets up .venv first.
# Python 3.12 (the NER model needs it): the first candidate that runs (a pyenv shim may exist but not run).
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { command -v "$$p"; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Runs from `make run` show up in the Dagster UI of `make dev`.
export DAGSTER_HOME := $(CURDIR)/data/dagster_home
# Demo only: a fixed, public salt so `make run` works out of the box. Never use it for real data.
# `make run` and `make dev` run in demo mode (ANALYTICS_DEMO_MODE=1), the only mode that accepts it;
# anywhere else the pipeline refuses it (analytics_pipeline/privacy/hashing.py).
DEMO_SALT := demo-salt-NOT-SECRET-do-not-use-in-production

.PHONY: setup run test dev bench bench-scale clean js-setup chromium redis train-ner evaluate

setup: $(STAMP)

# --clear: a venv of another Python (the project was on 3.11) is rebuilt, not patched.
$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12 not found: install it or pass PYTHON=/path/to/python3.12"; exit 1; }
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,baseline]'
	touch $(STAMP)

# The DuckDB file was data/analytics.duckdb before it became data/warehouse.duckdb: move an old one over once.
run: setup
	@if [ -f data/analytics.duckdb ] && [ ! -e data/warehouse.duckdb ]; then \
		mv data/analytics.duckdb data/warehouse.duckdb; \
		if [ -f data/analytics.duckdb.wal ]; then mv data/analytics.duckdb.wal data/warehouse.duckdb.wal; fi; \
		echo "moved data/analytics.duckdb to data/warehouse.duckdb"; fi
	ANALYTICS_DEMO_MODE=1 ANALYTICS_SALT="$${ANALYTICS_SALT:-$(DEMO_SALT)}" $(BIN)/analytics-pipeline run

# Lint and format are part of the tests: a change that breaks them fails CI. The JS client's own tests
# build clients/js/dist, which the Python tests (schema parity, real-browser test) import.
# Two pytest-xdist workers, each taking whole modules (loadscope), so a module's fixtures are built once.
test: setup js-setup chromium redis
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd $(JS) && npm test
	$(BIN)/python -m pytest -n 2 --dist loadscope --durations=15

# The browser client (clients/js): its dev dependencies from the npm registry, exactly as locked.
JS := clients/js
JS_STAMP := $(JS)/node_modules/.installed-stamp
js-setup: $(JS_STAMP)
$(JS_STAMP): $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund
	touch $@

# Debian's chromium for the real-browser test (CI runs as root; elsewhere through sudo). Never downloaded at run time.
chromium:
	@command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y chromium; }

# Debian's redis-server: the Celery broker the Celery test and `make bench-scale` start and stop themselves.
redis:
	@command -v redis-server >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y redis-server; }

# One day (default 50,000 events) unsharded in one process vs sharded on two Celery workers; ends with a
# `SCALE ... speedup=<x> identical=<true|false>` line (README "Beyond one machine"). Options: BENCH_ARGS="--events 20000".
bench-scale: setup redis
	$(BIN)/python -m tools.scale_bench $(BENCH_ARGS)

# Scrubber and pipeline throughput, peak memory, partition-parallel speed-up, recall vs stock Presidio
# (~30 min on 2 cores; see README "Performance"). Pass options with BENCH_ARGS="--events 20000".
bench: setup
	$(BIN)/python -m tools.bench $(BENCH_ARGS)

# Rebuild the name detector in analytics_pipeline/privacy/model from the pinned corpora in data/corpora
# (download list: python -m tools.train_ner --sources; ~35 min on 2 cores). Options: TRAIN_ARGS="--max-steps 6000".
train-ner: setup
	$(BIN)/python -m tools.train_ner $(TRAIN_ARGS)

# Recall, precision, spurious placeholders, keep-rate, speed and memory per set, project vs stock Presidio.
evaluate: setup
	$(BIN)/python -m tools.evaluate $(EVAL_ARGS)

dev: setup
	ANALYTICS_DEMO_MODE=1 ANALYTICS_SALT="$${ANALYTICS_SALT:-$(DEMO_SALT)}" $(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf $(VENV) data/warehouse.duckdb data/warehouse.duckdb.wal data/staging data/training
