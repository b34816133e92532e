# One task runner for people, pre-commit, CI and the README.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9  # the uv that uv.lock pins (a dev dependency)
# The environment (VENV=/path/to/venv uses another one, as the tests do in their copies).
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
# Stages run `python -m mlops_template`: put the project's environment first on PATH.
export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
export UV_PYTHON_DOWNLOADS := never
# Python keeps the bytecode it compiles in .venv (and src/), so that each module is compiled
# once, by the first process that imports it. Where PYTHONDONTWRITEBYTECODE=1 is set (Docker
# images, CI runners) nothing was kept and every process (each stage, dvc, mlflow, each
# test's) compiled its imports again: 12 s instead of 5 s to import MLflow, scikit-learn
# and pandas. Compiling the whole environment up front (UV_COMPILE_BYTECODE=1) costs
# ~30 s more at `make env`, more than a first `make run` saves.
unexport PYTHONDONTWRITEBYTECODE
export UV_COMPILE_BYTECODE ?= 0
EXTRAS ?=
HOST ?= 127.0.0.1
PORT ?= 5000
SERVE_PORT ?= 5001
SERVER_DIR ?= .server
DB_PORT ?= 5433
AUTH ?=
# Test processes: the end-to-end tests spend much of their time waiting on dvc, mlflow
# and servers, so two run side by side even on two cores (one file per worker); three
# were slower there (11 min 48 s against 10 min 43-59 s).
TEST_WORKERS ?= 2
BATCH ?=
BASE ?= main
# The operate targets need a batch: make ct BATCH=path/to/batch.parquet
need-batch = @test -n "$(BATCH)" || { echo "set BATCH=path/to/batch.(csv|parquet)" >&2; exit 2; }
# ALIAS=challenger serves, scores or monitors the model with that alias instead of champion.
alias-option = $(if $(ALIAS),--alias "$(ALIAS)")

