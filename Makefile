# Countersign — every task a newcomer needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
KAFKA := PYTHON=$(CURDIR)/$(PY) deploy/kafka/kafka.sh
# More pytest options for `make test` (e.g. -k, -x), given to both of its runs.
PYTEST_ARGS ?=
# Mailpit, the development mail server, built from source with the machine's Go.
MAILPIT_VERSION := v1.27.11
MAILPIT := .cache/bin/mailpit
# Helm, for the chart's tests (deploy/helm/countersign): built on demand, not by `make run`.
HELM_VERSION := v4.3.2
HELM := .cache/bin/helm
# vegeta, the load generator of bench.visibility_latency: built on demand by `make bench`.
VEGETA_VERSION := v12.13.0
VEGETA := .cache/bin/vegeta
DASHBOARD := streams/web/static/dist/.built

.DEFAULT_GOAL := help
.PHONY: help install fonts browser helm run test lint bench bench-floor bench-pipeline bench-scale bench-transparency soak kafka-up kafka-down kafka-status cluster-up cluster-down lock clean

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed fonts $(MAILPIT) $(DASHBOARD) ## create .venv, install pinned dependencies, fetch Kafka's jars, fonts, build Mailpit and the dashboard
	deploy/kafka/kafka.sh fetch

# The dashboard's bundle: npm packages from package-lock.json only, bundled by esbuild
# into streams/web/static/dist/ (streams/web/frontend/build.mjs).
$(DASHBOARD): package.json package-lock.json $(wildcard streams/web/frontend/*) streams/regions/five_regions.csv
	npm ci --no-audit --no-fund && npm run build
	touch $@

$(MAILPIT): deploy/mailpit-build.sh
	deploy/mailpit-build.sh $(MAILPIT_VERSION)

$(HELM): deploy/go-tool-build.sh
	deploy/go-tool-build.sh helm helm.sh/helm/v4/cmd/helm $(HELM_VERSION)
	$(HELM) version --short

$(VEGETA): deploy/go-tool-build.sh
	deploy/go-tool-build.sh vegeta github.com/tsenart/vegeta/v12 $(VEGETA_VERSION)

helm: $(HELM) ## build Helm from its Go module; lint the chart and validate what it renders
	$(HELM) lint deploy/helm/countersign
	$(PY) -m pytest -q tests/integration/test_helm_chart.py

fonts: ## Debian's Noto fonts (every script of the delivery PDF) and poppler-utils (needs root)
	@test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc && \
	  test -f /usr/share/fonts/truetype/noto/NotoSansSinhala-Regular.ttf && command -v pdftoppm >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    fonts-noto-core fonts-noto-cjk poppler-utils >/dev/null; } || \
	  echo "could not install the Noto fonts: countersign export --format pdf (and its tests) will fail"

kafka-up: install ## start the single-node Kafka on 127.0.0.1:9092 (harmless if running)
	@$(KAFKA) up >/dev/null

kafka-down: ## stop it
	@$(KAFKA) down

kafka-status: ## is it running?
	@$(KAFKA) status

cluster-up: install ## start the 3-node Kafka cluster on 127.0.0.1:19092,19192,19292
	@$(KAFKA) up --cluster >/dev/null

cluster-down: ## stop the 3-node cluster
	@$(KAFKA) down --cluster

run: install ## the main job: Kafka, the pipeline, the dashboard and a demo feed (Ctrl-C stops all)
	@deploy/run.sh

browser: ## Debian's chromium + chromium-driver for the browser tests (needs root)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  echo "could not install chromium: the browser tests will be skipped"

# The suite mostly waits (brokers, workers, mail), so two test processes share the 2
# cores well (a module stays on one). The tests that kill a process mid-stream then
# run alone, with the machine to themselves: they time kills and restarts (sharing
# the cores is how a lost-confirmation race was found and fixed: docs/exactly-once.md).
test: install browser $(HELM) ## the whole suite against a real broker (started and stopped here)
	@if $(KAFKA) status | grep -q running; then started=0; else started=1; fi; \
	$(KAFKA) up >/dev/null || exit 1; \
	$(PY) -m pytest -n 2 --dist loadfile -m "not kills and not soak" $(PYTEST_ARGS); rc=$$?; \
	$(PY) -m pytest -m "kills and not soak" $(PYTEST_ARGS); rc2=$$?; \
	if [ $$started = 1 ]; then $(KAFKA) down; fi; \
	[ $$rc = 0 ] && exit $$rc2 || exit $$rc

lint: install ## ruff, mypy and the import-linter contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(VEGETA) bench-pipeline ## benchmarks under bench/ (numbers for this machine, into bench/results/)
	$(PY) -m bench.faust_floor
	$(PY) -m bench.stages
	$(PY) -m bench.floor
	$(PY) -m bench.sink_throughput --rows 100000
	$(PY) -m bench.intake_latency
	$(PY) -m bench.visibility_latency --rate 2000

.venv-quix/.installed: bench/quix-requirements.txt
	test -x .venv-quix/bin/python || $(PYTHON) -m venv .venv-quix
	.venv-quix/bin/pip install --quiet -r bench/quix-requirements.txt
	touch $@

bench-scale: install ## 1, 2 and 3 workers on the 3-node cluster (BENCH_EVENTS, default 30,000)
	$(PY) -m bench.scale

bench-transparency: kafka-up ## the public log's cost: the pipeline with it off and on, and auditing 165,953 leaves
	$(PY) -m bench.transparency

bench-floor: kafka-up ## the fixed parts alone (no rules, no Faust), the rules without Faust, and the pipeline, in one run
	$(PY) -m bench.floor

bench-pipeline: kafka-up .venv-quix/.installed ## pipeline vs passthrough and the Quix Streams peer (BENCH_EVENTS, default 1,000,000)
	$(PY) -m bench.pipeline

soak: kafka-up ## the long runs: the full seed campaign (165,953) through the intake, with confirmation mails, and the chaos test
	COUNTERSIGN_SEED_SIGNATURES=165953 $(PY) -m pytest tests/e2e/test_seed_campaign.py
	$(PY) -m pytest -m soak
	$(PY) -m bench.confirmation_seed --kill

lock: ## re-pin constraints.txt from a fresh resolve of pyproject.toml
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet '.[dev]'
	.lock-venv/bin/pip freeze --exclude countersign > constraints.txt
	rm -rf .lock-venv

clean: kafka-down ## stop Kafka and remove .venv and .data
	rm -rf $(VENV) .data
