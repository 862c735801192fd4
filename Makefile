# Tender: `make run` starts the gateway, `make test` checks it. Both set everything up.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DEMO_MODE ?= true
export TEST_MODE ?= true

.PHONY: install services run test lint bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

services:
	./scripts/services-up.sh

run: install services
	./scripts/front-deps.sh
	./scripts/examples-deps.sh
	$(BIN)/python -m config.serving check
	$(BIN)/python manage.py migrate --noinput
	DEMO_WEBHOOK_URL=$${DEMO_WEBHOOK_URL:-http://127.0.0.1:4000/} $(BIN)/python manage.py seed_demo > /dev/null
	$(BIN)/python manage.py collectstatic --noinput > /dev/null
	./scripts/print-banner.sh
	$(BIN)/honcho -f Procfile start

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # the import contracts in pyproject.toml (layers, no circles)

test: install services
	./scripts/browser-deps.sh
	./scripts/front-deps.sh
	./scripts/examples-deps.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py collectstatic --noinput > /dev/null  # the front serves /static/ from it, as in make run
	$(BIN)/pytest

bench: install services
	./scripts/bench-deps.sh
	./scripts/front-deps.sh
	./scripts/examples-deps.sh
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .staticfiles .demo .run