.PHONY: help env dev-env gc restore run params check-params project test test-fast docs lint format lock ui bench clean \
	promote promote-dry-run rollback retire reproduce dvc-gc serve predict monitor monitor-log labels compact-log shadow-report ct ct-log \
	metrics-diff dvc-push dvc-pull server team-roles stop-stage-server

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The environment from uv.lock: the core (pipeline, tracking, registry, REST, pandas batch
# scoring, monitoring, CT), then extras on top as needed (`--inexact`: nothing installed
# is removed). EXTRAS="spark server s3" adds them to `make env`; `make server` adds its own;
# the tests and tools (dev-env) take every extra and the dev group.
SYNC = $(BIN)/uv sync --frozen --inexact --quiet

$(BIN)/uv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml | $(BIN)/uv
	$(SYNC) --no-dev
	touch $@

$(VENV)/.synced-dev: uv.lock pyproject.toml | $(BIN)/uv
	$(SYNC) --all-extras
	touch $@

$(VENV)/.synced-%: uv.lock pyproject.toml | $(BIN)/uv
	$(SYNC) --no-dev --extra $*
	touch $@

# DVC resolves a relative local remote from the filesystem's root when it reads other
# commits (`dvc push -A` used /dvc-storage): the default remote's absolute path for this
# clone goes into .dvc/config.local (git ignores it; written again if the clone moves).
local-remote = $(BIN)/python tools/local_remote.py

env: $(VENV)/.synced $(EXTRAS:%=$(VENV)/.synced-%) ## create .venv from uv.lock: the core, and EXTRAS="spark server s3"
	@$(local-remote)

dev-env: $(VENV)/.synced-dev ## .venv with every extra and the dev tools (tests, lint)
	@$(local-remote)

run: env params.yaml ## run the pipeline (dvc repro); params.yaml composed first if conf/ changed
	dvc repro

# params.yaml is conf/'s composition: made again when a file of conf/ is newer (an edit);
# one composed with overrides (`params compose KEY=VALUE`) is newer and stays as it is.
params.yaml: $(shell find conf -name '*.yaml' 2>/dev/null) | env
	python -m mlops_template params compose

params: env ## recompose params.yaml from conf/
	python -m mlops_template params compose

check-params: env ## fail if params.yaml is stale against conf/
	python -m mlops_template params check

project: env ## write dvc.yaml's code deps (from the imports) and MLproject's stage entry points
	python -m mlops_template project write

# Make expands the recipe before running it: the start time is taken before pre-commit,
# and pytest prints the whole time at its end (MAKE_TEST_STARTED, tests/conftest.py).
test: dev-env ## pre-commit checks and the whole test suite, slow end-to-end tests included
	pre-commit run --all-files --show-diff-on-failure
	MAKE_TEST_STARTED=$(shell date +%s) pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20

docs: dev-env ## the documentation site from docs/ into site/ (offline, strict: warnings fail)
	python tools/docs_index.py
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict

test-fast: dev-env ## unit tests only
	pytest -m "not slow" -n $(TEST_WORKERS)

lint: dev-env ## ruff lint and format check
	ruff check .
	ruff format --check .

format: dev-env ## apply ruff fixes and formatting
	ruff check --fix .
	ruff format .

lock: ## re-resolve uv.lock; conda.yaml, the server image's pins and UV_VERSION follow it
	$(BIN)/uv lock
	$(BIN)/python tools/conda_env.py

metrics-diff: env ## metrics, params and plots against BASE=<git rev>: reports/metrics-diff.md
	@mkdir -p reports
	@set -e; { echo "### Metrics against $(BASE)"; echo; \
	  dvc metrics diff --md --all $(BASE); echo; \
	  echo "### Params changed"; echo; dvc params diff --md $(BASE); } > reports/metrics-diff.md
	@# The base's plot files may not be in this cache (no remote): then the plots are left out.
	dvc plots diff $(BASE) --out reports/plots-diff > /dev/null || echo "plots diff skipped"
	@cat reports/metrics-diff.md
	@if [ -n "$$GITHUB_STEP_SUMMARY" ]; then cat reports/metrics-diff.md >> "$$GITHUB_STEP_SUMMARY"; fi

# dvc push/pull go to DVC_REMOTE_URL if set (a CI secret; s3://... takes the AWS_* variables,
# AWS_ENDPOINT_URL for MinIO and other S3-compatible stores), kept as remote `env` in
# .dvc/config.local (git ignores it); else to .dvc/config's default, the local ../dvc-storage.
remote = if [ -n "$$DVC_REMOTE_URL" ]; then \
	  dvc remote add --local --force env "$$DVC_REMOTE_URL" || exit 1; remote="-r env"; \
	  else remote=""; fi
# The default remote's URL, local paths resolved (dvc-pull skips a local one not made yet).
default-url = python -c 'from dvc.repo import Repo; c = Repo().config; \
	  r = c["core"].get("remote"); print(c["remote"][r]["url"] if r else "")'

# An s3:// remote needs the s3 extra.
s3-remote = $(if $(filter s3://%,$(DVC_REMOTE_URL)),$(VENV)/.synced-s3)

dvc-push: env $(s3-remote) ## push data and models to the DVC remote (DVC_REMOTE_URL, else the default)
	@$(remote); dvc push $$remote

# Outputs the remote lacks (CI's first run, before anyone pushed) are listed, not an
# error: `dvc repro` rebuilds them. Data tracked by a .dvc file it cannot rebuild: a miss
# of those fails.
dvc-pull: env $(s3-remote) ## pull data and models from the DVC remote; skips a local one never pushed to
	@$(remote); url="$$($(default-url))"; \
	if [ -z "$$remote" ] && [ -n "$$url" ] && [ "$${url#*://}" = "$$url" ] && [ ! -d "$$url" ]; then \
	  echo "DVC remote $$url does not exist yet (nothing pushed to it): skipped"; \
	else dvc pull --allow-missing $$remote || exit 1; tracked="$$(git ls-files '*.dvc')"; \
	  if [ -n "$$tracked" ] && ! dvc pull --quiet $$remote $$tracked; then \
	    echo "data tracked by .dvc files is not on the DVC remote: \`make dvc-push\` where it was added" >&2; \
	    exit 1; fi; fi

promote: env ## register the dvc.lock model; champion if it passes the gate (refused: python exits 3, make 2)
	python -m mlops_template promote

promote-dry-run: env ## decide the promotion without changing anything (VERBOSE=1: the report)
	python -m mlops_template promote --dry-run $(if $(VERBOSE),--verbose)

rollback: env ## move the champion alias back to the previous champion
	python -m mlops_template rollback

retire: env ## archive old versions without an alias (registry.keep_versions)
	python -m mlops_template retire

dvc-gc: env ## free the DVC cache, keeping every commit's data and every registered version's files
	python -m mlops_template dvc-gc

reproduce: env ## rebuild VERSION=<number or alias> (default champion) from its commit: byte-identical? (differs: python exits 3, make 2)
	python -m mlops_template reproduce "$(or $(VERSION),champion)"

serve: env ## serve the champion (or ALIAS=challenger) over REST: http://HOST:SERVE_PORT/invocations
	python -m mlops_template serve --host $(HOST) --port $(SERVE_PORT) $(alias-option)

predict: env ## score BATCH=file with the champion (or ALIAS=...) into the predictions Delta table
	$(need-batch)
	python -m mlops_template predict "$(BATCH)" $(alias-option)

monitor: env ## drift report of BATCH=file against the champion's (or ALIAS=...) training data
	$(need-batch)
	python -m mlops_template monitor "$(BATCH)" $(alias-option)

monitor-log: env ## the inference log (REST and batch rows) by time windows: drift, and the metric where labels arrived
	python -m mlops_template monitor --log $(alias-option)

compact-log: env ## compact the inference log (predict.table): few large files, rows unchanged; run it daily
	python -m mlops_template compact-log

shadow-report: env ## the shadow model (serve.shadow) against the served one on the logged rows with labels
	python -m mlops_template shadow-report

labels: env ## join LABELS=file (an ID column, the labels, labelled_at) to the logged predictions
	@test -n "$(LABELS)" || { echo "set LABELS=path/to/labels.(csv|parquet)" >&2; exit 2; }
	python -m mlops_template labels "$(LABELS)"

ct: env ## continuous training on BATCH=file: score, monitor, retrain, promote (fails on an alert)
	$(need-batch)
	python -m mlops_template ct "$(BATCH)"

ct-log: env ## continuous training from the inference log: retrain when k of the last n labelled windows are out of range (ct.trigger)
	python -m mlops_template ct --log

team-roles: env $(VENV)/.synced-server ## grant roles on the team server (an admin's credentials): CI_USER=ci PEOPLE="alice bob" [PASSWORDS=file.json]
	python tools/team_roles.py --ci "$(or $(CI_USER),ci)" --people $(PEOPLE) $(if $(PASSWORDS),--passwords "$(PASSWORDS)")

server: env $(VENV)/.synced-server ## team tracking server: PostgreSQL + proxied artifacts, http://HOST:PORT (127.0.0.1:5000); AUTH=1: basic auth
	python tools/team_server.py --dir "$(SERVER_DIR)" --host $(HOST) --port $(PORT) \
	  --db-port $(DB_PORT) $(if $(filter 1 yes true,$(AUTH)),--auth)

ui: env ## MLflow UI on the local store, http://HOST:PORT (127.0.0.1:5000)
	python -m mlops_template ui --host $(HOST) --port $(PORT)

bench: env ## print pipeline timings (benchmarks/pipeline.py)
	python benchmarks/pipeline.py

gc: env ## remove deleted MLflow runs and their artifacts for good (local store by default)
	store="$${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}"; \
	  mlflow gc --backend-store-uri "$$store" --tracking-uri "$$store"

stop-stage-server: env ## stop this environment's warm stage servers once their stages end (each also exits after 10 idle minutes)
	python -m mlops_template stage-server stop --all

# What runs change, back to the last commit: the composed params, the lock, the metrics,
# and every DVC output from the cache (--force: a run's own uncached outputs are replaced,
# removed ones come back). conf/ and the code are yours: they are left as they are.
restore: env ## put params.yaml, dvc.lock, the metrics and the outputs back to the last commit
	git checkout -- params.yaml dvc.lock metrics.json reports/cv.json reports/tuned_params.yaml
	dvc checkout --force --quiet

clean: ## remove the environment and local tracking store (DVC cache is kept)
	rm -rf $(VENV) mlflow.db mlruns .pytest_cache .ruff_cache
