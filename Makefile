# Taizhang: `make run` (development server) and `make test` are the whole set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
DATA_DIR := $(or $(TAIZHANG_DATA_DIR),instance)
export WEB_CONCURRENCY ?= 2
# Links and QR codes point at the address being served unless the operator sets the public
# address (behind a reverse proxy, always set it).
export TAIZHANG_BASE_URL ?= http://$(HOST):$(PORT)
# Seconds a request may take before gunicorn kills the worker: a 100k-row Excel export takes
# about 35 s here, so gunicorn's default of 30 s would cut it off.
GUNICORN_TIMEOUT ?= 300

.PHONY: run serve test screenshots secret init clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.deps: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.deps

secret: $(VENV)/.deps   ## write a random SECRET_KEY to DATA_DIR/secret_key (kept if present)
	@$(BIN)/python -c "import config; print('secret key:', config.write_secret_key('$(DATA_DIR)'))"

init: secret   ## seed built-in forms + demo organizations (never overwrites data)
	$(BIN)/flask --app app init

run: init   ## development server on http://$(HOST):$(PORT)
	$(BIN)/flask --app app run --host $(HOST) --port $(PORT)

serve: init   ## production server: gunicorn, $$WEB_CONCURRENCY workers
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --timeout $(GUNICORN_TIMEOUT) --access-logfile - 'app:create_app()'

test: $(VENV)/.dev-deps   ## the whole test suite (browser tests need /usr/bin/chromium)
	$(BIN)/python -m pytest

screenshots: $(VENV)/.dev-deps   ## refresh docs/screenshots from the browser test
	TAIZHANG_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/browser -q

clean-venv:
	rm -rf $(VENV)
