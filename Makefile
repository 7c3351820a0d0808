# The two commands a newcomer needs: `make run` and `make test`.
# Each sets up its own virtual environment on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium

.PHONY: install browser wrk asyncapi-parser run test lint unit bench bench-smoke screenshots clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "clientkeys needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## make browser: Debian's Chromium for the admin page's browser tests (Playwright's
## own browser downloads are not used)
browser:
	@test -x $(CHROMIUM) || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

## make wrk: Debian's wrk, the HTTP load generator of the benchmark
wrk:
	@command -v wrk >/dev/null || { \
	  echo "installing Debian's wrk for the benchmark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

## make asyncapi-parser: the AsyncAPI Initiative's own parser (npm, pinned by its lock file),
## which checks the AsyncAPI document in the tests (tests/unit/test_asyncapi_parser.py)
ASYNCAPI_PARSER := tests/asyncapi_parser
asyncapi-parser: $(ASYNCAPI_PARSER)/node_modules/.installed

$(ASYNCAPI_PARSER)/node_modules/.installed: $(ASYNCAPI_PARSER)/package-lock.json
	@command -v npm >/dev/null || { \
	  echo "installing Debian's Node.js and npm for the AsyncAPI parser"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	cd $(ASYNCAPI_PARSER) && npm ci --silent --no-audit --no-fund
	@touch $@

## make run: gateway + worker in one process, in-process bus, SecantusDB under ./.clientkeys/
run: install
	$(BIN)/clientkeys dev

## make test: lint, type-check, every test, then the benchmark's smoke run
## (needs RabbitMQ on 127.0.0.1:5672)
## The long-outage fault test runs in a pytest of its own, with a fresh MongoDB-wire server:
## after the rest of the suite the shared one answers too slowly for its callers' patience.
## It is bounded, because a failed run of it can leave pytest's teardown spinning.
LONG_OUTAGE_TEST := tests/faults/test_idempotent_retries.py

test: lint browser wrk asyncapi-parser
	CLIENTKEYS_CHROMIUM=$(CHROMIUM) $(BIN)/pytest --ignore=$(LONG_OUTAGE_TEST)
	timeout --signal=KILL 900 $(BIN)/pytest $(LONG_OUTAGE_TEST)
	@$(MAKE) --no-print-directory bench-smoke

## make bench: the service beside the raw limits of its parts; writes bench/results/latest.md
## (several minutes: it seeds 100 000 clients). make bench-smoke: the same in a few seconds,
## checking the harness, not the speed.
bench: install wrk
	$(BIN)/python -m bench

bench-smoke: install wrk
	$(BIN)/python -m bench --smoke

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

## make unit: the tests that need neither broker nor database (rules, handlers, deployment files)
unit: install asyncapi-parser
	$(BIN)/pytest tests/unit tests/deploy

## make screenshots: the admin page's pictures in the README (docs/screenshots/), taken
## again against `clientkeys dev` in Debian's Chromium
screenshots: install browser
	CLIENTKEYS_CHROMIUM=$(CHROMIUM) $(BIN)/python -m tests.e2e.page_screenshots

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
